//! The fleet's pure parts: endpoint rows from engine figures, the hot replica, the worker
//! reading.

use super::*;
use crate::diagnosis::fleet::plan::FAMILIES;

fn route(route: &str, method: &str, rps: f64, mean_ms: f64, p99: f64) -> RouteSeries {
    RouteSeries {
        route: route.into(),
        method: Some(method.into()),
        rps,
        busy_ms_per_s: Some(rps * mean_ms),
        p50_ms: Some(mean_ms),
        p95_ms: Some(p99 * 0.9),
        p99_ms: Some(p99),
        error_rps: Some(0.0),
    }
}

fn data() -> FleetData {
    FleetData {
        engine: "default".into(),
        selector: r#"{job="shop"}"#.into(),
        since: 1_700_000_000,
        until: 1_700_000_100,
        histogram: Some(HistogramData {
            histogram: Histogram::from(&FAMILIES[2]),
            labels: Labels {
                route: Some("path".into()),
                method: Some("method".into()),
                status: Some("status".into()),
                replica: Some("instance".into()),
            },
            routes: vec![
                route("/orders/12", "GET", 2.0, 10.0, 20.0),
                route("/orders/13", "GET", 3.0, 12.0, 25.0),
                route("/report", "GET", 1.0, 400.0, 500.0),
                route("/idle", "GET", 0.0, 1.0, f64::NAN),
            ],
        }),
        workers: Some((
            "gunicorn_workers".into(),
            vec![
                ReplicaWorkers {
                    replica: "a:1".into(),
                    busy: 1.0,
                    idle: 2.0,
                    rps: None,
                },
                ReplicaWorkers {
                    replica: "b:1".into(),
                    busy: 1.2,
                    idle: 1.8,
                    rps: None,
                },
                ReplicaWorkers {
                    replica: "c:1".into(),
                    busy: 0.95,
                    idle: 0.05,
                    rps: None,
                },
            ],
        )),
        replica_rps: vec![
            ("a:1".into(), 2.0),
            ("b:1".into(), 2.0),
            ("c:1".into(), 2.0),
        ],
        ..Default::default()
    }
}

#[test]
fn raw_paths_fold_into_one_route_with_requests_service_time_and_errors() {
    let e = endpoints(&data()).unwrap();
    assert_eq!(e.len(), 2, "{e:?}");
    let orders = e.iter().find(|e| e.endpoint == "GET /orders/{id}").unwrap();
    assert_eq!(orders.requests, 500);
    assert_eq!(orders.p99_ms, 25.0);
    // (2 × 10 + 3 × 12) ÷ 5 ms per request.
    assert_eq!(orders.service_ms, Some(11.2));
    assert_eq!(orders.worker_seconds, Some(5.6));
    assert_eq!(orders.error_percent, Some(0.0));
    let report = e.iter().find(|e| e.endpoint == "GET /report").unwrap();
    assert_eq!(report.worker_seconds, Some(40.0));
    assert_eq!(report.share_of_requests_percent, 16.67);
}

#[test]
fn the_replica_with_fewer_workers_stands_out_and_the_fleet_is_summed() {
    let d = data();
    let (r, bound) = report(&d);
    assert_eq!(bound.total, 3);
    assert_eq!(r.replicas[0].replica, "c:1");
    let hot = r.hot_replica.unwrap();
    assert_eq!(hot.replica, "c:1");
    assert!(
        hot.why.contains("1 worker against a median of 3"),
        "{}",
        hot.why
    );
    assert_eq!(r.utilization_percent, Some(45.0));
    assert_eq!(r.requests_per_second, Some(6.0));
    let w = worker_reading(&d).unwrap();
    assert_eq!(w.source, "prometheus:default:gunicorn_workers");
    assert!((w.samples[0].busy - 3.15).abs() < 1e-9);
}

#[test]
fn an_even_fleet_has_no_hot_replica_and_long_lists_are_cut() {
    let mut d = data();
    let replicas: Vec<ReplicaWorkers> = (0..30)
        .map(|i| ReplicaWorkers {
            replica: format!("r{i:02}"),
            busy: 2.0 + f64::from(i % 3) * 0.1,
            idle: 2.0,
            rps: None,
        })
        .collect();
    d.workers = Some(("gunicorn_workers".into(), replicas));
    let (r, bound) = report(&d);
    assert!(r.hot_replica.is_none());
    assert_eq!(
        (bound.total, bound.returned, bound.truncated),
        (30, 20, true)
    );
    assert_eq!(r.replicas.len(), 20);
}

#[test]
fn the_breakdown_takes_the_fleet_like_an_access_log() {
    use crate::diagnosis::latency::{self, LatencyInput, Measured, PrometheusInput};
    let input = LatencyInput {
        prometheus: Some(PrometheusInput {
            source: None,
            selector: r#"{job="shop"}"#.into(),
            since: None,
            until: None,
        }),
        ..Default::default()
    };
    let checked = latency::check(input, 1_700_000_100).unwrap();
    let plan = checked.fleet_plan().unwrap();
    assert_eq!(
        (plan.engine.as_str(), plan.since),
        ("default", 1_700_000_100 - 900)
    );
    let m = Measured {
        fleet: Some(data()),
        ..Default::default()
    };
    let r = latency::analyze_measured(&checked, &m).unwrap();
    assert_eq!(r.endpoints[0].endpoint, "GET /report");
    assert_eq!(r.observations.workers_busy_percent, Some(45.0));
    assert_eq!(r.lists["fleet.replicas"].total, 3);
    assert!(
        r.conclusion.verdict.contains("Replica c:1"),
        "{}",
        r.conclusion.verdict
    );
    assert!(
        r.conclusion
            .evidence
            .iter()
            .any(|e| e.source == "prometheus:default:flask_http_request_duration_seconds_count"),
        "{:?}",
        r.conclusion.evidence
    );
    let bad = LatencyInput {
        prometheus: Some(PrometheusInput {
            source: Some("a b".into()),
            selector: r#"{job="shop"}"#.into(),
            since: None,
            until: None,
        }),
        ..Default::default()
    };
    assert_eq!(
        latency::check(bad, 0).unwrap_err().field,
        "prometheus.source"
    );
}

#[test]
fn ingress_nginx_splits_the_fleet_into_nginx_and_upstream() {
    use crate::diagnosis::latency::{self, LatencyInput, Measured, PrometheusInput};
    let input = LatencyInput {
        prometheus: Some(PrometheusInput {
            source: None,
            selector: r#"{job="shop"}"#.into(),
            since: None,
            until: None,
        }),
        ..Default::default()
    };
    let checked = latency::check(input, 1_700_000_100).unwrap();
    let m = Measured {
        fleet: Some(FleetData {
            ingress_split_ms: Some((130.0, 100.0)),
            ..data()
        }),
        ..Default::default()
    };
    let r = latency::analyze_measured(&checked, &m).unwrap();
    let source = "prometheus:default:nginx_ingress_controller_response_duration_seconds";
    assert_eq!(r.total_ms, Some(130.0), "{:?}", r.layers);
    let nginx = r
        .layers
        .iter()
        .find(|l| l.layer == "nginx")
        .expect("an nginx layer");
    // request − upstream: derived from the two measured means, each in the evidence.
    assert_eq!((nginx.ms, nginx.source.as_str()), (30.0, "derived"));
    assert!(
        r.conclusion.evidence.iter().any(|e| e.source == source),
        "{:?}",
        r.conclusion.evidence
    );
    let fleet = r.fleet.expect("the fleet report");
    assert!(
        fleet
            .families
            .iter()
            .any(|f| f.starts_with("ingress-nginx:")),
        "{:?}",
        fleet.families
    );
}
