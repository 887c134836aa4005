//! The checks of a capacity_math input: each figure in its range, with a message that says
//! how to express it, turned into the units the arithmetic uses.

use crate::diagnosis::{InputError, check_opt_range, check_positive, check_range};

use super::input::{CapacityInput, Workload};
use super::{MAX_SLOTS, MIN_LATENCY_MS};

/// The fleet's shape and latency, in the units the arithmetic uses.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fleet {
    pub replicas: u64,
    pub workers_per_replica: u64,
    pub threads: u64,
    pub latency_s: f64,
}

impl Fleet {
    /// Concurrent slots with `workers_per_replica` workers on each replica.
    pub fn slots(&self, workers_per_replica: u64) -> u64 {
        self.replicas * workers_per_replica * self.threads
    }

    pub fn total_workers(&self) -> u64 {
        self.replicas * self.workers_per_replica
    }
}

/// A capacity_math input's figures, each checked and in its unit.
#[derive(Debug, Clone)]
pub(super) struct CapacityFigures {
    pub fleet: Fleet,
    /// replicas × workers × threads.
    pub slots: u64,
    pub latency_ms: f64,
    pub arrival: Option<f64>,
    pub cores: Option<f64>,
    pub workload: Workload,
    pub rss: Option<f64>,
    pub mem_limit: Option<f64>,
    pub pool: Option<u64>,
    pub db_max: Option<u64>,
    pub db_time: Option<f64>,
    pub target_ms: Option<f64>,
}

/// Checks every figure, in the order of the input's fields.
pub(super) fn check(input: &CapacityInput) -> Result<CapacityFigures, InputError> {
    let replicas = check_int(
        "replicas",
        input.replicas,
        1,
        100_000,
        "pass the number of app replicas (pods, containers or hosts)",
    )?;
    let workers_per_replica = check_int(
        "workers_per_replica",
        input.workers_per_replica,
        1,
        10_000,
        "pass Gunicorn's --workers (or uWSGI's processes) for one replica",
    )?;
    let threads = check_int(
        "threads_per_worker",
        input.threads_per_worker,
        1,
        1_000,
        "pass Gunicorn's --threads, or 1 for sync workers",
    )?;
    let latency_ms = check_range(
        "avg_latency_ms",
        input.avg_latency_ms,
        MIN_LATENCY_MS,
        86_400_000.0,
        "pass the mean request latency in milliseconds (e.g. nginx $upstream_response_time × 1000); measure it with break_down_latency if unknown",
    )?;
    let arrival = check_opt_range(
        "arrival_rps",
        input.arrival_rps,
        0.0,
        1e9,
        "pass the fleet-wide request rate in requests per second",
    )?;
    let cores = check_opt_range(
        "cpu_cores",
        input.cpu_cores,
        0.1,
        1024.0,
        "pass the CPU cores (or the CPU limit in cores) of one replica",
    )?;
    let rss = check_opt_positive(
        "worker_rss_mb",
        input.worker_rss_mb,
        1_048_576.0,
        "pass one worker's resident memory in MB",
    )?;
    let mem_limit = check_opt_positive(
        "memory_limit_mb",
        input.memory_limit_mb,
        1_073_741_824.0,
        "pass one replica's memory limit in MB",
    )?;
    let pool = check_opt_int(
        "db_pool_per_worker",
        input.db_pool_per_worker,
        0,
        10_000,
        "pass the connection pool size per worker process (1 without a pool)",
    )?;
    let db_max = check_opt_int(
        "db_max_connections",
        input.db_max_connections,
        1,
        1_000_000,
        "pass the database's max_connections",
    )?;
    let db_time = check_opt_range(
        "db_time_percent",
        input.db_time_percent,
        0.0,
        100.0,
        "pass the share of request time spent in the database, 0–100",
    )?;
    let target_ms = check_opt_range(
        "target_latency_ms",
        input.target_latency_ms,
        MIN_LATENCY_MS,
        86_400_000.0,
        "pass the latency in ms you expect after fixing the slow path",
    )?;

    let fleet = Fleet {
        replicas,
        workers_per_replica,
        threads,
        latency_s: latency_ms / 1000.0,
    };
    let slots = fleet.slots(workers_per_replica);
    if slots.saturating_mul(2) > MAX_SLOTS {
        return Err(InputError::new(
            "replicas",
            format!(
                "replicas × workers_per_replica × threads_per_worker is {slots}; this model accepts at most {} concurrent slots (the what-if doubles them) — check the figures",
                MAX_SLOTS / 2
            ),
        ));
    }
    Ok(CapacityFigures {
        fleet,
        slots,
        latency_ms,
        arrival,
        cores,
        workload: input.workload,
        rss,
        mem_limit,
        pool,
        db_max,
        db_time,
        target_ms,
    })
}

fn check_int(field: &str, value: i64, min: i64, max: i64, hint: &str) -> Result<u64, InputError> {
    if value < min || value > max {
        return Err(InputError::new(
            field,
            format!("must be a whole number between {min} and {max} (got {value}); {hint}"),
        ));
    }
    Ok(value as u64)
}

fn check_opt_int(
    field: &str,
    value: Option<i64>,
    min: i64,
    max: i64,
    hint: &str,
) -> Result<Option<u64>, InputError> {
    value
        .map(|v| check_int(field, v, min, max, hint))
        .transpose()
}

fn check_opt_positive(
    field: &str,
    value: Option<f64>,
    max: f64,
    hint: &str,
) -> Result<Option<f64>, InputError> {
    value
        .map(|v| check_positive(field, v, max, hint))
        .transpose()
}
