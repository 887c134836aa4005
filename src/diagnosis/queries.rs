//! Step 1 (the DB layer) and Step 2 (C vs D): which statements take the database's time, what
//! runs right now and what it waits on.
//!
//! The adapters (`sources::postgres`, `sources::mysql`) turn a server's statistics views into
//! a [`Snapshot`] of plain rows; everything that decides something happens here:
//! - [`PgssColumns`] maps the columns that this server's `pg_stat_statements` actually has
//!   (they were renamed in 1.8 and 1.11) to the figures we report, and builds the two SELECTs
//!   that read them from constant column names only: the counters of every statement without
//!   their text, and the text (or just its kind) of the few statements that need it;
//! - [`top_ids`] tells the adapter which statements will be listed, so that it fetches text
//!   for those alone;
//! - [`delta`] turns two snapshots into "what ran in between" (what is slow *now*);
//! - [`analyze`] merges the ids of one statement ([`merge`]), ranks, classifies reads and
//!   writes, computes shares of database time, counts waits, detects lock contention and
//!   full scans, redacts and bounds query text, and concludes ([`advice`]): EXPLAIN and
//!   index steps for the statements slow against the service's own normal, and hints for
//!   symptoms C (read-heavy on a saturated primary) and D (write-heavy or locks).

mod advice;
mod merge;

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::sql::{self, Dialect, StatementKind};
use super::symptoms::Observations;
use super::{
    Conclusion, Evidence, FastMap, InputError, NextStep, SOURCE_CALLER, check_opt_range,
    check_range, fmt_num, round,
};
pub use advice::{FullScan, RdsEndpoint, rds_endpoint};
use merge::Merged;

/// `limit` is capped here: more rows do not help a person or a model decide.
pub const MAX_LIMIT: u64 = 100;
/// Query text longer than this (in characters) is cut, with `…` at the end.
pub const MAX_QUERY_CHARS: usize = 1000;
/// At most this many live sessions are listed.
pub const MAX_RUNNING: usize = 50;
/// The longest snapshot interval `sample_seconds` accepts.
pub const MAX_SAMPLE_SECONDS: f64 = 60.0;
/// The leading keyword of a statement, after whitespace, parentheses and comments, as a
/// PostgreSQL regular expression whose first group is the keyword.
const LEADING_KEYWORD: &str = r"^(?:[\s(]|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|--[^\n]*\n)*([A-Za-z]+)";

/// Marker in every statement this tool sends, so its own queries can be left out.
pub const MONITOR_MARKER: &str = "pwt:monitor";

/// What to look at.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowQueriesInput {
    /// The name of a database target configured by the operator (config file, see the
    /// server's documentation). Leave it out to use the default target (`DATABASE_URL`,
    /// or the libpq `PG*` variables). This is a name, never a connection string or password.
    #[serde(default)]
    pub target: Option<String>,
    /// How many statements to return, 1–100 (default 20).
    #[serde(default = "default_limit")]
    pub limit: u64,
    /// Ranking: `mean_time` (slowest per call, the default), `total_time` (most database
    /// time overall), `calls` (most frequent) or `io_time` (most time reading/writing blocks).
    #[serde(default)]
    pub order_by: OrderBy,
    /// Leave out statements whose mean time is below this many ms (default 0).
    #[serde(default)]
    pub min_mean_ms: f64,
    /// Also list what runs right now, what it waits on and who blocks whom (default true).
    #[serde(default = "default_true")]
    pub include_running: bool,
    /// List running statements (and open transactions) older than this many seconds
    /// (default 1).
    #[serde(default = "default_running_min_seconds")]
    pub running_min_seconds: f64,
    /// "What is slow now": take two snapshots this many seconds apart (1–60) and rank what
    /// ran in between, instead of the cumulative statistics since the last reset, which can
    /// hide today's regression under months of history. Leave out for cumulative figures.
    #[serde(default)]
    pub sample_seconds: Option<f64>,
    /// The primary's CPU, 0–100 (check_rds_iops CPUUtilization, or the DB host's). Hints C
    /// (read replica) and D need it high; leave it out when unknown.
    #[serde(default)]
    pub db_cpu_percent: Option<f64>,
}

fn default_limit() -> u64 {
    20
}

fn default_true() -> bool {
    true
}

fn default_running_min_seconds() -> f64 {
    1.0
}

/// The ranking of statements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum OrderBy {
    #[default]
    MeanTime,
    TotalTime,
    Calls,
    IoTime,
}

impl OrderBy {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderBy::MeanTime => "mean_time",
            OrderBy::TotalTime => "total_time",
            OrderBy::Calls => "calls",
            OrderBy::IoTime => "io_time",
        }
    }
}

/// The checked input, ready for an adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub limit: usize,
    pub limit_capped: bool,
    pub order_by: OrderBy,
    pub min_mean_ms: f64,
    pub include_running: bool,
    pub running_min_seconds: f64,
    pub sample_seconds: Option<f64>,
    pub db_cpu_percent: Option<f64>,
}

/// Checks the arguments before anything connects to a database.
pub fn validate(input: &SlowQueriesInput) -> Result<Request, InputError> {
    if input.limit == 0 {
        return Err(InputError::new(
            "limit",
            "must be at least 1 (default 20, at most 100)",
        ));
    }
    let min_mean_ms = check_range(
        "min_mean_ms",
        input.min_mean_ms,
        0.0,
        86_400_000.0,
        "pass a mean time in milliseconds, 0 to keep every statement",
    )?;
    let running_min_seconds = check_range(
        "running_min_seconds",
        input.running_min_seconds,
        0.0,
        86_400.0,
        "pass an age in seconds (default 1)",
    )?;
    let sample_seconds = input
        .sample_seconds
        .map(|s| {
            check_range(
                "sample_seconds",
                s,
                1.0,
                MAX_SAMPLE_SECONDS,
                "pass 1–60 seconds between the two snapshots, or leave it out for cumulative statistics",
            )
        })
        .transpose()?;
    if let Some(target) = &input.target {
        check_target_name(target)?;
    }
    let db_cpu_percent = check_opt_range(
        "db_cpu_percent",
        input.db_cpu_percent,
        0.0,
        100.0,
        "pass the primary's CPU use as a percentage, 0–100 (CPUUtilization from check_rds_iops, or the database host's CPU)",
    )?;
    Ok(Request {
        limit: input.limit.min(MAX_LIMIT) as usize,
        limit_capped: input.limit > MAX_LIMIT,
        order_by: input.order_by,
        min_mean_ms,
        include_running: input.include_running,
        running_min_seconds,
        sample_seconds,
        db_cpu_percent,
    })
}

/// A target is a configured name. A connection string here would carry a password into the
/// chat transcript, so it is refused outright.
pub fn check_target_name(target: &str) -> Result<(), InputError> {
    let valid = !target.is_empty()
        && target.len() <= 64
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(InputError::new(
            "target",
            "must be the name of a configured database target (letters, digits, `_`, `-`, `.`), \
             not a connection string; the operator defines targets in the config file \
             (--config / PWT_CONFIG) or DATABASE_URL, and passwords never go through the chat",
        ))
    }
}

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

    fn prefix(self) -> &'static str {
        match self {
            Engine::Postgresql => "postgres",
            Engine::Mysql | Engine::Mariadb => "mysql",
        }
    }
}

// ------------------------------------------------------------------------------------------
// What an adapter reads

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
    /// The statement's key as a person reads it ([`sql::statement_key`] of its whole text),
    /// from an adapter that does not pass every statement's text; computed from `query`
    /// when absent.
    pub text_key: Option<u64>,
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

// ------------------------------------------------------------------------------------------
// pg_stat_statements column mapping

/// How this server's `pg_stat_statements` names the figures we read.
///
/// | extension | PostgreSQL | time columns | IO time columns |
/// |---|---|---|---|
/// | 1.4–1.7 | 9.6–12 | `total_time` | `blk_read_time`, `blk_write_time` |
/// | 1.8 | 13 | `total_exec_time`, `total_plan_time` | same |
/// | 1.9–1.10 | 14–16 | same, plus `toplevel` | same, plus `temp_blk_*_time` (1.10) |
/// | 1.11+ | 17+ | same | `shared_blk_*_time`, `local_blk_*_time`, `temp_blk_*_time` |
///
/// The extension's version can lag the server's (an old `CREATE EXTENSION` never updated),
/// so this is decided from the columns the view has, not from `server_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgssColumns {
    pub total: &'static str,
    pub plan: Option<&'static str>,
    pub io: Vec<&'static str>,
    pub toplevel: bool,
    pub has_blocks: bool,
}

/// The view has none of the time columns we know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "pg_stat_statements has neither total_exec_time nor total_time (columns: {0}); this extension version is not supported"
)]
pub struct UnknownPgssLayout(pub String);

impl PgssColumns {
    /// Picks the columns from the view's actual column list.
    pub fn discover<S: AsRef<str>>(columns: &[S]) -> Result<Self, UnknownPgssLayout> {
        let has = |name: &str| columns.iter().any(|c| c.as_ref() == name);
        let pick = |name: &'static str| has(name).then_some(name);
        let total = pick("total_exec_time")
            .or_else(|| pick("total_time"))
            .ok_or_else(|| {
                UnknownPgssLayout(
                    columns
                        .iter()
                        .map(|c| c.as_ref())
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?;
        const IO: [&str; 8] = [
            "shared_blk_read_time",
            "shared_blk_write_time",
            "local_blk_read_time",
            "local_blk_write_time",
            "blk_read_time",
            "blk_write_time",
            "temp_blk_read_time",
            "temp_blk_write_time",
        ];
        let io = IO.into_iter().filter(|c| has(c)).collect();
        Ok(Self {
            total,
            plan: pick("total_plan_time"),
            io,
            toplevel: has("toplevel"),
            has_blocks: has("shared_blks_hit") && has("shared_blks_read"),
        })
    }

    /// The details of a statement beyond calls and time, as float8 in a fixed order: rows,
    /// io, plan, hit, read (NULL where the view lacks the column).
    fn detail_columns_sql(&self) -> String {
        let io = if self.io.is_empty() {
            "NULL::float8".to_owned()
        } else {
            format!("({})::float8", self.io.join(" + "))
        };
        let plan = self
            .plan
            .map_or("NULL::float8".to_owned(), |p| format!("{p}::float8"));
        let (hit, read) = if self.has_blocks {
            ("shared_blks_hit::float8", "shared_blks_read::float8")
        } else {
            ("NULL::float8", "NULL::float8")
        };
        format!("rows::float8, {io}, {plan}, {hit}, {read}")
    }

    /// This database's statements; top-level ones only where the view says which.
    fn where_sql(&self) -> String {
        format!(
            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()){}",
            if self.toplevel { " AND toplevel" } else { "" }
        )
    }

    /// The counters of every statement of this database, without text:
    /// `pg_stat_statements(false)` does not read the query-text file. Columns: queryid (NULL
    /// for rows hidden from this role), calls and total time — all that the ranking by mean,
    /// total or calls, the totals and the read/write split need — and the details (an array:
    /// rows, io, plan, hit, read; see `detail_columns_sql`) only for the statements in `$1`
    /// (an int8[]: those expected in the list), or for all when `$2` is true. Every value
    /// sent costs server time with thousands of statements, so the details of statements
    /// that will not be listed are not sent. (`IN (SELECT unnest(..))` rather than `= ANY`:
    /// a hashed lookup per statement, also in a generic plan.)
    pub fn counters_sql(&self) -> String {
        format!(
            "SELECT /* {MONITOR_MARKER} */ queryid, calls::float8, {total}::float8, \
             CASE WHEN $2::bool OR queryid IN (SELECT unnest($1::int8[])) \
                THEN ARRAY[{details}] END \
             FROM pg_stat_statements(false) {filter}",
            total = self.total,
            details = self.detail_columns_sql(),
            filter = self.where_sql()
        )
    }

    /// What the counters lack, for the statements `$1` (an int8[] of queryids): per
    /// statement its queryid, how it starts (lower case: the first 8 characters, or the
    /// keyword after a leading comment), whether it modifies data (a WITH with
    /// INSERT/UPDATE/DELETE/MERGE, a COPY FROM), whether it is one of this tool's own
    /// statements, its text (the first 4 KiB) and, for a longer text, a hash of the rest.
    /// The kind is classified from the first two by [`sql::classify_lead`]; the text gives
    /// the statement's key as a person reads it ([`sql::statement_key`]), so that the
    /// queryids of one text are counted as one statement. It is read once per statement
    /// (kinds and keys are remembered), and kept only for the statements that are listed.
    ///
    /// Every name in it is one of the constants above, so the set of statements this can
    /// produce is fixed; nothing from a caller reaches it except through `$1`.
    pub fn texts_sql(&self) -> String {
        format!(
            "SELECT /* {MONITOR_MARKER} */ queryid, keyword, CASE \
                WHEN keyword LIKE 'with%' THEN q ~* '\\m(insert|update|delete|merge)\\M' \
                WHEN keyword LIKE 'copy%' THEN q ~* '\\mfrom\\M' \
                ELSE false END, \
                q LIKE '%{MONITOR_MARKER}%', \
                left(q, 4096), \
                CASE WHEN length(q) > 4096 THEN hashtext(substr(q, 4097)) END \
             FROM (SELECT queryid, coalesce(query, '') AS q, CASE \
                    WHEN h LIKE '/*%' OR h LIKE '--%' \
                    THEN coalesce(lower(substring(query FROM '{LEADING_KEYWORD}')), '') \
                    ELSE lower(left(h, 8)) END AS keyword \
                FROM pg_stat_statements(true), \
                LATERAL (SELECT ltrim(left(coalesce(query, ''), 64), E' \\t\\r\\n(') AS h) x \
                {filter} AND queryid IN (SELECT unnest($1::int8[])) OFFSET 0) a",
            filter = self.where_sql(),
        )
    }
}

// ------------------------------------------------------------------------------------------
// Snapshots

/// What ran between two snapshots: per statement, `after − before`. A statement new in
/// `after` counts whole; one whose counters went down (statistics reset in between) counts
/// its `after` values. Statements that did not run in between are dropped.
pub fn delta(before: &[StatementRow], after: &[StatementRow]) -> Vec<StatementRow> {
    let before = aggregate(before);
    aggregate(after)
        .into_values()
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

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// Adds `r`'s counters to `m`'s: the same statement counted under another role or id.
fn absorb(m: &mut StatementRow, r: &StatementRow) {
    m.calls += r.calls;
    m.total_ms += r.total_ms;
    m.rows += r.rows;
    m.io_ms = add(m.io_ms, r.io_ms);
    m.plan_ms = add(m.plan_ms, r.plan_ms);
    m.shared_blks_hit = add(m.shared_blks_hit, r.shared_blks_hit);
    m.shared_blks_read = add(m.shared_blks_read, r.shared_blks_read);
    m.rows_examined = add(m.rows_examined, r.rows_examined);
    m.no_index_used = add(m.no_index_used, r.no_index_used);
}

/// One row per statement id, as [`aggregate`], without copying the rows that need no
/// merging (almost all of them, often all): the result borrows them, and the few merged
/// rows are built in `merged`. Order: each id where its first row was.
fn merge_by_id<'o, 'r: 'o>(
    rows: impl Iterator<Item = &'r StatementRow>,
    merged: &'o mut Vec<StatementRow>,
) -> Vec<&'o StatementRow> {
    let rows: Vec<&'o StatementRow> = rows.map(|r| r as &'o StatementRow).collect();
    let key = |r: &'o StatementRow| -> &'o str { if r.id.is_empty() { &r.query } else { &r.id } };
    let mut first: FastMap<&str, usize> =
        FastMap::with_capacity_and_hasher(rows.len(), Default::default());
    // (index of the id's first row, index of a later row of the same id)
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        match first.get(key(r)) {
            Some(&f) => repeats.push((f, i)),
            None => {
                first.insert(key(r), i);
            }
        }
    }
    if repeats.is_empty() {
        return rows;
    }
    // Merge each repeated id into one owned row.
    let mut merged_at: FastMap<usize, usize> = FastMap::default();
    for &(f, i) in &repeats {
        let m = *merged_at.entry(f).or_insert_with(|| {
            merged.push(rows[f].clone());
            merged.len() - 1
        });
        absorb(&mut merged[m], rows[i]);
    }
    let later: std::collections::HashSet<usize> = repeats.iter().map(|&(_, i)| i).collect();
    let merged: &'o Vec<StatementRow> = merged;
    rows.iter()
        .enumerate()
        .filter(|(i, _)| !later.contains(i))
        .map(|(i, r)| merged_at.get(&i).map_or(*r, |&m| &merged[m]))
        .collect()
}

/// One row per statement id: the same statement run by several roles (or at several
/// nesting levels) is one statement to the person reading the report.
fn aggregate(rows: &[StatementRow]) -> HashMap<String, StatementRow> {
    let mut map: HashMap<String, StatementRow> = HashMap::with_capacity(rows.len());
    for r in rows {
        let key = if r.id.is_empty() {
            format!("text:{}", r.query)
        } else {
            r.id.clone()
        };
        match map.get_mut(&key) {
            Some(m) => absorb(m, r),
            None => {
                map.insert(
                    key.clone(),
                    StatementRow {
                        id: key,
                        ..r.clone()
                    },
                );
            }
        }
    }
    map
}

// ------------------------------------------------------------------------------------------
// The report

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

/// Output bounds and text handling the operator controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presentation {
    /// Replace literals in query text with `?` (on unless the operator turns it off).
    pub redact_literals: bool,
}

/// Ranks and explains one snapshot (already a delta in sampled mode).
pub fn analyze(
    target: &str,
    req: &Request,
    snap: &Snapshot,
    presentation: Presentation,
) -> SlowQueriesReport {
    let dialect = snap.engine.dialect();
    let prefix = snap.engine.prefix();
    let mut warnings: Vec<String> = snap.notes.clone();
    let mut evidence = Vec::new();
    let mut next_steps = Vec::new();
    let mut truncated = false;
    let show = |text: &str, truncated: &mut bool| {
        let text = if presentation.redact_literals {
            sql::redact(text, dialect)
        } else {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let (text, cut) = bound_text(&text, MAX_QUERY_CHARS);
        *truncated |= cut;
        text
    };

    // Statements: aggregate, classify, share, rank.
    let (stats, unavailable) = match &snap.statements {
        Statements::Available(s) => (Some(s), None),
        Statements::Unavailable(why) => (None, Some(why.clone())),
    };
    // One row per id (roles, nesting levels), then one per text (parameter types, schemas).
    let mut merged = Vec::new();
    let mut merged_text = Vec::new();
    let rows: Vec<Merged> = match stats {
        Some(s) => merge::merge_by_text(
            merge_by_id(s.rows.iter(), &mut merged),
            dialect,
            &mut merged_text,
        ),
        None => Vec::new(),
    };
    // Read / write / other, and the time of statements whose kind is unknown.
    let mut by_kind = [0.0f64; 3];
    let mut unclassified = (0u64, 0.0f64);
    let mut classified: Vec<(Merged, Option<StatementKind>)> = rows
        .into_iter()
        .map(|m| {
            let r = m.row;
            let kind = match r.kind {
                RowKind::FromText => Some(sql::classify(&r.query, dialect)),
                RowKind::Known(k) => Some(k),
                RowKind::Unknown => None,
            };
            match kind {
                Some(k) => by_kind[kind_index(k)] += r.total_ms.max(0.0),
                None => {
                    unclassified.0 += 1;
                    unclassified.1 += r.total_ms.max(0.0);
                }
            }
            (m, kind)
        })
        .collect();
    let considered = classified.len() as u64;
    let db_time: f64 = by_kind.iter().sum::<f64>() + unclassified.1;
    let io_timing = stats.and_then(|s| s.io_timing);
    let order = effective_order(
        req.order_by,
        io_timing,
        classified.iter().map(|(m, _)| m.row),
    );
    if req.order_by == OrderBy::IoTime && io_timing != Some(true) {
        warnings.push(if io_timing == Some(false) {
            "order_by io_time: track_io_timing is off, so IO time is not measured; ranked by shared blocks read instead (turn it on with ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf(); or the RDS parameter group).".to_owned()
        } else {
            "order_by io_time: this engine reports no IO time per statement; ranked by total time instead.".to_owned()
        });
    }
    classified.retain(|(m, _)| listable(m.row, req));
    truncated |= top_first(&mut classified, req.limit, |(a, _), (b, _)| {
        rank_cmp(order, io_timing, a.row, b.row)
    });
    let statements: Vec<StatementReport> = classified
        .iter()
        .map(|(m, kind)| (m.row, m.query_ids, kind))
        .map(|(r, query_ids, kind)| StatementReport {
            query: show(&r.query, &mut truncated),
            query_ids: u64::from(query_ids),
            calls: to_count(r.calls),
            mean_ms: round(mean(r), 3),
            total_ms: round(r.total_ms, 3),
            percent_of_db_time: if db_time > 0.0 {
                round(r.total_ms / db_time * 100.0, 2)
            } else {
                0.0
            },
            rows: to_count(r.rows),
            kind: kind.map_or("unknown", kind_name).to_owned(),
            io_time_ms: r
                .io_ms
                .filter(|_| io_timing == Some(true))
                .map(|v| round(v, 3)),
            plan_ms: r.plan_ms.filter(|p| *p > 0.0).map(|v| round(v, 3)),
            shared_blks_hit: r.shared_blks_hit.map(to_count),
            shared_blks_read: r.shared_blks_read.map(to_count),
            full_scan: advice::full_scan(r, snap.engine),
        })
        .collect();
    let share = |ms: f64| (db_time > 0.0).then(|| round(ms / db_time * 100.0, 2));
    let workload = Workload {
        read_percent: share(by_kind[0]),
        write_percent: share(by_kind[1]),
        other_percent: share(by_kind[2]),
        statements_classified: considered - unclassified.0,
        classified_percent: share(db_time - unclassified.1),
    };
    if unclassified.0 > 0 {
        warnings.push(format!(
            "{} statement(s) taking {}% of database time left the statistics before their text could be read, so their kind is unknown; the read/write/other shares cover the other {}%.",
            unclassified.0,
            fmt_num(share(unclassified.1).unwrap_or(0.0)),
            fmt_num(workload.classified_percent.unwrap_or(0.0))
        ));
    }
    let source = stats.map(|s| s.source.clone());
    let src = source
        .clone()
        .unwrap_or_else(|| format!("{prefix}:unavailable"));
    if stats.is_some() {
        evidence.push(Evidence::number("db_time_ms", db_time, "ms", &src));
        evidence.push(Evidence::number(
            "statements_considered",
            considered as f64,
            "statements",
            &src,
        ));
        if let (Some(r), Some(w)) = (workload.read_percent, workload.write_percent) {
            evidence.push(Evidence::number("read_percent", r, "percent", &src));
            evidence.push(Evidence::number("write_percent", w, "percent", &src));
        }
        if let Some(top) = statements.first() {
            evidence.push(Evidence::number("top_mean_ms", top.mean_ms, "ms", &src));
            evidence.push(Evidence::number(
                "top_percent_of_db_time",
                top.percent_of_db_time,
                "percent",
                &src,
            ));
        }
    }
    if let Some(s) = stats {
        if s.hidden_rows > 0 {
            warnings.push(format!(
                "{} statement(s) of other roles show as <insufficient privilege>: their text and time are left out; GRANT pg_read_all_stats (or pg_monitor) to this role to see them.",
                s.hidden_rows
            ));
        }
        if let (None, Some(age)) = (req.sample_seconds, s.stats_age_seconds) {
            let since = s.stats_since.as_deref().unwrap_or("the last reset");
            warnings.push(format!(
                    "Cumulative statistics since {since} ({}): a recent regression can hide under older history; pass sample_seconds (e.g. 30) to rank what runs now.",
                    human_age(age)
                ));
        }
        if io_timing == Some(false) {
            warnings.push("track_io_timing is off: io_time_ms is not measured (shared_blks_read still shows disk reads).".to_owned());
        }
    }
    if let Some(why) = &unavailable {
        warnings.push(format!("Statement statistics unavailable: {why}"));
    }

    // Live sessions.
    let mut running = Vec::new();
    let mut waits: BTreeMap<String, u64> = BTreeMap::new();
    let mut blocked = 0u64;
    let mut blockers: Vec<i64> = Vec::new();
    let mut sessions_known = false;
    if req.include_running {
        match &snap.sessions {
            Ok(sessions) => {
                sessions_known = true;
                for s in sessions {
                    let kind = wait_class(snap.engine, s);
                    *waits.entry(kind.clone()).or_default() += 1;
                    if !s.blocked_by.is_empty() {
                        blocked += 1;
                        for b in &s.blocked_by {
                            if !blockers.contains(b) {
                                blockers.push(*b);
                            }
                        }
                    }
                }
                let mut old: Vec<&Session> = sessions
                    .iter()
                    .filter(|s| s.seconds >= req.running_min_seconds || !s.blocked_by.is_empty())
                    .collect();
                old.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.pid.cmp(&b.pid)));
                if old.len() > MAX_RUNNING {
                    truncated = true;
                    old.truncate(MAX_RUNNING);
                }
                running = old
                    .into_iter()
                    .map(|s| RunningQuery {
                        pid: s.pid,
                        seconds: round(s.seconds, 1),
                        state: s.state.clone(),
                        wait_event_type: s.wait_event_type.clone(),
                        wait_event: s.wait_event.clone(),
                        query: show(&s.query, &mut truncated),
                        blocked_by: s.blocked_by.clone(),
                    })
                    .collect();
                let live = format!(
                    "{prefix}:{}",
                    if snap.engine == Engine::Postgresql {
                        "pg_stat_activity"
                    } else {
                        "information_schema.PROCESSLIST"
                    }
                );
                evidence.push(Evidence::number(
                    "active_sessions",
                    sessions.len() as f64,
                    "sessions",
                    &live,
                ));
                evidence.push(Evidence::number(
                    "blocked_sessions",
                    blocked as f64,
                    "sessions",
                    &live,
                ));
            }
            Err(why) => warnings.push(format!("Live sessions unavailable: {why}")),
        }
    }
    let mut waits: Vec<WaitCount> = waits
        .into_iter()
        .map(|(wait_event_type, sessions)| WaitCount {
            wait_event_type,
            sessions,
        })
        .collect();
    waits.sort_by(|a, b| {
        b.sessions
            .cmp(&a.sessions)
            .then(a.wait_event_type.cmp(&b.wait_event_type))
    });
    let lock_waiting = waits
        .iter()
        .filter(|w| w.wait_event_type == "Lock")
        .map(|w| w.sessions)
        .sum::<u64>();
    let lock_contention = sessions_known.then_some(blocked > 0 || lock_waiting > 0);

    // Hints for the symptom matrix, each only with the evidence the matrix asks for.
    let mut hints = Vec::new();
    if lock_contention == Some(true) {
        hints.push(Hint {
            symptom: "D".into(),
            reason: format!(
                "{} session(s) wait for locks{}: lock contention is a write-path problem a read replica will not fix.",
                blocked.max(lock_waiting),
                if blockers.is_empty() {
                    String::new()
                } else {
                    format!(" held by pid {}", join_pids(&blockers))
                }
            ),
        });
    }
    let mut db_cpu_wanted = None;
    if let (Some(r), Some(w)) = (workload.read_percent, workload.write_percent) {
        let a = advice::workload_advice(r, w, req.db_cpu_percent, lock_contention == Some(true));
        hints.extend(a.hint);
        if let Some(caveat) = a.caveat {
            if a.needs_db_cpu {
                db_cpu_wanted = Some(caveat.clone());
            }
            warnings.push(caveat);
        }
    }
    if let Some(cpu) = req.db_cpu_percent {
        evidence.push(Evidence::number(
            "db_cpu_percent",
            cpu,
            "percent",
            SOURCE_CALLER,
        ));
    }
    let observations = Observations {
        db_read_percent: workload.read_percent,
        db_cpu_percent: req.db_cpu_percent,
        lock_contention,
        ..Default::default()
    };

    // Which statements deserve an EXPLAIN (the rule is `advice::explain_reason`'s): full
    // scans by their share of database time, then the others in list order; at most two,
    // so the steps stay readable.
    let median_ms = advice::median(statements.iter().map(|s| s.mean_ms));
    let mut worth: Vec<(&StatementReport, String)> = statements
        .iter()
        .filter_map(|s| {
            advice::explain_reason(s.mean_ms, s.full_scan.as_ref(), median_ms).map(|why| (s, why))
        })
        .collect();
    worth.sort_by(|(a, _), (b, _)| {
        b.full_scan
            .is_some()
            .cmp(&a.full_scan.is_some())
            .then_with(|| match (&a.full_scan, &b.full_scan) {
                (Some(_), Some(_)) => b.percent_of_db_time.total_cmp(&a.percent_of_db_time),
                _ => std::cmp::Ordering::Equal,
            })
    });
    worth.truncate(2);
    // A full scan taking most of the database's time leads the verdict and the steps.
    let dominant = worth
        .first()
        .filter(|(s, _)| s.full_scan.is_some() && s.percent_of_db_time >= advice::DOMINANT_PERCENT)
        .map(|(s, _)| *s);
    let mut explain_steps: Vec<Vec<NextStep>> = worth
        .iter()
        .map(|(s, why)| {
            advice::explain_steps(
                snap.engine,
                &s.query,
                why,
                s.percent_of_db_time,
                s.full_scan.as_ref(),
            )
        })
        .collect();
    if let Some(scan) = dominant.and_then(|s| s.full_scan.as_ref()) {
        evidence.push(Evidence::number(
            "full_scan_percent_of_db_time",
            dominant.map_or(0.0, |s| s.percent_of_db_time),
            "percent",
            &src,
        ));
        if let Some(b) = scan.blocks_per_call {
            evidence.push(Evidence::number(
                "full_scan_blocks_per_call",
                b,
                "blocks",
                &src,
            ));
        }
        if let Some(e) = scan.rows_examined_per_call {
            evidence.push(Evidence::number(
                "full_scan_rows_examined_per_call",
                e,
                "rows",
                &src,
            ));
        }
    }

    // Next steps, in decision order: the statement that takes the database's time, unblock,
    // fix the slowest, then classify.
    if dominant.is_some() && !explain_steps.is_empty() {
        next_steps.extend(explain_steps.remove(0));
    }
    if !blockers.is_empty() && snap.engine == Engine::Postgresql {
        next_steps.push(NextStep::new(
            format!(
                "Look at what pid {} is doing (SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid IN (...)) and end that transaction in the application, or as a last resort with pg_terminate_backend",
                join_pids(&blockers)
            ),
            "Sessions queue behind its lock; every one of them holds a web worker meanwhile.",
        ));
    } else if !blockers.is_empty() {
        next_steps.push(NextStep::new(
            format!(
                "Look at what connection {} is doing (SHOW FULL PROCESSLIST; information_schema.INNODB_TRX) and end that transaction in the application, or as a last resort with KILL",
                join_pids(&blockers)
            ),
            "Sessions queue behind its lock; every one of them holds a web worker meanwhile.",
        ));
    }
    next_steps.extend(explain_steps.into_iter().flatten());
    if worth.is_empty() && !statements.is_empty() {
        next_steps.push(
            NextStep::new(
                "Look for the time outside these statements: how often each request runs them (order_by calls shows N+1 patterns) and the other layers (break_down_latency)",
                format!(
                    "No listed statement is slow against this database's own normal (median {} ms per call, slowest {} ms) or reads whole tables, so no EXPLAIN is called for.",
                    fmt_num(round(median_ms, 3)),
                    fmt_num(statements.iter().map(|s| s.mean_ms).fold(0.0, f64::max))
                ),
            )
            .with_tool("break_down_latency"),
        );
    }
    next_steps.extend(snap.fixes.iter().cloned());
    if io_timing == Some(true) {
        let io: f64 = classified.iter().filter_map(|(m, _)| m.row.io_ms).sum();
        let total: f64 = classified.iter().map(|(m, _)| m.row.total_ms).sum();
        if total > 0.0 && io / total >= 0.3 {
            next_steps.push(
                NextStep::new(
                    "Check the storage layer: IOPS and throughput against their limits, DiskQueueDepth",
                    format!(
                        "{}% of the top statements' time is block IO.",
                        fmt_num(io / total * 100.0)
                    ),
                )
                .with_tool("check_rds_iops"),
            );
        }
    }
    if let Some(why) = &db_cpu_wanted {
        next_steps.push(advice::db_cpu_step(snap.rds.as_ref(), why));
    }
    if observations.db_read_percent.is_some() || observations.lock_contention.is_some() {
        next_steps.push(
            NextStep::new(
                "Pass `observations` (with DB CPU and what else you know) to match_symptom",
                "Read-heavy with a busy primary is symptom C (read replica); write-heavy or locks is D (replicas won't help).",
            )
            .with_tool("match_symptom"),
        );
    }
    if req.sample_seconds.is_none() && stats.is_some() {
        next_steps.push(
            NextStep::new(
                "Call slow_queries again with sample_seconds (e.g. 30) during the slow period",
                "Cumulative statistics rank the whole history; a sample ranks what is slow now.",
            )
            .with_tool("slow_queries"),
        );
    }
    if req.limit_capped {
        truncated = true;
        warnings.push(format!("limit was capped at {MAX_LIMIT}."));
    }
    if truncated {
        warnings.push(format!(
            "Output is bounded: at most {} statements, {MAX_RUNNING} sessions and {MAX_QUERY_CHARS} characters of query text; some was left out.",
            req.limit
        ));
    }
    if !presentation.redact_literals {
        warnings.push("Literal redaction is turned off in the configuration: query text may contain customer data.".to_owned());
    }

    let verdict = verdict(Verdict {
        statements: &statements,
        dominant,
        unavailable: unavailable.as_deref(),
        scope: stats
            .filter(|s| s.rows.is_empty())
            .and_then(|s| s.scope.as_deref()),
        order,
        blocked: blocked.max(lock_waiting),
        blockers: &blockers,
        workload: &workload,
        req,
    });

    SlowQueriesReport {
        target: target.to_owned(),
        engine: snap.engine,
        server_version: snap.server_version.clone(),
        mode: if req.sample_seconds.is_some() {
            "sampled".into()
        } else {
            "cumulative".into()
        },
        sample_seconds: req.sample_seconds,
        order_by: order,
        statements_source: source.unwrap_or_else(|| "unavailable".into()),
        stats_since: stats.and_then(|s| s.stats_since.clone()),
        io_timing_enabled: io_timing,
        statements,
        statements_considered: considered,
        db_time_ms: round(db_time, 3),
        running,
        workload,
        waits,
        blocked_sessions: blocked.max(lock_waiting),
        hints,
        observations,
        truncated,
        conclusion: Conclusion {
            verdict,
            evidence,
            next_steps,
            warnings,
        },
    }
}

/// What the verdict is made of.
struct Verdict<'a> {
    statements: &'a [StatementReport],
    /// A full scan taking most of the database's time: named first.
    dominant: Option<&'a StatementReport>,
    unavailable: Option<&'a str>,
    /// Where the statistics were looked for, when they hold nothing there.
    scope: Option<&'a str>,
    order: OrderBy,
    blocked: u64,
    blockers: &'a [i64],
    workload: &'a Workload,
    req: &'a Request,
}

fn verdict(v: Verdict<'_>) -> String {
    let mut parts = Vec::new();
    let window = match v.req.sample_seconds {
        Some(s) => format!(" in the last {} s", fmt_num(s)),
        None => String::new(),
    };
    match (v.dominant, v.statements.first(), v.unavailable) {
        (Some(top), _, _) => {
            let ids = if top.query_ids > 1 {
                format!(", {} query ids", top.query_ids)
            } else {
                String::new()
            };
            parts.push(format!(
                "`{}` takes {}% of database time{window} ({} ms mean over {} calls{ids}) and {}",
                shorten(&top.query, 80),
                fmt_num(top.percent_of_db_time),
                fmt_num(top.mean_ms),
                top.calls,
                top.full_scan.as_ref().map_or(String::new(), scan_phrase)
            ));
        }
        (None, Some(top), _) => {
            let what = match v.order {
                OrderBy::MeanTime => "slowest statement per call",
                OrderBy::TotalTime => "statement taking the most database time",
                OrderBy::Calls => "most frequent statement",
                OrderBy::IoTime => "statement with the most IO",
            };
            let scan = top
                .full_scan
                .as_ref()
                .map_or(String::new(), |f| format!(", and {}", scan_phrase(f)));
            parts.push(format!(
                "The {what}{window} is `{}` at {} ms mean over {} calls ({}% of database time){scan}",
                shorten(&top.query, 80),
                fmt_num(top.mean_ms),
                top.calls,
                fmt_num(top.percent_of_db_time)
            ));
        }
        (None, None, Some(why)) => {
            parts.push(format!("Statement statistics are unavailable ({why})"))
        }
        (None, None, None) => parts.push(match (v.req.sample_seconds, v.scope) {
            (Some(s), _) => format!("No statement ran in the {} s sample", fmt_num(s)),
            (None, Some(scope)) => format!("No statement statistics recorded for {scope}"),
            (None, None) => "No statement matches the filter".to_owned(),
        }),
    }
    if let (Some(r), Some(w)) = (v.workload.read_percent, v.workload.write_percent) {
        parts.push(format!(
            "reads {}% / writes {}% of time",
            fmt_num(r),
            fmt_num(w)
        ));
    }
    if v.blocked > 0 {
        let by = if v.blockers.is_empty() {
            String::new()
        } else {
            format!(" behind pid {}", join_pids(v.blockers))
        };
        parts.push(format!("{} session(s) blocked on locks{by}", v.blocked));
    }
    format!("{}.", parts.join("; "))
}

/// "reads 11,020 blocks per call (2,204 per row returned): a full scan of orders"
fn scan_phrase(scan: &FullScan) -> String {
    let read = scan.reads();
    match &scan.table {
        Some(t) => format!("{read}: a full scan of {t}"),
        None => format!("{read}: a full scan"),
    }
}

/// The ranking actually used: `io_time` falls back to shared blocks read when IO time is
/// not measured, and to total time when blocks are not counted either.
fn effective_order<'a>(
    order: OrderBy,
    io_timing: Option<bool>,
    mut rows: impl Iterator<Item = &'a StatementRow>,
) -> OrderBy {
    if order == OrderBy::IoTime
        && io_timing != Some(true)
        && !rows.any(|r| r.shared_blks_read.is_some())
    {
        OrderBy::TotalTime
    } else {
        order
    }
}

/// Whether a statement may be listed: it ran, and its mean passes `min_mean_ms`.
fn listable(r: &StatementRow, req: &Request) -> bool {
    r.calls > 0.0 && mean(r) >= req.min_mean_ms
}

/// Highest first in `order`, ties by id, so that the same statistics always list the same
/// statements in the same order.
fn rank_cmp(
    order: OrderBy,
    io_timing: Option<bool>,
    a: &StatementRow,
    b: &StatementRow,
) -> std::cmp::Ordering {
    let key = |r: &StatementRow| -> f64 {
        match order {
            OrderBy::MeanTime => mean(r),
            OrderBy::TotalTime => r.total_ms,
            OrderBy::Calls => r.calls,
            OrderBy::IoTime if io_timing == Some(true) => r.io_ms.unwrap_or(0.0),
            OrderBy::IoTime => r.shared_blks_read.unwrap_or(0.0),
        }
    };
    key(b).total_cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
}

/// The statements [`analyze`] will list for `req`, in order, each as the ids that stand
/// behind it: an adapter that reads counters without text fetches text (and details) for
/// these alone. `rows` may hold several rows per id (one per role) and several ids per text
/// (see [`merge`]); rows whose text is not at hand merge on their [`StatementRow::text_key`].
pub fn top_ids<'a>(
    rows: impl Iterator<Item = &'a StatementRow>,
    req: &Request,
    io_timing: Option<bool>,
    dialect: Dialect,
) -> Vec<Vec<String>> {
    let mut merged = Vec::new();
    let by_id = merge_by_id(rows, &mut merged);
    let mut merged_text = Vec::new();
    let statements = merge::merge_by_text(by_id.clone(), dialect, &mut merged_text);
    let order = effective_order(req.order_by, io_timing, statements.iter().map(|m| m.row));
    let mut listed: Vec<Merged> = statements
        .into_iter()
        .filter(|m| listable(m.row, req))
        .collect();
    top_first(&mut listed, req.limit, |a, b| {
        rank_cmp(order, io_timing, a.row, b.row)
    });
    // The ids of the statements of several ids, found by their key.
    let mut at: FastMap<u64, usize> = FastMap::default();
    let mut out: Vec<Vec<String>> = Vec::with_capacity(listed.len());
    for (i, m) in listed.iter().enumerate() {
        match m.key.filter(|_| m.members > 1) {
            Some(k) => {
                at.insert(k, i);
                out.push(Vec::with_capacity(m.members as usize));
            }
            None => out.push(vec![m.row.id.clone()]),
        }
    }
    if !at.is_empty() {
        for r in by_id {
            if let Some(&i) = merge::text_key(r, dialect).and_then(|k| at.get(&k)) {
                out[i].push(r.id.clone());
            }
        }
    }
    out
}

/// Keeps the first `limit` items of `items` in `cmp` order, sorted; says whether any were
/// dropped. Selecting before sorting keeps this linear in the number of statements.
fn top_first<T>(
    items: &mut Vec<T>,
    limit: usize,
    mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> bool {
    let cut = items.len() > limit;
    if cut {
        if limit == 0 {
            items.clear();
            return true;
        }
        items.select_nth_unstable_by(limit - 1, &mut cmp);
        items.truncate(limit);
    }
    items.sort_by(cmp);
    cut
}

fn mean(r: &StatementRow) -> f64 {
    if r.calls > 0.0 {
        r.total_ms / r.calls
    } else {
        0.0
    }
}

fn kind_index(kind: StatementKind) -> usize {
    match kind {
        StatementKind::Read => 0,
        StatementKind::Write => 1,
        StatementKind::Other => 2,
    }
}

fn kind_name(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Read => "read",
        StatementKind::Write => "write",
        StatementKind::Other => "other",
    }
}

fn to_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

fn join_pids(pids: &[i64]) -> String {
    pids.iter()
        .take(10)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cuts `text` at `max` characters (on a character boundary) and marks the cut with `…`.
pub fn bound_text(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

fn shorten(text: &str, max: usize) -> String {
    bound_text(text, max).0
}

fn human_age(seconds: f64) -> String {
    if seconds >= 2.0 * 86_400.0 {
        format!("{} days ago", fmt_num((seconds / 86_400.0).floor()))
    } else if seconds >= 2.0 * 3600.0 {
        format!("{} hours ago", fmt_num((seconds / 3600.0).floor()))
    } else {
        format!("{} minutes ago", fmt_num((seconds / 60.0).floor()))
    }
}

/// What a session waits on, as one of PostgreSQL's wait event types; MySQL's thread states
/// are mapped onto the same names so the two engines read alike.
pub fn wait_class(engine: Engine, s: &Session) -> String {
    if let Some(t) = s.wait_event_type.as_deref().filter(|t| !t.is_empty()) {
        return t.to_owned();
    }
    match engine {
        Engine::Postgresql => {
            if s.state == "active" {
                "CPU".into()
            } else {
                "Client".into()
            }
        }
        Engine::Mysql | Engine::Mariadb => mysql_wait_class(&s.state).into(),
    }
}

/// MySQL/MariaDB `PROCESSLIST.STATE` → a wait type.
pub fn mysql_wait_class(state: &str) -> &'static str {
    let s = state.to_ascii_lowercase();
    if s.contains("lock") {
        "Lock"
    } else if s.contains("sleep") {
        "Timeout"
    } else if s.is_empty()
        || (s.contains("sending") && s.contains("client"))
        || s.contains("reading from net")
        || s.contains("writing to net")
    {
        "Client"
    } else if (s.contains("waiting for") && (s.contains("commit") || s.contains("flush")))
        || s.contains("opening table")
        || s.contains("disk")
        || s.contains("tmp table")
    {
        "IO"
    } else {
        "CPU"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: serde_json::Value) -> SlowQueriesInput {
        crate::input::parse_value(v).unwrap()
    }

    fn row(id: &str, query: &str, calls: f64, total_ms: f64) -> StatementRow {
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
        }
    }

    fn snapshot(rows: Vec<StatementRow>, sessions: Vec<Session>) -> Snapshot {
        Snapshot {
            engine: Engine::Postgresql,
            server_version: "15.4".into(),
            statements: Statements::Available(StatementStats {
                source: "postgres:pg_stat_statements".into(),
                rows,
                stats_since: Some("2026-01-01 00:00:00+00".into()),
                stats_age_seconds: Some(3.0 * 86_400.0),
                io_timing: Some(true),
                hidden_rows: 0,
                scope: None,
            }),
            sessions: Ok(sessions),
            notes: vec![],
            fixes: vec![],
            rds: None,
        }
    }

    fn req(v: serde_json::Value) -> Request {
        validate(&input(v)).unwrap()
    }

    const REDACT: Presentation = Presentation {
        redact_literals: true,
    };

    #[test]
    fn defaults_follow_the_spec() {
        let r = req(json!({}));
        assert_eq!(r.limit, 20);
        assert_eq!(r.order_by, OrderBy::MeanTime);
        assert!(r.include_running);
        assert_eq!(r.running_min_seconds, 1.0);
        assert_eq!(r.sample_seconds, None);
    }

    #[test]
    fn bad_arguments_name_the_field() {
        let cases = [
            (json!({"limit": 0}), "limit"),
            (json!({"limit": -3}), "limit"),
            (json!({"min_mean_ms": -1}), "min_mean_ms"),
            (json!({"running_min_seconds": 1e9}), "running_min_seconds"),
            (json!({"sample_seconds": 0.5}), "sample_seconds"),
            (json!({"sample_seconds": 600}), "sample_seconds"),
            (json!({"order_by": "slowness"}), "order_by"),
            (json!({"target": "postgres://u:secret@h/db"}), "target"),
            (json!({"target": ""}), "target"),
        ];
        for (v, field) in cases {
            let err = crate::input::parse_value::<SlowQueriesInput>(v.clone())
                .and_then(|i| validate(&i))
                .unwrap_err();
            assert_eq!(err.field, field, "{v}: {err}");
        }
        let err = validate(&input(json!({"target": "postgres://u:secret@h/db"}))).unwrap_err();
        assert!(!err.message.contains("secret"));
        let r = req(json!({"limit": 5000}));
        assert_eq!(r.limit, 100);
        assert!(r.limit_capped);
    }

    // Column lists as the view has them in each extension version (recorded from
    // PostgreSQL 12, 13, 15 and 17 installations).
    const PGSS_1_7: &[&str] = &[
        "userid",
        "dbid",
        "queryid",
        "query",
        "calls",
        "total_time",
        "min_time",
        "max_time",
        "mean_time",
        "stddev_time",
        "rows",
        "shared_blks_hit",
        "shared_blks_read",
        "shared_blks_dirtied",
        "shared_blks_written",
        "local_blks_hit",
        "local_blks_read",
        "local_blks_dirtied",
        "local_blks_written",
        "temp_blks_read",
        "temp_blks_written",
        "blk_read_time",
        "blk_write_time",
    ];
    const PGSS_1_8: &[&str] = &[
        "userid",
        "dbid",
        "queryid",
        "query",
        "plans",
        "total_plan_time",
        "min_plan_time",
        "max_plan_time",
        "mean_plan_time",
        "stddev_plan_time",
        "calls",
        "total_exec_time",
        "min_exec_time",
        "max_exec_time",
        "mean_exec_time",
        "stddev_exec_time",
        "rows",
        "shared_blks_hit",
        "shared_blks_read",
        "shared_blks_dirtied",
        "shared_blks_written",
        "local_blks_hit",
        "local_blks_read",
        "local_blks_dirtied",
        "local_blks_written",
        "temp_blks_read",
        "temp_blks_written",
        "blk_read_time",
        "blk_write_time",
        "wal_records",
        "wal_fpi",
        "wal_bytes",
    ];
    const PGSS_1_10: &[&str] = &[
        "userid",
        "dbid",
        "toplevel",
        "queryid",
        "query",
        "plans",
        "total_plan_time",
        "min_plan_time",
        "max_plan_time",
        "mean_plan_time",
        "stddev_plan_time",
        "calls",
        "total_exec_time",
        "min_exec_time",
        "max_exec_time",
        "mean_exec_time",
        "stddev_exec_time",
        "rows",
        "shared_blks_hit",
        "shared_blks_read",
        "shared_blks_dirtied",
        "shared_blks_written",
        "local_blks_hit",
        "local_blks_read",
        "local_blks_dirtied",
        "local_blks_written",
        "temp_blks_read",
        "temp_blks_written",
        "blk_read_time",
        "blk_write_time",
        "temp_blk_read_time",
        "temp_blk_write_time",
        "wal_records",
        "wal_fpi",
        "wal_bytes",
        "jit_functions",
        "jit_generation_time",
        "jit_inlining_count",
        "jit_inlining_time",
        "jit_optimization_count",
        "jit_optimization_time",
        "jit_emission_count",
        "jit_emission_time",
    ];
    const PGSS_1_11: &[&str] = &[
        "userid",
        "dbid",
        "toplevel",
        "queryid",
        "query",
        "plans",
        "total_plan_time",
        "min_plan_time",
        "max_plan_time",
        "mean_plan_time",
        "stddev_plan_time",
        "calls",
        "total_exec_time",
        "min_exec_time",
        "max_exec_time",
        "mean_exec_time",
        "stddev_exec_time",
        "rows",
        "shared_blks_hit",
        "shared_blks_read",
        "shared_blks_dirtied",
        "shared_blks_written",
        "local_blks_hit",
        "local_blks_read",
        "local_blks_dirtied",
        "local_blks_written",
        "temp_blks_read",
        "temp_blks_written",
        "shared_blk_read_time",
        "shared_blk_write_time",
        "local_blk_read_time",
        "local_blk_write_time",
        "temp_blk_read_time",
        "temp_blk_write_time",
        "wal_records",
        "wal_fpi",
        "wal_bytes",
        "jit_functions",
        "jit_generation_time",
        "jit_inlining_count",
        "jit_inlining_time",
        "jit_optimization_count",
        "jit_optimization_time",
        "jit_emission_count",
        "jit_emission_time",
        "jit_deform_count",
        "jit_deform_time",
        "stats_since",
        "minmax_stats_since",
    ];

    #[test]
    fn pgss_1_7_uses_total_time_and_blk_times() {
        let c = PgssColumns::discover(PGSS_1_7).unwrap();
        assert_eq!(c.total, "total_time");
        assert_eq!(c.plan, None);
        assert_eq!(c.io, ["blk_read_time", "blk_write_time"]);
        assert!(!c.toplevel);
        let sql = c.counters_sql();
        assert!(sql.contains("total_time::float8") && !sql.contains("exec_time"));
        assert!(sql.contains("pg_stat_statements(false)"), "{sql}");
        assert!(sql.contains("NULL::float8") && !sql.contains("toplevel"));
        assert!(!c.texts_sql().contains("toplevel"));
    }

    #[test]
    fn pgss_1_8_has_exec_and_plan_time() {
        let c = PgssColumns::discover(PGSS_1_8).unwrap();
        assert_eq!(c.total, "total_exec_time");
        assert_eq!(c.plan, Some("total_plan_time"));
        assert_eq!(c.io, ["blk_read_time", "blk_write_time"]);
        assert!(!c.toplevel);
    }

    #[test]
    fn pgss_1_10_adds_toplevel_and_temp_io() {
        let c = PgssColumns::discover(PGSS_1_10).unwrap();
        assert_eq!(c.total, "total_exec_time");
        assert_eq!(
            c.io,
            [
                "blk_read_time",
                "blk_write_time",
                "temp_blk_read_time",
                "temp_blk_write_time"
            ]
        );
        assert!(c.toplevel);
        assert!(c.counters_sql().contains("AND toplevel"));
        assert!(c.texts_sql().contains("AND toplevel"));
    }

    #[test]
    fn pgss_1_11_renames_block_io_time() {
        let c = PgssColumns::discover(PGSS_1_11).unwrap();
        assert_eq!(
            c.io,
            [
                "shared_blk_read_time",
                "shared_blk_write_time",
                "local_blk_read_time",
                "local_blk_write_time",
                "temp_blk_read_time",
                "temp_blk_write_time"
            ]
        );
        let sql = c.counters_sql();
        assert!(!sql.contains(" blk_read_time"), "{sql}");
        assert!(
            sql.contains("(shared_blk_read_time + shared_blk_write_time"),
            "{sql}"
        );
        // Only the text read looks at the text: to spot this tool's own statements.
        let texts = c.texts_sql();
        assert!(texts.contains("pg_stat_statements(true)"), "{texts}");
        assert!(texts.contains(&format!("LIKE '%{MONITOR_MARKER}%'")));
        // Every asked statement's text comes back (for its key), with a hash of any part
        // past 4 KiB; nothing but `$1` reaches it.
        assert!(
            texts.contains("$1::int8[]") && !texts.contains("$2"),
            "{texts}"
        );
        assert!(texts.contains("left(q, 4096), CASE WHEN length(q) > 4096 THEN hashtext("));
    }

    #[test]
    fn unknown_layout_is_an_error_naming_the_columns() {
        let err = PgssColumns::discover(&["userid", "query"]).unwrap_err();
        assert!(err.to_string().contains("userid, query"));
    }

    #[test]
    fn ranking_by_each_order() {
        let rows = vec![
            row("1", "SELECT * FROM a WHERE id = $1", 1000.0, 500.0), // 0.5 ms mean, 500 total
            row("2", "SELECT pg_sleep($1)", 2.0, 4000.0),             // 2000 ms mean
            row("3", "UPDATE b SET x = $1", 100.0, 1500.0),           // 15 ms mean
        ];
        let s = snapshot(rows, vec![]);
        let top = |order: &str| {
            let r = analyze("t", &req(json!({"order_by": order})), &s, REDACT);
            r.statements
                .iter()
                .map(|s| s.query.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(top("mean_time")[0], "SELECT pg_sleep($1)");
        assert_eq!(top("total_time")[0], "SELECT pg_sleep($1)");
        assert_eq!(top("calls")[0], "SELECT * FROM a WHERE id = $1");
        assert_eq!(top("io_time")[0], "SELECT pg_sleep($1)");
        assert_eq!(top("mean_time")[2], "SELECT * FROM a WHERE id = $1");
        let r = analyze(
            "t",
            &req(json!({"min_mean_ms": 10, "limit": 1})),
            &s,
            REDACT,
        );
        assert_eq!(r.statements.len(), 1);
        assert!(r.truncated);
        assert_eq!(r.statements_considered, 3);
        // Shares are of all statements, not just the ones shown.
        assert_eq!(r.db_time_ms, 6000.0);
        assert_eq!(r.statements[0].percent_of_db_time, 66.67);
    }

    #[test]
    fn read_write_split_and_hints() {
        let reads = snapshot(
            vec![
                row("1", "SELECT * FROM a", 10.0, 900.0),
                row("2", "UPDATE b SET x = $1", 10.0, 100.0),
            ],
            vec![],
        );
        // Symptom C needs the primary's CPU high as well as reads dominating.
        let r = analyze("t", &req(json!({"db_cpu_percent": 85})), &reads, REDACT);
        assert_eq!(r.workload.read_percent, Some(90.0));
        assert_eq!(r.workload.write_percent, Some(10.0));
        assert_eq!(r.hints.len(), 1);
        assert_eq!(r.hints[0].symptom, "C");
        assert_eq!(r.observations.db_read_percent, Some(90.0));
        assert_eq!(r.observations.db_cpu_percent, Some(85.0));
        assert_eq!(r.observations.lock_contention, Some(false));

        let writes = snapshot(
            vec![
                row("1", "SELECT * FROM a", 10.0, 200.0),
                row("2", "INSERT INTO b VALUES ($1)", 10.0, 700.0),
                row("3", "COMMIT", 10.0, 100.0),
            ],
            vec![],
        );
        // D for a write-heavy split needs the primary's CPU high (or lock waits).
        let r = analyze("t", &req(json!({"db_cpu_percent": 85})), &writes, REDACT);
        assert_eq!(r.workload.write_percent, Some(80.0));
        assert_eq!(r.hints[0].symptom, "D");
        assert!(r.hints[0].reason.contains("write-heavy"));
        let r = analyze("t", &req(json!({})), &writes, REDACT);
        assert!(r.hints.is_empty(), "{:?}", r.hints);
    }

    #[test]
    fn no_replica_hint_without_a_saturated_primary() {
        let reads = snapshot(
            vec![
                row("1", "SELECT * FROM a", 10.0, 999.0),
                row("2", "UPDATE b SET x = $1", 10.0, 1.0),
            ],
            vec![],
        );
        // CPU unknown: no C, a warning saying why, and a step that gets the CPU — from the
        // host when the database is not on RDS…
        let r = analyze("t", &req(json!({})), &reads, REDACT);
        assert!(r.hints.is_empty(), "{:?}", r.hints);
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("a read replica would not help until")),
            "{:?}",
            r.conclusion.warnings
        );
        let cpu = r
            .conclusion
            .next_steps
            .iter()
            .find(|n| n.action.contains("db_cpu_percent"))
            .expect("a step for the CPU");
        assert_eq!(cpu.tool.as_deref(), Some("slow_queries"));
        assert!(cpu.action.contains("database host's CPU"));
        // …from CloudWatch when it is.
        let mut on_rds = reads.clone();
        on_rds.rds = rds_endpoint("shop.c9akciq32.eu-west-1.rds.amazonaws.com");
        let r = analyze("t", &req(json!({})), &on_rds, REDACT);
        let cpu = r
            .conclusion
            .next_steps
            .iter()
            .find(|n| n.action.contains("db_cpu_percent"))
            .expect("a step for the CPU");
        assert_eq!(cpu.tool.as_deref(), Some("check_rds_iops"));
        assert!(cpu.action.contains("`shop`"), "{}", cpu.action);
        // CPU low: no C, no question left.
        let r = analyze("t", &req(json!({"db_cpu_percent": 30})), &reads, REDACT);
        assert!(r.hints.is_empty());
        assert!(
            !r.conclusion
                .next_steps
                .iter()
                .any(|n| n.action.contains("db_cpu_percent"))
        );
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("not saturated"))
        );
        assert!(
            r.conclusion
                .evidence
                .iter()
                .any(|e| e.metric == "db_cpu_percent" && e.source == "caller")
        );
        // An impossible CPU figure is refused.
        for bad in [
            json!({"db_cpu_percent": 120}),
            json!({"db_cpu_percent": -1}),
        ] {
            let err = validate(&input(bad)).unwrap_err();
            assert_eq!(err.field, "db_cpu_percent");
        }
    }

    /// The missing-index incident: one statement missing an index, bound by psycopg as int2
    /// and as int4 (two queryids, one text), 99.9% of database time, next to fast ones.
    #[test]
    fn one_statement_of_two_queryids_is_named_with_its_full_scan_first() {
        let scan = |id: &str, calls: f64| StatementRow {
            rows: calls * 5.0,
            shared_blks_hit: Some(calls * 11_000.0),
            shared_blks_read: Some(calls * 20.0),
            ..row(
                id,
                "SELECT id, amount, note FROM orders WHERE customer_id = $1",
                calls,
                calls * 250.0,
            )
        };
        let mut rows = vec![scan("-501", 828.0), scan("7311", 4000.0)];
        for (i, q) in [
            "SELECT email FROM customers WHERE id = $1",
            "INSERT INTO audit (item) VALUES ($1)",
            "SELECT name FROM items WHERE id = $1",
        ]
        .iter()
        .enumerate()
        {
            rows.push(StatementRow {
                rows: 300.0,
                shared_blks_hit: Some(1200.0),
                shared_blks_read: Some(0.0),
                ..row(&i.to_string(), q, 300.0, 300.0 * 0.15)
            });
        }
        let r = analyze(
            "t",
            &req(json!({"order_by": "total_time"})),
            &snapshot(rows, vec![]),
            REDACT,
        );
        let top = &r.statements[0];
        assert_eq!(top.query_ids, 2);
        assert_eq!(top.calls, 4828);
        assert_eq!(top.mean_ms, 250.0);
        assert_eq!(top.percent_of_db_time, 99.99);
        assert_eq!(r.statements_considered, 4);
        assert!(r.statements[1..].iter().all(|s| s.query_ids == 1));
        let full = top.full_scan.as_ref().expect("flagged as a full scan");
        assert_eq!(full.blocks_per_row, Some(2204.0));
        assert_eq!(full.blocks_per_call, Some(11_020.0));
        assert_eq!(full.table.as_deref(), Some("orders"));
        assert!(r.statements[1..].iter().all(|s| s.full_scan.is_none()));
        let v = &r.conclusion.verdict;
        assert!(
            v.starts_with(
                "`SELECT id, amount, note FROM orders WHERE customer_id = $1` takes 99.99% of database time"
            ) && v.contains("2 query ids")
                && v.contains("a full scan of orders"),
            "{v}"
        );
        let steps = &r.conclusion.next_steps;
        assert_eq!(
            steps[0].action,
            "Run `EXPLAIN (ANALYZE, BUFFERS) SELECT id, amount, note FROM orders WHERE customer_id = $1` yourself, with a real value for $1, on a replica or inside a transaction you roll back (BEGIN; … ROLLBACK;): it executes the statement. This tool never runs it."
        );
        assert!(
            steps[1]
                .action
                .contains("add an index on orders(customer_id): CREATE INDEX CONCURRENTLY ON orders (customer_id);"),
            "{}",
            steps[1].action
        );
        // The 0.15 ms statements get no EXPLAIN advice.
        assert_eq!(
            steps
                .iter()
                .filter(|s| s.action.contains("EXPLAIN"))
                .count(),
            1,
            "{steps:?}"
        );
        // No replica on the read share alone.
        assert!(r.hints.is_empty(), "{:?}", r.hints);
        // The same figures, ranked per call: the merged statement is still one row.
        let r = analyze(
            "t",
            &req(json!({})),
            &snapshot(vec![scan("-501", 828.0), scan("7311", 4000.0)], vec![]),
            REDACT,
        );
        assert_eq!(r.statements.len(), 1);
        assert_eq!(r.statements_considered, 1);
    }

    #[test]
    fn fast_statements_get_no_explain_advice() {
        // The slowest statement is 0.15 ms: nothing here is slow against its normal.
        let rows = vec![
            row(
                "1",
                "SELECT email FROM customers WHERE id = $1",
                1000.0,
                150.0,
            ),
            row("2", "SELECT name FROM items WHERE id = $1", 1000.0, 50.0),
            row("3", "UPDATE items SET qty = $1 WHERE id = $2", 100.0, 10.0),
        ];
        let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
        assert!(
            !r.conclusion
                .next_steps
                .iter()
                .any(|s| s.action.contains("EXPLAIN")),
            "{:?}",
            r.conclusion.next_steps
        );
        let look = r
            .conclusion
            .next_steps
            .iter()
            .find(|s| s.tool.as_deref() == Some("break_down_latency"))
            .expect("says where to look instead");
        assert!(look.why.contains("slowest 0.15 ms"), "{}", look.why);
        // 10× the median and ≥ 5 ms: that one gets it, the others not.
        let rows = vec![
            row(
                "1",
                "SELECT email FROM customers WHERE id = $1",
                1000.0,
                150.0,
            ),
            row("2", "SELECT name FROM items WHERE id = $1", 1000.0, 50.0),
            row("3", "SELECT * FROM report WHERE day = $1", 10.0, 80.0),
        ];
        let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
        let explains: Vec<&NextStep> = r
            .conclusion
            .next_steps
            .iter()
            .filter(|s| s.action.contains("EXPLAIN"))
            .collect();
        assert_eq!(explains.len(), 1, "{explains:?}");
        assert!(explains[0].action.contains("FROM report"));
        assert!(
            explains[0].why.contains("× the median"),
            "{}",
            explains[0].why
        );
    }

    #[test]
    fn an_empty_schema_says_where_it_looked() {
        let mut s = snapshot(vec![], vec![]);
        s.engine = Engine::Mariadb;
        if let Statements::Available(st) = &mut s.statements {
            st.scope = Some("schema `empty`".into());
        }
        s.notes.push("No statement digests for schema `empty` (the target's database); 12 digest(s) exist in other schemas: `shop` 12.".into());
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert_eq!(
            r.conclusion.verdict,
            "No statement statistics recorded for schema `empty`."
        );
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("`shop` 12"))
        );
    }

    #[test]
    fn mysql_digests_of_one_text_merge_and_full_scans_are_flagged() {
        let digest = |id: &str, calls: f64| StatementRow {
            rows: calls * 10.0,
            rows_examined: Some(calls * 200_000.0),
            no_index_used: Some(calls),
            shared_blks_hit: None,
            shared_blks_read: None,
            io_ms: None,
            ..row(
                id,
                "SELECT `id` , `amount` FROM `orders` WHERE `customer_id` = ?",
                calls,
                calls * 60.0,
            )
        };
        let mut s = snapshot(vec![digest("d1", 10.0), digest("d2", 5.0)], vec![]);
        s.engine = Engine::Mariadb;
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert_eq!(r.statements.len(), 1);
        assert_eq!(r.statements[0].query_ids, 2);
        assert_eq!(r.statements[0].calls, 15);
        let full = r.statements[0].full_scan.as_ref().unwrap();
        assert_eq!(full.rows_examined_per_row, Some(20_000.0));
        assert_eq!(full.table.as_deref(), Some("orders"));
        let first = &r.conclusion.next_steps[0];
        assert!(
            first
                .action
                .starts_with("Run `ANALYZE FORMAT=JSON SELECT `id` , `amount` FROM `orders`"),
            "{}",
            first.action
        );
        assert!(
            r.conclusion.next_steps[1]
                .action
                .contains("ALTER TABLE orders ADD INDEX (customer_id)")
        );
    }

    #[test]
    fn lock_waits_point_at_d_and_name_the_blocker() {
        let sessions = vec![
            Session {
                pid: 10,
                seconds: 30.0,
                state: "idle in transaction".into(),
                query: "UPDATE accounts SET balance = 0 WHERE id = 7".into(),
                ..Default::default()
            },
            Session {
                pid: 11,
                seconds: 12.0,
                state: "active".into(),
                wait_event_type: Some("Lock".into()),
                wait_event: Some("transactionid".into()),
                query: "UPDATE accounts SET balance = 1 WHERE id = 7".into(),
                blocked_by: vec![10],
            },
            Session {
                pid: 12,
                seconds: 0.1,
                state: "active".into(),
                query: "SELECT 1".into(),
                ..Default::default()
            },
        ];
        let s = snapshot(vec![row("1", "SELECT * FROM a", 10.0, 900.0)], sessions);
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert_eq!(r.blocked_sessions, 1);
        assert_eq!(r.observations.lock_contention, Some(true));
        assert!(
            r.hints
                .iter()
                .any(|h| h.symptom == "D" && h.reason.contains("pid 10"))
        );
        assert_eq!(
            r.running.len(),
            2,
            "the 0.1 s session is below the threshold"
        );
        assert_eq!(r.running[0].pid, 10);
        assert_eq!(
            r.running[1].query,
            "UPDATE accounts SET balance = ? WHERE id = ?"
        );
        assert!(r.verdict_contains("blocked"));
        let waits: Vec<_> = r
            .waits
            .iter()
            .map(|w| (w.wait_event_type.as_str(), w.sessions))
            .collect();
        assert!(
            waits.contains(&("Lock", 1))
                && waits.contains(&("CPU", 1))
                && waits.contains(&("Client", 1))
        );
        assert!(r.conclusion.next_steps[0].action.contains("pid 10"));
    }

    impl SlowQueriesReport {
        fn verdict_contains(&self, s: &str) -> bool {
            self.conclusion.verdict.contains(s)
        }
    }

    #[test]
    fn customer_data_never_reaches_the_report() {
        let sessions = vec![Session {
            pid: 5,
            seconds: 9.0,
            state: "active".into(),
            query:
                "SELECT pg_sleep(30), 'alice@example.com', 4111111111111111 /* alice@example.com */"
                    .into(),
            ..Default::default()
        }];
        let s = snapshot(
            vec![row("1", "SET app.user = 'alice@example.com'", 1.0, 1.0)],
            sessions,
        );
        let r = analyze("t", &req(json!({})), &s, REDACT);
        let out = serde_json::to_string(&r).unwrap();
        assert!(!out.contains("alice@example.com"), "{out}");
        assert!(!out.contains("4111111111111111"), "{out}");
        assert_eq!(r.running[0].query, "SELECT pg_sleep(?), ?, ?");
        let plain = analyze(
            "t",
            &req(json!({})),
            &s,
            Presentation {
                redact_literals: false,
            },
        );
        assert!(
            serde_json::to_string(&plain)
                .unwrap()
                .contains("alice@example.com")
        );
        assert!(
            plain
                .conclusion
                .warnings
                .iter()
                .any(|w| w.contains("redaction is turned off"))
        );
    }

    #[test]
    fn long_text_and_many_sessions_are_bounded() {
        let long = format!("SELECT {} FROM t", vec!["c"; 2000].join(", "));
        let sessions: Vec<Session> = (0..80)
            .map(|i| Session {
                pid: i,
                seconds: 5.0,
                state: "active".into(),
                query: long.clone(),
                ..Default::default()
            })
            .collect();
        let s = snapshot(vec![row("1", &long, 1.0, 1.0)], sessions);
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert!(r.truncated);
        assert_eq!(r.running.len(), MAX_RUNNING);
        assert_eq!(r.statements[0].query.chars().count(), MAX_QUERY_CHARS + 1);
        assert!(r.statements[0].query.ends_with('…'));
        let (cut, was) = bound_text("ééé", 2);
        assert_eq!((cut.as_str(), was), ("éé…", true));
    }

    #[test]
    fn delta_ranks_what_ran_between_snapshots() {
        let before = vec![
            row("1", "SELECT old_heavy", 1000.0, 100_000.0),
            row("2", "SELECT steady", 100.0, 100.0),
        ];
        let after = vec![
            row("1", "SELECT old_heavy", 1000.0, 100_000.0), // did not run
            row("2", "SELECT steady", 110.0, 110.0),
            row("3", "SELECT new_regression", 5.0, 5000.0),
        ];
        let d = delta(&before, &after);
        assert_eq!(d.len(), 2);
        let steady = d.iter().find(|r| r.id == "2").unwrap();
        assert_eq!((steady.calls, steady.total_ms), (10.0, 10.0));
        let s = snapshot(d, vec![]);
        let r = analyze(
            "t",
            &req(json!({"sample_seconds": 5, "order_by": "total_time"})),
            &s,
            REDACT,
        );
        assert_eq!(r.mode, "sampled");
        assert_eq!(r.statements[0].query, "SELECT new_regression");
        assert!(r.conclusion.verdict.contains("in the last 5 s"));
        // A reset between snapshots: counters went down, so `after` counts whole.
        let reset = delta(&[row("1", "q", 50.0, 50.0)], &[row("1", "q", 3.0, 9.0)]);
        assert_eq!((reset[0].calls, reset[0].total_ms), (3.0, 9.0));
    }

    #[test]
    fn known_kinds_give_the_split_without_text() {
        // As an adapter that reads counters only: every statement's kind is known, only
        // the listed one has its text.
        let known = |id: &str, kind, calls, total_ms| StatementRow {
            query: String::new(),
            kind: RowKind::Known(kind),
            ..row(id, "", calls, total_ms)
        };
        let rows = vec![
            StatementRow {
                kind: RowKind::Known(StatementKind::Read),
                ..row("1", "SELECT pg_sleep($1)", 2.0, 800.0)
            },
            known("2", StatementKind::Read, 4000.0, 100.0),
            known("3", StatementKind::Write, 990.0, 50.0),
            known("4", StatementKind::Other, 10.0, 50.0),
        ];
        let r = analyze(
            "t",
            &req(json!({"limit": 1})),
            &snapshot(rows, vec![]),
            REDACT,
        );
        assert_eq!(r.statements_considered, 4);
        assert_eq!(r.db_time_ms, 1000.0);
        assert_eq!(r.workload.read_percent, Some(90.0));
        assert_eq!(r.workload.write_percent, Some(5.0));
        assert_eq!(r.workload.other_percent, Some(5.0));
        assert_eq!(r.workload.statements_classified, 4);
        assert_eq!(r.workload.classified_percent, Some(100.0));
        assert_eq!(r.statements[0].query, "SELECT pg_sleep($1)");
        assert_eq!(r.statements[0].percent_of_db_time, 80.0);
        assert_eq!(r.statements[0].kind, "read");
    }

    #[test]
    fn unknown_kinds_are_counted_and_said() {
        let mut rows = vec![
            row("1", "SELECT 1", 10.0, 600.0),
            row("2", "UPDATE t SET a = 1", 10.0, 300.0),
        ];
        rows.push(StatementRow {
            query: String::new(),
            kind: RowKind::Unknown,
            ..row("3", "", 5.0, 100.0)
        });
        let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
        assert_eq!(r.statements_considered, 3);
        assert_eq!(r.workload.statements_classified, 2);
        assert_eq!(r.workload.classified_percent, Some(90.0));
        assert_eq!(r.workload.read_percent, Some(60.0));
        assert_eq!(r.workload.write_percent, Some(30.0));
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("1 statement(s) taking 10% of database time")),
            "{:?}",
            r.conclusion.warnings
        );
        assert!(r.statements.iter().any(|s| s.kind == "unknown"));
    }

    #[test]
    fn top_ids_are_the_listed_statements() {
        // (Texts that differ in more than a literal: literals alone now make one statement.)
        let rows = vec![
            row("a", "SELECT a FROM t", 10.0, 10.0),
            row("b", "SELECT b FROM t", 1.0, 50.0),
            row("c", "SELECT c FROM t", 100.0, 20.0),
            // The same statement as `a`, run by another role: one statement.
            row("a", "SELECT a FROM t", 10.0, 990.0),
        ];
        let snap = snapshot(rows.clone(), vec![]);
        let flat = |groups: Vec<Vec<String>>| -> Vec<String> {
            groups
                .into_iter()
                .map(|g| {
                    assert_eq!(g.len(), 1, "{g:?}");
                    g[0].clone()
                })
                .collect()
        };
        for order in ["mean_time", "total_time", "calls", "io_time"] {
            for limit in [1, 2, 3] {
                let req = req(json!({"order_by": order, "limit": limit}));
                let ids = flat(top_ids(rows.iter(), &req, Some(true), Dialect::Postgres));
                let report = analyze("t", &req, &snap, REDACT);
                let listed: Vec<String> = report
                    .statements
                    .iter()
                    .map(|s| s.query[7..8].to_owned())
                    .collect();
                assert_eq!(ids, listed, "{order} {limit}");
            }
        }
        assert_eq!(
            flat(top_ids(
                rows.iter(),
                &req(json!({"limit": 3})),
                Some(true),
                Dialect::Postgres
            )),
            ["a", "b", "c"]
        );
        assert_eq!(
            flat(top_ids(
                rows.iter(),
                &req(json!({"min_mean_ms": 40})),
                Some(true),
                Dialect::Postgres
            )),
            ["a", "b"]
        );
    }

    #[test]
    fn top_ids_list_every_id_of_a_merged_statement() {
        // As the PostgreSQL adapter ranks: no text at hand, keys known. Statement k has two
        // queryids (int2 and int4 binds) that are small apart and the largest together.
        let keyed = |id: &str, key: u64, calls: f64, total_ms: f64| StatementRow {
            query: String::new(),
            kind: RowKind::Known(StatementKind::Read),
            text_key: Some(key),
            ..row(id, "", calls, total_ms)
        };
        let rows = [
            keyed("k2", 1, 10.0, 300.0),
            keyed("x", 2, 10.0, 500.0),
            keyed("k4", 1, 10.0, 400.0),
            keyed("y", 3, 10.0, 100.0),
        ];
        let top = top_ids(
            rows.iter(),
            &req(json!({"order_by": "total_time", "limit": 2})),
            Some(true),
            Dialect::Postgres,
        );
        assert_eq!(
            top,
            vec![vec!["k2".to_owned(), "k4".to_owned()], vec!["x".to_owned()]]
        );
    }

    #[test]
    fn same_statement_of_several_roles_is_one_row() {
        let s = snapshot(
            vec![
                row("7", "SELECT x", 1.0, 10.0),
                row("7", "SELECT x", 3.0, 30.0),
            ],
            vec![],
        );
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert_eq!(r.statements.len(), 1);
        assert_eq!(r.statements[0].calls, 4);
        assert_eq!(r.statements[0].mean_ms, 10.0);
    }

    #[test]
    fn unavailable_statistics_say_why_and_keep_live_sessions() {
        let mut s = snapshot(
            vec![],
            vec![Session {
                pid: 3,
                seconds: 4.0,
                state: "active".into(),
                query: "SELECT pg_sleep(10)".into(),
                ..Default::default()
            }],
        );
        s.statements =
            Statements::Unavailable("pg_stat_statements is not installed in database shop".into());
        s.fixes.push(NextStep::new(
            "CREATE EXTENSION pg_stat_statements;",
            "it records statement statistics",
        ));
        let r = analyze("t", &req(json!({})), &s, REDACT);
        assert!(r.conclusion.verdict.contains("not installed"));
        assert_eq!(r.statements_source, "unavailable");
        assert_eq!(r.running.len(), 1);
        assert!(
            r.conclusion
                .next_steps
                .iter()
                .any(|n| n.action.contains("CREATE EXTENSION"))
        );
        assert_eq!(r.workload.read_percent, None);
    }

    #[test]
    fn io_order_without_io_timing_falls_back_to_blocks_read() {
        let mut s = snapshot(
            vec![
                row("1", "SELECT a", 1.0, 100.0),
                row("2", "SELECT b", 50.0, 10.0),
            ],
            vec![],
        );
        if let Statements::Available(st) = &mut s.statements {
            st.io_timing = Some(false);
        }
        let r = analyze("t", &req(json!({"order_by": "io_time"})), &s, REDACT);
        assert_eq!(r.statements[0].query, "SELECT b");
        assert!(r.statements[0].io_time_ms.is_none());
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("track_io_timing is off"))
        );
    }

    #[test]
    fn mysql_states_map_to_wait_types() {
        assert_eq!(mysql_wait_class("Waiting for table metadata lock"), "Lock");
        assert_eq!(mysql_wait_class("User sleep"), "Timeout");
        assert_eq!(mysql_wait_class("Sending data"), "CPU");
        assert_eq!(mysql_wait_class("Waiting for commit lock"), "Lock");
        assert_eq!(mysql_wait_class("Creating tmp table"), "IO");
    }
}
