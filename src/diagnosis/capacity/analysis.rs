//! capacity_math as named steps: the ceiling by Little's law, the queue at the arrival rate,
//! whether the latency given already includes queueing, the database's share, the worker
//! formula with memory, the connection budget, then the verdict and the next steps.

use crate::diagnosis::{Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, fmt_num, round};

use super::check::{CapacityFigures, check};
use super::input::CapacityInput;
use super::queue::{Queue, mmc};
use super::report::{CapacityReport, DbConnections, WorkerRecommendation};
use super::what_if::what_if;
use super::workers::recommend_workers;

/// Evidence and warnings, gathered in the order the steps run.
#[derive(Debug, Default)]
struct Notes {
    evidence: Vec<Evidence>,
    warnings: Vec<String>,
}

/// Computes the capacity report, or says which argument is wrong.
pub fn analyze(input: &CapacityInput) -> Result<CapacityReport, InputError> {
    let c = check(input)?;
    let ceiling = c.slots as f64 / c.fleet.latency_s;
    let mut notes = Notes {
        evidence: fleet_evidence(&c, ceiling),
        warnings: Vec::new(),
    };
    let queue = c.arrival.map(|rps| mmc(c.slots, rps, c.fleet.latency_s));
    if let Some(rps) = c.arrival {
        notes
            .evidence
            .push(Evidence::number("arrival_rps", rps, "rps", SOURCE_CALLER));
    }
    let what_if = what_if(&c, ceiling);
    let queueing = QueueingInLatency::of(&c, &mut notes);
    db_time_warning(&c, &mut notes);
    let recommended = workers_to_run(&c, queueing.includes, &mut notes);
    memory_warning(&c, &mut notes);
    let db_connections = connection_budget(&c, &mut notes);
    if c.fleet.threads > 1 {
        notes.warnings.push(
            "Thread workers: each thread is a slot here, but threads share one GIL (no CPU gain for CPU-bound code) and each holds its own DB connection, so DB concurrency rises with threads.".to_owned(),
        );
    }

    let (fleet, slots) = (&c.fleet, c.slots);
    let mut report = CapacityReport {
        total_workers: fleet.total_workers(),
        concurrent_slots: slots,
        throughput_ceiling_rps: round(ceiling, 6),
        per_replica_ceiling_rps: round(ceiling / fleet.replicas as f64, 6),
        utilization: queue.map(|q| round(q.utilization, 6)),
        p_wait: queue.map(|q| round(q.p_wait, 6)),
        mean_queue_wait_ms: queue
            .and_then(|q| q.mean_wait_s)
            .map(|s| round(s * 1000.0, 3)),
        stable: queue.map(|q| q.utilization < 1.0),
        latency_includes_queueing: queueing.includes,
        service_time_at_most_ms: queueing.service_at_most_ms,
        min_workers_per_replica_for_stability: c.arrival.map(|rps| {
            let needed_slots = (rps * fleet.latency_s).floor() as u64 + 1;
            needed_slots.div_ceil(fleet.replicas * fleet.threads).max(1)
        }),
        latency_budget_ms_at_80_percent: c
            .arrival
            .filter(|rps| *rps > 0.0)
            .map(|rps| round(0.8 * slots as f64 / rps * 1000.0, 3)),
        what_if,
        recommended_workers_per_replica: recommended,
        db_connections,
        conclusion: Conclusion::default(),
    };
    report.conclusion.verdict = verdict(&report, c.latency_ms, c.arrival);
    if let Some(q) = queue {
        queue_evidence(q, &mut notes);
    }
    report.conclusion.next_steps = next_steps(&report, &c);
    report.conclusion.evidence = notes.evidence;
    report.conclusion.warnings = notes.warnings;
    Ok(report)
}

/// The fleet as given, and its ceiling.
fn fleet_evidence(c: &CapacityFigures, ceiling: f64) -> Vec<Evidence> {
    let f = &c.fleet;
    vec![
        Evidence::number("replicas", f.replicas as f64, "replicas", SOURCE_CALLER),
        Evidence::number(
            "workers_per_replica",
            f.workers_per_replica as f64,
            "workers",
            SOURCE_CALLER,
        ),
        Evidence::number(
            "threads_per_worker",
            f.threads as f64,
            "threads",
            SOURCE_CALLER,
        ),
        Evidence::number("avg_latency_ms", c.latency_ms, "ms", SOURCE_CALLER),
        Evidence::number("throughput_ceiling_rps", ceiling, "rps", "derived"),
    ]
}

/// Little's law read backwards: λ × W requests are in the system. More than the slots
/// cannot be in service, so if the arrivals are being served, W includes the queue.
struct QueueingInLatency {
    /// The same line as `stable`: at or past the slots, one or the other is true.
    includes: Option<bool>,
    /// The most a request can take in service, slots ÷ arrival rate, ms.
    service_at_most_ms: Option<f64>,
}

impl QueueingInLatency {
    fn of(c: &CapacityFigures, notes: &mut Notes) -> Self {
        let slots = c.slots;
        let in_flight = c.arrival.map(|rps| rps * c.fleet.latency_s);
        let includes = in_flight.map(|l| l >= slots as f64);
        let service_at_most_ms = c
            .arrival
            .filter(|_| includes == Some(true))
            .filter(|rps| *rps > 0.0)
            .map(|rps| round(slots as f64 / rps * 1000.0, 3));
        if let (Some(l), Some(s_ms), Some(rps)) = (in_flight, service_at_most_ms, c.arrival) {
            notes.warnings.push(format!(
                "avg_latency_ms × arrival_rps = {} requests in flight, more than the {slots} slots: if {} rps is being served now, the {} ms latency includes waiting for a worker, the service time is at most {} ms, and the measured throughput is the ceiling. Split queue from service with break_down_latency (worker state and listen_port) and pass the service time as avg_latency_ms.",
                fmt_num(l),
                fmt_num(rps),
                fmt_num(c.latency_ms),
                fmt_num(s_ms)
            ));
        }
        Self {
            includes,
            service_at_most_ms,
        }
    }
}

/// The database holding half the request time or more: it is the bottleneck.
fn db_time_warning(c: &CapacityFigures, notes: &mut Notes) {
    if let Some(d) = c.db_time.filter(|d| *d >= 50.0) {
        notes.evidence.push(Evidence::number(
            "db_time_percent",
            d,
            "percent",
            SOURCE_CALLER,
        ));
        notes.warnings.push(format!(
            "The database holds {}% of request time: it is the bottleneck, so more workers or replicas add DB load and latency rather than throughput (death spiral #1). Fix the slow queries first (slow_queries).",
            fmt_num(d)
        ));
    }
}

/// The worker formula, with a warning when it says "more" during what looks like an incident.
fn workers_to_run(
    c: &CapacityFigures,
    includes_queueing: Option<bool>,
    notes: &mut Notes,
) -> Option<WorkerRecommendation> {
    let recommended = c.cores.map(|cores| recommend_workers(cores, c));
    let running = c.fleet.workers_per_replica;
    if let Some(r) = recommended
        .as_ref()
        .filter(|r| r.workers > running)
        .filter(|_| includes_queueing == Some(true) || c.db_time.is_some_and(|d| d >= 50.0))
    {
        notes.warnings.push(format!(
            "The formula gives {} workers per replica, more than the {running} running; in an incident, first find what holds the workers (the latency), since more workers do not make a request faster.",
            r.workers
        ));
    }
    if let Some(cores) = c.cores {
        notes
            .evidence
            .push(Evidence::number("cpu_cores", cores, "cores", SOURCE_CALLER));
    }
    recommended
}

/// The workers' memory against the replica's limit.
fn memory_warning(c: &CapacityFigures, notes: &mut Notes) {
    let (Some(rss), Some(limit)) = (c.rss, c.mem_limit) else {
        return;
    };
    notes
        .evidence
        .push(Evidence::number("worker_rss_mb", rss, "MB", SOURCE_CALLER));
    notes.evidence.push(Evidence::number(
        "memory_limit_mb",
        limit,
        "MB",
        SOURCE_CALLER,
    ));
    let workers = c.fleet.workers_per_replica;
    let used = rss * workers as f64;
    if used > limit * 0.85 {
        notes.warnings.push(format!(
            "Memory: {workers} workers × {} MB = {} MB is {}% of the {} MB limit; adding workers here leads to OOM kills and 502s (death spiral #1).",
            fmt_num(rss),
            fmt_num(used),
            fmt_num(used / limit * 100.0),
            fmt_num(limit)
        ));
    }
}

/// The connections the fleet can open against the database's limit.
fn connection_budget(c: &CapacityFigures, notes: &mut Notes) -> Option<DbConnections> {
    let pool = c.pool?;
    let total = c.fleet.total_workers() * pool;
    let pct = c.db_max.map(|m| round(total as f64 / m as f64 * 100.0, 2));
    let db = DbConnections {
        total_connections: total,
        db_max_connections: c.db_max,
        percent_of_max: pct,
        fits: c.db_max.map(|m| total <= m),
    };
    notes.evidence.push(Evidence::number(
        "db_connections_total",
        db.total_connections as f64,
        "connections",
        "derived",
    ));
    if let (Some(max), Some(pct)) = (db.db_max_connections, db.percent_of_max) {
        notes.evidence.push(Evidence::number(
            "db_max_connections",
            max as f64,
            "connections",
            SOURCE_CALLER,
        ));
        if pct > 100.0 {
            notes.warnings.push(format!(
                "Database connections: the fleet can open {} connections against max_connections {max} ({}%). Under load, new connections fail; add a pooler (PgBouncer/RDS Proxy) before adding workers or replicas.",
                db.total_connections,
                fmt_num(pct)
            ));
        } else if pct > 80.0 {
            notes.warnings.push(format!(
                "Database connections: {}% of max_connections already; doubling workers or replicas would exceed it.",
                fmt_num(pct)
            ));
        }
    }
    Some(db)
}

/// The queue model's figures at the arrival rate.
fn queue_evidence(q: Queue, notes: &mut Notes) {
    notes.evidence.push(Evidence::number(
        "utilization",
        q.utilization,
        "ratio",
        "derived",
    ));
    notes.evidence.push(Evidence::number(
        "p_wait",
        q.p_wait,
        "probability",
        "derived",
    ));
    if let Some(w) = q.mean_wait_s {
        notes.evidence.push(Evidence::number(
            "mean_queue_wait_ms",
            w * 1000.0,
            "ms",
            "derived",
        ));
    }
}

/// What to do next, first item first: split a latency that includes queueing, or stop an
/// unstable queue; find what makes requests slow; pass what is missing; match the symptom.
fn next_steps(report: &CapacityReport, c: &CapacityFigures) -> Vec<NextStep> {
    let mut next_steps = Vec::new();
    next_steps.push(
        NextStep::new(
            "Break the latency down by layer (nginx, queue, app, DB, external calls) and find what makes requests slow.",
            "Latency sets the ceiling: every millisecond cut raises it with no new worker, and it is the first step of the order.",
        )
        .with_tool("break_down_latency"),
    );
    if let Some(s_ms) = report.service_time_at_most_ms {
        next_steps.insert(
            0,
            NextStep::new(
                format!(
                    "Split the {} ms into the wait for a worker and the service time (break_down_latency with worker state and listen_port), then rerun this with the service time (at most {} ms).",
                    fmt_num(c.latency_ms),
                    fmt_num(s_ms)
                ),
                "The latency given includes queueing; Little's law needs the time a request holds a worker, and the queue it builds is the symptom, not the capacity.",
            )
            .with_tool("break_down_latency"),
        );
    } else if report.stable == Some(false) {
        next_steps.insert(
            0,
            NextStep::new(
                format!(
                    "Stop the queue growing now: shed or rate-limit load, or bring latency under {} ms; adding workers only helps if the database has headroom.",
                    fmt_num(c.slots as f64 / c.arrival.unwrap_or(1.0) * 1000.0)
                ),
                "Arrivals exceed what the workers can complete, so waits grow until timeouts and 502s.",
            ),
        );
    }
    if report.recommended_workers_per_replica.is_none() {
        next_steps.push(NextStep::new(
            "Pass cpu_cores (and worker_rss_mb, memory_limit_mb) to get the recommended workers per replica.",
            "The worker formula needs the cores; memory caps it.",
        ));
    }
    if c.arrival.is_none() {
        next_steps.push(NextStep::new(
            "Pass arrival_rps (peak requests per second) to see utilisation and the queue wait.",
            "Without the arrival rate the ceiling cannot be compared to the load.",
        ));
    }
    next_steps.push(
        NextStep::new(
            "Match the observations to the symptom matrix before changing workers or replicas.",
            "Adding workers or replicas is right only for symptom A; for B–F it makes things worse or does nothing.",
        )
        .with_tool("match_symptom"),
    );
    next_steps
}

/// The ceiling, the queue at the arrival rate (or that it grows without bound), and the
/// lever: cutting latency against doubling workers.
fn verdict(report: &CapacityReport, latency_ms: f64, arrival: Option<f64>) -> String {
    let cut = &report.what_if[0];
    let ceiling = fmt_num(report.throughput_ceiling_rps);
    let base = format!(
        "{} workers at {} ms mean latency can serve at most {ceiling} rps (Little's law)",
        report.concurrent_slots,
        fmt_num(latency_ms)
    );
    let lever = format!(
        "{} is a {}× gain with zero new workers, doubling workers is 2× and doubles DB concurrency",
        cut.change,
        fmt_num(cut.gain)
    );
    match (arrival, report.utilization, report.mean_queue_wait_ms) {
        (Some(rps), Some(u), _) if u >= 1.0 => format!(
            "Unstable at this latency: {} rps arrive but {base}, so the queue grows without bound (utilisation {}%); bring latency under {} ms or add capacity only if the database has headroom — {lever}.{}",
            fmt_num(rps),
            fmt_num(u * 100.0),
            fmt_num(report.concurrent_slots as f64 / rps * 1000.0),
            match report.service_time_at_most_ms {
                Some(s) => format!(
                    " But if {} rps is being served right now, the {} ms already includes waiting for a worker: the service time is at most {} ms and the measured throughput is the ceiling — split queue from service (break_down_latency) before sizing anything.",
                    fmt_num(rps),
                    fmt_num(latency_ms),
                    fmt_num(s)
                ),
                None => String::new(),
            }
        ),
        (Some(rps), Some(u), Some(wait)) => format!(
            "{base}; at {} rps utilisation is {}% and {}% of requests wait for a worker (mean wait {} ms){}; {lever}.",
            fmt_num(rps),
            fmt_num(u * 100.0),
            fmt_num(report.p_wait.unwrap_or(0.0) * 100.0),
            fmt_num(wait),
            if u >= 0.8 {
                " — close to the cliff"
            } else {
                ""
            }
        ),
        _ => format!("{base}; {lever}."),
    }
}
