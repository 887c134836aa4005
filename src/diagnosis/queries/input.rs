//! What slow_queries is asked: the arguments as typed ([`SlowQueriesInput`]), and
//! [`validate`], which checks them once, before anything connects to a database, into a
//! [`Request`]. The adapters and the analysis take only that checked value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::sql::{Dialect, MatchForm};
use crate::diagnosis::{InputError, check_opt_range, check_range};

/// `limit` is capped here: more rows do not help a person or a model decide.
pub const MAX_LIMIT: u64 = 100;
/// The longest snapshot interval `sample_seconds` accepts.
pub const MAX_SAMPLE_SECONDS: f64 = 60.0;
/// The longest `query_text` accepted, in bytes.
pub const MAX_QUERY_TEXT_BYTES: usize = 100_000;

/// What to look at.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlowQueriesInput {
    /// A database target the operator configured, by name. Leave it out to use the default target (`DATABASE_URL`,
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
    /// Rank what ran in the last N seconds (1–60, two snapshots) instead of the figures since
    /// the last reset. The cumulative statistics can hide today's regression under months of
    /// history; leave this out for them.
    #[serde(default)]
    pub sample_seconds: Option<f64>,
    /// The primary's CPU, 0–100 (check_rds_iops CPUUtilization, or the DB host's). Hints C
    /// (read replica) and D need it high; leave it out when unknown.
    #[serde(default)]
    pub db_cpu_percent: Option<f64>,
    /// The SQL of one statement as a trace shows it — a Sentry span's description, pasted
    /// as is. Only the statements the server recorded for it are listed (searched among all
    /// of its statements, ranked as usual), with `query_match` saying how many matched, or
    /// the verdict says that none does and what to check. Any driver's placeholders (`%s`,
    /// `%(name)s`, `?`, `:name`, `$1`) or inlined values, quoted or unquoted names, any case,
    /// comments and `IN` lists of any length match the same statement. At most 100,000
    /// bytes. Leave it out to rank every statement.
    #[serde(default)]
    pub query_text: Option<String>,
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

/// The checked arguments (from [`validate`]): what the adapters read and how the analysis
/// ranks and bounds it.
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
    /// Only the statements this SQL names (see [`SlowQueriesInput::query_text`]).
    pub query_text: Option<String>,
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
    let query_text = input
        .query_text
        .as_deref()
        .map(check_query_text)
        .transpose()?;
    Ok(Request {
        limit: input.limit.min(MAX_LIMIT) as usize,
        limit_capped: input.limit > MAX_LIMIT,
        order_by: input.order_by,
        min_mean_ms,
        include_running: input.include_running,
        running_min_seconds,
        sample_seconds,
        db_cpu_percent,
        query_text,
    })
}

/// `query_text` holds SQL and is not too long to compare.
fn check_query_text(text: &str) -> Result<String, InputError> {
    if text.len() > MAX_QUERY_TEXT_BYTES {
        return Err(InputError::new(
            "query_text",
            format!(
                "is {} bytes long, at most {MAX_QUERY_TEXT_BYTES}: paste the SQL of one statement",
                text.len()
            ),
        ));
    }
    let empty = [Dialect::Postgres, Dialect::MySql]
        .iter()
        .all(|d| MatchForm::new(text, *d).is_empty());
    if empty {
        return Err(InputError::new(
            "query_text",
            "holds no SQL: paste the statement as the trace shows it (a Sentry span's description), or leave it out to rank every statement",
        ));
    }
    Ok(text.to_owned())
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
