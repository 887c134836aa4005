//! Unit tests of the capacity arithmetic, checked against published vectors.

use super::*;

fn input(replicas: i64, workers: i64, latency_ms: f64) -> CapacityInput {
    CapacityInput {
        replicas,
        workers_per_replica: workers,
        threads_per_worker: 1,
        avg_latency_ms: latency_ms,
        arrival_rps: None,
        cpu_cores: None,
        workload: Workload::Mixed,
        worker_rss_mb: None,
        memory_limit_mb: None,
        db_pool_per_worker: None,
        db_max_connections: None,
        target_latency_ms: None,
        db_time_percent: None,
    }
}

#[test]
fn seed_numbers_come_out_exactly() {
    let mut i = input(32, 4, 4000.0);
    i.target_latency_ms = Some(1000.0);
    i.cpu_cores = Some(4.0);
    let r = analyze(&i).unwrap();
    assert_eq!(r.total_workers, 128);
    assert_eq!(r.throughput_ceiling_rps, 32.0);
    assert_eq!(r.what_if[0].gain, 4.0);
    assert_eq!(r.what_if[0].new_workers, 0);
    assert_eq!(r.what_if[0].throughput_ceiling_rps, 128.0);
    assert_eq!(r.what_if[1].gain, 2.0);
    assert_eq!(r.what_if[1].db_concurrency_factor, 2.0);
    assert_eq!(r.recommended_workers_per_replica.unwrap().workers, 9);
}

#[test]
fn latencies_near_zero_are_refused_instead_of_an_infinite_ceiling() {
    // Found by tests/fuzz: target_latency_ms 1e-300 made the what-if ceiling infinite,
    // which JSON writes as null where the output schema promises a number.
    let mut i = input(1, 1, 77.66);
    i.target_latency_ms = Some(1e-300);
    assert_eq!(analyze(&i).unwrap_err().field, "target_latency_ms");
    let e = analyze(&input(1, 1, 1e-300)).unwrap_err();
    assert_eq!(e.field, "avg_latency_ms");
    let mut i = input(100_000, 10, MIN_LATENCY_MS);
    i.target_latency_ms = Some(MIN_LATENCY_MS);
    let r = analyze(&i).unwrap();
    assert!(r.throughput_ceiling_rps.is_finite());
    for w in &r.what_if {
        assert!(
            w.throughput_ceiling_rps.is_finite() && w.gain.is_finite(),
            "{w:?}"
        );
    }
}

#[test]
fn halving_is_the_default_what_if() {
    let r = analyze(&input(32, 4, 4000.0)).unwrap();
    assert_eq!(r.what_if[0].avg_latency_ms, 2000.0);
    assert_eq!(r.what_if[0].gain, 2.0);
}

/// Published Erlang C vectors: arrivals per interval, handling time, agents → P(wait), ASA.
#[test]
fn erlang_c_matches_published_vectors() {
    let cases = [
        (360.0, 1800.0, 240.0, 55, 0.2387, 8.2),
        (300.0, 900.0, 180.0, 65, 0.4201, 15.1),
        (650.0, 3600.0, 150.0, 34, 0.1430, 3.1),
        (20.0, 3600.0, 1800.0, 11, 0.6821, 1227.8),
    ];
    for (calls, interval, aht, agents, pw, asa) in cases {
        let q = mmc(agents, calls / interval, aht);
        assert!(
            (q.p_wait - pw).abs() < 0.00005,
            "P(wait) {} vs {pw}",
            q.p_wait
        );
        let wait = q.mean_wait_s.unwrap();
        assert!((wait - asa).abs() < 0.05, "wait {wait} vs {asa}");
    }
}

#[test]
fn erlang_is_stable_for_thousands_of_workers() {
    // 5,000 servers at 98% load: factorial-based formulas overflow long before this.
    let q = mmc(5000, 4900.0, 1.0);
    assert!(
        q.p_wait.is_finite() && q.p_wait > 0.0 && q.p_wait < 1.0,
        "{q:?}"
    );
    assert!(q.mean_wait_s.unwrap().is_finite());
    // At 50% load with 5,000 servers nobody waits.
    let q = mmc(5000, 2500.0, 1.0);
    assert!(q.p_wait < 1e-12, "{q:?}");
    // Max accepted size stays finite.
    let q = mmc(MAX_SLOTS, MAX_SLOTS as f64 * 0.9, 1.0);
    assert!(q.p_wait.is_finite());
}

#[test]
fn single_server_matches_mm1() {
    // M/M/1: P(wait) = ρ, Wq = ρ/(μ−λ).
    let q = mmc(1, 0.5, 1.0);
    assert!((q.p_wait - 0.5).abs() < 1e-12);
    assert!((q.mean_wait_s.unwrap() - 1.0).abs() < 1e-12);
}

/// The missing-index incident as an agent passes it: nginx's mean (queue included) and
/// the rate being served.
#[test]
fn a_latency_that_includes_queueing_is_named_and_sizing_waits() {
    let mut i = input(1, 4, 174.0);
    i.arrival_rps = Some(93.0);
    i.cpu_cores = Some(2.0);
    i.worker_rss_mb = Some(120.0);
    i.memory_limit_mb = Some(2048.0);
    let r = analyze(&i).unwrap();
    assert_eq!(r.latency_includes_queueing, Some(true));
    assert!((r.service_time_at_most_ms.unwrap() - 43.011).abs() < 0.01);
    assert!(
        r.conclusion
            .verdict
            .contains("includes waiting for a worker")
    );
    let first = &r.conclusion.next_steps[0];
    assert_eq!(
        first.tool.as_deref(),
        Some("break_down_latency"),
        "{first:?}"
    );
    assert!(!first.action.to_lowercase().contains("add "), "{first:?}");
    let rec = r.recommended_workers_per_replica.unwrap();
    assert!(rec.workers as f64 * 120.0 <= 2048.0 - rec.memory_reserve_mb.unwrap());
    // Just past the slots (4.07 in flight for 4): the same answer, never "growing
    // without bound" on its own.
    i.avg_latency_ms = 56.47;
    i.arrival_rps = Some(72.2);
    let r = analyze(&i).unwrap();
    assert_eq!(r.stable, Some(false));
    assert_eq!(r.latency_includes_queueing, Some(true));
    assert_eq!(
        r.conclusion.next_steps[0].tool.as_deref(),
        Some("break_down_latency")
    );
    assert!(
        r.conclusion
            .verdict
            .contains("already includes waiting for a worker")
    );
    i.arrival_rps = Some(93.0);
    // Within the slots, no such claim.
    i.avg_latency_ms = 40.0;
    let r = analyze(&i).unwrap();
    assert_eq!(r.latency_includes_queueing, Some(false));
    assert_eq!(r.service_time_at_most_ms, None);
    // The DB holding the time is a warning against more workers.
    i.db_time_percent = Some(80.0);
    let r = analyze(&i).unwrap();
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("80% of request time"))
    );
}

#[test]
fn doubling_cpu_bound_workers_is_capped_by_the_cores() {
    let mut i = input(1, 2, 18.0);
    i.cpu_cores = Some(2.0);
    i.workload = Workload::CpuBound;
    let r = analyze(&i).unwrap();
    let double = r
        .what_if
        .iter()
        .find(|w| w.scenario == "double_workers")
        .unwrap();
    assert_eq!(double.gain, 1.0);
    assert!(
        double.cap.as_deref().unwrap().contains("2 cores"),
        "{double:?}"
    );
    // One worker on two cores: doubling reaches the cores, 2×.
    i.workers_per_replica = 1;
    let r = analyze(&i).unwrap();
    assert_eq!(r.what_if[1].gain, 2.0);
    // Without the cores nothing is capped.
    i.cpu_cores = None;
    assert_eq!(analyze(&i).unwrap().what_if[1].cap, None);
}

#[test]
fn overload_is_an_answer_not_an_error() {
    let mut i = input(32, 4, 4000.0);
    i.arrival_rps = Some(40.0);
    let r = analyze(&i).unwrap();
    assert_eq!(r.stable, Some(false));
    assert_eq!(r.utilization, Some(1.25));
    assert_eq!(r.p_wait, Some(1.0));
    assert_eq!(r.mean_queue_wait_ms, None);
    assert!(
        r.conclusion.verdict.starts_with("Unstable"),
        "{}",
        r.conclusion.verdict
    );
    // 40 rps × 4 s = 160 busy slots → 161 slots → 6 workers per replica across 32.
    assert_eq!(r.min_workers_per_replica_for_stability, Some(6));
    assert!(
        r.conclusion.verdict.contains("3200 ms"),
        "{}",
        r.conclusion.verdict
    );
}

#[test]
fn close_to_the_cliff_is_called_out() {
    let mut i = input(32, 4, 4000.0);
    i.arrival_rps = Some(30.0);
    let r = analyze(&i).unwrap();
    assert_eq!(r.stable, Some(true));
    assert!(
        r.conclusion.verdict.contains("close to the cliff"),
        "{}",
        r.conclusion.verdict
    );
    assert!(r.mean_queue_wait_ms.unwrap() > 0.0);
}

#[test]
fn workload_adjusts_and_memory_caps_the_formula() {
    let mut i = input(2, 4, 100.0);
    i.cpu_cores = Some(4.0);
    i.workload = Workload::CpuBound;
    assert_eq!(
        analyze(&i)
            .unwrap()
            .recommended_workers_per_replica
            .unwrap()
            .workers,
        5
    );
    i.workload = Workload::IoBound;
    assert_eq!(
        analyze(&i)
            .unwrap()
            .recommended_workers_per_replica
            .unwrap()
            .workers,
        17
    );
    i.worker_rss_mb = Some(300.0);
    i.memory_limit_mb = Some(2048.0);
    let rec = analyze(&i)
        .unwrap()
        .recommended_workers_per_replica
        .unwrap();
    // (2048 − 307 MB kept for the master, the OS and the page cache) ÷ 300 MB = 5.
    assert_eq!(rec.memory_reserve_mb, Some(307.2));
    assert_eq!(rec.memory_cap, Some(5));
    assert_eq!(rec.workers, 5);
    assert!(
        rec.basis.contains("memory") && rec.basis.contains("307.2 MB kept"),
        "{}",
        rec.basis
    );
    // Half a core: (2 × 0.5) + 1 = 2.
    i.cpu_cores = Some(0.5);
    i.workload = Workload::Mixed;
    assert_eq!(
        analyze(&i)
            .unwrap()
            .recommended_workers_per_replica
            .unwrap()
            .formula_workers,
        2
    );
}

#[test]
fn db_connection_budget() {
    let mut i = input(32, 4, 4000.0);
    i.db_pool_per_worker = Some(5);
    i.db_max_connections = Some(500);
    let r = analyze(&i).unwrap();
    let db = r.db_connections.unwrap();
    assert_eq!(db.total_connections, 640);
    assert_eq!(db.fits, Some(false));
    assert_eq!(db.percent_of_max, Some(128.0));
    assert!(r.conclusion.warnings.iter().any(|w| w.contains("640")));
    i.cpu_cores = Some(4.0);
    // 500 / (32 × 5) = 3 workers per replica fit.
    assert_eq!(
        analyze(&i)
            .unwrap()
            .recommended_workers_per_replica
            .unwrap()
            .db_connection_cap,
        Some(3)
    );
}

#[test]
fn bad_input_names_the_field() {
    for (mutate, field) in [
        (
            Box::new(|i: &mut CapacityInput| i.replicas = 0) as Box<dyn Fn(&mut CapacityInput)>,
            "replicas",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.replicas = -1),
            "replicas",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.avg_latency_ms = 0.0),
            "avg_latency_ms",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.avg_latency_ms = f64::NAN),
            "avg_latency_ms",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.avg_latency_ms = f64::INFINITY),
            "avg_latency_ms",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.arrival_rps = Some(-3.0)),
            "arrival_rps",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.cpu_cores = Some(0.0)),
            "cpu_cores",
        ),
        (
            Box::new(|i: &mut CapacityInput| i.workers_per_replica = 10_000_000),
            "workers_per_replica",
        ),
        (
            Box::new(|i: &mut CapacityInput| {
                i.replicas = 100_000;
                i.workers_per_replica = 1000
            }),
            "replicas",
        ),
    ] {
        let mut i = input(32, 4, 4000.0);
        mutate(&mut i);
        let err = analyze(&i).unwrap_err();
        assert_eq!(err.field, field, "{err}");
    }
}
