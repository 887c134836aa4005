//! Unit tests of the matcher, the matrix and the spirals.

use super::*;
use std::collections::BTreeMap;

fn run(o: Observations) -> MatchReport {
    analyze(&MatchInput { observations: o }).unwrap()
}

fn top(o: Observations) -> String {
    run(o).matches[0].symptom.clone()
}

#[test]
fn opposite_advice_is_settled_by_where_the_time_goes() {
    // System-wide slowness with the app's CPU at 95 % and an idle DB: scale out (A).
    let cpu_bound = Observations {
        workers_busy_percent: Some(100.0),
        backlog_shape: Some(BacklogShape::Steady),
        app_cpu_percent: Some(95.0),
        db_cpu_percent: Some(10.0),
        latency_pattern: Some(LatencyPattern::SystemWide),
        ..Default::default()
    };
    let r = run(cpu_bound.clone());
    assert_eq!(r.matches[0].symptom, "A", "{:?}", r.matches);
    let f = r.matches.iter().find(|m| m.symptom == "F").unwrap();
    assert!(f.confidence < r.matches[0].confidence);
    assert!(
        f.evidence_against
            .iter()
            .any(|e| e.contains("app CPU is high")),
        "{f:?}"
    );
    // The same with the time in the database: fix latency (F), not replicas.
    let r = run(Observations {
        dominant_layer: Some("db".into()),
        ..cpu_bound.clone()
    });
    assert_ne!(r.matches[0].symptom, "A", "{:?}", r.matches);
    let a = r.matches.iter().find(|m| m.symptom == "A").unwrap();
    assert!(
        a.evidence_against.iter().any(|e| e.contains("database")),
        "{a:?}"
    );
    assert!(
        !r.conclusion.next_steps[0]
            .action
            .starts_with("Add replicas")
    );
    // App CPU unknown: F keeps the lead over A.
    let r = run(Observations {
        app_cpu_percent: None,
        ..cpu_bound
    });
    assert_eq!(r.matches[0].symptom, "F", "{:?}", r.matches);
}

#[test]
fn backlog_shape_comes_from_the_trend() {
    assert_eq!(BacklogShape::of(&[14.0; 5]), Some(BacklogShape::Steady));
    assert_eq!(
        BacklogShape::of(&[0.0, 5.0, 9.0, 14.0, 20.0]),
        Some(BacklogShape::Growing)
    );
    assert_eq!(
        BacklogShape::of(&[20.0, 14.0, 9.0, 4.0, 1.0]),
        Some(BacklogShape::Draining)
    );
    assert_eq!(
        BacklogShape::of(&[0.0, 0.0, 3.0, 0.0]),
        Some(BacklogShape::Empty)
    );
    assert_eq!(BacklogShape::of(&[]), None);
    // A full, steady backlog still means requests wait (A's criterion), without being
    // called growing.
    let r = run(Observations {
        workers_busy_percent: Some(100.0),
        backlog_shape: Some(BacklogShape::Steady),
        app_cpu_percent: Some(90.0),
        ..Default::default()
    });
    assert_eq!(r.matches[0].symptom, "A");
    assert_eq!(r.matches[0].confidence, 1.0);
}

#[test]
fn measured_observations_keep_their_sources() {
    let mut sources = BTreeMap::new();
    sources.insert(
        "workers_busy_percent".to_owned(),
        "prometheus:http://127.0.0.1:9100/metrics".to_owned(),
    );
    let r = run(Observations {
        workers_busy_percent: Some(100.0),
        app_cpu_percent: Some(90.0),
        sources,
        ..Default::default()
    });
    let src = |m: &str| {
        r.conclusion
            .evidence
            .iter()
            .find(|e| e.metric == m)
            .map(|e| e.source.clone())
            .unwrap()
    };
    assert_eq!(
        src("workers_busy_percent"),
        "prometheus:http://127.0.0.1:9100/metrics"
    );
    assert_eq!(src("app_cpu_percent"), "caller");
}

#[test]
fn symptom_a_app_concurrency_exhausted() {
    let r = run(Observations {
        workers_busy_percent: Some(100.0),
        backlog_growing: Some(true),
        app_cpu_percent: Some(95.0),
        db_cpu_percent: Some(20.0),
        ..Default::default()
    });
    assert_eq!(r.matches[0].symptom, "A");
    assert_eq!(r.matches[0].confidence, 1.0);
    assert!(
        r.conclusion.verdict.contains("Add replicas"),
        "{}",
        r.conclusion.verdict
    );
}

#[test]
fn symptom_b_storage_bound() {
    let r = run(Observations {
        workers_busy_percent: Some(100.0),
        backlog_growing: Some(true),
        app_cpu_percent: Some(20.0),
        db_cpu_percent: Some(25.0),
        disk_queue_depth: Some(8.0),
        db_io_saturated: Some(true),
        ..Default::default()
    });
    assert_eq!(r.matches[0].symptom, "B");
    assert_eq!(
        r.conclusion.next_steps[0].tool.as_deref(),
        Some("check_rds_iops")
    );
    // A is contradicted by the low app CPU.
    let a = r.matches.iter().find(|m| m.symptom == "A");
    assert!(a.is_none_or(|a| a.confidence < r.matches[0].confidence));
}

#[test]
fn symptom_c_read_heavy() {
    assert_eq!(
        top(Observations {
            db_cpu_percent: Some(92.0),
            db_read_percent: Some(88.0),
            ..Default::default()
        }),
        "C"
    );
}

#[test]
fn symptom_d_write_heavy_or_locks() {
    assert_eq!(
        top(Observations {
            db_cpu_percent: Some(92.0),
            db_read_percent: Some(30.0),
            ..Default::default()
        }),
        "D"
    );
    assert_eq!(
        top(Observations {
            db_cpu_percent: Some(85.0),
            lock_contention: Some(true),
            db_read_percent: Some(80.0),
            ..Default::default()
        }),
        "C"
    );
    let r = run(Observations {
        db_cpu_percent: Some(85.0),
        lock_contention: Some(true),
        ..Default::default()
    });
    assert_eq!(r.matches[0].symptom, "D");
    assert!(r.matches[0].action.contains("write"));
}

#[test]
fn request_counts_near_u64_max_do_not_overflow_the_pattern() {
    // Found by tests/fuzz: endpoints of u64::MAX and 1 requests panicked when their
    // counts were added up (and would have wrapped to 0 in a release build).
    let ep = |requests, p99| EndpointLatency {
        endpoint: "GET /x".into(),
        requests,
        p50_ms: 1.0,
        p99_ms: p99,
        service_ms: None,
    };
    let (pattern, share) = classify_pattern(
        &[ep(u64::MAX, 5000.0), ep(1, 10.0)],
        DEFAULT_SLOW_MS,
        SlowMetric::P99Ms,
    )
    .unwrap();
    assert_eq!(pattern, LatencyPattern::SystemWide);
    assert!(share > 0.99, "{share}");
}

#[test]
fn symptom_e_long_tail_from_endpoints() {
    let ep = |name: &str, requests, p50, p99| EndpointLatency {
        endpoint: name.into(),
        requests,
        p50_ms: p50,
        p99_ms: p99,
        service_ms: None,
    };
    let r = run(Observations {
        workers_busy_percent: Some(95.0),
        endpoints: vec![
            ep("GET /api/report", 50, 8000.0, 30000.0),
            ep("GET /api/items", 5000, 40.0, 120.0),
            ep("POST /api/cart", 900, 60.0, 200.0),
        ],
        ..Default::default()
    });
    assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
    assert_eq!(r.matches[0].symptom, "E");
}

#[test]
fn symptom_f_system_wide() {
    let r = run(Observations {
        latency_pattern: Some(LatencyPattern::SystemWide),
        db_cpu_percent: Some(40.0),
        ..Default::default()
    });
    assert_eq!(r.matches[0].symptom, "F");
    assert!(
        r.conclusion.verdict.contains("do not add workers"),
        "{}",
        r.conclusion.verdict
    );
}

#[test]
fn too_little_evidence_asks_for_step_one() {
    let r = run(Observations::default());
    assert!(r.matches.is_empty());
    assert!(r.conclusion.verdict.starts_with("Too little evidence"));
    assert_eq!(
        r.conclusion.next_steps[0].tool.as_deref(),
        Some("break_down_latency")
    );
    // One signal is still too thin to name a cause.
    let r = run(Observations {
        db_cpu_percent: Some(90.0),
        ..Default::default()
    });
    assert!(
        r.conclusion.verdict.starts_with("Too little evidence"),
        "{}",
        r.conclusion.verdict
    );
}

#[test]
fn missing_names_the_tool() {
    let r = run(Observations {
        db_cpu_percent: Some(90.0),
        workers_busy_percent: Some(50.0),
        ..Default::default()
    });
    let c = r.matches.iter().find(|m| m.symptom == "C").unwrap();
    assert!(
        c.missing.iter().any(
            |m| m.observation == "db_read_percent" && m.tool.as_deref() == Some("slow_queries")
        )
    );
    assert_eq!(c.confidence, 0.5);
}

#[test]
fn death_spiral_one_worker_accumulation() {
    let r = run(Observations {
        recent_changes: vec![RecentChange::AddedWorkers, RecentChange::OomKills],
        db_latency_rising: Some(true),
        db_cpu_percent: Some(88.0),
        ..Default::default()
    });
    let s = r
        .anti_patterns
        .iter()
        .find(|a| a.name == "worker_accumulation_spiral")
        .unwrap();
    assert_eq!(s.severity, "active");
    assert!(
        r.conclusion.verdict.starts_with("Death spiral #1"),
        "{}",
        r.conclusion.verdict
    );
    assert!(
        r.conclusion.next_steps[0]
            .action
            .contains("no more workers")
    );
    // Added workers alone, with a healthy database, is not a spiral.
    let r = run(Observations {
        recent_changes: vec![RecentChange::AddedWorkers],
        db_cpu_percent: Some(20.0),
        ..Default::default()
    });
    assert!(r.anti_patterns.is_empty());
}

#[test]
fn death_spiral_two_restart_loop() {
    let r = run(Observations {
        db_io_saturated: Some(true),
        disk_queue_depth: Some(12.0),
        recent_changes: vec![RecentChange::ContainerRestarts],
        db_latency_rising: Some(true),
        ..Default::default()
    });
    let s = r
        .anti_patterns
        .iter()
        .find(|a| a.name == "restart_loop_spiral")
        .unwrap();
    assert_eq!(s.severity, "active");
    assert!(s.evidence.iter().any(|e| e.contains("DiskQueueDepth 12")));
    assert_eq!(r.matches[0].symptom, "B");
}

#[test]
fn worker_model_traps() {
    let r = run(Observations {
        worker_class: Some(WorkerClass::Gevent),
        forks_in_workers: Some(true),
        ..Default::default()
    });
    let names: Vec<_> = r.anti_patterns.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["gevent", "forking_in_workers"]);
    let r = run(Observations {
        recent_changes: vec![RecentChange::SwitchedToThreads],
        ..Default::default()
    });
    assert_eq!(r.anti_patterns[0].name, "thread_workers");
    assert!(!r.conclusion.warnings.is_empty());
}

#[test]
fn invalid_observations_name_the_field() {
    for (o, field) in [
        (
            Observations {
                workers_busy_percent: Some(-5.0),
                ..Default::default()
            },
            "observations.workers_busy_percent",
        ),
        (
            Observations {
                workers_busy_percent: Some(250.0),
                ..Default::default()
            },
            "observations.workers_busy_percent",
        ),
        (
            Observations {
                db_cpu_percent: Some(f64::NAN),
                ..Default::default()
            },
            "observations.db_cpu_percent",
        ),
        (
            Observations {
                endpoints: vec![EndpointLatency {
                    endpoint: "GET /".into(),
                    requests: 1,
                    p50_ms: 10.0,
                    p99_ms: 5.0,
                    service_ms: None,
                }],
                ..Default::default()
            },
            "observations.endpoints[0].p99_ms",
        ),
    ] {
        let err = analyze(&MatchInput { observations: o }).unwrap_err();
        assert_eq!(err.field, field);
    }
}

#[test]
fn every_matrix_row_is_reachable() {
    let ids: Vec<_> = MATRIX.iter().map(|r| r.id).collect();
    assert_eq!(ids, ["A", "B", "C", "D", "E", "F"]);
    for row in MATRIX {
        assert!(!row.criteria.is_empty(), "{}", row.id);
    }
}
