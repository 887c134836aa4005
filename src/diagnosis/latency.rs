//! Step 1: where does the time of a request go?
//!
//! From per-request averages the caller already has (nginx `$request_time` and
//! `$upstream_response_time`, the app's own request duration and queue wait, Gunicorn's
//! busy/idle workers, database time) this splits a request into layers:
//!
//! | layer | how |
//! |---|---|
//! | `nginx` | request_time − upstream_response_time (client I/O, buffering, TLS) |
//! | `upstream_connect` | upstream_connect_time |
//! | `queue_wait` | app queue_wait_ms, or the unexplained part of upstream time when only that is known |
//! | `app_code` | request_duration − db − external calls |
//! | `db` | database time per request |
//! | `external_calls` | time in HTTP calls to other services |
//! | `unaccounted` | upstream time left over after connect + queue + request duration |
//!
//! | `upstream` | upstream_response_time − connect, when the app's own timings are not given: queue wait + handler + DB, undivided |
//!
//! ## Figures read from the real thing
//! Besides `figures`, the input can name sources to read (the adapters in `crate::sources`
//! fetch them, [`analyze_measured`] decides):
//! - `access_log`: nginx access logs in the site's own `log_format`. The nginx, connect and
//!   upstream layers come from the requests that have both `$request_time` and
//!   `$upstream_response_time`; per-endpoint p50/p95/p99/max, error percent and worker
//!   seconds (see [`super::access_log`]) replace `endpoints`.
//! - `gunicorn_metrics_url` (Prometheus text) or `uwsgi_stats` (uWSGI's stats server):
//!   busy/idle workers sampled a few times; their means fill `figures.gunicorn`.
//! - `listen_port`: the accept queue of the app server's listen socket (Recv-Q in
//!   /proc/net/tcp), sampled the same way.
//!
//! A figure the caller typed in wins over the same figure read from a source; a
//! disagreement of more than 10 % is reported in `warnings`.
//!
//! ## latency_pattern
//! An endpoint is slow when its p99 exceeds `slow_threshold_ms` (default 1000 ms). No slow
//! endpoint → `healthy`; slow endpoints carrying under 30 % of the requests → `long_tail`
//! (a few handlers hold workers while the rest are fine: symptom E); otherwise →
//! `system_wide` (symptom F). The same rule as match_symptom's, over every endpoint of the
//! log (not only those listed); the evidence names the slow endpoints with their share of
//! requests and of worker time.
//!
//! ## Backlog
//! `observations.backlog_growing` is set from the accept queue (listen socket, uWSGI
//! `listen_queue` or an exporter's queue gauge): `true` when it was above zero in at least
//! half of the samples (requests keep arriving faster than workers take them), `false`
//! when it was zero in every sample, unset otherwise.
//!
//! Figures that contradict each other (upstream longer than the whole request, DB time longer
//! than the request) are reported in `warnings` and the affected layer is clamped at zero,
//! never silently dropped. A layer that cannot be computed from what was given is left out
//! and named in `next_steps`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::access_log::{AccessLogData, SecondCounts};
use super::nginx_format::format_rfc3339;
use super::queueing::{
    self, HeadOfLine, Method, NoSplit, RouteService, SlowMetric, ThresholdBasis,
};
use super::symptoms::{
    self, BacklogShape, DEFAULT_SLOW_MS, EndpointLatency, LatencyPattern, Observations,
};
use super::{
    Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, check_opt_range, fmt_num, round,
};

/// Figures the caller already has, as averages per request over the same window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// From nginx access logs (`$request_time`, `$upstream_*_time`, converted to ms).
    #[serde(default)]
    pub nginx: NginxFigures,
    /// From the app's own instrumentation (middleware, APM, Sentry spans).
    #[serde(default)]
    pub app: AppFigures,
    /// Worker state from Gunicorn/uWSGI metrics.
    #[serde(default)]
    pub gunicorn: GunicornFigures,
    /// From the database (pg_stat_statements, CloudWatch, APM DB spans).
    #[serde(default)]
    pub db: DbFigures,
}

/// nginx timings per request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NginxFigures {
    /// Mean `$request_time` (whole request as nginx saw it), ms.
    #[serde(default)]
    pub request_time_ms: Option<f64>,
    /// Mean `$upstream_response_time` (time the app took, from nginx's side), ms.
    #[serde(default)]
    pub upstream_response_time_ms: Option<f64>,
    /// Mean `$upstream_connect_time`, ms. High values mean the app's accept queue is full.
    #[serde(default)]
    pub upstream_connect_time_ms: Option<f64>,
}

/// The app's own timings per request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppFigures {
    /// Mean time inside the Python handler (middleware or APM transaction duration), ms.
    #[serde(default)]
    pub request_duration_ms: Option<f64>,
    /// Mean time a request waited for a free worker before the handler started
    /// (e.g. X-Request-Start header vs handler start), ms.
    #[serde(default)]
    pub queue_wait_ms: Option<f64>,
    /// Mean time per request in HTTP calls to other services (APM http spans), ms.
    #[serde(default)]
    pub external_calls_ms: Option<f64>,
}

/// Worker counts across the fleet (or one replica), sampled at the same time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GunicornFigures {
    /// Workers idle.
    #[serde(default)]
    pub idle_workers: Option<f64>,
    /// Workers handling a request.
    #[serde(default)]
    pub busy_workers: Option<f64>,
}

/// Database figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbFigures {
    /// Database CPU, 0–100 percent (e.g. RDS CPUUtilization).
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// Mean database time per request (all its queries together), ms. If you only know the
    /// latency of one query, also pass `queries_per_request`.
    #[serde(default)]
    pub query_latency_ms: Option<f64>,
    /// Queries per request; multiplies `query_latency_ms` when that is per query.
    #[serde(default)]
    pub queries_per_request: Option<f64>,
    /// Active database sessions (pg_stat_activity state = 'active').
    #[serde(default)]
    pub active_sessions: Option<f64>,
    /// Share of database time waiting on IO, 0–100.
    #[serde(default)]
    pub io_wait_percent: Option<f64>,
}

/// What to break down.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyInput {
    /// Figures you already have, per request, averaged over one window.
    #[serde(default)]
    pub figures: Figures,
    /// Per-endpoint latency (from Sentry's performance view, APM or logs); decides
    /// `latency_pattern`.
    #[serde(default)]
    pub endpoints: Vec<EndpointLatency>,
    /// p99 above which an endpoint is slow, ms. Leave it out to judge against `baseline`, or
    /// else the routes against each other (1000 ms only as a last resort).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_threshold_ms: Option<f64>,
    /// The service's normal, e.g. `{"p99_ms": 20}`: an endpoint is slow above 3 × that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// An RDS instance to check (check_rds_iops): its storage verdict fills
    /// `observations.db_io_saturated`, `disk_queue_depth` and `db_cpu_percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_instance: Option<super::storage::RdsInstanceRef>,
    /// Read nginx access logs on this host: the nginx layers, per-endpoint percentiles,
    /// errors and worker time. Needs the site's `log_format`.
    #[serde(default)]
    pub access_log: Option<AccessLogInput>,
    /// A Prometheus text endpoint exposing Gunicorn worker state, e.g.
    /// `http://127.0.0.1:9100/metrics` (plain http). Sampled `samples` times.
    #[serde(default)]
    pub gunicorn_metrics_url: Option<String>,
    /// Which series of `gunicorn_metrics_url` hold busy/idle workers; the defaults cover
    /// `gunicorn_workers{state="idle"|"working"}` and the uWSGI exporter.
    #[serde(default)]
    pub worker_metrics: Option<WorkerMetrics>,
    /// uWSGI's stats server, as given to `--stats`: `HOST:PORT`, a unix socket path, or
    /// `http://HOST:PORT` with `--stats-http`. Sampled `samples` times.
    #[serde(default)]
    pub uwsgi_stats: Option<String>,
    /// The port Gunicorn/uWSGI listens on (not nginx's): its accept queue is read from
    /// /proc/net/tcp on this host, sampled `samples` times. Needs nothing installed.
    #[serde(default)]
    pub listen_port: Option<u16>,
    /// How many times to sample worker state and the accept queue (default 5, at most 30).
    #[serde(default = "default_samples")]
    pub samples: u32,
    /// Time between samples, ms (default 1000; samples × interval at most 60 s).
    #[serde(default = "default_interval_ms")]
    pub sample_interval_ms: u64,
}

impl Default for LatencyInput {
    fn default() -> Self {
        Self {
            figures: Figures::default(),
            endpoints: Vec::new(),
            slow_threshold_ms: None,
            baseline: None,
            access_log: None,
            gunicorn_metrics_url: None,
            worker_metrics: None,
            uwsgi_stats: None,
            listen_port: None,
            samples: default_samples(),
            sample_interval_ms: default_interval_ms(),
            rds_instance: None,
        }
    }
}

/// What is normal for this service.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// The usual p99 of the service's requests, ms (e.g. from a quiet day in Sentry).
    pub p99_ms: f64,
}

fn default_samples() -> u32 {
    5
}

fn default_interval_ms() -> u64 {
    1000
}

/// An nginx access log to read.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccessLogInput {
    /// Path of the log on the server's host, or several (e.g. `access.log` and rotated
    /// `access.log.2.gz`). A `*` in the file name matches files of that directory:
    /// `/var/log/nginx/access.log*`.
    pub path: OneOrMany,
    /// The site's own `log_format`: the directive as written in nginx.conf
    /// (`log_format main '$remote_addr ... $request_time ...';`, `escape=json` included),
    /// only its format string, or a preset: `combined` (nginx's default, no timings),
    /// `main`, or `timed` (combined + `rt=$request_time uct="$upstream_connect_time"
    /// uht="$upstream_header_time" urt="$upstream_response_time"`). Default `combined`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Only requests at or after this time: RFC 3339 (`2024-05-01T12:00:00Z`) or a
    /// duration before now (`15m`, `2h`, `1d`).
    #[serde(default)]
    pub since: Option<String>,
    /// Only requests before this time (same forms as `since`).
    #[serde(default)]
    pub until: Option<String>,
    /// Route templates for paths the automatic folding (numbers, UUIDs, hex, tokens) does
    /// not catch: `/users/{name}/profile`, `/static/{*path}`.
    #[serde(default)]
    pub route_patterns: Vec<String>,
    /// How many endpoints to list, largest worker time first (default 25); the pattern is
    /// decided on all of them.
    #[serde(default = "default_max_endpoints")]
    pub max_endpoints: usize,
}

fn default_log_format() -> String {
    "combined".to_owned()
}

fn default_max_endpoints() -> usize {
    25
}

/// One path or several.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s.clone()],
            Self::Many(v) => v.clone(),
        }
    }
}

/// Which Prometheus series hold the worker counts. Each list is tried in order; the first
/// selector that matches any series is used. A selector is `name` or
/// `name{label="value"}`; `count:NAME` counts the series instead of adding them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkerMetrics {
    /// Series of busy workers. Default: `gunicorn_workers{state="working"}`,
    /// `gunicorn_workers{state="busy"}`, `gunicorn_workers_busy`, `gunicorn_busy_workers`,
    /// `uwsgi_worker_busy`.
    #[serde(default = "default_busy")]
    pub busy: Vec<String>,
    /// Series of idle workers. Default: `gunicorn_workers{state="idle"}`,
    /// `gunicorn_workers_idle`, `gunicorn_idle_workers`, `uwsgi_worker_idle`.
    #[serde(default = "default_idle")]
    pub idle: Vec<String>,
    /// Series of all workers, used when busy or idle is missing. Default:
    /// `gunicorn_workers_total`, `gunicorn_workers`, `uwsgi_workers`.
    #[serde(default = "default_total")]
    pub total: Vec<String>,
    /// Series of the listen backlog. Default: `uwsgi_listen_queue_length`,
    /// `gunicorn_backlog`.
    #[serde(default = "default_queue")]
    pub queue: Vec<String>,
}

impl Default for WorkerMetrics {
    fn default() -> Self {
        Self {
            busy: default_busy(),
            idle: default_idle(),
            total: default_total(),
            queue: default_queue(),
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}
fn default_busy() -> Vec<String> {
    strings(&[
        r#"gunicorn_workers{state="working"}"#,
        r#"gunicorn_workers{state="busy"}"#,
        "gunicorn_workers_busy",
        "gunicorn_busy_workers",
        "uwsgi_worker_busy",
    ])
}
fn default_idle() -> Vec<String> {
    strings(&[
        r#"gunicorn_workers{state="idle"}"#,
        "gunicorn_workers_idle",
        "gunicorn_idle_workers",
        "uwsgi_worker_idle",
    ])
}
fn default_total() -> Vec<String> {
    strings(&[
        "gunicorn_workers_total",
        "gunicorn_workers",
        "uwsgi_workers",
    ])
}
fn default_queue() -> Vec<String> {
    strings(&["uwsgi_listen_queue_length", "gunicorn_backlog"])
}

/// One reading of worker state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerSample {
    pub busy: f64,
    pub idle: f64,
    /// The listen backlog, when the source exposes it.
    pub queue: Option<f64>,
}

/// Worker state sampled over a short window.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSamples {
    /// `prometheus:<url>` or `uwsgi:<addr>`.
    pub source: String,
    pub samples: Vec<WorkerSample>,
}

/// Accept-queue depth sampled over a short window.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSamples {
    pub source: String,
    pub samples: Vec<f64>,
}

/// What the sources said, for [`analyze_measured`].
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The access logs read, with the evidence source (`nginx:<file>`).
    pub access_log: Option<(String, AccessLogData)>,
    pub workers: Option<WorkerSamples>,
    pub queue: Option<QueueSamples>,
}

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

struct Checked {
    request: Option<f64>,
    upstream: Option<f64>,
    connect: Option<f64>,
    /// Where request/upstream/connect came from: `caller` or `nginx:<file>`.
    nginx_source: String,
    duration: Option<f64>,
    queue: Option<f64>,
    external: Option<f64>,
    db: Option<f64>,
}

fn validate(input: &LatencyInput) -> Result<Checked, InputError> {
    let f = &input.figures;
    let ms = |field: &str, v: Option<f64>| {
        check_opt_range(
            field,
            v,
            0.0,
            86_400_000.0,
            "pass a mean latency in milliseconds (seconds × 1000)",
        )
    };
    let request = ms("figures.nginx.request_time_ms", f.nginx.request_time_ms)?;
    let upstream = ms(
        "figures.nginx.upstream_response_time_ms",
        f.nginx.upstream_response_time_ms,
    )?;
    let connect = ms(
        "figures.nginx.upstream_connect_time_ms",
        f.nginx.upstream_connect_time_ms,
    )?;
    let duration = ms("figures.app.request_duration_ms", f.app.request_duration_ms)?;
    let queue = ms("figures.app.queue_wait_ms", f.app.queue_wait_ms)?;
    let external = ms("figures.app.external_calls_ms", f.app.external_calls_ms)?;
    let query = ms("figures.db.query_latency_ms", f.db.query_latency_ms)?;
    let per_request = check_opt_range(
        "figures.db.queries_per_request",
        f.db.queries_per_request,
        0.0,
        1e6,
        "pass the number of queries one request makes",
    )?;
    check_opt_range(
        "figures.gunicorn.idle_workers",
        f.gunicorn.idle_workers,
        0.0,
        1e7,
        "pass a worker count",
    )?;
    check_opt_range(
        "figures.gunicorn.busy_workers",
        f.gunicorn.busy_workers,
        0.0,
        1e7,
        "pass a worker count",
    )?;
    check_opt_range(
        "figures.db.cpu_percent",
        f.db.cpu_percent,
        0.0,
        100.0,
        "pass a percentage between 0 and 100",
    )?;
    check_opt_range(
        "figures.db.active_sessions",
        f.db.active_sessions,
        0.0,
        1e7,
        "pass a session count",
    )?;
    check_opt_range(
        "figures.db.io_wait_percent",
        f.db.io_wait_percent,
        0.0,
        100.0,
        "pass a percentage between 0 and 100",
    )?;
    if input
        .slow_threshold_ms
        .is_some_and(|t| !t.is_finite() || t <= 0.0)
    {
        return Err(InputError::new(
            "slow_threshold_ms",
            "must be a positive number of milliseconds; leave it out to judge against the baseline or the routes against each other",
        ));
    }
    if let Some(b) = &input.baseline
        && (!b.p99_ms.is_finite() || b.p99_ms <= 0.0)
    {
        return Err(InputError::new(
            "baseline.p99_ms",
            "must be a positive number of milliseconds: the service's usual p99",
        ));
    }
    let probe = Observations {
        endpoints: input.endpoints.clone(),
        ..Default::default()
    };
    symptoms::validate(&probe, "")?;
    if input.samples == 0 || input.samples > 30 {
        return Err(InputError::new(
            "samples",
            "must be between 1 and 30 (default 5)",
        ));
    }
    if input.sample_interval_ms > 10_000
        || u64::from(input.samples.saturating_sub(1)) * input.sample_interval_ms > 60_000
    {
        return Err(InputError::new(
            "sample_interval_ms",
            "must be at most 10000, and samples × interval at most 60 s; sampling is a short look, not monitoring",
        ));
    }
    if input.listen_port == Some(0) {
        return Err(InputError::new(
            "listen_port",
            "must be the TCP port Gunicorn/uWSGI binds (1–65535)",
        ));
    }
    if let Some(a) = &input.access_log
        && (a.max_endpoints == 0 || a.max_endpoints > 1000)
    {
        return Err(InputError::new(
            "access_log.max_endpoints",
            "must be between 1 and 1000 (default 25)",
        ));
    }
    Ok(Checked {
        request,
        upstream,
        connect,
        nginx_source: SOURCE_CALLER.to_owned(),
        duration,
        queue,
        external,
        db: query.map(|q| q * per_request.unwrap_or(1.0)),
    })
}

/// Checks the input without reading any source, so bad arguments fail before a long read.
pub fn check(input: &LatencyInput) -> Result<(), InputError> {
    validate(input).map(|_| ())
}

/// Breaks latency down by layer, from the caller's figures only.
pub fn analyze(input: &LatencyInput) -> Result<LatencyReport, InputError> {
    analyze_measured(input, &Measured::default())
}

/// Fills a figure the caller left out with one read from a source; when both exist the
/// caller's wins and a disagreement over 10 % is reported.
fn fill(
    given: &mut Option<f64>,
    source: &mut String,
    measured: Option<f64>,
    from: &str,
    name: &str,
    warnings: &mut Vec<String>,
) {
    let Some(m) = measured else { return };
    match *given {
        None => {
            *given = Some(m);
            *source = from.to_owned();
        }
        Some(g) if (g - m).abs() > 0.1 * g.max(m) && (g - m).abs() > 1.0 => {
            warnings.push(format!(
                "{name}: the figure given ({}) differs from the one read from {from} ({}); the given one is used.",
                fmt_num(g),
                fmt_num(m)
            ));
        }
        Some(_) => {}
    }
}

fn mean(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = v.clone().count();
    if n == 0 {
        0.0
    } else {
        v.sum::<f64>() / n as f64
    }
}

/// Per-endpoint statistics from an access log, every route; worker time is upstream time
/// (queueing included) until [`judge_endpoints`] knows the queue wait.
fn log_endpoints(log: &AccessLogData) -> Vec<EndpointStats> {
    let total_requests: u64 = log.endpoints.iter().map(|e| e.requests).sum();
    log.endpoints
        .iter()
        .filter(|e| e.timed > 0)
        .map(|e| EndpointStats {
            endpoint: e.endpoint.clone(),
            requests: e.requests,
            p50_ms: e.p50_ms,
            p95_ms: Some(e.p95_ms),
            p99_ms: e.p99_ms,
            max_ms: Some(e.max_ms),
            mean_upstream_ms: e.worker_ms.map(|w| round(w as f64 / e.timed as f64, 3)),
            service_ms: None,
            worker_seconds: e.worker_ms.map(|w| round(w as f64 / 1000.0, 3)),
            share_of_worker_time_percent: None,
            error_percent: log
                .has_status
                .then(|| round(e.errors as f64 / e.requests.max(1) as f64 * 100.0, 2)),
            slow: false,
            share_of_requests_percent: round(
                e.requests as f64 / total_requests.max(1) as f64 * 100.0,
                2,
            ),
        })
        .collect()
}

/// How the endpoints were judged.
struct Judgement {
    threshold_ms: f64,
    basis: ThresholdBasis,
    metric: SlowMetric,
    head_of_line: Option<HeadOfLine>,
}

/// Service time per route (when the queue wait is known), worker time from it, what slow
/// means for this service, and whether one route holds the line. Sorts by worker time.
fn judge_endpoints(
    all: &mut [EndpointStats],
    queue_ms: Option<f64>,
    input: &LatencyInput,
) -> Judgement {
    if let Some(q) = queue_ms {
        for e in all.iter_mut() {
            if let Some(u) = e.mean_upstream_ms {
                let s = queueing::route_service_ms(u, q);
                e.service_ms = Some(round(s, 3));
                e.worker_seconds = Some(round(s * e.requests as f64 / 1000.0, 3));
            }
        }
    }
    let total_worker: f64 = all.iter().filter_map(|e| e.worker_seconds).sum();
    for e in all.iter_mut() {
        e.share_of_worker_time_percent = e
            .worker_seconds
            .filter(|_| total_worker > 0.0)
            .map(|w| round(w / total_worker * 100.0, 2));
    }
    let routes: Vec<RouteService> = all
        .iter()
        .filter_map(|e| {
            e.service_ms.map(|s| RouteService {
                endpoint: e.endpoint.clone(),
                requests: e.requests,
                service_ms: s,
            })
        })
        .collect();
    let with_service = !routes.is_empty() && routes.len() == all.len();
    let (threshold_ms, basis, metric) = match (input.slow_threshold_ms, &input.baseline) {
        (Some(t), _) => (t, ThresholdBasis::Caller, SlowMetric::P99Ms),
        (None, Some(b)) => (b.p99_ms * 3.0, ThresholdBasis::Baseline, SlowMetric::P99Ms),
        (None, None) => match queueing::relative_threshold(&routes).filter(|_| with_service) {
            Some(t) => (t, ThresholdBasis::Relative, SlowMetric::ServiceMs),
            None => (DEFAULT_SLOW_MS, ThresholdBasis::Default, SlowMetric::P99Ms),
        },
    };
    for e in all.iter_mut() {
        e.slow = match (metric, e.service_ms) {
            (SlowMetric::ServiceMs, Some(s)) => s > threshold_ms,
            _ => e.p99_ms > threshold_ms,
        };
    }
    all.sort_by(|a, b| {
        b.worker_seconds
            .unwrap_or(0.0)
            .total_cmp(&a.worker_seconds.unwrap_or(0.0))
            .then(b.requests.cmp(&a.requests))
            .then(b.p99_ms.total_cmp(&a.p99_ms))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    let head_of_line = queue_ms.and_then(|q| queueing::head_of_line(&routes, q));
    Judgement {
        threshold_ms,
        basis,
        metric,
        head_of_line,
    }
}

fn latency_of(e: &EndpointStats) -> EndpointLatency {
    EndpointLatency {
        endpoint: e.endpoint.clone(),
        requests: e.requests,
        p50_ms: e.p50_ms,
        p99_ms: e.p99_ms,
        service_ms: e.service_ms,
    }
}

/// Breaks latency down by layer, from the caller's figures and what the sources read.
pub fn analyze_measured(input: &LatencyInput, m: &Measured) -> Result<LatencyReport, InputError> {
    let mut c = validate(input)?;
    let f = &input.figures;
    let mut warnings = Vec::new();
    let mut evidence = Vec::new();
    let mut layers: Vec<Layer> = Vec::new();
    let push = |layers: &mut Vec<Layer>, layer: &str, ms: f64, source: &str| {
        layers.push(Layer {
            layer: layer.to_owned(),
            ms: round(ms, 3),
            percent_of_total: None,
            source: source.to_owned(),
        })
    };

    // Access logs: the nginx figures, and the endpoints.
    let mut request_src = SOURCE_CALLER.to_owned();
    let mut upstream_src = SOURCE_CALLER.to_owned();
    let mut connect_src = SOURCE_CALLER.to_owned();
    let mut log_eps: Option<Vec<EndpointStats>> = None;
    let mut throughput: Option<f64> = None;
    let mut recent: Option<f64> = None;
    let mut recent_upstream: Option<f64> = None;
    let mut access_log = None;
    if let Some((source, log)) = &m.access_log {
        if log.parsed == 0 && log.unparsed > 0 {
            let at = log
                .first_error
                .as_ref()
                .map(|(p, e)| format!(" {p} line {}, {}.", e.line, e.divergence))
                .unwrap_or_default();
            return Err(InputError::new(
                "access_log.log_format",
                format!(
                    "no line of the log matches this log_format ({} lines tried); the first stops matching at{at} Pass the log_format directive that writes this log (grep -r log_format /etc/nginx), or the preset that fits: combined, main, timed.",
                    log.unparsed
                ),
            ));
        }
        if log.lines == 0 {
            warnings.push(
                "The access log has no lines: check the path and that nginx writes to it."
                    .to_owned(),
            );
        }
        let s = &log.sums;
        if s.proxied_n > 0 {
            let n = s.proxied_n as f64;
            fill(
                &mut c.request,
                &mut request_src,
                Some(s.proxied_request_ms as f64 / n),
                source,
                "figures.nginx.request_time_ms",
                &mut warnings,
            );
            fill(
                &mut c.upstream,
                &mut upstream_src,
                Some(s.proxied_upstream_ms as f64 / n),
                source,
                "figures.nginx.upstream_response_time_ms",
                &mut warnings,
            );
            let conn = (s.proxied_connect_n > 0)
                .then(|| s.proxied_connect_ms as f64 / s.proxied_connect_n as f64);
            fill(
                &mut c.connect,
                &mut connect_src,
                conn,
                source,
                "figures.nginx.upstream_connect_time_ms",
                &mut warnings,
            );
            if s.request_n > s.proxied_n {
                warnings.push(format!(
                    "{} of {} timed requests had no upstream time (served by nginx itself: static files, cache hits, redirects, errors before proxying); the layer split uses the {} proxied ones.",
                    s.request_n - s.proxied_n,
                    s.request_n,
                    s.proxied_n
                ));
            }
        } else if s.request_n > 0 {
            fill(
                &mut c.request,
                &mut request_src,
                Some(s.request_ms as f64 / s.request_n as f64),
                source,
                "figures.nginx.request_time_ms",
                &mut warnings,
            );
        }
        if !log.has_request_time && !log.has_upstream_time {
            warnings.push("The log_format records neither $request_time nor $upstream_response_time, so the log gives request counts and errors but no latency. Add them to the format (see the `timed` preset) to get per-endpoint percentiles and worker time.".to_owned());
        } else if !log.has_upstream_time {
            warnings.push("The log_format has no $upstream_response_time: nginx's own share and worker-seconds are unknown. Add it (see the `timed` preset).".to_owned());
        }
        if log.parsed > 0 && log.has_request_time | log.has_upstream_time {
            log_eps = Some(log_endpoints(log));
        }
        if log.unparsed > 0 {
            let share = log.unparsed as f64 / log.lines.max(1) as f64 * 100.0;
            warnings.push(format!(
                "{} of {} lines ({}%) did not match the log_format and were not counted{}.",
                log.unparsed,
                log.lines,
                fmt_num(share),
                log.first_error
                    .as_ref()
                    .map(|(p, e)| format!("; the first is {p} line {}, {}", e.line, e.divergence))
                    .unwrap_or_default()
            ));
        }
        if log.routes_overflowed > 0 {
            warnings.push(format!(
                "More distinct routes than the limit: {} requests to further new routes are counted under `{}`. Add route_patterns for the paths that were not folded.",
                log.routes_overflowed,
                super::access_log::OTHER_ROUTES
            ));
        }
        if log.sums.multi_upstream > 0 {
            warnings.push(format!(
                "{} requests went to more than one upstream (retries after errors or timeouts, or internal redirects); their upstream times are summed.",
                log.sums.multi_upstream
            ));
        }
        let kept = log.parsed - log.outside_window;
        if kept == 0 && log.parsed > 0 {
            warnings.push(format!(
                "No request of the log falls inside since/until ({} lines outside); widen the window.",
                log.outside_window
            ));
        }
        // Times are whole seconds, and the last one may still be being written: the rate is
        // the requests before it over the seconds from the first up to it.
        let last_second = log
            .recent_per_second
            .last()
            .map_or(0, |(_, c)| u64::from(c.requests));
        let arrival_rps = match (log.first_ts, log.last_ts) {
            (Some(a), Some(b)) if b > a => Some(round(
                kept.saturating_sub(last_second) as f64 / (b - a) as f64,
                3,
            )),
            _ => None,
        };
        throughput = arrival_rps;
        // Worker state is sampled now: set it against the log's last seconds (as long as the
        // sampling, at least 10 s) — their rate and their upstream time — not the whole log.
        if (m.workers.is_some() || m.queue.is_some()) && log.recent_per_second.len() > 1 {
            let sampled_s = (u64::from(input.samples.saturating_sub(1)) * input.sample_interval_ms)
                .div_ceil(1000)
                + 1;
            let span = (sampled_s.max(10) as usize).min(log.recent_per_second.len() - 1);
            // The last second may still be being written: left out.
            let full = &log.recent_per_second[..log.recent_per_second.len() - 1];
            let first_seen = log.first_ts.unwrap_or(i64::MIN);
            let covered: Vec<&SecondCounts> = full[full.len() - span..]
                .iter()
                .filter(|(ts, _)| *ts >= first_seen)
                .map(|(_, c)| c)
                .collect();
            let requests: u64 = covered.iter().map(|c| u64::from(c.requests)).sum();
            let up_n: u64 = covered.iter().map(|c| u64::from(c.upstream_n)).sum();
            if covered.len() >= 5 && requests > 0 {
                let from = format!("{source} (last {} s)", covered.len());
                let rps = round(requests as f64 / covered.len() as f64, 3);
                evidence.push(Evidence::number("recent_throughput_rps", rps, "rps", &from));
                recent = Some(rps);
                if up_n > 0 {
                    let up =
                        covered.iter().map(|c| c.upstream_ms).sum::<u64>() as f64 / up_n as f64;
                    evidence.push(Evidence::number(
                        "recent_upstream_response_time_ms",
                        round(up, 3),
                        "ms",
                        &from,
                    ));
                    recent_upstream = Some(up);
                }
            }
        }
        evidence.push(Evidence::number(
            "requests",
            kept as f64,
            "requests",
            source,
        ));
        evidence.push(Evidence::number(
            "unparsed_lines",
            log.unparsed as f64,
            "lines",
            source,
        ));
        if let Some(r) = arrival_rps {
            evidence.push(Evidence::number("arrival_rps", r, "rps", source));
        }
        if let (Some(since), Some(first), Some(last)) = (log.since, log.first_ts, log.last_ts) {
            let asked = (log.until.unwrap_or(last).max(last) - since).max(1);
            let missing = first - since;
            if missing > 30 && missing * 10 > asked {
                warnings.push(format!(
                    "The log covers {} s of the {} s asked for: its first request in the window is at {}. Older requests are in rotated files (pass `access.log*`) or the service started later; figures cover only the part read.",
                    (last - first).max(0),
                    asked,
                    format_rfc3339(first)
                ));
            }
        }
        access_log = Some(AccessLogReport {
            files: log
                .files
                .iter()
                .map(|f| LogFileReport {
                    path: f.path.clone(),
                    gzip: f.gzip,
                    lines: f.lines,
                    parsed_lines: f.parsed,
                    unparsed_lines: f.unparsed,
                    outside_window_lines: f.outside_window,
                })
                .collect(),
            lines: log.lines,
            parsed_lines: log.parsed,
            unparsed_lines: log.unparsed,
            outside_window_lines: log.outside_window,
            first_unparsed: log
                .first_error
                .as_ref()
                .map(|(p, e)| format!("{p} line {}, {}", e.line, e.divergence)),
            first_request_at: log.first_ts.map(format_rfc3339),
            last_request_at: log.last_ts.map(format_rfc3339),
            arrival_rps,
            latency_basis: if log.has_request_time {
                "request_time"
            } else if log.has_upstream_time {
                "upstream_response_time"
            } else {
                "none"
            }
            .to_owned(),
            routes: log.endpoints.len(),
            // Counted once the endpoints are judged and listed.
            endpoints_not_listed: 0,
            requests_not_listed: 0,
            multi_upstream_requests: log.sums.multi_upstream,
        });
    }

    // Worker state and the backlog.
    let mut busy = f.gunicorn.busy_workers;
    let mut idle = f.gunicorn.idle_workers;
    let mut busy_src = SOURCE_CALLER.to_owned();
    let mut idle_src = SOURCE_CALLER.to_owned();
    let mut workers = None;
    if let Some(w) = m.workers.as_ref().filter(|w| !w.samples.is_empty()) {
        let b = mean(w.samples.iter().map(|s| s.busy));
        let i = mean(w.samples.iter().map(|s| s.idle));
        fill(
            &mut busy,
            &mut busy_src,
            Some(round(b, 3)),
            &w.source,
            "figures.gunicorn.busy_workers",
            &mut warnings,
        );
        fill(
            &mut idle,
            &mut idle_src,
            Some(round(i, 3)),
            &w.source,
            "figures.gunicorn.idle_workers",
            &mut warnings,
        );
        let util_max = w
            .samples
            .iter()
            .filter(|s| s.busy + s.idle > 0.0)
            .map(|s| s.busy / (s.busy + s.idle) * 100.0)
            .fold(0.0, f64::max);
        let report = WorkerReport {
            source: w.source.clone(),
            busy_samples: w.samples.iter().map(|s| s.busy).collect(),
            busy_mean: round(b, 3),
            busy_max: w.samples.iter().map(|s| s.busy).fold(0.0, f64::max),
            idle_mean: round(i, 3),
            utilization_max_percent: round(util_max, 2),
        };
        evidence.push(Evidence::number(
            "busy_workers_mean",
            report.busy_mean,
            "workers",
            &w.source,
        ));
        evidence.push(Evidence::number(
            "busy_workers_max",
            report.busy_max,
            "workers",
            &w.source,
        ));
        evidence.push(Evidence::number(
            "idle_workers_mean",
            report.idle_mean,
            "workers",
            &w.source,
        ));
        evidence.push(Evidence::number(
            "worker_utilization_max_percent",
            report.utilization_max_percent,
            "percent",
            &w.source,
        ));
        workers = Some(report);
    }
    let queue_samples = m.queue.clone().or_else(|| {
        m.workers.as_ref().and_then(|w| {
            let q: Vec<f64> = w.samples.iter().filter_map(|s| s.queue).collect();
            (q.len() == w.samples.len() && !q.is_empty()).then(|| QueueSamples {
                source: w.source.clone(),
                samples: q,
            })
        })
    });
    let mut backlog_growing = None;
    let mut backlog_shape = None;
    let mut backlog_source = None;
    let mut accept_queue = None;
    if let Some(q) = queue_samples.filter(|q| !q.samples.is_empty()) {
        let nonzero = q.samples.iter().filter(|v| **v > 0.0).count();
        let report = QueueReport {
            max: q.samples.iter().copied().fold(0.0, f64::max),
            mean: round(mean(q.samples.iter().copied()), 3),
            nonzero_samples: nonzero,
            samples: q.samples.clone(),
            source: q.source.clone(),
        };
        // The shape comes from the trend: a queue that sits full is steady, not growing.
        backlog_shape = BacklogShape::of(&q.samples);
        backlog_growing = backlog_shape.map(|s| s == BacklogShape::Growing);
        backlog_source = Some(q.source.clone());
        if let Some(shape) = backlog_shape {
            evidence.push(Evidence::text("backlog_shape", shape.as_str(), &q.source));
        }
        evidence.push(Evidence::number(
            "accept_queue_max",
            report.max,
            "connections",
            &q.source,
        ));
        evidence.push(Evidence::number(
            "accept_queue_mean",
            report.mean,
            "connections",
            &q.source,
        ));
        evidence.push(Evidence::number(
            "accept_queue_nonzero_samples",
            nonzero as f64,
            "samples",
            &q.source,
        ));
        accept_queue = Some(report);
    }

    for (metric, v, src) in [
        ("nginx.request_time_ms", c.request, request_src.as_str()),
        (
            "nginx.upstream_response_time_ms",
            c.upstream,
            upstream_src.as_str(),
        ),
        (
            "nginx.upstream_connect_time_ms",
            c.connect,
            connect_src.as_str(),
        ),
        ("app.request_duration_ms", c.duration, SOURCE_CALLER),
        ("app.queue_wait_ms", c.queue, SOURCE_CALLER),
        ("app.external_calls_ms", c.external, SOURCE_CALLER),
        ("db.time_per_request_ms", c.db, SOURCE_CALLER),
    ] {
        if let Some(v) = v {
            evidence.push(Evidence::number(metric, v, "ms", src));
        }
    }
    c.nginx_source = upstream_src.clone();

    // nginx's own share: what the whole request took beyond the upstream.
    if let (Some(req), Some(up)) = (c.request, c.upstream) {
        // nginx rounds both to the millisecond and times them separately: allow for that.
        if up > req * 1.01 + 1.0 {
            warnings.push(format!(
                "Inconsistent figures: upstream_response_time_ms ({}) is larger than request_time_ms ({}); they are probably from different windows or units. The nginx layer is set to 0.",
                fmt_num(up),
                fmt_num(req)
            ));
        }
        push(&mut layers, "nginx", (req - up).max(0.0), "derived");
    }
    if let Some(conn) = c.connect {
        push(&mut layers, "upstream_connect", conn, &connect_src);
        if let Some(up) = c.upstream.filter(|up| conn > *up) {
            warnings.push(format!("Inconsistent figures: upstream_connect_time_ms ({}) exceeds upstream_response_time_ms ({}).", fmt_num(conn), fmt_num(up)));
        }
    }

    // Queue wait: given, or the unexplained remainder of the upstream time.
    let upstream_rest = match (c.upstream, c.duration) {
        (Some(up), Some(d)) => Some(up - d - c.connect.unwrap_or(0.0)),
        _ => None,
    };
    match (c.queue, upstream_rest) {
        (Some(q), Some(rest)) => {
            push(&mut layers, "queue_wait", q, SOURCE_CALLER);
            let left = rest - q;
            if left < -(1.0f64).max(0.05 * c.upstream.unwrap_or(0.0)) {
                warnings.push(format!(
                    "Inconsistent figures: request_duration_ms + queue_wait_ms + connect ({}) exceed upstream_response_time_ms ({}) by {} ms.",
                    fmt_num(c.duration.unwrap_or(0.0) + q + c.connect.unwrap_or(0.0)),
                    fmt_num(c.upstream.unwrap_or(0.0)),
                    fmt_num(-left)
                ));
            } else if left > 1.0 {
                push(&mut layers, "unaccounted", left, "derived");
            }
        }
        (Some(q), None) => push(&mut layers, "queue_wait", q, SOURCE_CALLER),
        (None, Some(rest)) if rest > 0.0 => {
            push(&mut layers, "queue_wait", rest, "derived");
            warnings.push(format!(
                "queue_wait ({} ms) is derived as upstream_response_time − request_duration − connect; it also holds any time between nginx and the handler (WSGI server, middleware before the timer).",
                fmt_num(rest)
            ));
        }
        (None, Some(rest)) if rest < -1.0 => warnings.push(format!(
            "Inconsistent figures: request_duration_ms ({}) is larger than upstream_response_time_ms ({}).",
            fmt_num(c.duration.unwrap_or(0.0)),
            fmt_num(c.upstream.unwrap_or(0.0))
        )),
        _ => {}
    }

    // Queue against service: with worker state (or the backlog) and the throughput, Little's
    // law splits what nginx saw of the app server. The app's own timings, when given, are
    // better and are used instead.
    // The log's last seconds, when worker state was sampled, match the samples' moment.
    let split_upstream = match (recent_upstream, upstream_src != SOURCE_CALLER) {
        (Some(r), true) => Some(r),
        _ => c.upstream,
    };
    let split = match (split_upstream, recent.or(throughput)) {
        (Some(up), Some(rps)) if c.duration.is_none() && c.queue.is_none() => {
            match queueing::split(
                up,
                c.connect.unwrap_or(0.0),
                busy,
                accept_queue.as_ref().map(|q| q.mean),
                rps,
            ) {
                Ok(sp) => Some(sp),
                Err(NoSplit::Inconsistent {
                    busy_ms_per_request,
                }) => {
                    warnings.push(format!(
                        "Queue wait and service time are not split: the workers are busier than the logged requests account for ({} busy at {} rps is {} ms per request, but the requests logged took {} ms). Long requests are in flight and not yet in the log (it records completions), or the log covers another moment than the samples: read again once they finish, or pass `since` covering the incident.",
                        fmt_num(busy.unwrap_or(0.0)),
                        fmt_num(rps),
                        fmt_num(busy_ms_per_request),
                        fmt_num(up)
                    ));
                    None
                }
                Err(NoSplit::Missing) => None,
            }
        }
        _ => None,
    };
    // The layers and the routes are means over the whole log: the split found for the last
    // seconds is applied to them as a share.
    let whole_split = match (split, split_upstream, c.upstream) {
        (Some(sp), Some(recent_up), Some(up))
            if recent_up > 0.0 && (recent_up - up).abs() > 1e-9 =>
        {
            let handled = (up - c.connect.unwrap_or(0.0)).max(0.0);
            let share = sp.queue_ms / (sp.queue_ms + sp.service_ms).max(1e-9);
            Some(queueing::Split {
                queue_ms: round(handled * share, 3),
                service_ms: round(handled * (1.0 - share), 3),
                ..sp
            })
        }
        _ => split,
    };
    if let Some(sp) = split {
        let method = match sp.method {
            Method::BusyWorkers => "derived:littles_law_busy_workers",
            Method::AcceptQueue => "derived:littles_law_accept_queue",
        };
        evidence.push(Evidence::number(
            "service_time_ms",
            sp.service_ms,
            "ms",
            method,
        ));
        evidence.push(Evidence::number("queue_wait_ms", sp.queue_ms, "ms", method));
        evidence.push(Evidence::text(
            "queue_split_method",
            sp.method.describe(),
            method,
        ));
        if let (Method::BusyWorkers, Some(b)) = (sp.method, sp.queue_from_backlog_ms) {
            evidence.push(Evidence::number(
                "queue_wait_from_accept_queue_ms",
                b,
                "ms",
                "derived:littles_law_accept_queue",
            ));
            if (b - sp.queue_ms).abs() > 0.5 * b.max(sp.queue_ms) && (b - sp.queue_ms).abs() > 20.0
            {
                warnings.push(format!(
                    "The two estimates of the wait for a worker disagree: {} ms from busy workers, {} ms from the accept queue. The worker samples and the log may cover different moments; sample while the load is on, over the log's window.",
                    fmt_num(sp.queue_ms),
                    fmt_num(b)
                ));
            }
        }
    } else if c.upstream.is_some()
        && c.duration.is_none()
        && c.queue.is_none()
        && (busy.is_none() && accept_queue.is_none() || throughput.is_none())
    {
        warnings.push("Upstream time includes any wait for a free worker: without worker state (gunicorn_metrics_url, uwsgi_stats or figures.gunicorn) or the accept queue (listen_port), and the request rate from the log, the wait cannot be told from the service time, and worker time per endpoint counts both.".to_owned());
    }

    // Without the app's own timings, what nginx saw of the app server stays one layer — or
    // two, queue wait and service, when Little's law splits it.
    if let (Some(up), None) = (c.upstream, c.duration) {
        let known = c.connect.unwrap_or(0.0)
            + c.queue.unwrap_or(0.0)
            + c.db.unwrap_or(0.0)
            + c.external.unwrap_or(0.0);
        if known > up + 1.0 {
            warnings.push(format!(
                "Inconsistent figures: connect + queue + DB + external time ({} ms) exceeds upstream_response_time_ms ({} ms).",
                fmt_num(known),
                fmt_num(up)
            ));
        }
        match whole_split {
            Some(sp) => {
                let inside = c.db.unwrap_or(0.0) + c.external.unwrap_or(0.0);
                push(&mut layers, "queue_wait", sp.queue_ms, "derived");
                push(
                    &mut layers,
                    "app_service",
                    (sp.service_ms - inside).max(0.0),
                    "derived",
                );
            }
            None => push(
                &mut layers,
                "app_server",
                (up - known).max(0.0),
                &upstream_src,
            ),
        }
    }

    // Inside the handler: DB, external calls, and the Python code itself.
    if let Some(db) = c.db {
        push(&mut layers, "db", db, SOURCE_CALLER);
    }
    if let Some(ext) = c.external {
        push(&mut layers, "external_calls", ext, SOURCE_CALLER);
    }
    if let Some(d) = c.duration {
        let inside = c.db.unwrap_or(0.0) + c.external.unwrap_or(0.0);
        if inside > d + 1.0 {
            warnings.push(format!(
                "Inconsistent figures: DB + external time ({} ms) exceeds the request duration ({} ms); app_code is set to 0. Is query_latency_ms per query rather than per request?",
                fmt_num(inside),
                fmt_num(d)
            ));
        }
        push(&mut layers, "app_code", (d - inside).max(0.0), "derived");
    }

    // The total the shares are against: nginx's view when there is one.
    let total = c
        .request
        .or_else(|| c.upstream.map(|u| u.max(0.0)))
        .or_else(|| c.duration.map(|d| d + c.queue.unwrap_or(0.0)))
        .filter(|t| *t > 0.0);
    let sum: f64 = layers.iter().map(|l| l.ms).sum();
    let denominator = total.map(|t| t.max(sum));
    if let (Some(t), true) = (total, sum > 0.0) {
        if sum > t * 1.02 + 1.0 {
            warnings.push(format!("The layers add up to {} ms, more than the {} ms total; shares are computed against the layer sum.", fmt_num(sum), fmt_num(t)));
        } else if sum < t * 0.98 - 1.0 {
            push(&mut layers, "unaccounted", t - sum, "derived");
        }
    }
    if let Some(d) = denominator {
        for l in &mut layers {
            l.percent_of_total = Some(round(l.ms / d * 100.0, 2));
        }
    }
    layers.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    let dominant_layer = layers
        .first()
        .filter(|l| l.ms > 0.0)
        .map(|l| l.layer.clone());

    let worker_utilization_percent = match (busy, idle) {
        (Some(b), Some(i)) if b + i > 0.0 => Some(round(b / (b + i) * 100.0, 2)),
        _ => None,
    };
    if let Some(u) = worker_utilization_percent {
        let src = if busy_src == SOURCE_CALLER && idle_src == SOURCE_CALLER {
            "derived".to_owned()
        } else {
            busy_src.clone()
        };
        evidence.push(Evidence::number(
            "worker_utilization_percent",
            u,
            "percent",
            &src,
        ));
    }
    let queue_ms = layers
        .iter()
        .find(|l| l.layer == "queue_wait")
        .map(|l| l.ms);
    let queue_wait_percent = match (queue_ms, denominator) {
        (Some(q), Some(d)) => Some(round(q / d * 100.0, 2)),
        _ => None,
    };

    let queue_for_routes = whole_split.map(|sp| sp.queue_ms);
    let max_listed = input.access_log.as_ref().map_or(25, |a| a.max_endpoints);
    let from_log = log_eps.is_some();
    let mut all = match log_eps {
        Some(all) => {
            if !input.endpoints.is_empty() {
                warnings.push("`endpoints` were given and an access log was read; the endpoints from the log are used.".to_owned());
            }
            all
        }
        None => {
            let total_requests = symptoms::total_requests(input.endpoints.iter());
            input
                .endpoints
                .iter()
                .map(|e| EndpointStats {
                    endpoint: e.endpoint.clone(),
                    requests: e.requests,
                    p50_ms: e.p50_ms,
                    p95_ms: None,
                    p99_ms: e.p99_ms,
                    max_ms: None,
                    mean_upstream_ms: None,
                    service_ms: e.service_ms,
                    worker_seconds: e
                        .service_ms
                        .map(|s| round(s * e.requests as f64 / 1000.0, 3)),
                    share_of_worker_time_percent: None,
                    error_percent: None,
                    slow: false,
                    share_of_requests_percent: if total_requests > 0 {
                        round(e.requests as f64 / total_requests as f64 * 100.0, 2)
                    } else {
                        0.0
                    },
                })
                .collect()
        }
    };
    let judged = judge_endpoints(&mut all, queue_for_routes, input);
    if !from_log {
        // The caller's endpoints are listed slowest first.
        all.sort_by(|a, b| b.p99_ms.total_cmp(&a.p99_ms));
    }
    if from_log && queue_for_routes.is_none() && all.iter().any(|e| e.worker_seconds.is_some()) {
        warnings.push("Worker time per endpoint is its upstream time, which includes any wait for a free worker; with worker state and the request rate it is split into service time.".to_owned());
    }
    let all_latencies: Vec<EndpointLatency> = all.iter().map(latency_of).collect();
    let mut endpoints = all;
    if from_log {
        endpoints.truncate(max_listed);
    }
    if let Some(a) = access_log.as_mut() {
        a.endpoints_not_listed = all_latencies.len() - endpoints.len();
        a.requests_not_listed = all_latencies.iter().map(|e| e.requests).sum::<u64>()
            - endpoints.iter().map(|e| e.requests).sum::<u64>();
    }
    let listed_latencies: Vec<EndpointLatency> = endpoints.iter().map(latency_of).collect();
    let pattern = symptoms::classify_pattern(&all_latencies, judged.threshold_ms, judged.metric);
    // The pattern is the log's when the endpoints came from it.
    let pattern_source = m
        .access_log
        .as_ref()
        .filter(|_| from_log)
        .map_or("derived", |(s, _)| s.as_str());
    let threshold_src = match judged.basis {
        ThresholdBasis::Caller | ThresholdBasis::Baseline => SOURCE_CALLER,
        ThresholdBasis::Relative | ThresholdBasis::Default => "derived",
    };
    if pattern.is_some() {
        evidence.push(Evidence::number(
            "slow_threshold_ms",
            judged.threshold_ms,
            "ms",
            threshold_src,
        ));
        evidence.push(Evidence::text(
            "slow_threshold_basis",
            judged.basis.describe(),
            threshold_src,
        ));
        if judged.basis == ThresholdBasis::Default {
            warnings.push(format!(
                "Endpoints were judged against the fixed default of {} ms p99: no baseline was given and no service times could be compared. A service whose normal is 5 ms is in trouble at 150 ms: pass `baseline.p99_ms` (the usual p99) or worker state with the access log.",
                fmt_num(DEFAULT_SLOW_MS)
            ));
        }
    }
    if let Some((p, share)) = pattern {
        let src = pattern_source;
        evidence.push(Evidence::text("latency_pattern", p.as_str(), src));
        evidence.push(Evidence::number(
            "slow_endpoint_request_share_percent",
            share * 100.0,
            "percent",
            src,
        ));
        let slow: Vec<&EndpointStats> = endpoints.iter().filter(|e| e.slow).collect();
        if !slow.is_empty() {
            let names: Vec<String> = slow
                .iter()
                .take(5)
                .map(|e| match e.service_ms {
                    Some(sv) => format!(
                        "{} (service {} ms, p99 {} ms)",
                        e.endpoint,
                        fmt_num(sv),
                        fmt_num(e.p99_ms)
                    ),
                    None => format!("{} (p99 {} ms)", e.endpoint, fmt_num(e.p99_ms)),
                })
                .collect();
            evidence.push(Evidence::text("slow_endpoints", &names.join(", "), src));
            let worker_share: f64 = slow
                .iter()
                .filter_map(|e| e.share_of_worker_time_percent)
                .sum();
            if slow
                .iter()
                .any(|e| e.share_of_worker_time_percent.is_some())
            {
                evidence.push(Evidence::number(
                    "slow_endpoint_worker_time_share_percent",
                    worker_share,
                    "percent",
                    src,
                ));
            }
        }
    }
    if let Some(h) = &judged.head_of_line {
        evidence.push(Evidence::text(
            "head_of_line_endpoint",
            &h.endpoint,
            "derived",
        ));
        evidence.push(Evidence::number(
            "head_of_line_share_of_service_time_percent",
            h.share_of_service_time_percent,
            "percent",
            "derived",
        ));
    }

    let observations = Observations {
        workers_busy_percent: worker_utilization_percent,
        backlog_growing,
        db_cpu_percent: f.db.cpu_percent,
        latency_pattern: pattern.map(|(p, _)| p),
        endpoints: listed_latencies,
        slow_threshold_ms: pattern.map(|_| judged.threshold_ms),
        slow_metric: pattern.map(|_| judged.metric),
        dominant_layer: dominant_layer.clone(),
        head_of_line_endpoint: judged.head_of_line.as_ref().map(|h| h.endpoint.clone()),
        head_of_line_share_percent: judged
            .head_of_line
            .as_ref()
            .map(|h| h.share_of_service_time_percent),
        backlog_shape,
        ..Default::default()
    };
    let mut observations = observations;
    // Where each field came from travels with it to match_symptom.
    let mut note = |field: &str, present: bool, source: &str| {
        if present && source != SOURCE_CALLER {
            observations
                .sources
                .insert(field.to_owned(), source.to_owned());
        }
    };
    let busy_source = if busy_src == SOURCE_CALLER && idle_src == SOURCE_CALLER {
        SOURCE_CALLER.to_owned()
    } else {
        busy_src.clone()
    };
    note(
        "workers_busy_percent",
        worker_utilization_percent.is_some(),
        &busy_source,
    );
    if let Some(src) = &backlog_source {
        note("backlog_growing", backlog_growing.is_some(), src);
        note("backlog_shape", backlog_shape.is_some(), src);
    }
    note("latency_pattern", pattern.is_some(), pattern_source);
    note("slow_threshold_ms", pattern.is_some(), threshold_src);
    note("dominant_layer", dominant_layer.is_some(), "derived");
    note(
        "head_of_line_endpoint",
        judged.head_of_line.is_some(),
        "derived",
    );
    note(
        "head_of_line_share_percent",
        judged.head_of_line.is_some(),
        "derived",
    );

    let mut report = LatencyReport {
        total_ms: total.map(|t| round(t, 3)),
        layers,
        worker_utilization_percent,
        queue_wait_percent,
        dominant_layer,
        latency_pattern: pattern.map(|(p, _)| p),
        service_time_ms: split.map(|sp| sp.service_ms),
        head_of_line: judged.head_of_line.clone(),
        slow_threshold_ms: pattern.map(|_| judged.threshold_ms),
        slow_threshold_basis: pattern.map(|_| judged.basis),
        endpoints,
        observations,
        access_log,
        workers,
        accept_queue,
        conclusion: Conclusion {
            evidence,
            warnings,
            ..Conclusion::default()
        },
    };
    report.conclusion.verdict = verdict(&report);
    report.conclusion.next_steps = next_steps(&report, &c, input);
    Ok(report)
}

fn verdict(r: &LatencyReport) -> String {
    let Some(top) = r.layers.first().filter(|l| l.ms > 0.0) else {
        return match r.latency_pattern {
            Some(p) => format!("No layer figures given; the endpoints show a {} pattern. Add nginx and app timings to see which layer is slow.", p.as_str().replace('_', "-")),
            None => "Too few figures to break latency down: give at least nginx request and upstream times, or the app's request duration and DB time per request.".to_owned(),
        };
    };
    let share = top
        .percent_of_total
        .map(|p| {
            format!(
                " ({}% of {} ms)",
                fmt_num(p),
                fmt_num(r.total_ms.unwrap_or(0.0))
            )
        })
        .unwrap_or_default();
    let what = match top.layer.as_str() {
        "db" => {
            "the database is where requests spend their time: find the slow queries before touching workers"
        }
        "queue_wait" => {
            "requests wait for a free worker: concurrency is short, so find out whether the workers are slow (latency) or too few (CPU-bound) before adding any"
        }
        "app_code" => {
            "the Python code itself is the slow layer: profile the hot endpoints (serialisation, N+1 loops, CPU work)"
        }
        "external_calls" => {
            "calls to other services dominate: cut, cache, parallelise or move them off the request path"
        }
        "nginx" => {
            "nginx-side time dominates: slow clients, large bodies or buffering, not the app"
        }
        "upstream_connect" => {
            "connecting to the app is slow: the app's accept queue is full, so workers are saturated"
        }
        "app_server" => {
            "the time is spent inside the app server (waiting for a worker, the Python handler and the DB together — nginx cannot tell them apart): add the app's own timings or the DB layer to split it"
        }
        "app_service" => {
            "the workers' own service time (the Python handler and what it waits on: DB, external calls) is the slow layer: find what the slowest routes spend it on"
        }
        _ => "part of the time is not explained by the figures given: add the missing layers",
    };
    let slow: Vec<String> = r
        .endpoints
        .iter()
        .filter(|e| e.slow)
        .take(3)
        .map(|e| match e.share_of_worker_time_percent {
            Some(w) => format!(
                "{} (p99 {} ms, {}% of worker time)",
                e.endpoint,
                fmt_num(e.p99_ms),
                fmt_num(w)
            ),
            None => format!("{} (p99 {} ms)", e.endpoint, fmt_num(e.p99_ms)),
        })
        .collect();
    let long_tail = if slow.is_empty() {
        " A few endpoints are slow while the rest are fine (long tail).".to_owned()
    } else {
        format!(
            " Long tail: {} slow while the rest are fine.",
            slow.join(", ")
        )
    };
    let saturation = match (r.worker_utilization_percent, &r.accept_queue) {
        (Some(u), Some(q)) if q.nonzero_samples > 0 => format!(
            " Workers are {}% busy and up to {} connections wait in the accept queue: requests queue for workers.",
            fmt_num(u),
            fmt_num(q.max)
        ),
        (None, Some(q)) if q.nonzero_samples > 0 => format!(
            " Up to {} connections wait in the accept queue: requests queue for workers.",
            fmt_num(q.max)
        ),
        (Some(u), _) if u >= symptoms::thresholds::WORKERS_SATURATED_PERCENT => {
            format!(" Workers are {}% busy.", fmt_num(u))
        }
        _ => String::new(),
    };
    let healthy = format!(
        " No endpoint is slow against {} ms ({}).",
        fmt_num(r.slow_threshold_ms.unwrap_or(DEFAULT_SLOW_MS)),
        r.slow_threshold_basis
            .map_or("the default", |b| b.describe())
    );
    let pattern = match r.latency_pattern {
        Some(LatencyPattern::LongTail) => long_tail.as_str(),
        Some(LatencyPattern::SystemWide) => {
            " Most traffic is slow (system-wide): adding workers will not help."
        }
        Some(LatencyPattern::Healthy) => healthy.as_str(),
        None => "",
    };
    let lead = match &r.head_of_line {
        Some(h) => format!(
            "Head-of-line blocking: {} holds {}% of the workers' service time with {}% of the requests (mean service {} ms against {} ms for the rest), and every request waits {} ms for a worker behind it. Make that route fast (Step 2); do not add workers or replicas. ",
            h.endpoint,
            fmt_num(h.share_of_service_time_percent),
            fmt_num(h.share_of_requests_percent),
            fmt_num(h.service_ms),
            fmt_num(h.others_service_ms),
            fmt_num(h.queue_wait_ms)
        ),
        None => String::new(),
    };
    format!(
        "{lead}Dominant layer: {}{share} — {what}.{pattern}{saturation}",
        top.layer
    )
}

fn next_steps(r: &LatencyReport, c: &Checked, input: &LatencyInput) -> Vec<NextStep> {
    let mut steps = Vec::new();
    if let Some(h) = &r.head_of_line {
        steps.push(
            NextStep::new(
                format!(
                    "Make {} fast: list the statements it runs and what runs now, then fix the slowest (an index, fewer queries, a cache); do not add workers or replicas meanwhile.",
                    h.endpoint
                ),
                format!(
                    "It holds {}% of the workers' service time; every other route is slow only because it waits {} ms behind it (head-of-line blocking, symptom E).",
                    fmt_num(h.share_of_service_time_percent),
                    fmt_num(h.queue_wait_ms)
                ),
            )
            .with_tool("slow_queries"),
        );
    }
    match r.dominant_layer.as_deref() {
        _ if r.head_of_line.is_some() => {}
        Some("db") => steps.push(NextStep::new("List the slowest and most time-consuming queries, and what runs right now.", "The DB layer dominates; Step 2 is fixing that latency.").with_tool("slow_queries")),
        Some("queue_wait") | Some("upstream_connect") => steps.push(NextStep::new(
            "Compute the ceiling and the queue with the current workers, latency and arrival rate.",
            "Queueing means demand is at the ceiling; the what-if shows whether cutting latency or adding workers moves it.",
        ).with_tool("capacity_math")),
        Some("external_calls") => steps.push(NextStep::new("Find which external calls each slow endpoint makes (APM spans), and cache, batch or move them to a background job.", "External calls hold a worker while waiting.")),
        Some("app_code") => steps.push(NextStep::new("Profile the slowest endpoints (py-spy dump/top on a busy worker).", "Time is spent in Python itself.")),
        Some("app_server") => steps.push(NextStep::new("Measure the DB time of the slowest endpoints' requests, and what runs right now.", "The app server holds the time; the database is the most common reason a handler is slow.").with_tool("slow_queries")),
        Some("app_service") => steps.push(NextStep::new("Find what the slowest routes spend their service time on: their database statements first, then a profile of a busy worker (py-spy dump).", "The workers' own time is the slow layer, not waiting for them.").with_tool("slow_queries")),
        _ => {}
    }
    if r.latency_pattern == Some(LatencyPattern::LongTail) && r.head_of_line.is_none() {
        let slow: Vec<&str> = r
            .endpoints
            .iter()
            .filter(|e| e.slow)
            .take(3)
            .map(|e| e.endpoint.as_str())
            .collect();
        if !slow.is_empty() {
            steps.push(NextStep::new(
                format!("Make {} fast or move its work to a background job; size workers as a buffer for it only meanwhile.", slow.join(", ")),
                "A long tail holds workers that the fast endpoints need (symptom E); fixing it raises the ceiling without new workers.",
            ));
        }
    }
    steps.push(
        NextStep::new("Pass the `observations` object to match_symptom unchanged, with app and DB CPU added if you have them.", "Step 2: the symptom matrix turns these figures into a cause and an action.")
            .with_tool("match_symptom"),
    );
    if c.request.is_none() || c.upstream.is_none() {
        steps.push(NextStep::new(
            "Pass `access_log` {path, log_format} to read nginx's $request_time and $upstream_response_time (add them to the log_format if missing: preset `timed`).",
            "Without them the nginx share and the end-to-end total are unknown.",
        ).with_tool("break_down_latency"));
    }
    if c.db.is_none()
        && !steps
            .iter()
            .any(|s| s.tool.as_deref() == Some("slow_queries"))
    {
        steps.push(
            NextStep::new(
                "Measure DB time per request (APM DB spans, or pg_stat_statements).",
                "The DB layer is unknown, and it is the most common slow layer.",
            )
            .with_tool("slow_queries"),
        );
    }
    if r.worker_utilization_percent.is_none() {
        steps.push(NextStep::new(
            "Read busy and idle workers: pass `gunicorn_metrics_url` (Prometheus gauges) or `uwsgi_stats`, or give figures.gunicorn.",
            "Worker utilisation says whether requests queue for workers.",
        ).with_tool("break_down_latency"));
    }
    if r.accept_queue.is_none() {
        steps.push(NextStep::new(
            "Pass `listen_port` (the port Gunicorn/uWSGI binds) when running on the app's host to read its accept queue.",
            "A non-empty accept queue is direct evidence that requests wait for a free worker; it needs nothing installed.",
        ).with_tool("break_down_latency"));
    }
    if r.endpoints.is_empty() {
        steps.push(NextStep::new(
            "Add per-endpoint latency: pass `access_log`, or `endpoints` from Sentry's performance view or APM.",
            "They decide long tail (E) against system-wide (F).",
        ));
    }
    if input.figures.db.cpu_percent.is_none() && input.rds_instance.is_none() {
        steps.push(NextStep::new(
            "Give the database's CPU for the same window as figures.db.cpu_percent: on AWS RDS, name the instance in `rds_instance` (check_rds_iops reads CPU and storage); elsewhere, the database host's own CPU (top, node exporter).",
            "Low DB CPU with queueing points at storage (symptom B); high DB CPU at the queries (C/D).",
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(req: f64, up: f64, dur: f64, queue: f64, db: f64) -> LatencyInput {
        LatencyInput {
            figures: Figures {
                nginx: NginxFigures {
                    request_time_ms: Some(req),
                    upstream_response_time_ms: Some(up),
                    upstream_connect_time_ms: None,
                },
                app: AppFigures {
                    request_duration_ms: Some(dur),
                    queue_wait_ms: Some(queue),
                    external_calls_ms: None,
                },
                db: DbFigures {
                    query_latency_ms: Some(db),
                    ..Default::default()
                },
                ..Default::default()
            },
            endpoints: vec![],
            slow_threshold_ms: Some(DEFAULT_SLOW_MS),
            ..Default::default()
        }
    }

    #[test]
    fn endpoint_request_counts_near_u64_max_do_not_overflow() {
        // Found by tests/fuzz: `endpoints` with u64::MAX and 1 requests panicked while the
        // shares of requests were computed.
        let ep = |requests| EndpointLatency {
            endpoint: format!("GET /{requests}"),
            requests,
            p50_ms: 1.0,
            p99_ms: 2.0,
            service_ms: Some(1.0),
        };
        let input = LatencyInput {
            endpoints: vec![ep(u64::MAX), ep(1)],
            ..Default::default()
        };
        let r = analyze(&input).unwrap();
        assert_eq!(r.endpoints.len(), 2);
        assert_eq!(r.endpoints[0].requests, u64::MAX);
        assert!(
            r.endpoints
                .iter()
                .all(|e| e.share_of_requests_percent <= 100.0)
        );
    }

    #[test]
    fn db_dominates_and_shares_add_up() {
        let r = analyze(&figures(1200.0, 1150.0, 1100.0, 50.0, 900.0)).unwrap();
        assert_eq!(r.dominant_layer.as_deref(), Some("db"));
        let get = |name: &str| r.layers.iter().find(|l| l.layer == name).map(|l| l.ms);
        assert_eq!(get("nginx"), Some(50.0));
        assert_eq!(get("queue_wait"), Some(50.0));
        assert_eq!(get("app_code"), Some(200.0));
        assert_eq!(get("db"), Some(900.0));
        let total: f64 = r.layers.iter().filter_map(|l| l.percent_of_total).sum();
        assert!((total - 100.0).abs() < 0.05, "{total}");
        assert_eq!(r.queue_wait_percent, Some(4.17));
        assert!(
            r.conclusion.warnings.is_empty(),
            "{:?}",
            r.conclusion.warnings
        );
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("slow_queries")
        );
    }

    #[test]
    fn upstream_longer_than_request_is_flagged() {
        let r = analyze(&figures(100.0, 300.0, 90.0, 0.0, 10.0)).unwrap();
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("larger than request_time_ms")),
            "{:?}",
            r.conclusion.warnings
        );
        assert!(r.layers.iter().all(|l| l.ms >= 0.0));
    }

    #[test]
    fn db_longer_than_request_is_flagged() {
        let r = analyze(&figures(1000.0, 990.0, 500.0, 0.0, 800.0)).unwrap();
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("exceeds the request duration")),
            "{:?}",
            r.conclusion.warnings
        );
        assert_eq!(
            r.layers.iter().find(|l| l.layer == "app_code").unwrap().ms,
            0.0
        );
    }

    #[test]
    fn queue_wait_is_derived_when_not_given() {
        let mut i = figures(2000.0, 1950.0, 450.0, 0.0, 300.0);
        i.figures.app.queue_wait_ms = None;
        i.figures.gunicorn = GunicornFigures {
            idle_workers: Some(0.0),
            busy_workers: Some(8.0),
        };
        let r = analyze(&i).unwrap();
        assert_eq!(r.dominant_layer.as_deref(), Some("queue_wait"));
        assert_eq!(r.worker_utilization_percent, Some(100.0));
        assert_eq!(r.observations.workers_busy_percent, Some(100.0));
        assert_eq!(r.layers[0].source, "derived");
    }

    #[test]
    fn per_query_latency_times_queries() {
        let mut i = figures(1000.0, 990.0, 980.0, 0.0, 20.0);
        i.figures.db.queries_per_request = Some(40.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.layers.iter().find(|l| l.layer == "db").unwrap().ms, 800.0);
    }

    #[test]
    fn observations_feed_match_symptom() {
        let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
        i.endpoints = vec![
            EndpointLatency {
                endpoint: "GET /a".into(),
                requests: 1000,
                p50_ms: 900.0,
                p99_ms: 3000.0,
                service_ms: None,
            },
            EndpointLatency {
                endpoint: "GET /b".into(),
                requests: 900,
                p50_ms: 800.0,
                p99_ms: 2500.0,
                service_ms: None,
            },
        ];
        let r = analyze(&i).unwrap();
        assert_eq!(r.latency_pattern, Some(LatencyPattern::SystemWide));
        let m = symptoms::analyze(&symptoms::MatchInput {
            observations: r.observations,
        })
        .unwrap();
        assert_eq!(m.matches[0].symptom, "F");
    }

    #[test]
    fn nothing_given_says_what_to_collect() {
        let r = analyze(&LatencyInput {
            slow_threshold_ms: Some(1000.0),
            ..Default::default()
        })
        .unwrap();
        assert!(r.layers.is_empty());
        assert!(r.conclusion.verdict.starts_with("Too few figures"));
        assert!(r.dominant_layer.is_none());
    }

    #[test]
    fn negative_figures_are_errors() {
        let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
        i.figures.nginx.request_time_ms = Some(-1.0);
        assert_eq!(
            analyze(&i).unwrap_err().field,
            "figures.nginx.request_time_ms"
        );
    }

    fn measured_log() -> (String, AccessLogData) {
        use crate::diagnosis::access_log::{LogOptions, LogStats};
        use crate::diagnosis::nginx_format::LogFormat;
        let format =
            LogFormat::compile("$status $request_time $upstream_response_time \"$request\"")
                .unwrap();
        let options = LogOptions::default();
        let mut stats = LogStats::new(&format, &options);
        for i in 0..200u64 {
            let line = if i % 20 == 0 {
                format!(
                    "200 2.{:03} 2.000 \"GET /api/report/{i} HTTP/1.1\"",
                    i % 100
                )
            } else {
                format!(
                    "200 0.0{:02} 0.010 \"GET /api/items/{i} HTTP/1.1\"",
                    10 + i % 50
                )
            };
            stats.add_line(line.as_bytes(), i + 1);
        }
        stats.add_line(b"not a line", 201);
        let file = stats.file_data("access.log", 0, false);
        let err = stats
            .first_error
            .clone()
            .map(|e| ("access.log".to_owned(), e));
        ("nginx:access.log".to_owned(), stats.finish(vec![file], err))
    }

    #[test]
    fn sources_fill_layers_endpoints_workers_and_backlog() {
        let m = Measured {
            access_log: Some(measured_log()),
            workers: Some(WorkerSamples {
                source: "prometheus:http://x/metrics".into(),
                samples: vec![
                    WorkerSample {
                        busy: 4.0,
                        idle: 0.0,
                        queue: None,
                    },
                    WorkerSample {
                        busy: 3.0,
                        idle: 1.0,
                        queue: None,
                    },
                ],
            }),
            queue: Some(QueueSamples {
                source: "proc:/proc/net/tcp:8000".into(),
                samples: vec![0.0, 5.0, 7.0],
            }),
        };
        let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
        assert_eq!(r.endpoints[0].endpoint, "GET /api/report/{id}");
        assert_eq!(r.endpoints[0].requests, 10);
        assert!(r.endpoints[0].slow);
        assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
        assert_eq!(r.worker_utilization_percent, Some(87.5));
        assert_eq!(r.observations.backlog_growing, Some(true));
        assert_eq!(r.accept_queue.as_ref().unwrap().max, 7.0);
        assert_eq!(r.dominant_layer.as_deref(), Some("app_server"));
        let a = r.access_log.as_ref().unwrap();
        assert_eq!((a.parsed_lines, a.unparsed_lines), (200, 1));
        assert!(a.first_unparsed.as_deref().unwrap().contains("line 201"));
        assert!(
            r.conclusion.verdict.contains("GET /api/report/{id}"),
            "{}",
            r.conclusion.verdict
        );
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("1 of 201 lines")),
            "{:?}",
            r.conclusion.warnings
        );
        let w = r
            .endpoints
            .iter()
            .map(|e| e.share_of_worker_time_percent.unwrap())
            .sum::<f64>();
        assert!((w - 100.0).abs() < 0.1, "{w}");
        // The caller's figure wins over the measured one, with a warning when they differ.
        let mut input = LatencyInput::default();
        input.figures.gunicorn.busy_workers = Some(1.0);
        input.figures.gunicorn.idle_workers = Some(3.0);
        let r = analyze_measured(&input, &m).unwrap();
        assert_eq!(r.worker_utilization_percent, Some(25.0));
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("busy_workers"))
        );
    }

    /// A live incident in miniature: 4 sync workers all busy at 100 rps; one route (15 % of
    /// requests) takes 250 ms of service, the rest 4 ms, and every request waits ~131 ms in
    /// the backlog behind it.
    fn head_of_line_incident() -> Measured {
        use crate::diagnosis::access_log::{LogOptions, LogStats};
        use crate::diagnosis::nginx_format::LogFormat;
        let format =
            LogFormat::compile("$msec $status $request_time $upstream_response_time \"$request\"")
                .unwrap();
        let options = LogOptions::default();
        let mut stats = LogStats::new(&format, &options);
        let queue = 0.1309;
        for i in 0..1000u64 {
            let t = 1_700_000_000.0 + i as f64 * 0.01;
            let (path, service) = if i % 20 < 3 {
                (format!("/api/customers/{i}/orders"), 0.250)
            } else if i % 2 == 0 {
                (format!("/api/items/{i}"), 0.004)
            } else {
                ("/api/health".to_owned(), 0.004)
            };
            let up = queue + service;
            let line = format!(
                "{t:.3} 200 {:.3} {up:.3} \"GET {path} HTTP/1.1\"",
                up + 0.001
            );
            stats.add_line(line.as_bytes(), i + 1);
        }
        let file = stats.file_data("access.log", 0, false);
        let busy = |b: f64| WorkerSample {
            busy: b,
            idle: 4.0 - b,
            queue: None,
        };
        Measured {
            access_log: Some((
                "nginx:access.log".to_owned(),
                stats.finish(vec![file], None),
            )),
            workers: Some(WorkerSamples {
                source: "prometheus:http://127.0.0.1:9100/metrics".into(),
                samples: vec![busy(4.0), busy(4.0), busy(4.0), busy(4.0)],
            }),
            queue: Some(QueueSamples {
                source: "proc:/proc/net/tcp:8000".into(),
                samples: vec![13.0, 12.0, 14.0, 13.0],
            }),
        }
    }

    #[test]
    fn head_of_line_blocking_is_named_and_the_queue_split_from_service() {
        let m = head_of_line_incident();
        let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
        let layer = |name: &str| r.layers.iter().find(|l| l.layer == name).map(|l| l.ms);
        // 4 busy workers ÷ ~100 rps = ~40 ms of service; the rest of ~171 ms is the queue.
        let service = r.service_time_ms.unwrap();
        assert!((service - 40.0).abs() < 2.0, "{service}");
        let q = layer("queue_wait").unwrap();
        assert!((q - 131.0).abs() < 4.0, "{q} {:?}", r.layers);
        assert!(layer("app_service").is_some() && layer("app_server").is_none());
        assert_eq!(r.dominant_layer.as_deref(), Some("queue_wait"));
        let h = r
            .head_of_line
            .as_ref()
            .expect("head-of-line blocking found");
        assert_eq!(h.endpoint, "GET /api/customers/{id}/orders");
        assert!(h.share_of_service_time_percent > 85.0, "{h:?}");
        assert!((h.service_ms - 250.0).abs() < 5.0, "{h:?}");
        // Worker time is service time: the slow route's share, not its share of request time.
        let slow = &r.endpoints[0];
        assert_eq!(slow.endpoint, h.endpoint);
        assert!(
            slow.share_of_worker_time_percent.unwrap() > 85.0,
            "{slow:?}"
        );
        assert!(slow.slow);
        assert!(
            r.endpoints[1..].iter().all(|e| !e.slow),
            "{:?}",
            r.endpoints
        );
        assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
        assert_eq!(r.slow_threshold_basis, Some(ThresholdBasis::Relative));
        assert!(r.conclusion.verdict.starts_with("Head-of-line blocking"));
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("slow_queries")
        );
        assert!(r.conclusion.next_steps[0].action.contains(&h.endpoint));
        // The observations carry the judgement to match_symptom, which agrees.
        let o = &r.observations;
        assert_eq!(
            o.head_of_line_endpoint.as_deref(),
            Some(h.endpoint.as_str())
        );
        assert_eq!(o.slow_metric, Some(SlowMetric::ServiceMs));
        // A queue that sits full is steady, not growing; the sources travel with the figures.
        assert_eq!(o.backlog_shape, Some(BacklogShape::Steady));
        assert_eq!(o.backlog_growing, Some(false));
        assert_eq!(
            o.sources.get("workers_busy_percent").map(String::as_str),
            Some("prometheus:http://127.0.0.1:9100/metrics")
        );
        assert_eq!(
            o.sources.get("backlog_shape").map(String::as_str),
            Some("proc:/proc/net/tcp:8000")
        );
        let matched = symptoms::analyze(&symptoms::MatchInput {
            observations: o.clone(),
        })
        .unwrap();
        assert_eq!(matched.matches[0].symptom, "E", "{:?}", matched.matches);
        let step = &matched.conclusion.next_steps[0];
        assert!(step.action.contains(&h.endpoint), "{step:?}");
        assert!(
            !step.action.to_lowercase().contains("add replicas"),
            "{step:?}"
        );
        if let Some(a) = matched.matches.iter().find(|m| m.symptom == "A") {
            assert!(
                a.evidence_against.iter().any(|e| e.contains(&h.endpoint)),
                "{a:?}"
            );
        }
        // Without worker state the upstream time stays one layer, and says so.
        let mut bare = head_of_line_incident();
        bare.workers = None;
        bare.queue = None;
        let r = analyze_measured(&LatencyInput::default(), &bare).unwrap();
        assert!(r.head_of_line.is_none() && r.service_time_ms.is_none());
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("includes any wait")),
            "{:?}",
            r.conclusion.warnings
        );
        // A baseline judges against the service's own normal.
        let input = LatencyInput {
            baseline: Some(Baseline { p99_ms: 20.0 }),
            ..LatencyInput::default()
        };
        let r = analyze_measured(&input, &head_of_line_incident()).unwrap();
        assert_eq!(r.slow_threshold_ms, Some(60.0));
        assert_eq!(r.latency_pattern, Some(LatencyPattern::SystemWide));
    }

    #[test]
    fn a_log_that_matches_nothing_is_an_error() {
        use crate::diagnosis::access_log::{LogOptions, LogStats};
        use crate::diagnosis::nginx_format::LogFormat;
        let format = LogFormat::compile("timed").unwrap();
        let options = LogOptions::default();
        let mut stats = LogStats::new(&format, &options);
        stats.add_line(b"{\"json\": true}", 1);
        let err = stats.first_error.clone().map(|e| ("a.log".to_owned(), e));
        let data = stats.finish(vec![], err);
        let e = analyze_measured(
            &LatencyInput::default(),
            &Measured {
                access_log: Some(("nginx:a.log".into(), data)),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field, "access_log.log_format");
        assert!(e.message.contains("a.log line 1, byte 1"), "{e}");
    }

    #[test]
    fn empty_queue_and_idle_workers_say_no_backlog() {
        let m = Measured {
            queue: Some(QueueSamples {
                source: "proc".into(),
                samples: vec![0.0, 0.0],
            }),
            ..Default::default()
        };
        let r = analyze_measured(&LatencyInput::default(), &m).unwrap();
        assert_eq!(r.observations.backlog_growing, Some(false));
    }
}
