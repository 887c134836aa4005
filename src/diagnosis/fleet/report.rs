//! What break_down_latency reports about a fleet read from a Prometheus engine. The field
//! docs are part of the tool's output schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The fleet as a Prometheus engine aggregated it over the window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct FleetReport {
    /// The engine, as the operator named it.
    pub engine: String,
    /// The selector sent, e.g. `{job="shop-api"}`.
    pub selector: String,
    /// The window, RFC 3339.
    pub since: String,
    pub until: String,
    /// The metric families found, `exporter:metric`.
    pub families: Vec<String>,
    /// The label the routes were read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route_label: Option<String>,
    /// Requests per second across the fleet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Busy ÷ all workers across the fleet, mean over the window, 0–100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<f64>,
    /// Mean busy and idle workers across the fleet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub busy_workers: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_workers: Option<f64>,
    /// Replicas, most utilised first (at most 20; `lists.fleet.replicas` has the count).
    pub replicas: Vec<ReplicaStats>,
    /// A replica far busier than the rest: a replica-level fix (its workers, its host, the
    /// balancer), not a route-level one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_replica: Option<HotReplica>,
    /// Every PromQL run, evaluated at `until`; paste into Grafana or the engine's UI.
    pub queries: Vec<String>,
    /// Figures that stay unknown, with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

/// One replica over the window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ReplicaStats {
    /// The replica label's value (e.g. `10.0.3.7:8000`).
    pub replica: String,
    pub busy_workers: f64,
    pub idle_workers: f64,
    /// Busy ÷ (busy + idle), 0–100.
    pub utilization_percent: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
}

/// The replica that stands out.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HotReplica {
    pub replica: String,
    pub utilization_percent: f64,
    /// The median utilisation of the other replicas.
    pub others_median_percent: f64,
    /// What sets it apart (fewer workers, more requests, or slower requests).
    pub why: String,
}
