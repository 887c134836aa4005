//! What a set of log files said, owned: the adapter's result and the core's input — the
//! counts of each file and of all, the totals, the last seconds and every route's figures.

use super::recent::SecondCounts;
use super::stats::{FirstError, Sums};

/// What a set of log files said, owned: the adapter's result, the core's input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessLogData {
    /// One entry per file read, in the order given.
    pub files: Vec<FileData>,
    pub lines: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub outside_window: u64,
    /// The first line of any file that did not match: file, line, divergence.
    pub first_error: Option<(String, FirstError)>,
    pub sums: Sums,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Requests per second for the last [`RECENT_SECONDS`](super::RECENT_SECONDS) seconds up
    /// to `last_ts`, oldest first: the current throughput, to set against worker state
    /// sampled now.
    pub recent_per_second: Vec<(i64, SecondCounts)>,
    pub routes_overflowed: u64,
    pub endpoints: Vec<RouteFigures>,
    /// Which timings the format records.
    pub has_request_time: bool,
    pub has_upstream_time: bool,
    pub has_connect_time: bool,
    pub has_status: bool,
    /// The `since` / `until` bounds applied, Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The counts of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileData {
    pub path: String,
    pub bytes: u64,
    pub gzip: bool,
    pub lines: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub outside_window: u64,
}

/// The figures of one route, before shares are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteFigures {
    pub endpoint: String,
    pub requests: u64,
    /// Requests that had a latency value.
    pub timed: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Responses with status ≥ 500.
    pub errors: u64,
    /// Sum of upstream time, ms; `None` when the format has no `$upstream_response_time`.
    pub worker_ms: Option<u64>,
}
