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
//!
//! ## Where it lives
//! - [`LatencyInput`]: what the tool takes; [`check`] validates it once into a
//!   [`LatencyCheck`] (with a [`LogPlan`] when an access log is named);
//! - [`Measured`]: what the sources read;
//! - [`analyze`] / [`analyze_measured`]: the breakdown, as named steps — the access log,
//!   worker state and the backlog, the layers, the queue/service split, the endpoints, the
//!   observations and the conclusion, a file each;
//! - [`LatencyReport`]: what the tool answers.

mod analysis;
mod check;
mod conclusion;
mod endpoints;
mod focus;
mod input;
mod layers;
mod log;
mod measured;
mod observations;
mod report;
mod sampled;
mod split;
#[cfg(test)]
mod tests;

pub use analysis::{analyze, analyze_measured};
pub use check::{DEFAULT_FLEET_WINDOW_SECS, FleetPlan, LatencyCheck, LogPlan, check};
pub use focus::Focus;
pub use input::{
    AccessLogInput, AppFigures, Baseline, DbFigures, Figures, GunicornFigures, LatencyInput,
    NginxFigures, OneOrMany, PrometheusInput, WorkerMetrics,
};
pub use measured::{Measured, QueueSamples, WorkerSample, WorkerSamples};
pub use report::{
    AccessLogReport, EndpointStats, LatencyReport, Layer, LogFileReport, QueueReport, WorkerReport,
};
