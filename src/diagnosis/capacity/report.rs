//! What capacity_math answers: the ceiling, the queue at the arrival rate, cutting latency
//! against doubling workers, the worker formula and the database connection budget. The
//! field docs are the tool's output schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::Conclusion;

/// The capacity picture of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct CapacityReport {
    /// replicas × workers per replica.
    pub total_workers: u64,
    /// total workers × threads per worker: how many requests can be in flight at once.
    pub concurrent_slots: u64,
    /// Little's law: concurrent slots ÷ mean latency in seconds. The most the fleet can serve.
    pub throughput_ceiling_rps: f64,
    /// The same ceiling for one replica.
    pub per_replica_ceiling_rps: f64,
    /// arrival rate ÷ ceiling (only with `arrival_rps`). At or above 1 the queue grows without bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// M/M/c probability that an arriving request waits for a free worker, 0–1 (only with
    /// `arrival_rps`; 1 when unstable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    /// M/M/c mean time a request waits for a free worker, in ms (only with `arrival_rps` and a
    /// stable queue; absent when the queue grows without bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_queue_wait_ms: Option<f64>,
    /// Whether the queue is stable (utilisation < 1); only with `arrival_rps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
    /// True when avg_latency_ms × arrival_rps exceeds the slots: if the arrivals are being
    /// served, the latency given includes waiting for a worker, and the measured throughput
    /// is the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_includes_queueing: Option<bool>,
    /// With `latency_includes_queueing`: the most a request can take in service, slots ÷
    /// arrival rate, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_time_at_most_ms: Option<f64>,
    /// Fewest workers per replica that keep utilisation below 1 at the current latency
    /// (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_workers_per_replica_for_stability: Option<u64>,
    /// Highest mean latency, in ms, at which the current workers keep utilisation at 0.8
    /// (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_budget_ms_at_80_percent: Option<f64>,
    /// Cutting latency against doubling workers, side by side.
    pub what_if: Vec<WhatIf>,
    /// The worker count per replica the formula gives (only with `cpu_cores`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_workers_per_replica: Option<WorkerRecommendation>,
    /// Database connections the fleet can open against the server's limit (only with
    /// `db_pool_per_worker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_connections: Option<DbConnections>,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One alternative and what it buys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WhatIf {
    /// `cut_latency` or `double_workers`.
    pub scenario: String,
    /// What changes, in words.
    pub change: String,
    /// Mean latency in this scenario, ms.
    pub avg_latency_ms: f64,
    /// Workers in this scenario.
    pub total_workers: u64,
    /// Ceiling in this scenario, rps.
    pub throughput_ceiling_rps: f64,
    /// New ceiling ÷ current ceiling.
    pub gain: f64,
    /// Workers added by this scenario (0 for a latency cut).
    pub new_workers: u64,
    /// Peak database concurrency in this scenario ÷ today's (workers that can query at once).
    pub db_concurrency_factor: f64,
    /// M/M/c P(wait) in this scenario (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    /// M/M/c mean queue wait in ms in this scenario (only with `arrival_rps`, stable queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_queue_wait_ms: Option<f64>,
    /// A limit applied to the gain, and why (e.g. the cores for CPU-bound work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    /// Costs and risks that come with it.
    pub side_effects: Vec<String>,
}

/// The worker formula, applied and capped.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WorkerRecommendation {
    /// Workers per replica to run.
    pub workers: u64,
    /// (2 × cores) + 1 before any adjustment.
    pub formula_workers: u64,
    /// After the workload adjustment, before the caps.
    pub workload_adjusted_workers: u64,
    /// (memory_limit_mb − the reserve) ÷ worker_rss_mb, when both are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_cap: Option<u64>,
    /// Memory kept free for the master process, the OS and the page cache, MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reserve_mb: Option<f64>,
    /// Workers per replica the database connection budget allows, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_connection_cap: Option<u64>,
    /// How the number was reached.
    pub basis: String,
}

/// The connection budget against the database.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DbConnections {
    /// total workers × pool per worker: connections the fleet can open.
    pub total_connections: u64,
    /// The server's limit, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_max_connections: Option<u64>,
    /// total_connections ÷ db_max_connections × 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_max: Option<f64>,
    /// Whether the fleet fits under the limit (absent when the limit is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
}
