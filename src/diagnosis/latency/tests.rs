//! Unit tests of the breakdown. The cases are written on unchecked inputs; the two
//! helpers below check them first, as every front end does.

use super::*;
use crate::diagnosis::InputError;
use crate::diagnosis::access_log::AccessLogData;
use crate::diagnosis::queueing::{SlowMetric, ThresholdBasis};
use crate::diagnosis::symptoms::{
    self, BacklogShape, DEFAULT_SLOW_MS, EndpointLatency, LatencyPattern,
};

/// [`super::analyze`] on an input checked first.
fn analyze(input: &LatencyInput) -> Result<LatencyReport, InputError> {
    super::analyze(&check(input.clone(), 0)?)
}

/// [`super::analyze_measured`] on an input checked first.
fn analyze_measured(input: &LatencyInput, m: &Measured) -> Result<LatencyReport, InputError> {
    super::analyze_measured(&check(input.clone(), 0)?, m)
}

fn figures(req: f64, up: f64, dur: f64, queue: f64, db: f64) -> LatencyInput {
    LatencyInput {
        figures: Figures {
            nginx: NginxFigures {
                request_time_ms: Some(req),
                upstream_response_time_ms: Some(up),
                upstream_connect_time_ms: None,
            },
            app: AppFigures {
                request_duration_ms: Some(dur),
                queue_wait_ms: Some(queue),
                external_calls_ms: None,
            },
            db: DbFigures {
                query_latency_ms: Some(db),
                ..Default::default()
            },
            ..Default::default()
        },
        endpoints: vec![],
        slow_threshold_ms: Some(DEFAULT_SLOW_MS),
        ..Default::default()
    }
}

#[test]
fn endpoint_request_counts_near_u64_max_do_not_overflow() {
    // Found by tests/fuzz: `endpoints` with u64::MAX and 1 requests panicked while the
    // shares of requests were computed.
    let ep = |requests| EndpointLatency {
        endpoint: format!("GET /{requests}"),
        requests,
        p50_ms: 1.0,
        p99_ms: 2.0,
        service_ms: Some(1.0),
    };
    let input = LatencyInput {
        endpoints: vec![ep(u64::MAX), ep(1)],
        ..Default::default()
    };
    let r = analyze(&input).unwrap();
    assert_eq!(r.endpoints.len(), 2);
    assert_eq!(r.endpoints[0].requests, u64::MAX);
    assert!(
        r.endpoints
            .iter()
            .all(|e| e.share_of_requests_percent <= 100.0)
    );
}

#[test]
fn db_dominates_and_shares_add_up() {
    let r = analyze(&figures(1200.0, 1150.0, 1100.0, 50.0, 900.0)).unwrap();
    assert_eq!(r.dominant_layer.as_deref(), Some("db"));
    let get = |name: &str| r.layers.iter().find(|l| l.layer == name).map(|l| l.ms);
    assert_eq!(get("nginx"), Some(50.0));
    assert_eq!(get("queue_wait"), Some(50.0));
    assert_eq!(get("app_code"), Some(200.0));
    assert_eq!(get("db"), Some(900.0));
    let total: f64 = r.layers.iter().filter_map(|l| l.percent_of_total).sum();
    assert!((total - 100.0).abs() < 0.05, "{total}");
    assert_eq!(r.queue_wait_percent, Some(4.17));
    assert!(
        r.conclusion.warnings.is_empty(),
        "{:?}",
        r.conclusion.warnings
    );
    assert_eq!(
        r.conclusion.next_steps[0].tool.as_deref(),
        Some("slow_queries")
    );
}

#[test]
fn upstream_longer_than_request_is_flagged() {
    let r = analyze(&figures(100.0, 300.0, 90.0, 0.0, 10.0)).unwrap();
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("larger than request_time_ms")),
        "{:?}",
        r.conclusion.warnings
    );
    assert!(r.layers.iter().all(|l| l.ms >= 0.0));
}

#[test]
fn db_longer_than_request_is_flagged() {
    let r = analyze(&figures(1000.0, 990.0, 500.0, 0.0, 800.0)).unwrap();
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("exceeds the request duration")),
        "{:?}",
        r.conclusion.warnings
    );
    assert_eq!(
        r.layers.iter().find(|l| l.layer == "app_code").unwrap().ms,
        0.0
    );
}

#[test]
fn queue_wait_is_derived_when_not_given() {
    let mut i = figures(2000.0, 1950.0, 450.0, 0.0, 300.0);
    i.figures.app.queue_wait_ms = None;
    i.figures.gunicorn = GunicornFigures {
        idle_workers: Some(0.0),
        busy_workers: Some(8.0),
    };
    let r = analyze(&i).unwrap();
    assert_eq!(r.dominant_layer.as_deref(), Some("queue_wait"));
    assert_eq!(r.worker_utilization_percent, Some(100.0));
    assert_eq!(r.observations.workers_busy_percent, Some(100.0));
    assert_eq!(r.layers[0].source, "derived");
}

#[test]
fn per_query_latency_times_queries() {
    let mut i = figures(1000.0, 990.0, 980.0, 0.0, 20.0);
    i.figures.db.queries_per_request = Some(40.0);
    let r = analyze(&i).unwrap();
    assert_eq!(r.layers.iter().find(|l| l.layer == "db").unwrap().ms, 800.0);
}

#[test]
fn observations_feed_match_symptom() {
    let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
    i.endpoints = vec![
        EndpointLatency {
            endpoint: "GET /a".into(),
            requests: 1000,
            p50_ms: 900.0,
            p99_ms: 3000.0,
            service_ms: None,
        },
        EndpointLatency {
            endpoint: "GET /b".into(),
            requests: 900,
            p50_ms: 800.0,
            p99_ms: 2500.0,
            service_ms: None,
        },
    ];
    let r = analyze(&i).unwrap();
    assert_eq!(r.latency_pattern, Some(LatencyPattern::SystemWide));
    let m = symptoms::analyze(&symptoms::MatchInput {
        observations: r.observations,
    })
    .unwrap();
    assert_eq!(m.matches[0].symptom, "F");
}

#[test]
fn nothing_given_says_what_to_collect() {
    let r = analyze(&LatencyInput {
        slow_threshold_ms: Some(1000.0),
        ..Default::default()
    })
    .unwrap();
    assert!(r.layers.is_empty());
    assert!(r.conclusion.verdict.starts_with("Too few figures"));
    assert!(r.dominant_layer.is_none());
}

#[test]
fn negative_figures_are_errors() {
    let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
    i.figures.nginx.request_time_ms = Some(-1.0);
    assert_eq!(
        analyze(&i).unwrap_err().field,
        "figures.nginx.request_time_ms"
    );
}

fn measured_log() -> (String, AccessLogData) {
    use crate::diagnosis::access_log::{LogOptions, LogStats};
    use crate::diagnosis::nginx_format::LogFormat;
    let format =
        LogFormat::compile("$status $request_time $upstream_response_time \"$request\"").unwrap();
    let options = LogOptions::default();
    let mut stats = LogStats::new(&format, &options);
    for i in 0..200u64 {
        let line = if i % 20 == 0 {
            format!(
                "200 2.{:03} 2.000 \"GET /api/report/{i} HTTP/1.1\"",
                i % 100
            )
        } else {
            format!(
                "200 0.0{:02} 0.010 \"GET /api/items/{i} HTTP/1.1\"",
                10 + i % 50
            )
        };
        stats.add_line(line.as_bytes(), i + 1);
    }
    stats.add_line(b"not a line", 201);
    let file = stats.file_data("access.log", 0, false);
    let err = stats
        .first_error
        .clone()
        .map(|e| ("access.log".to_owned(), e));
    ("nginx:access.log".to_owned(), stats.finish(vec![file], err))
}

#[test]
fn sources_fill_layers_endpoints_workers_and_backlog() {
    let m = Measured {
        fleet: None,
        access_log: Some(measured_log()),
        workers: Some(WorkerSamples {
            source: "prometheus:http://x/metrics".into(),
            samples: vec![
                WorkerSample {
                    busy: 4.0,
                    idle: 0.0,
                    queue: None,
                },
                WorkerSample {
                    busy: 3.0,
                    idle: 1.0,
                    queue: None,
                },
            ],
        }),
        queue: Some(QueueSamples {
            source: "proc:/proc/net/tcp:8000".into(),
            samples: vec![0.0, 5.0, 7.0],
        }),
    };
    let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
    assert_eq!(r.endpoints[0].endpoint, "GET /api/report/{id}");
    assert_eq!(r.endpoints[0].requests, 10);
    assert!(r.endpoints[0].slow);
    assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
    assert_eq!(r.worker_utilization_percent, Some(87.5));
    assert_eq!(r.observations.backlog_growing, Some(true));
    assert_eq!(r.accept_queue.as_ref().unwrap().max, 7.0);
    assert_eq!(r.dominant_layer.as_deref(), Some("app_server"));
    let a = r.access_log.as_ref().unwrap();
    assert_eq!((a.parsed_lines, a.unparsed_lines), (200, 1));
    assert!(a.first_unparsed.as_deref().unwrap().contains("line 201"));
    assert!(
        r.conclusion.verdict.contains("GET /api/report/{id}"),
        "{}",
        r.conclusion.verdict
    );
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("1 of 201 lines")),
        "{:?}",
        r.conclusion.warnings
    );
    let w = r
        .endpoints
        .iter()
        .map(|e| e.share_of_worker_time_percent.unwrap())
        .sum::<f64>();
    assert!((w - 100.0).abs() < 0.1, "{w}");
    // The caller's figure wins over the measured one, with a warning when they differ.
    let mut input = LatencyInput::default();
    input.figures.gunicorn.busy_workers = Some(1.0);
    input.figures.gunicorn.idle_workers = Some(3.0);
    let r = analyze_measured(&input, &m).unwrap();
    assert_eq!(r.worker_utilization_percent, Some(25.0));
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("busy_workers"))
    );
}

/// A live incident in miniature: 4 sync workers all busy at 100 rps; one route (15 % of
/// requests) takes 250 ms of service, the rest 4 ms, and every request waits ~131 ms in
/// the backlog behind it.
fn head_of_line_incident() -> Measured {
    use crate::diagnosis::access_log::{LogOptions, LogStats};
    use crate::diagnosis::nginx_format::LogFormat;
    let format =
        LogFormat::compile("$msec $status $request_time $upstream_response_time \"$request\"")
            .unwrap();
    let options = LogOptions::default();
    let mut stats = LogStats::new(&format, &options);
    let queue = 0.1309;
    for i in 0..1000u64 {
        let t = 1_700_000_000.0 + i as f64 * 0.01;
        let (path, service) = if i % 20 < 3 {
            (format!("/api/customers/{i}/orders"), 0.250)
        } else if i % 2 == 0 {
            (format!("/api/items/{i}"), 0.004)
        } else {
            ("/api/health".to_owned(), 0.004)
        };
        let up = queue + service;
        let line = format!(
            "{t:.3} 200 {:.3} {up:.3} \"GET {path} HTTP/1.1\"",
            up + 0.001
        );
        stats.add_line(line.as_bytes(), i + 1);
    }
    let file = stats.file_data("access.log", 0, false);
    let busy = |b: f64| WorkerSample {
        busy: b,
        idle: 4.0 - b,
        queue: None,
    };
    Measured {
        fleet: None,
        access_log: Some((
            "nginx:access.log".to_owned(),
            stats.finish(vec![file], None),
        )),
        workers: Some(WorkerSamples {
            source: "prometheus:http://127.0.0.1:9100/metrics".into(),
            samples: vec![busy(4.0), busy(4.0), busy(4.0), busy(4.0)],
        }),
        queue: Some(QueueSamples {
            source: "proc:/proc/net/tcp:8000".into(),
            samples: vec![13.0, 12.0, 14.0, 13.0],
        }),
    }
}

#[test]
fn head_of_line_blocking_is_named_and_the_queue_split_from_service() {
    let m = head_of_line_incident();
    let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
    let layer = |name: &str| r.layers.iter().find(|l| l.layer == name).map(|l| l.ms);
    // 4 busy workers ÷ ~100 rps = ~40 ms of service; the rest of ~171 ms is the queue.
    let service = r.service_time_ms.unwrap();
    assert!((service - 40.0).abs() < 2.0, "{service}");
    let q = layer("queue_wait").unwrap();
    assert!((q - 131.0).abs() < 4.0, "{q} {:?}", r.layers);
    assert!(layer("app_service").is_some() && layer("app_server").is_none());
    assert_eq!(r.dominant_layer.as_deref(), Some("queue_wait"));
    let h = r
        .head_of_line
        .as_ref()
        .expect("head-of-line blocking found");
    assert_eq!(h.endpoint, "GET /api/customers/{id}/orders");
    assert!(h.share_of_service_time_percent > 85.0, "{h:?}");
    assert!((h.service_ms - 250.0).abs() < 5.0, "{h:?}");
    // Worker time is service time: the slow route's share, not its share of request time.
    let slow = &r.endpoints[0];
    assert_eq!(slow.endpoint, h.endpoint);
    assert!(
        slow.share_of_worker_time_percent.unwrap() > 85.0,
        "{slow:?}"
    );
    assert!(slow.slow);
    assert!(
        r.endpoints[1..].iter().all(|e| !e.slow),
        "{:?}",
        r.endpoints
    );
    assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
    assert_eq!(r.slow_threshold_basis, Some(ThresholdBasis::Relative));
    assert!(r.conclusion.verdict.starts_with("Head-of-line blocking"));
    assert_eq!(
        r.conclusion.next_steps[0].tool.as_deref(),
        Some("slow_queries")
    );
    assert!(r.conclusion.next_steps[0].action.contains(&h.endpoint));
    // The observations carry the judgement to match_symptom, which agrees.
    let o = &r.observations;
    assert_eq!(
        o.head_of_line_endpoint.as_deref(),
        Some(h.endpoint.as_str())
    );
    assert_eq!(o.slow_metric, Some(SlowMetric::ServiceMs));
    // A queue that sits full is steady, not growing; the sources travel with the figures.
    assert_eq!(o.backlog_shape, Some(BacklogShape::Steady));
    assert_eq!(o.backlog_growing, Some(false));
    assert_eq!(
        o.sources.get("workers_busy_percent").map(String::as_str),
        Some("prometheus:http://127.0.0.1:9100/metrics")
    );
    assert_eq!(
        o.sources.get("backlog_shape").map(String::as_str),
        Some("proc:/proc/net/tcp:8000")
    );
    let matched = symptoms::analyze(&symptoms::MatchInput {
        observations: o.clone(),
    })
    .unwrap();
    assert_eq!(matched.matches[0].symptom, "E", "{:?}", matched.matches);
    let step = &matched.conclusion.next_steps[0];
    assert!(step.action.contains(&h.endpoint), "{step:?}");
    assert!(
        !step.action.to_lowercase().contains("add replicas"),
        "{step:?}"
    );
    if let Some(a) = matched.matches.iter().find(|m| m.symptom == "A") {
        assert!(
            a.evidence_against.iter().any(|e| e.contains(&h.endpoint)),
            "{a:?}"
        );
    }
    // Without worker state the upstream time stays one layer, and says so.
    let mut bare = head_of_line_incident();
    bare.workers = None;
    bare.queue = None;
    let r = analyze_measured(&LatencyInput::default(), &bare).unwrap();
    assert!(r.head_of_line.is_none() && r.service_time_ms.is_none());
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("includes any wait")),
        "{:?}",
        r.conclusion.warnings
    );
    // A baseline judges against the service's own normal.
    let input = LatencyInput {
        baseline: Some(Baseline { p99_ms: 20.0 }),
        ..LatencyInput::default()
    };
    let r = analyze_measured(&input, &head_of_line_incident()).unwrap();
    assert_eq!(r.slow_threshold_ms, Some(60.0));
    assert_eq!(r.latency_pattern, Some(LatencyPattern::SystemWide));
}

#[test]
fn a_log_that_matches_nothing_is_an_error() {
    use crate::diagnosis::access_log::{LogOptions, LogStats};
    use crate::diagnosis::nginx_format::LogFormat;
    let format = LogFormat::compile("timed").unwrap();
    let options = LogOptions::default();
    let mut stats = LogStats::new(&format, &options);
    stats.add_line(b"{\"json\": true}", 1);
    let err = stats.first_error.clone().map(|e| ("a.log".to_owned(), e));
    let data = stats.finish(vec![], err);
    let e = analyze_measured(
        &LatencyInput::default(),
        &Measured {
            access_log: Some(("nginx:a.log".into(), data)),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.field, "access_log.log_format");
    assert!(e.message.contains("a.log line 1, byte 1"), "{e}");
}

#[test]
fn empty_queue_and_idle_workers_say_no_backlog() {
    let m = Measured {
        queue: Some(QueueSamples {
            source: "proc".into(),
            samples: vec![0.0, 0.0],
        }),
        ..Default::default()
    };
    let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
    assert_eq!(r.observations.backlog_growing, Some(false));
}
