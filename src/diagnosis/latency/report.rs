//! What break_down_latency answers: the layers of a request, the endpoints judged, worker
//! state and the backlog as sampled, the observations for match_symptom, and the
//! conclusion. The field docs are the tool's output schema.

use super::focus::Focus;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::Conclusion;
use crate::diagnosis::bound::Lists;
use crate::diagnosis::fleet::FleetReport;
use crate::diagnosis::load_balancer::LoadBalancerReport;
use crate::diagnosis::queueing::{HeadOfLine, ThresholdBasis};
use crate::diagnosis::symptoms::{LatencyPattern, Observations};

/// Where the time goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct LatencyReport {
    /// Layers with their mean ms per request, largest share first.
    pub layers: Vec<Layer>,
    /// The end-to-end mean the shares are computed against, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
    /// busy ÷ (busy + idle) × 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_utilization_percent: Option<f64>,
    /// queue wait ÷ total × 100: how much of a request is spent waiting for a worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_percent: Option<f64>,
    /// The layer with the largest share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_layer: Option<String>,
    /// `long_tail`, `system_wide` or `healthy`, from `endpoints`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_pattern: Option<LatencyPattern>,
    /// Mean time a worker spends on a request, queueing excluded (Little's law), ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_time_ms: Option<f64>,
    /// One or a few routes holding most of the service time while the others are slow only
    /// by waiting behind them (symptom E: make that route fast).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_of_line: Option<HeadOfLine>,
    /// What an endpoint was judged slow against, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_threshold_ms: Option<f64>,
    /// Where that threshold came from: `caller`, `baseline`, `relative` or `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_threshold_basis: Option<ThresholdBasis>,
    /// The endpoints considered: from an access log, largest worker time first; from the
    /// caller, slowest p99 first.
    pub endpoints: Vec<EndpointStats>,
    /// How the long lists were bounded (`endpoints`): `total`, `returned`, `truncated`.
    #[serde(default, skip_serializing_if = "Lists::is_empty")]
    pub lists: Lists,
    /// The endpoint the caller asked about (`endpoint`), matched among every route measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<Focus>,
    /// Ready to pass to match_symptom unchanged, as `{"observations": ...}`.
    pub observations: Observations,
    /// What was read from the access logs: lines matched and not, the time window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLogReport>,
    /// Worker state as sampled from Prometheus or uWSGI's stats server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<WorkerReport>,
    /// The listen backlog as sampled (connections waiting for a free worker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_queue: Option<QueueReport>,
    /// The fleet as the AWS load balancer saw it (`aws_load_balancer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerReport>,
    /// The fleet as a Prometheus engine aggregated it (`prometheus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetReport>,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// The access logs read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AccessLogReport {
    /// One entry per file.
    pub files: Vec<LogFileReport>,
    /// Non-empty lines read.
    pub lines: u64,
    /// Lines that matched the log_format.
    pub parsed_lines: u64,
    /// Lines that did not match (counted, never dropped silently).
    pub unparsed_lines: u64,
    /// Matched lines outside since/until.
    pub outside_window_lines: u64,
    /// Where the first non-matching line diverged from the format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_unparsed: Option<String>,
    /// Time of the first and last request kept (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_request_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_request_at: Option<String>,
    /// Requests kept ÷ the seconds between the first and the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrival_rps: Option<f64>,
    /// Which time the percentiles are of: `request_time`, `upstream_response_time` or `none`.
    pub latency_basis: String,
    /// Distinct routes after templating.
    pub routes: usize,
    /// Routes not listed in `endpoints` (beyond max_endpoints), and their requests.
    pub endpoints_not_listed: usize,
    pub requests_not_listed: u64,
    /// Requests sent to more than one upstream (retries, internal redirects).
    pub multi_upstream_requests: u64,
}

/// One log file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct LogFileReport {
    pub path: String,
    pub gzip: bool,
    pub lines: u64,
    pub parsed_lines: u64,
    pub unparsed_lines: u64,
    pub outside_window_lines: u64,
}

/// Worker state over the sampling window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WorkerReport {
    /// `prometheus:<url>` or `uwsgi:<addr>`.
    pub source: String,
    /// Busy workers at each sample.
    pub busy_samples: Vec<f64>,
    pub busy_mean: f64,
    pub busy_max: f64,
    pub idle_mean: f64,
    /// Highest busy ÷ (busy + idle) of any sample, 0–100.
    pub utilization_max_percent: f64,
}

/// The listen backlog over the sampling window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct QueueReport {
    /// `proc:/proc/net/tcp:<port>`, `uwsgi:<addr>` or `prometheus:<url>`.
    pub source: String,
    /// Connections waiting at each sample.
    pub samples: Vec<f64>,
    pub max: f64,
    pub mean: f64,
    /// Samples in which the queue was above zero.
    pub nonzero_samples: usize,
}

/// One layer of the request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Layer {
    /// `nginx`, `upstream_connect`, `queue_wait`, `app_code`, `db`, `external_calls`, `unaccounted`.
    pub layer: String,
    /// Mean ms per request in this layer.
    pub ms: f64,
    /// Share of the end-to-end time, 0–100 (absent when the total is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_total: Option<f64>,
    /// Where the figure came from (`caller`, or `derived` when computed from other figures).
    pub source: String,
}

/// Per-endpoint statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct EndpointStats {
    /// Route, e.g. `GET /api/orders/{id}`.
    pub endpoint: String,
    pub requests: u64,
    pub p50_ms: f64,
    /// 95th percentile, ms (from access logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p95_ms: Option<f64>,
    pub p99_ms: f64,
    /// Slowest request, ms (from access logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    /// The worker capacity this endpoint consumed, seconds: requests × service time, or the
    /// sum of its upstream time (queueing included) when the wait is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_seconds: Option<f64>,
    /// Mean upstream time (queueing included), ms (from access logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_upstream_ms: Option<f64>,
    /// Mean service time, queueing excluded, ms: what a request of this endpoint holds a
    /// worker for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ms: Option<f64>,
    /// Its share of all endpoints' worker time, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_of_worker_time_percent: Option<f64>,
    /// Responses with status ≥ 500, percent of its requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_percent: Option<f64>,
    /// Whether it is slow against `slow_threshold_ms` (its service time or its p99).
    pub slow: bool,
    /// Share of all requests, 0–100.
    pub share_of_requests_percent: f64,
}
