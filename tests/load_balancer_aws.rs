//! break_down_latency's `aws_load_balancer` against LocalStack's CloudWatch (Smithy RPC v2
//! CBOR), reached only through the SDK's standard `AWS_ENDPOINT_URL_CLOUDWATCH`.
//!
//! `scripts/aws.sh` starts LocalStack, exports the variables and runs this file; without
//! them each test returns at once and one line on stderr says how to run the suite (with
//! `PWT_REQUIRE_SERVERS=1`, as the runners set, each fails instead). Each test seeds its own
//! load balancer's series (PutMetricData into `AWS/ApplicationELB` or `AWS/ELB`, one or two
//! datapoints per minute of a fixed 10-minute window) and calls the tool the way a client
//! does: over MCP in-process, or the CLI binary when the environment must differ.
//!
//! LocalStack (4.13) answers a GetMetricData that holds an extended statistic (p50, p99) with
//! an InternalError for the whole request, so against it the percentiles are absent and the
//! report says why; the percentile arithmetic is unit-tested in the core.

mod common;
mod mcp_client;

use common::output_text;
use common::servers::AWS_LB;
use mcp_client::{call_once as call, text};
use std::net::TcpListener;
use std::process::Output;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use python_web_troubleshooter::diagnosis::nginx_format::format_rfc3339;
use python_web_troubleshooter::sources::aws;
use serde_json::{Value, json};

/// Minutes seeded and read.
const PERIODS: i64 = 10;

fn require_servers() {
    let value = std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH").unwrap_or_default();
    assert!(
        value.starts_with("http://127.0.0.1:"),
        "AWS_ENDPOINT_URL_CLOUDWATCH is not set to a loopback server ({value:?}): run `bash scripts/aws.sh`, which starts LocalStack"
    );
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A load balancer name of its own for each test: `(short name, 16 hex digits)`.
fn unique(prefix: &str) -> (String, String) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let n = N.fetch_add(1, Ordering::SeqCst) as u64;
    let id = nanos ^ (u64::from(std::process::id()) << 40) ^ (n << 56);
    (
        format!(
            "{prefix}-{}",
            n + u64::from(std::process::id()) % 10_000 * 100
        ),
        format!("{id:016x}"),
    )
}

/// The fixed window the tests seed and read: the last `PERIODS` whole minutes.
struct Window {
    start: i64,
    end: i64,
}

impl Window {
    fn new() -> Self {
        let end = now() - now().rem_euclid(60);
        Self {
            start: end - 60 * PERIODS,
            end,
        }
    }

    fn args(&self) -> (String, String) {
        (format_rfc3339(self.start), format_rfc3339(self.end))
    }
}

async fn cloudwatch() -> aws_sdk_cloudwatch::Client {
    require_servers();
    let config = aws::load(None, None).await.expect("AWS config from env");
    // Seeding is set-up, not the code under test: LocalStack can be slow to store a batch on
    // a loaded machine, so the seeding client waits longer than the tool does.
    let patient = aws_smithy_types::timeout::TimeoutConfig::builder()
        .operation_timeout(Duration::from_secs(120))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&config)
            .timeout_config(patient)
            .build(),
    )
}

/// One seeded metric: name, unit, its dimensions, and its values in minute `i` (0 = oldest;
/// each value is one datapoint in that minute).
struct Seeded {
    name: &'static str,
    unit: StandardUnit,
    dimensions: Vec<(&'static str, String)>,
    values: Box<dyn Fn(usize) -> Vec<f64>>,
}

fn metric(
    name: &'static str,
    unit: StandardUnit,
    dimensions: &[(&'static str, &str)],
    values: impl Fn(usize) -> Vec<f64> + 'static,
) -> Seeded {
    Seeded {
        name,
        unit,
        dimensions: dimensions
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect(),
        values: Box::new(values),
    }
}

async fn seed(cw: &aws_sdk_cloudwatch::Client, namespace: &str, w: &Window, metrics: &[Seeded]) {
    let mut data = Vec::new();
    for m in metrics {
        for i in 0..PERIODS as usize {
            for (k, v) in (m.values)(i).into_iter().enumerate() {
                let ts = w.start + 60 * i as i64 + 10 + 20 * k as i64;
                let mut d = MetricDatum::builder()
                    .metric_name(m.name)
                    .timestamp(DateTime::from_secs(ts))
                    .value(v)
                    .unit(m.unit.clone());
                for (name, value) in &m.dimensions {
                    d = d.dimensions(Dimension::builder().name(*name).value(value).build());
                }
                data.push(d.build());
            }
        }
    }
    for chunk in data.chunks(500) {
        cw.put_metric_data()
            .namespace(namespace)
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("LocalStack PutMetricData {namespace}: {e:?}"));
    }
}

fn assert_no_secret(what: &str, s: &str) {
    for var in ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"] {
        let v = std::env::var(var).unwrap_or_default();
        assert!(
            v.is_empty() || !s.contains(&v),
            "{what} contains {var}: {s}"
        );
    }
}

async fn latency(arguments: Value) -> (Value, String) {
    let r = call("break_down_latency", arguments).await;
    let t = text(&r);
    assert_ne!(r.is_error, Some(true), "break_down_latency: {t}");
    assert_no_secret("break_down_latency result", &t);
    (r.structured_content.expect("structured content"), t)
}

fn sources(s: &Value) -> Vec<String> {
    s["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str().map(str::to_owned))
        .collect()
}

fn has_note(lb: &Value, needle: &str) -> bool {
    lb["notes"]
        .as_array()
        .is_some_and(|n| n.iter().any(|n| n.as_str().unwrap_or("").contains(needle)))
}

// ------------------------------------------------------------------ scenarios

#[tokio::test]
async fn alb_incident_504s_rejected_connections_and_slow_targets() {
    if !AWS_LB.ready() {
        return;
    }
    let cw = cloudwatch().await;
    let (short, id) = unique("alb-incident");
    let name = format!("app/{short}/{id}");
    let w = Window::new();
    let lb = [("LoadBalancer", name.as_str())];
    // Slow targets late in the window: 0.2 s, then 2 s in the last 5 minutes; two
    // datapoints per minute, so the mean is per datapoint.
    seed(
        &cw,
        "AWS/ApplicationELB",
        &w,
        &[
            metric("TargetResponseTime", StandardUnit::Seconds, &lb, |i| {
                if i < 5 {
                    vec![0.1, 0.3]
                } else {
                    vec![1.0, 3.0]
                }
            }),
            metric("RequestCount", StandardUnit::Count, &lb, |_| {
                vec![600.0, 600.0]
            }),
            metric(
                "HTTPCode_Target_5XX_Count",
                StandardUnit::Count,
                &lb,
                |_| vec![6.0],
            ),
            metric("HTTPCode_ELB_5XX_Count", StandardUnit::Count, &lb, |i| {
                vec![if i < 5 { 0.0 } else { 60.0 }]
            }),
            metric("HTTPCode_ELB_504_Count", StandardUnit::Count, &lb, |i| {
                vec![if i < 5 { 0.0 } else { 60.0 }]
            }),
            metric("HTTPCode_ELB_502_Count", StandardUnit::Count, &lb, |_| {
                vec![0.0]
            }),
            metric("RejectedConnectionCount", StandardUnit::Count, &lb, |i| {
                vec![if i == 9 { 50.0 } else { 0.0 }]
            }),
        ],
    )
    .await;
    let (since, until) = w.args();
    let (s, t) = latency(json!({
        "figures": {"nginx": {"request_time_ms": 1200, "upstream_response_time_ms": 1150}},
        "aws_load_balancer": {"name": name, "since": since, "until": until}
    }))
    .await;
    let l = &s["load_balancer"];
    assert_eq!(l["kind"], "alb", "{l}");
    assert_eq!(l["status"], "measured", "{l}");
    assert_eq!(l["region"], "us-east-1");
    assert_eq!(l["period_seconds"], 60);
    assert_eq!(l["start"], since.as_str());
    assert_eq!(l["requests"], 12_000.0, "{l}");
    assert_eq!(l["requests_per_second"], 20.0);
    assert_eq!(l["response_time"]["avg_ms"], 1100.0, "{l}");
    assert_eq!(
        l["response_time"]["source"],
        "cloudwatch:AWS/ApplicationELB/TargetResponseTime"
    );
    let e = &l["errors"];
    assert_eq!(e["target_5xx"], 60.0);
    assert_eq!(e["target_5xx_percent"], 0.5);
    assert_eq!(e["lb_5xx"], 300.0);
    assert_eq!(e["lb_5xx_percent"], 2.5);
    assert_eq!(e["lb_504"], 300.0);
    assert_eq!(e["lb_504_percent"], 2.5);
    assert_eq!(e["lb_502"], 0.0);
    assert!(e.get("lb_503").is_none(), "not seeded: {e}");
    assert_eq!(l["rejected_connections"], 50.0);
    assert!(
        l["datapoints"]
            .as_array()
            .unwrap()
            .contains(&json!("RequestCount Sum: 10")),
        "{l}"
    );
    // LocalStack serves no extended statistics: said, not hidden.
    assert!(l["response_time"].get("p99_ms").is_none(), "{l}");
    assert!(has_note(l, "did not return the percentiles"), "{l}");
    let signals: Vec<&str> = l["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["signal"].as_str().unwrap())
        .collect();
    assert_eq!(
        signals,
        ["elb_504", "rejected_connections", "target_5xx_percent"],
        "{l}"
    );
    assert!(
        l["findings"][0]["meaning"]
            .as_str()
            .unwrap()
            .contains("idle timeout")
    );
    assert_eq!(
        l["findings"][0]["source"],
        "cloudwatch:AWS/ApplicationELB/HTTPCode_ELB_504_Count"
    );
    // The same call still breaks the caller's figures down.
    assert!(
        s["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["layer"] == "nginx"),
        "{s}"
    );
    let src = sources(&s);
    for want in [
        "cloudwatch:AWS/ApplicationELB/HTTPCode_ELB_504_Count",
        "cloudwatch:AWS/ApplicationELB/RejectedConnectionCount",
        "cloudwatch:AWS/ApplicationELB/RequestCount",
    ] {
        assert!(src.iter().any(|s| s == want), "{want} not in {src:?}");
    }
    // An ALB has no queue metric: the backlog stays unknown.
    assert!(s["observations"].get("backlog_growing").is_none(), "{s}");
    assert!(t.contains(&format!("Load balancer alb {name}")), "{t}");
    assert!(t.contains("504 300"), "{t}");
    assert!(t.contains("idle timeout"), "{t}");
}

#[tokio::test]
async fn a_target_group_reads_its_own_series_and_the_load_balancers_codes() {
    if !AWS_LB.ready() {
        return;
    }
    let cw = cloudwatch().await;
    let (short, id) = unique("alb-tg");
    let name = format!("app/{short}/{id}");
    let tg = format!("targetgroup/{short}/{id}");
    let w = Window::new();
    let lb = [("LoadBalancer", name.as_str())];
    let both = [
        ("LoadBalancer", name.as_str()),
        ("TargetGroup", tg.as_str()),
    ];
    seed(
        &cw,
        "AWS/ApplicationELB",
        &w,
        &[
            metric("RequestCount", StandardUnit::Count, &both, |_| vec![100.0]),
            metric("RequestCount", StandardUnit::Count, &lb, |_| vec![999.0]),
            metric("TargetResponseTime", StandardUnit::Seconds, &both, |_| {
                vec![0.05]
            }),
            metric("HTTPCode_ELB_502_Count", StandardUnit::Count, &lb, |_| {
                vec![3.0]
            }),
        ],
    )
    .await;
    let (since, until) = w.args();
    let (s, _) = latency(json!({
        "aws_load_balancer": {"name": name, "target_group": tg, "since": since, "until": until}
    }))
    .await;
    let l = &s["load_balancer"];
    assert_eq!(l["target_group"], tg.as_str());
    assert_eq!(l["requests"], 1000.0, "the target group's own count: {l}");
    assert_eq!(l["response_time"]["avg_ms"], 50.0);
    assert_eq!(
        l["errors"]["lb_502"], 30.0,
        "the load balancer's own codes: {l}"
    );
    assert_eq!(l["errors"]["lb_5xx_percent"], Value::Null);
    assert_eq!(l["findings"][0]["signal"], "elb_502");
    assert!(
        l["findings"][0]["meaning"]
            .as_str()
            .unwrap()
            .contains("closed the connection")
    );
    assert!(has_note(l, "of the target group"), "{l}");
}

#[tokio::test]
async fn classic_surge_queue_and_spillover_are_the_backlog() {
    if !AWS_LB.ready() {
        return;
    }
    let cw = cloudwatch().await;
    let (name, _) = unique("clb-surge");
    let w = Window::new();
    let lb = [("LoadBalancerName", name.as_str())];
    seed(
        &cw,
        "AWS/ELB",
        &w,
        &[
            metric("Latency", StandardUnit::Seconds, &lb, |_| vec![1.5]),
            metric("RequestCount", StandardUnit::Count, &lb, |_| vec![600.0]),
            // Two datapoints a minute: the statistic must be the maximum, not the mean.
            metric("SurgeQueueLength", StandardUnit::Count, &lb, |i| {
                let v = 100.0 * i as f64;
                vec![v / 2.0, v]
            }),
            metric("SpilloverCount", StandardUnit::Count, &lb, |i| {
                vec![match i {
                    8 => 50.0,
                    9 => 25.0,
                    _ => 0.0,
                }]
            }),
            metric("HTTPCode_ELB_5XX", StandardUnit::Count, &lb, |i| {
                vec![if i >= 8 { 37.5 } else { 0.0 }]
            }),
            metric("HTTPCode_Backend_5XX", StandardUnit::Count, &lb, |_| {
                vec![0.0]
            }),
            metric("BackendConnectionErrors", StandardUnit::Count, &lb, |_| {
                vec![2.0]
            }),
        ],
    )
    .await;
    let (since, until) = w.args();
    let (s, t) = latency(json!({
        "aws_load_balancer": {"name": name, "since": since, "until": until}
    }))
    .await;
    let l = &s["load_balancer"];
    assert_eq!(l["kind"], "classic", "{l}");
    assert_eq!(l["status"], "measured");
    assert_eq!(l["requests"], 6000.0);
    assert_eq!(l["requests_per_second"], 10.0);
    assert_eq!(l["response_time"]["avg_ms"], 1500.0);
    assert_eq!(l["response_time"]["source"], "cloudwatch:AWS/ELB/Latency");
    let q = &l["surge_queue"];
    assert_eq!(q["max"], 900.0, "{q}");
    assert_eq!(q["periods_above_zero"], 9);
    assert_eq!(q["periods"], 10);
    assert_eq!(q["shape"], "growing");
    assert_eq!(l["spillover"], 75.0);
    assert_eq!(l["errors"]["lb_5xx"], 75.0);
    assert_eq!(l["errors"]["lb_5xx_percent"], 1.25);
    assert_eq!(l["errors"]["target_5xx"], 0.0);
    assert_eq!(l["target_connection_errors"], 20.0);
    let signals: Vec<&str> = l["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["signal"].as_str().unwrap())
        .collect();
    assert_eq!(
        signals,
        ["spillover", "surge_queue_max", "target_connection_errors"],
        "{l}"
    );
    assert!(
        l["findings"][1]["meaning"]
            .as_str()
            .unwrap()
            .contains("out of free workers")
    );
    let o = &s["observations"];
    assert_eq!(o["backlog_growing"], true, "{o}");
    assert_eq!(o["backlog_shape"], "growing");
    assert_eq!(
        o["sources"]["backlog_growing"],
        "cloudwatch:AWS/ELB/SurgeQueueLength"
    );
    assert_eq!(
        o["sources"]["backlog_shape"],
        "cloudwatch:AWS/ELB/SurgeQueueLength"
    );
    assert!(
        sources(&s)
            .iter()
            .any(|s| s == "cloudwatch:AWS/ELB/SpilloverCount")
    );
    assert!(t.contains("surge queue max 900, spillover 75"), "{t}");
    // The observations go to match_symptom unchanged.
    let m = call("match_symptom", json!({"observations": o})).await;
    assert_ne!(m.is_error, Some(true), "{}", text(&m));
    let ms = m.structured_content.unwrap();
    assert!(ms["matches"].is_array(), "{ms}");
}

#[tokio::test]
async fn an_unknown_load_balancer_is_unknown_with_the_reason() {
    if !AWS_LB.ready() {
        return;
    }
    require_servers();
    let (short, id) = unique("no-such-alb");
    let name = format!("app/{short}/{id}");
    let (s, t) = latency(json!({"aws_load_balancer": {"name": name}})).await;
    let l = &s["load_balancer"];
    assert_eq!(l["status"], "unknown", "{l}");
    let verdict = l["verdict"].as_str().unwrap();
    assert!(
        verdict.contains(&format!(
            "no AWS/ApplicationELB datapoints for LoadBalancer {name} in us-east-1"
        )),
        "{verdict}"
    );
    assert!(
        verdict.contains("aws elbv2 describe-load-balancers"),
        "{verdict}"
    );
    // The default window: the last 15 minutes.
    assert_eq!(l["period_seconds"], 60);
    assert!(
        l.get("requests").is_none() && l["findings"] == json!([]),
        "{l}"
    );
    assert!(s["observations"].get("backlog_growing").is_none());
    assert!(t.contains("Unknown: CloudWatch has no"), "{t}");
}

#[tokio::test]
async fn a_malformed_name_is_bad_input_before_any_request() {
    if !AWS_LB.ready() {
        return;
    }
    require_servers();
    for (name, field) in [
        (
            "my-alb.us-east-1.elb.amazonaws.com",
            "aws_load_balancer.name",
        ),
        ("app/my-alb", "aws_load_balancer.name"),
        ("net/my-nlb/50dc6c495c0c9188", "aws_load_balancer.name"),
    ] {
        let r = call(
            "break_down_latency",
            json!({"aws_load_balancer": {"name": name}}),
        )
        .await;
        let t = text(&r);
        assert_eq!(r.is_error, Some(true), "{name}: {t}");
        assert!(t.contains(field), "{name}: {t}");
    }
    let r = call(
        "break_down_latency",
        json!({"aws_load_balancer": {"name": "legacy-web", "target_group": "targetgroup/web/943f017f100becff"}}),
    )
    .await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(
        t.contains("aws_load_balancer.target_group") && t.contains("no target groups"),
        "{t}"
    );
}

// ------------------------------------------------------------------ the CLI and failures

fn cli(args: &[&str], env: &[(&str, String)]) -> Output {
    require_servers();
    common::run_binary(args, env, &[])
}

#[tokio::test]
async fn cli_latency_reads_the_load_balancer() {
    if !AWS_LB.ready() {
        return;
    }
    let cw = cloudwatch().await;
    let (name, _) = unique("clb-cli");
    let w = Window::new();
    let lb = [("LoadBalancerName", name.as_str())];
    seed(
        &cw,
        "AWS/ELB",
        &w,
        &[
            metric("RequestCount", StandardUnit::Count, &lb, |_| vec![60.0]),
            metric("SurgeQueueLength", StandardUnit::Count, &lb, |_| vec![0.0]),
        ],
    )
    .await;
    let (since, until) = w.args();
    let o = cli(
        &[
            "latency",
            "--aws-load-balancer",
            &name,
            "--lb-since",
            &since,
            "--lb-until",
            &until,
            "--json",
        ],
        &[],
    );
    let all = output_text(&o);
    assert!(o.status.success(), "{all}");
    assert_no_secret("CLI output with RUST_LOG=debug", &all);
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["load_balancer"]["requests"], 600.0, "{v}");
    assert_eq!(v["load_balancer"]["requests_per_second"], 1.0);
    assert_eq!(v["observations"]["backlog_growing"], false);
    assert_eq!(v["observations"]["backlog_shape"], "empty");
    let o = cli(&["latency", "--lb-region", "us-east-1"], &[]);
    assert!(!o.status.success(), "--lb-region needs --aws-load-balancer");
}

#[test]
fn an_unreachable_endpoint_is_unreachable_within_the_deadline() {
    if !AWS_LB.ready() {
        return;
    }
    // A port nothing listens on.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let started = Instant::now();
    let o = cli(
        &["latency", "--aws-load-balancer", "legacy-web"],
        &[("AWS_ENDPOINT_URL_CLOUDWATCH", format!("http://{closed}"))],
    );
    let elapsed = started.elapsed();
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("could not reach cloudwatch"), "{all}");
    assert!(all.contains("aws_load_balancer"), "{all}");
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert_no_secret("unreachable error", &all);
}

#[test]
fn a_silent_endpoint_times_out_instead_of_hanging() {
    if !AWS_LB.ready() {
        return;
    }
    // Accepts connections and never answers.
    static HELD: OnceLock<std::sync::Mutex<Vec<std::net::TcpStream>>> = OnceLock::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().take(20).flatten() {
            HELD.get_or_init(Default::default).lock().unwrap().push(s);
        }
    });
    let started = Instant::now();
    let o = cli(
        &["latency", "--aws-load-balancer", "app/web/50dc6c495c0c9188"],
        &[("AWS_ENDPOINT_URL_CLOUDWATCH", format!("http://{addr}"))],
    );
    let elapsed = started.elapsed();
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("did not answer in time"), "{all}");
    assert!(elapsed < Duration::from_secs(65), "took {elapsed:?}");
}
