//! The worker formula: Gunicorn's `(2 × cores) + 1`, down to `cores + 1` for CPU-bound work
//! (more processes than cores only adds context switches), up to `(4 × cores) + 1` for
//! IO-bound work (workers mostly wait), then capped by memory (`memory_limit ÷ worker RSS`)
//! and by the database connection budget.

use crate::diagnosis::{fmt_num, round};

use super::check::CapacityFigures;
use super::input::Workload;
use super::report::WorkerRecommendation;

/// The workers per replica to run on `cores` cores, with how the number was reached.
pub(super) fn recommend_workers(cores: f64, c: &CapacityFigures) -> WorkerRecommendation {
    let (workload, rss, mem_limit) = (c.workload, c.rss, c.mem_limit);
    let (fleet, pool, db_max) = (&c.fleet, c.pool, c.db_max);
    let formula = (2.0 * cores).floor() as u64 + 1;
    let (adjusted, how) = match workload {
        Workload::CpuBound => (
            cores.ceil() as u64 + 1,
            "cpu_bound: cores + 1, since more processes than cores only add context switches",
        ),
        Workload::IoBound => (
            (4.0 * cores).floor() as u64 + 1,
            "io_bound: (4 × cores) + 1, since workers mostly wait; beyond that prefer gthread or async workers",
        ),
        Workload::Mixed => (formula, "mixed: Gunicorn's (2 × cores) + 1"),
    };
    let reserve = mem_limit.map(memory_reserve_mb);
    let memory_cap = match (rss, mem_limit, reserve) {
        (Some(rss), Some(limit), Some(reserve)) => {
            Some(((limit - reserve) / rss).floor().max(0.0) as u64)
        }
        _ => None,
    };
    let db_connection_cap = match (pool, db_max) {
        (Some(pool), Some(max)) if pool > 0 => Some(max / (fleet.replicas * pool)),
        _ => None,
    };
    let mut workers = adjusted;
    let mut basis = format!(
        "{} cores → (2 × cores) + 1 = {formula}; {how} → {adjusted}",
        fmt_num(cores)
    );
    if let Some(cap) = memory_cap
        && cap < workers
    {
        workers = cap;
        basis.push_str(&format!(
            "; capped by memory at {cap} ((memory_limit_mb − {} MB kept for the master, the OS and the page cache) ÷ worker_rss_mb)",
            fmt_num(reserve.unwrap_or(0.0))
        ));
    }
    if let Some(cap) = db_connection_cap
        && cap < workers
    {
        workers = cap;
        basis.push_str(&format!(
            "; capped by the database connection budget at {cap} per replica"
        ));
    }
    WorkerRecommendation {
        workers,
        formula_workers: formula,
        workload_adjusted_workers: adjusted,
        memory_cap,
        memory_reserve_mb: reserve.map(|r| round(r, 1)),
        db_connection_cap,
        basis,
    }
}

/// Memory a replica keeps free for the Gunicorn/uWSGI master, the OS and the page cache:
/// 15 % of the limit, at least 200 MB (but never more than half of it).
fn memory_reserve_mb(limit: f64) -> f64 {
    (limit * 0.15).max(200.0).min(limit / 2.0)
}
