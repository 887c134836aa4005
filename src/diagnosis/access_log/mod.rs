//! Per-endpoint statistics from access-log lines: route templates, percentiles, errors and
//! the worker time each endpoint consumes.
//!
//! Lines are fed one at a time to a [`LogStats`] (the adapter reads the files, possibly on
//! several threads, each with its own `LogStats`, merged at the end); nothing here does I/O.
//! Memory is bounded by the number of distinct routes, never by the number of lines.
//!
//! ## Route templates
//! Paths are folded into routes the way Sentry names transactions, method included:
//! `GET /api/orders/12345?page=2` → `GET /api/orders/{id}`. A path segment becomes
//! - `{id}` when it is all digits;
//! - `{uuid}` when it is a UUID (8-4-4-4-12 hex digits);
//! - `{hash}` when it is 16 or more hex digits with at least one digit (commit ids, digests);
//! - `{token}` when it is 20 or more characters of letters, digits, `-` and `_` that mix
//!   letters and digits (API keys, signed ids, base64 slugs).
//!
//! Operator-supplied templates (`/users/{name}/profile`, `/static/{*path}`) are tried first:
//! `{x}` matches one segment, `{*x}` the rest of the path. The query string is dropped.
//! Past [`LogOptions::max_routes`] distinct routes (scanners probing random paths), further
//! new routes are counted under `OTHER (route limit reached)` and a warning says so.
//!
//! ## Percentiles
//! Per endpoint, latency is kept exactly (every value) up to [`EXACT_SAMPLES`] requests,
//! then in an HDR histogram with 3 significant digits (relative error ≤ 0.1 %, far inside
//! the 1 % asked of it) from 1 ms to 1 hour; nginx times have millisecond resolution, so
//! values under 2048 ms are exact in both. p50/p95/p99 are the nearest-rank percentiles.
//! Latency is `$request_time` (what the client waited) when the format records it, else
//! `$upstream_response_time`.
//!
//! ## Worker time
//! `worker_seconds` is the sum of `$upstream_response_time` over the endpoint's requests:
//! the time a Gunicorn/uWSGI worker was held for it (including time in the accept queue,
//! which nginx cannot tell apart). Its share of the total is the share of the fleet's
//! capacity the endpoint consumes. `error_percent` counts responses with status ≥ 500.
//!
//! ## Where it lives
//! - [`RouteTemplate`] and [`route_into`]: route templates and the automatic folding;
//! - [`LogStats`]: the lines read into per-route accumulators, merged across parts;
//! - the percentiles of one endpoint, and the ring of the log's last seconds;
//! - [`AccessLogData`]: what the files said, owned.

mod data;
mod recent;
mod routes;
mod samples;
mod stats;
#[cfg(test)]
mod tests;

pub use data::{AccessLogData, FileData, RouteFigures};
pub use recent::{RECENT_SECONDS, SecondCounts};
pub use routes::{RouteTemplate, route_into};
pub use stats::{FirstError, LogStats, Sums};

/// Requests per endpoint kept as exact values before switching to a histogram.
pub const EXACT_SAMPLES: usize = 512;

/// Highest latency recorded in a histogram, ms (one hour); longer values are clamped.
pub const MAX_TRACKED_MS: u64 = 3_600_000;

/// The route name used once the route limit is reached.
pub const OTHER_ROUTES: &str = "OTHER (route limit reached)";

/// How lines are read and grouped.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Keep only requests at or after this Unix time.
    pub since: Option<i64>,
    /// Keep only requests before this Unix time.
    pub until: Option<i64>,
    /// Operator-supplied route templates, tried before the automatic folding.
    pub templates: Vec<RouteTemplate>,
    /// Most distinct routes kept.
    pub max_routes: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            templates: Vec::new(),
            max_routes: 2000,
        }
    }
}
