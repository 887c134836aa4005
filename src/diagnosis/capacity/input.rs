//! What capacity_math takes: the deployment as it runs today, and optionally the load and
//! the limits around it. The field docs and ranges are the tool's input schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of work a worker mostly does; it moves the recommended worker count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Workload {
    /// Mostly Python computation (templating, serialisation, crypto): workers ≈ cores + 1.
    CpuBound,
    /// Mostly waiting on the database or other services: more workers than cores help.
    IoBound,
    /// Both, or not known: Gunicorn's default (2 × cores) + 1.
    #[default]
    Mixed,
}

/// The deployment as it runs today, and optionally the load and limits around it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityInput {
    /// Number of app replicas (pods, containers or hosts) serving the traffic.
    #[schemars(range(min = 1, max = 100000))]
    pub replicas: i64,
    /// Gunicorn/uWSGI worker processes per replica (`--workers` / `processes`).
    #[schemars(range(min = 1, max = 10000))]
    pub workers_per_replica: i64,
    /// Threads per worker (`--threads`; 1 for sync workers). Each thread is a concurrent slot.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub threads_per_worker: i64,
    /// Mean end-to-end latency of a request inside the app (upstream response time), in ms.
    pub avg_latency_ms: f64,
    /// Current (or expected peak) request arrival rate for the whole fleet, requests per second.
    /// Enables the queue model: utilisation, P(wait) and mean queue wait.
    #[serde(default)]
    pub arrival_rps: Option<f64>,
    /// CPU cores available to one replica (may be fractional, e.g. 0.5 for a 500m limit).
    /// Enables the recommended worker count.
    #[serde(default)]
    pub cpu_cores: Option<f64>,
    /// What the workers mostly do: `cpu_bound`, `io_bound` or `mixed` (default).
    #[serde(default)]
    pub workload: Workload,
    /// Resident memory of one worker process, in MB (RSS, e.g. from `ps -o rss`).
    #[serde(default)]
    pub worker_rss_mb: Option<f64>,
    /// Memory limit of one replica (container limit or host memory for the app), in MB.
    #[serde(default)]
    pub memory_limit_mb: Option<f64>,
    /// Database connections each worker can hold (pool size per process; 1 without a pool).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10000))]
    pub db_pool_per_worker: Option<i64>,
    /// The database's `max_connections` (minus reserved/superuser connections if you know them).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000000))]
    pub db_max_connections: Option<i64>,
    /// Latency you believe is reachable by fixing the slow path, in ms; the what-if uses it
    /// (default: half the current latency).
    #[serde(default)]
    pub target_latency_ms: Option<f64>,
    /// Share of request time spent in the database, 0–100 (break_down_latency's `db` layer).
    /// At 50 % or more, more workers add DB load, not throughput.
    #[serde(default)]
    pub db_time_percent: Option<f64>,
}

fn one() -> i64 {
    1
}
