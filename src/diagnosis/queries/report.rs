//! The slow_queries report: [`SlowQueriesReport`] and its parts. The doc comments here are
//! the tool's output schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::advice::FullScan;
use super::input::OrderBy;
use super::snapshot::Engine;
use crate::diagnosis::Conclusion;
use crate::diagnosis::bound::Lists;
use crate::diagnosis::symptoms::Observations;

/// What takes the database's time, what runs now, and what that points at.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SlowQueriesReport {
    /// The configured target that was read.
    pub target: String,
    /// `postgresql`, `mysql` or `mariadb`.
    pub engine: Engine,
    /// The server's version string.
    pub server_version: String,
    /// `cumulative` (since the statistics were last reset) or `sampled` (two snapshots
    /// `sample_seconds` apart).
    pub mode: String,
    /// The snapshot interval in sampled mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_seconds: Option<f64>,
    /// The ranking used.
    pub order_by: OrderBy,
    /// Where the statement figures came from, or `unavailable`.
    pub statements_source: String,
    /// When the statement statistics were last reset (cumulative mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats_since: Option<String>,
    /// Whether IO time is measured (`track_io_timing`); absent when the engine has no such
    /// figure per statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_timing_enabled: Option<bool>,
    /// Top statements in the chosen order; literals replaced by `?`.
    pub statements: Vec<StatementReport>,
    /// Statements this database ran in the window (ids of one text counted once), before
    /// `limit` and `min_mean_ms`.
    pub statements_considered: u64,
    /// Sum of statement execution time in the window, ms.
    pub db_time_ms: f64,
    /// Statements running (or transactions open) longer than `running_min_seconds`,
    /// oldest first.
    pub running: Vec<RunningQuery>,
    /// Read vs write share of statement time.
    pub workload: Workload,
    /// Non-idle sessions counted by what they wait on (`CPU` = running, no wait).
    pub waits: Vec<WaitCount>,
    /// Sessions waiting for a lock another session holds.
    pub blocked_sessions: u64,
    /// What the figures point at in the symptom matrix: C (read-heavy, with the primary's
    /// CPU high) or D (write-heavy with CPU high, or lock contention).
    pub hints: Vec<Hint>,
    /// Ready to pass to match_symptom as `{"observations": ...}` (merge with what else you know).
    pub observations: Observations,
    /// How `query_text` matched the server's statements (only when it was given): the
    /// listed statements are the matching ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_match: Option<QueryMatch>,
    /// How the long lists were bounded (`statements`, `running`): `total`, `returned`,
    /// `truncated`.
    #[serde(default, skip_serializing_if = "Lists::is_empty")]
    pub lists: Lists,
    /// Whether any list was cut to its bound or any query text was shortened.
    pub truncated: bool,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One statement.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StatementReport {
    /// Normalised text with literals replaced by `?` (cut at 1000 characters).
    pub query: String,
    /// Statistics ids (queryids, digests) merged into this statement because their text is
    /// the same (e.g. one queryid per parameter type); 1 when not merged.
    pub query_ids: u64,
    pub calls: u64,
    /// Mean execution time per call, ms.
    pub mean_ms: f64,
    /// Total execution time, ms.
    pub total_ms: f64,
    /// Share of the database's statement time, 0–100.
    pub percent_of_db_time: f64,
    /// Rows returned or affected.
    pub rows: u64,
    /// `read`, `write` or `other` (`unknown` only when the statement left the statistics
    /// before its text could be read).
    pub kind: String,
    /// Time reading and writing blocks, ms (when the engine measures it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_time_ms: Option<f64>,
    /// Planning time, ms (PostgreSQL 13+ with pg_stat_statements.track_planning on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_ms: Option<f64>,
    /// Shared buffer hits (block found in cache).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_blks_hit: Option<u64>,
    /// Shared blocks read from disk or the OS cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_blks_read: Option<u64>,
    /// Set when it reads far more than it returns on every call (≥ 100 blocks per row and
    /// ≥ 1,000 per call; MySQL: ≥ 100 rows examined per row, no index used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_scan: Option<FullScan>,
}

/// A live statement or open transaction.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct RunningQuery {
    /// Backend pid (PostgreSQL) or connection id (MySQL).
    pub pid: i64,
    /// How long the statement (or, when idle in transaction, the transaction) has run.
    pub seconds: f64,
    /// `active`, `idle in transaction`, ... (PostgreSQL) or the command/state (MySQL).
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_event_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_event: Option<String>,
    /// The statement with literals redacted (cut at 1000 characters).
    pub query: String,
    /// Sessions holding the lock this one waits for.
    pub blocked_by: Vec<i64>,
}

/// Read vs write share of statement time. The three shares add up to `classified_percent`
/// (100 unless some statements could not be classified).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Workload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_percent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_percent: Option<f64>,
    /// Transaction control, DDL, SET and the like.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_percent: Option<f64>,
    /// Statements whose kind is known, of `statements_considered`.
    pub statements_classified: u64,
    /// Share of database time those statements take, 0–100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classified_percent: Option<f64>,
}

/// How many sessions wait on one kind of thing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WaitCount {
    /// `IO`, `Lock`, `LWLock`, `Client`, `IPC`, `Timeout`, `CPU`, ...
    pub wait_event_type: String,
    pub sessions: u64,
}

/// A pointer into the symptom matrix, given only with the evidence the matrix asks for
/// (C: reads dominate and the primary's CPU is high; D: writes dominate with CPU high, or
/// lock contention).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Hint {
    /// `C` or `D`.
    pub symptom: String,
    pub reason: String,
}

/// How a `query_text` matched the server's statements.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct QueryMatch {
    /// Statements (ids of one text counted once) whose text is the given statement and that
    /// ran in the window, before `limit` and `min_mean_ms`. 0: none matches.
    pub matched: u64,
    /// The statistics ids (queryids, digests) behind them.
    pub query_ids: u64,
    /// Of `matched`, those alike only as far as a cut text goes: the given text ended with
    /// `...` (cut by Sentry), or the server cut the statement's text (MySQL's digest text at
    /// performance_schema_max_digest_length).
    pub matched_on_prefix: u64,
    /// Their share of the database's statement time, 0–100.
    pub percent_of_db_time: f64,
    /// Statements whose text could not be compared: it left the statistics before it could
    /// be read, a PostgreSQL text is longer than 4 KiB with more than lists of values in the
    /// rest, or the given text was cut and PostgreSQL's statements compare only whole.
    pub not_compared: u64,
    /// The given text as compared: names unquoted and in lower case, values `?`, lists of
    /// values `(?)` (cut at 1000 characters).
    pub compared_as: String,
}
