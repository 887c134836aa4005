//! What an adapter reads from one server in one call, as plain data: a [`Snapshot`] of
//! statement counters ([`StatementRow`]) and live sessions ([`Session`]), and [`delta`],
//! which turns two snapshots into what ran in between (what is slow *now*).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::advice::RdsEndpoint;
use super::merge::aggregate;
use crate::diagnosis::NextStep;
use crate::diagnosis::sql::{Dialect, StatementKind};

/// The database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Engine {
    Postgresql,
    Mysql,
    Mariadb,
}

impl Engine {
    pub fn dialect(self) -> Dialect {
        match self {
            Engine::Postgresql => Dialect::Postgres,
            Engine::Mysql | Engine::Mariadb => Dialect::MySql,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgresql => "postgresql",
            Engine::Mysql => "mysql",
            Engine::Mariadb => "mariadb",
        }
    }

    /// The prefix of the sources this engine's figures come from.
    pub(super) fn prefix(self) -> &'static str {
        match self {
            Engine::Postgresql => "postgres",
            Engine::Mysql | Engine::Mariadb => "mysql",
        }
    }
}

/// Everything an adapter read from one server in one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub engine: Engine,
    pub server_version: String,
    /// The statement statistics, or why they could not be read.
    pub statements: Statements,
    /// Non-idle sessions of this database other than our own, or why they could not be read.
    pub sessions: Result<Vec<Session>, String>,
    /// Caveats the adapter found (privileges, disabled instruments).
    pub notes: Vec<String>,
    /// Steps that fix those caveats, each with the exact statement to run.
    pub fixes: Vec<NextStep>,
    /// The RDS endpoint the target's host names, if it is one (set from the configured
    /// host, not read from the server): where the primary's CPU can be read.
    pub rds: Option<RdsEndpoint>,
}

/// Statement statistics as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Statements {
    Available(StatementStats),
    /// Not readable: what is wrong (the fix goes in [`Snapshot::fixes`]).
    Unavailable(String),
}

/// The statistics view's rows for this database, plus what is known about them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementStats {
    /// `postgres:pg_stat_statements` or `mysql:performance_schema.events_statements_summary_by_digest`.
    pub source: String,
    pub rows: Vec<StatementRow>,
    /// When the statistics were last reset, as the server prints it.
    pub stats_since: Option<String>,
    /// Their age in seconds.
    pub stats_age_seconds: Option<f64>,
    /// Whether block IO time is measured (`track_io_timing`); `None` when the view has none.
    pub io_timing: Option<bool>,
    /// Rows hidden from this role (`<insufficient privilege>`).
    pub hidden_rows: u64,
    /// What the rows were limited to, when not the whole server (e.g. "schema `shop`"), for
    /// a report that finds nothing to say where it looked.
    pub scope: Option<String>,
}

/// What an adapter knows about a statement's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowKind {
    /// Classify it from [`StatementRow::query`] (which holds the full text).
    #[default]
    FromText,
    /// Known without the text at hand (remembered from an earlier read).
    Known(StatementKind),
    /// Not known: the statement left the statistics before its text could be read.
    Unknown,
}

/// What an adapter knows about how a statement's text compares with a `query_text`
/// ([`crate::diagnosis::sql::MatchForm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowMatch {
    /// Compare [`StatementRow::query`], which holds the text as the server keeps it.
    #[default]
    FromText,
    /// Compare [`StatementRow::query`], which the server may have cut short (MySQL's digest
    /// text at performance_schema_max_digest_length, with no mark where it was cut): alike
    /// whole, or as far as it goes.
    FromTextMaybeCut,
    /// The key of the whole text ([`crate::diagnosis::sql::match_key`]), from an adapter
    /// that does not pass every statement's text.
    Key(u64),
    /// Not known: the text left the statistics before it could be read, or is too long to
    /// have been read whole.
    Unknown,
}

/// One statement's counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatementRow {
    /// A stable key across snapshots (queryid, digest).
    pub id: String,
    /// The text; may be empty for a statement that is not listed when `kind` is known.
    pub query: String,
    pub kind: RowKind,
    pub calls: f64,
    pub total_ms: f64,
    pub rows: f64,
    pub io_ms: Option<f64>,
    pub plan_ms: Option<f64>,
    pub shared_blks_hit: Option<f64>,
    pub shared_blks_read: Option<f64>,
    /// Rows the server examined (MySQL/MariaDB digests).
    pub rows_examined: Option<f64>,
    /// Executions that used no index, or no good one (MySQL/MariaDB digests).
    pub no_index_used: Option<f64>,
    /// The statement's key as a person reads it ([`crate::diagnosis::sql::statement_key`] of its whole text),
    /// from an adapter that does not pass every statement's text; computed from `query`
    /// when absent.
    pub text_key: Option<u64>,
    /// How its text compares with a `query_text`.
    pub match_key: RowMatch,
}

/// A statement's counters for a test: `calls` calls taking `total_ms`, a row per call, a
/// tenth of the time in IO, 100 blocks found in cache and one read per call.
#[cfg(test)]
pub(super) fn test_row(id: &str, query: &str, calls: f64, total_ms: f64) -> StatementRow {
    StatementRow {
        id: id.into(),
        query: query.into(),
        calls,
        total_ms,
        rows: calls,
        io_ms: Some(total_ms / 10.0),
        plan_ms: None,
        shared_blks_hit: Some(100.0),
        shared_blks_read: Some(calls),
        kind: RowKind::FromText,
        rows_examined: None,
        no_index_used: None,
        text_key: None,
        match_key: RowMatch::FromText,
    }
}

/// A session that is not idle.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Session {
    pub pid: i64,
    /// Age of the running statement, or of the open transaction when idle in one.
    pub seconds: f64,
    pub state: String,
    pub wait_event_type: Option<String>,
    pub wait_event: Option<String>,
    pub query: String,
    /// Sessions holding the lock this one waits for.
    pub blocked_by: Vec<i64>,
}

/// What ran between two snapshots: per statement, `after − before`. A statement new in
/// `after` counts whole; one whose counters went down (statistics reset in between) counts
/// its `after` values. Statements that did not run in between are dropped.
pub fn delta(before: &[StatementRow], after: &[StatementRow]) -> Vec<StatementRow> {
    let before: std::collections::HashMap<String, StatementRow> = aggregate(before)
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    aggregate(after)
        .into_iter()
        .filter_map(|a| {
            let d = match before.get(&a.id) {
                Some(b) if a.calls >= b.calls && a.total_ms >= b.total_ms => StatementRow {
                    calls: a.calls - b.calls,
                    total_ms: a.total_ms - b.total_ms,
                    rows: (a.rows - b.rows).max(0.0),
                    io_ms: sub(a.io_ms, b.io_ms),
                    plan_ms: sub(a.plan_ms, b.plan_ms),
                    shared_blks_hit: sub(a.shared_blks_hit, b.shared_blks_hit),
                    shared_blks_read: sub(a.shared_blks_read, b.shared_blks_read),
                    rows_examined: sub(a.rows_examined, b.rows_examined),
                    no_index_used: sub(a.no_index_used, b.no_index_used),
                    ..a
                },
                _ => a,
            };
            (d.calls > 0.0).then_some(d)
        })
        .collect()
}

fn sub(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    a.map(|a| (a - b.unwrap_or(0.0)).max(0.0))
}
