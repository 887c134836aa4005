//! What break_down_latency takes: the figures a caller already has, the endpoints it knows,
//! what "slow" means for the service, and the sources on this host to read (an nginx access
//! log, worker state, the accept queue). Deserialised by the front ends, checked once by
//! [`super::check`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::load_balancer::LoadBalancerRef;
use crate::diagnosis::storage::RdsInstanceRef;
use crate::diagnosis::symptoms::EndpointLatency;

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
    /// A Sentry transaction or route to focus on, e.g. `GET /orders/{id}`. It is found
    /// among every route measured (Flask and Django spellings too) and the answer leads with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
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
    pub rds_instance: Option<RdsInstanceRef>,
    /// An ALB or Classic ELB: its CloudWatch latency, 5xx and surge queue join the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_load_balancer: Option<LoadBalancerRef>,
    /// Read nginx access logs on this host: the nginx layers, per-endpoint percentiles,
    /// errors and worker time. Needs the site's `log_format`.
    #[serde(default)]
    pub access_log: Option<AccessLogInput>,
    /// URL of the Gunicorn worker gauges in Prometheus text (http only). For example
    /// `http://127.0.0.1:9100/metrics`; sampled `samples` times.
    #[serde(default)]
    pub gunicorn_metrics_url: Option<String>,
    /// Which series of `gunicorn_metrics_url` hold busy/idle workers; the defaults cover
    /// `gunicorn_workers{state="idle"|"working"}` and the uWSGI exporter.
    #[serde(default)]
    pub worker_metrics: Option<WorkerMetrics>,
    /// uWSGI's `--stats` address: HOST:PORT, socket or http:// URL. With
    /// `--stats-http` it is `http://HOST:PORT`; sampled `samples` times.
    #[serde(default)]
    pub uwsgi_stats: Option<String>,
    /// The app server's port (not nginx's): its accept queue is sampled. It is read from
    /// /proc/net/tcp on this host, `samples` times; needs nothing installed.
    #[serde(default)]
    pub listen_port: Option<u16>,
    /// Read the fleet from a Prometheus engine the operator configured: per-route
    /// percentiles, errors and worker time, and worker state per replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusInput>,
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
            endpoint: None,
            slow_threshold_ms: None,
            baseline: None,
            access_log: None,
            gunicorn_metrics_url: None,
            worker_metrics: None,
            uwsgi_stats: None,
            listen_port: None,
            prometheus: None,
            samples: default_samples(),
            sample_interval_ms: default_interval_ms(),
            rds_instance: None,
            aws_load_balancer: None,
        }
    }
}

/// A fleet in a Prometheus engine.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schemars(inline)]
pub struct PrometheusInput {
    /// The engine's configured name (default `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Label matchers of the service, e.g. `{job="shop-api"}`.
    pub selector: String,
    // The window's ends take what access_log's do; left out, the last 15 minutes. (Not a
    // doc comment: the tool's description says it, within the tool list's budget.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
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
    /// nginx.conf's own `log_format`, or a preset: combined, main, timed. The directive as
    /// written (`log_format main '$remote_addr ... $request_time ...';`, `escape=json` included),
    /// only its format string, or a preset: `combined` (nginx's default, no timings),
    /// `main`, or `timed` (combined + `rt=$request_time uct="$upstream_connect_time"
    /// uht="$upstream_header_time" urt="$upstream_response_time"`). Default `combined`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// From: an RFC 3339 time or a period before now (`15m`, `24h`, `7d`). For example
    /// `2024-05-01T12:00:00Z`; only requests at or after it are read.
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
