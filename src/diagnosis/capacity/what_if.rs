//! Cutting latency against doubling workers, side by side: the ceiling, the gain, the queue
//! at the arrival rate, and what each costs. This is why latency, not worker count, decides
//! capacity: cutting latency from 4 s to 1 s is a 4× gain with no new worker, while doubling
//! workers is 2× and also doubles database concurrency.

use crate::diagnosis::{fmt_num, round};

use super::check::CapacityFigures;
use super::input::Workload;
use super::queue::mmc;
use super::report::WhatIf;

/// The two scenarios against today's `ceiling`, rps.
pub(super) fn what_if(c: &CapacityFigures, ceiling: f64) -> Vec<WhatIf> {
    vec![cut_latency(c, ceiling), double_workers(c, ceiling)]
}

/// The queue at the arrival rate with `slots` slots and `service_s` of service.
fn queue_figures(c: &CapacityFigures, slots: u64, service_s: f64) -> (Option<f64>, Option<f64>) {
    let queue = c.arrival.map(|rps| mmc(slots, rps, service_s));
    (
        queue.map(|q| round(q.p_wait, 6)),
        queue
            .and_then(|q| q.mean_wait_s)
            .map(|s| round(s * 1000.0, 3)),
    )
}

/// The latency cut to the target, or halved: same workers, a higher ceiling.
fn cut_latency(c: &CapacityFigures, ceiling: f64) -> WhatIf {
    let latency_ms = c.fleet.latency_s * 1000.0;
    let (cut_ms, cut_change) = match c.target_ms {
        Some(t) => (
            t,
            format!(
                "cut mean latency from {} ms to the target {} ms",
                fmt_num(latency_ms),
                fmt_num(t)
            ),
        ),
        None => (
            latency_ms / 2.0,
            format!(
                "halve mean latency from {} ms to {} ms",
                fmt_num(latency_ms),
                fmt_num(latency_ms / 2.0)
            ),
        ),
    };
    let cut_ceiling = c.slots as f64 / (cut_ms / 1000.0);
    let (p_wait, mean_queue_wait_ms) = queue_figures(c, c.slots, cut_ms / 1000.0);
    let mut side_effects = vec!["No new workers, memory or DB connections; each request holds a worker and a DB connection for less time.".to_owned()];
    if cut_ms > latency_ms {
        side_effects
            .push("The target is slower than today: this scenario lowers the ceiling.".to_owned());
    }
    WhatIf {
        scenario: "cut_latency".to_owned(),
        change: cut_change,
        avg_latency_ms: round(cut_ms, 3),
        total_workers: c.fleet.total_workers(),
        throughput_ceiling_rps: round(cut_ceiling, 6),
        gain: round(cut_ceiling / ceiling, 6),
        new_workers: 0,
        db_concurrency_factor: 1.0,
        p_wait,
        mean_queue_wait_ms,
        cap: None,
        side_effects,
    }
}

/// Twice the workers per replica at today's latency, capped by the cores for CPU-bound work.
fn double_workers(c: &CapacityFigures, ceiling: f64) -> WhatIf {
    let fleet = &c.fleet;
    let doubled = fleet.workers_per_replica * 2;
    let double_slots = fleet.slots(doubled);
    // CPU-bound work runs no faster with more processes than cores: workers beyond the
    // cores queue inside the kernel's run queue instead of the listen backlog.
    let (double_ceiling, cap) = match c.cores.map(|cores| (cores, c.workload)) {
        Some((cores, Workload::CpuBound)) => {
            let per_replica_threads = (fleet.workers_per_replica * fleet.threads) as f64;
            let now = per_replica_threads.min(cores);
            let then = (per_replica_threads * 2.0).min(cores);
            (
                ceiling * then / now,
                Some(format!(
                    "cpu_bound on {} cores: at most {} requests compute at once per replica, so the gain is {}× ({} → {} effective slots); workers beyond the cores add queueing in the kernel, not capacity",
                    fmt_num(cores),
                    fmt_num(cores),
                    fmt_num(then / now),
                    fmt_num(now),
                    fmt_num(then)
                )),
            )
        }
        Some((cores, w)) => (
            double_slots as f64 / fleet.latency_s,
            Some(format!(
                "{}: only the part of each request spent waiting (DB, other services) scales with workers; the CPU part stays capped by the {} cores, so the real gain is below 2×",
                match w {
                    Workload::IoBound => "io_bound",
                    _ => "mixed",
                },
                fmt_num(cores)
            )),
        ),
        None => (double_slots as f64 / fleet.latency_s, None),
    };
    let (p_wait, mean_queue_wait_ms) = queue_figures(c, double_slots, fleet.latency_s);
    let total_workers = fleet.total_workers();
    WhatIf {
        scenario: "double_workers".to_owned(),
        change: format!("double workers per replica from {} to {doubled}", fleet.workers_per_replica),
        avg_latency_ms: round(fleet.latency_s * 1000.0, 3),
        total_workers: total_workers * 2,
        throughput_ceiling_rps: round(double_ceiling, 6),
        gain: round(double_ceiling / ceiling, 6),
        new_workers: total_workers,
        db_concurrency_factor: 2.0,
        p_wait,
        mean_queue_wait_ms,
        cap,
        side_effects: vec![
            "Doubles peak database concurrency and connections: if the database is the slow layer, latency rises and the gain disappears (death spiral #1).".to_owned(),
            "Doubles worker memory per replica; past the container limit this means OOM kills and 502s.".to_owned(),
            "Does not make any request faster: the p50 stays where it is.".to_owned(),
        ],
    }
}
