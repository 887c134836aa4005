//! break_down_latency against a real Prometheus reading a real fleet: three Gunicorn
//! replicas (one with fewer workers) behind nginx under load, scraped every second.
//!
//! `scripts/fleet.sh` starts everything, runs the load and exports what it knows in
//! `PWT_FLEET_*` (the load generator's own figures, the window, the small replica) and the
//! default engine in `PWT_PROMETHEUS_URL` / `PWT_PROMETHEUS_TOKEN`; named engines (a wrong
//! token, one that is down, TLS with and without the CA, operator overrides) are in the
//! config file it writes. Without them each test returns at once and one line says how to
//! run the suite (with `PWT_REQUIRE_SERVERS=1` each fails instead).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::servers::FLEET;
use python_web_troubleshooter::config::Config;
use python_web_troubleshooter::diagnosis::latency::{LatencyInput, LatencyReport, PrometheusInput};
use python_web_troubleshooter::flows::{self, ErrorKind, ToolError};
use python_web_troubleshooter::progress::Progress;
use python_web_troubleshooter::sources::reach::Reach;
use serde_json::Value;

/// The histogram's bucket bounds in the app (tests/fleet/app.py), ms.
const BUCKETS_MS: [f64; 12] = [
    5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 2500.0,
];

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by scripts/fleet.sh"))
}

fn config() -> Config {
    let path = env("PWT_FLEET_CONFIG");
    let text = std::fs::read_to_string(&path).unwrap();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Config::from_parts(Some((&path, &text)), &env).unwrap()
}

fn input(source: Option<&str>, selector: &str) -> LatencyInput {
    LatencyInput {
        prometheus: Some(PrometheusInput {
            source: source.map(str::to_owned),
            selector: selector.to_owned(),
            since: Some(env("PWT_FLEET_SINCE")),
            until: Some(env("PWT_FLEET_UNTIL")),
        }),
        ..Default::default()
    }
}

/// One call, the way the server makes it, timed.
fn call(source: Option<&str>, selector: &str) -> (Result<LatencyReport, ToolError>, Duration) {
    let config = config();
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = rt.block_on(flows::break_down_latency::run(
        input(source, selector),
        &Reach::default(),
        &config.engines,
        &Progress::none(),
    ));
    (r, started.elapsed())
}

fn load() -> Value {
    serde_json::from_str(&std::fs::read_to_string(env("PWT_FLEET_LOAD")).unwrap()).unwrap()
}

/// The width of the bucket holding `ms`.
fn bucket_width(ms: f64) -> f64 {
    let mut lower = 0.0;
    for upper in BUCKETS_MS {
        if ms <= upper {
            return upper - lower;
        }
        lower = upper;
    }
    f64::INFINITY
}

const SELECTOR: &str = r#"{job="shop-api"}"#;

#[test]
fn per_route_figures_match_the_load_generator_within_bucket_resolution() {
    if !FLEET.ready() {
        return;
    }
    let (report, took) = call(None, SELECTOR);
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    assert!(took < Duration::from_secs(20), "{took:?}");
    let load = load();
    let routes = load["routes"].as_object().unwrap();
    let by_name: BTreeMap<&str, _> = report
        .endpoints
        .iter()
        .map(|e| (e.endpoint.as_str(), e))
        .collect();
    for (name, truth) in routes {
        let e = by_name
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from {:?}", by_name.keys()));
        let count = truth["count"].as_f64().unwrap();
        let handler_p99 = truth["handler_p99_ms"].as_f64().unwrap();
        let client_p99 = truth["client_p99_ms"].as_f64().unwrap();
        let width = bucket_width(handler_p99);
        assert!(
            (e.p99_ms - handler_p99).abs() <= width + 0.5,
            "{name}: engine p99 {} ms, handlers' own p99 {handler_p99} ms (bucket width {width} ms)",
            e.p99_ms
        );
        assert!(
            e.p99_ms <= client_p99 + width,
            "{name}: engine p99 {} ms above the clients' p99 {client_p99} ms",
            e.p99_ms
        );
        assert!(
            (e.requests as f64 - count).abs() <= 0.15 * count + 5.0,
            "{name}: engine counted {} requests, the load generator sent {count}",
            e.requests
        );
        let errors = truth["errors"].as_f64().unwrap() / count * 100.0;
        let got = e.error_percent.expect("the histogram has a status label");
        assert!(
            (got - errors).abs() <= 10.0,
            "{name}: error {got} % against {errors} %"
        );
    }
    // The slow route holds most of the workers' time, and is listed first.
    assert_eq!(report.endpoints[0].endpoint, "GET /api/report");
    assert!(report.endpoints[0].share_of_worker_time_percent.unwrap() > 50.0);
    assert!(report.endpoints[0].slow, "{:?}", report.endpoints[0]);
    assert_eq!(
        report.latency_pattern.map(|p| p.as_str()),
        Some("long_tail"),
        "{:?}",
        report.conclusion
    );
    let e = &report.conclusion.evidence;
    assert!(
        e.iter().any(|x| x.metric == "latency_pattern"
            && x.source == "prometheus:default:flask_http_request_duration_seconds_bucket"),
        "{e:?}"
    );
}

#[test]
fn the_replica_with_fewer_workers_stands_out_and_fleet_utilisation_is_measured() {
    if !FLEET.ready() {
        return;
    }
    let (report, _) = call(None, SELECTOR);
    let report = report.unwrap_or_else(|e| panic!("{e}"));
    let fleet = report.fleet.as_ref().expect("a fleet report");
    assert_eq!(
        fleet.families,
        [
            "prometheus-flask-exporter:flask_http_request_duration_seconds",
            "gunicorn:gunicorn_workers"
        ]
    );
    assert_eq!(fleet.replicas.len(), 3);
    assert_eq!(report.lists["fleet.replicas"].total, 3);
    let hot = fleet.hot_replica.as_ref().expect("a hot replica");
    assert_eq!(hot.replica, env("PWT_FLEET_SMALL_REPLICA"));
    assert!(hot.why.contains("1 worker against"), "{}", hot.why);
    let workers: f64 = env("PWT_FLEET_WORKERS").parse().unwrap();
    let total: f64 = fleet
        .replicas
        .iter()
        .map(|r| r.busy_workers + r.idle_workers)
        .sum();
    assert!((total - workers).abs() < 0.3, "{total} workers seen");
    // Ground truth: the handlers' own time over the window and every worker.
    let load = load();
    let busy_s: f64 = load["routes"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["handler_seconds"].as_f64().unwrap())
        .sum();
    let window = (parse_time(&env("PWT_FLEET_UNTIL")) - parse_time(&env("PWT_FLEET_SINCE"))) as f64;
    let truth = busy_s / (window * workers) * 100.0;
    let measured = fleet.utilization_percent.unwrap();
    assert!(
        (measured - truth).abs() <= 15.0,
        "fleet utilisation {measured} % against {truth} % from the handlers' own times"
    );
    assert_eq!(
        report.observations.workers_busy_percent.map(|v| v.round()),
        Some(measured.round())
    );
    assert!(fleet.queries.len() >= 7);
    for q in &fleet.queries {
        assert!(q.contains(r#"{job="shop-api""#), "{q}");
    }
    let json = serde_json::to_string(&report).unwrap();
    assert!(!json.contains(&env("PWT_PROMETHEUS_TOKEN")));
}

fn parse_time(t: &str) -> i64 {
    python_web_troubleshooter::diagnosis::window::resolve_time("t", t, 0).unwrap()
}

#[test]
fn tls_with_the_operators_ca_and_overrides_from_the_config_file() {
    if !FLEET.ready() {
        return;
    }
    for source in ["tls", "renamed"] {
        let (report, _) = call(Some(source), SELECTOR);
        let report = report.unwrap_or_else(|e| panic!("{source}: {e}"));
        let fleet = report.fleet.unwrap();
        assert_eq!(fleet.engine, source);
        assert_eq!(
            fleet.hot_replica.map(|h| h.replica),
            Some(env("PWT_FLEET_SMALL_REPLICA"))
        );
    }
    let (e, _) = call(Some("untrusted"), SELECTOR);
    let e = e.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
    assert!(e.message.contains("TLS"), "{e}");
}

#[test]
fn each_failure_is_a_clear_error_within_the_deadline() {
    if !FLEET.ready() {
        return;
    }
    let token = env("PWT_PROMETHEUS_TOKEN");
    for (source, selector, kind, field, says) in [
        (
            Some("down"),
            SELECTOR,
            ErrorKind::Unreachable,
            "prometheus.source",
            "refused",
        ),
        (
            Some("wrong"),
            SELECTOR,
            ErrorKind::Denied,
            "prometheus.source",
            "HTTP 401",
        ),
        (
            Some("nope"),
            SELECTOR,
            ErrorKind::NotConfigured,
            "prometheus.source",
            "configured",
        ),
        (
            None,
            r#"{job="no-such-service"}"#,
            ErrorKind::BadInput,
            "prometheus.selector",
            "matches no series",
        ),
        (
            None,
            r#"{job="prometheus"}"#,
            ErrorKind::BadInput,
            "prometheus.selector",
            "no request-duration histogram",
        ),
        (
            None,
            r#"up{job="shop-api"}"#,
            ErrorKind::BadInput,
            "prometheus.selector",
            "label matchers",
        ),
    ] {
        let (r, took) = call(source, selector);
        let e = r.expect_err(selector);
        assert_eq!(e.kind, kind, "{source:?} {selector}: {e}");
        assert_eq!(e.field.as_deref(), Some(field), "{e}");
        assert!(e.message.contains(says), "{source:?} {selector}: {e}");
        assert!(!e.message.contains(&token), "{e}");
        assert!(took < Duration::from_secs(20), "{took:?}");
    }
}

#[test]
fn the_cli_prints_the_fleet_for_a_person() {
    if !FLEET.ready() {
        return;
    }
    let out = std::process::Command::new(env("PWT_FLEET_BIN"))
        .args([
            "latency",
            "--prometheus",
            SELECTOR,
            "--since",
            &env("PWT_FLEET_SINCE"),
            "--until",
            &env("PWT_FLEET_UNTIL"),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("Fleet [prometheus:default]"), "{stdout}");
    assert!(stdout.contains("Hot replica"), "{stdout}");
    assert!(stdout.contains("GET /api/report"), "{stdout}");
    assert!(!stdout.contains(&env("PWT_PROMETHEUS_TOKEN")));
}
