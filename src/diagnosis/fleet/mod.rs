//! A fleet's evidence as a Prometheus-compatible engine aggregated it: per-route request
//! rate, percentiles, errors and worker time, and worker state per replica. The source
//! (`crate::sources::engine`) runs the PromQL planned in [`plan`] and fills a
//! [`FleetData`]; this module turns it into the same endpoint rows the access log gives
//! (folded to route templates), one worker reading for the whole fleet, and the
//! [`FleetReport`] with the replica that stands out.

mod analysis;
pub mod plan;
mod report;
pub mod selector;

pub use analysis::{MAX_REPLICAS, busy_idle, endpoints, raw_path_note, report, worker_reading};
pub use plan::{Histogram, Labels, Overrides};
pub use report::{FleetReport, HotReplica, ReplicaStats};
pub use selector::{Matcher, Selector};

/// One route as the engine summed it across replicas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteSeries {
    /// The route label's value (a template, a view name or a raw path).
    pub route: String,
    pub method: Option<String>,
    /// Requests per second over the window.
    pub rps: f64,
    /// Seconds of handler time per second (rate of the histogram's `_sum`), in ms/s.
    pub busy_ms_per_s: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// 5xx responses per second, when the histogram has a status label.
    pub error_rps: Option<f64>,
}

/// One replica's workers, means over the window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicaWorkers {
    pub replica: String,
    pub busy: f64,
    pub idle: f64,
    /// Requests per second it served, from the histogram.
    pub rps: Option<f64>,
}

/// Routes read from the engine's histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramData {
    pub histogram: Histogram,
    pub labels: Labels,
    pub routes: Vec<RouteSeries>,
}

/// What the engine said about a fleet in one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetData {
    /// The engine's configured name.
    pub engine: String,
    /// The selector as sent.
    pub selector: String,
    pub since: i64,
    pub until: i64,
    pub histogram: Option<HistogramData>,
    /// The worker gauge's name and its replicas, when the gauge is there.
    pub workers: Option<(String, Vec<ReplicaWorkers>)>,
    /// Requests per second by replica, from the histogram.
    pub replica_rps: Vec<(String, f64)>,
    /// ingress-nginx's mean whole-request and upstream time, ms.
    pub ingress_split_ms: Option<(f64, f64)>,
    /// Every PromQL sent, in order.
    pub queries: Vec<String>,
    /// Figures that stay unknown, each with why.
    pub unknown: Vec<String>,
}

impl FleetData {
    /// The evidence source of a metric: `prometheus:<engine>:<metric>`.
    pub fn source(&self, metric: &str) -> String {
        format!("prometheus:{}:{metric}", self.engine)
    }
}

#[cfg(test)]
mod tests;
