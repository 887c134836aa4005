//! PostgreSQL: `pg_stat_statements` and `pg_stat_activity` as plain rows.
//!
//! One kept connection per target (see [`Pool`]), over TLS as the target's `sslmode` says
//! ([`super::tls`], `connect`). The session is made read-only and bounded before the
//! first read: `statement_timeout`, `lock_timeout`, `idle_in_transaction_session_timeout`
//! and `default_transaction_read_only` are set with bind parameters, and every read runs
//! inside `BEGIN READ ONLY`. The SQL is the constants of these files plus the two
//! pg_stat_statements SELECTs that `PgssColumns` builds from constant column names
//! (`statements`).
//!
//! A call costs one round trip once the target is known: BEGIN, the server facts, the
//! counters of every statement (`pg_stat_statements(false)`, which skips the query-text
//! file; `counters`), the statistics' age, the live sessions (`activity`) and COMMIT are
//! sent together. Statement text is read only for statements never met before and for
//! listed statements whose text is not remembered ([`KnownStatements`], applied by
//! `resolve`).
//!
//! Two quirks shape the code: `pg_stat_activity` is a per-transaction snapshot, so a sampled
//! call reads statements in two separate transactions; and the extension may live in any
//! schema, so the schema goes into `search_path` as a parameter rather than into the SQL.

mod activity;
mod connect;
mod counters;
pub mod known;
mod resolve;
mod statements;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

use super::db::marked;
use super::{AbortOnDrop, DbError, lock_timeout_ms, timeout_ms};
use crate::config::{DbSettings, Secret, Target};
use crate::diagnosis::NextStep;
use crate::diagnosis::queries::{
    Engine, OrderBy, Request, Session, Snapshot, StatementStats, Statements,
};
use activity::{ACTIVITY, SERVER_INFO, ServerInfo, info_and_sessions, parse_sessions};
use counters::{Counters, read_counters, sampled_delta};
use known::KnownStatements;
use resolve::{Applied, finish_rows, resolve};
use statements::PgssColumns;
use statements::{STATS_INFO, discover, preload_fix, version_at_least, why_text};

const SETUP: &str = marked!(
    "SELECT",
    "set_config('statement_timeout', $1, false), \
    set_config('lock_timeout', $2, false), \
    set_config('idle_in_transaction_session_timeout', $3, false), \
    set_config('default_transaction_read_only', 'on', false)"
);

const BEGIN: &str = marked!("BEGIN", "TRANSACTION READ ONLY");
const COMMIT: &str = marked!("COMMIT");

/// What the pool keeps between calls: one idle connection per target, so that a call pays
/// neither the connection start-up (TLS included) nor the extension discovery again, and
/// per target what is known about its statements ([`KnownStatements`]), so that a call
/// reads statement text only for statements it has not met before. A connection is taken
/// out for the duration of a call and put back only when the call succeeded; a call that
/// fails or times out drops (closes) it. What is known outlives connections.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, Conn>>,
    known: Mutex<HashMap<String, KnownStatements>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

impl Pool {
    fn take(&self, key: &str) -> Option<Conn> {
        self.idle.lock().ok()?.remove(key)
    }

    fn put(&self, key: &str, conn: Conn) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.insert(key.to_owned(), conn);
        }
    }

    /// Runs `f` on what is known about `target`'s statements. A std mutex: it is never held
    /// across an `.await`.
    fn with_known<R>(&self, target: &str, f: impl FnOnce(&mut KnownStatements) -> R) -> R {
        match self.known.lock() {
            Ok(mut map) => f(map.entry(target.to_owned()).or_default()),
            // A panic elsewhere poisoned it: work without memory rather than fail.
            Err(_) => f(&mut KnownStatements::default()),
        }
    }
}

struct Conn {
    client: Client,
    _task: AbortOnDrop,
    /// pg_stat_statements' layout and the statements of every call, prepared once.
    ready: Option<Ready>,
}

/// What a connection needs for a call once pg_stat_statements is found: its layout and the
/// per-call statements, prepared (parsed and planned once per connection, not per call).
struct Ready {
    columns: PgssColumns,
    info: Statement,
    counters: Statement,
    stats_info: Option<Statement>,
    activity: Statement,
}

/// One call's connection to its target: what every read needs, and how a failed read is
/// told (naming the target, never its password).
struct Reader<'a> {
    pool: &'a Pool,
    client: &'a Client,
    target: &'a Target,
    password: Option<&'a Secret>,
}

impl Reader<'_> {
    /// The error for a read that failed while doing `what`.
    fn failed(&self, what: &str, e: tokio_postgres::Error) -> DbError {
        connect::query_error(self.target, self.password, what, e)
    }

    /// A snapshot of this server without statement statistics, saying why.
    fn without_statistics(
        &self,
        info: ServerInfo,
        why: String,
        sessions: Result<Vec<Session>, String>,
        notes: Vec<String>,
        fixes: Vec<NextStep>,
    ) -> Snapshot {
        Snapshot {
            engine: Engine::Postgresql,
            server_version: info.version,
            statements: Statements::Unavailable(why),
            sessions,
            notes,
            fixes,
            rds: None,
        }
    }
}

/// Reads the statistics of `target`'s database, on a kept connection when there is one.
/// The caller bounds the whole call in time.
pub async fn snapshot(
    pool: &Pool,
    target: &Target,
    password: Option<&Secret>,
    settings: &DbSettings,
    req: &Request,
) -> Result<Snapshot, DbError> {
    if let Some(mut conn) = pool.take(&target.name) {
        let result = read(&mut conn, pool, target, password, req).await;
        if result.is_ok() {
            pool.put(&target.name, conn);
            return result;
        }
        if !conn.client.is_closed() {
            return result;
        }
        tracing::debug!(target = %target.name, "kept connection was closed; reconnecting");
    }
    let (client, task) = connect::connect(target, password, settings.timeout).await?;
    let t = settings.timeout;
    client
        .query_typed(
            SETUP,
            &[
                (&timeout_ms(t).to_string(), Type::TEXT),
                (&lock_timeout_ms(t).to_string(), Type::TEXT),
                (&timeout_ms(t).to_string(), Type::TEXT),
            ],
        )
        .await
        .map_err(|e| connect::query_error(target, password, "setting the session timeouts", e))?;
    let mut conn = Conn {
        client,
        _task: task,
        ready: None,
    };
    let result = read(&mut conn, pool, target, password, req).await;
    if result.is_ok() {
        pool.put(&target.name, conn);
    }
    result
}

/// One call on a connection: the extension found and the statements prepared once per
/// connection, then the statistics.
async fn read(
    conn: &mut Conn,
    pool: &Pool,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let mut fixes = Vec::new();
    if conn.ready.is_none() {
        // Once per connection: find the extension and its columns, put its schema on the
        // search path, prepare the statements of a call.
        let r = Reader {
            pool,
            client: &conn.client,
            target,
            password,
        };
        match discover(&r, &mut fixes).await? {
            Ok((columns, version)) => conn.ready = Some(prepare(&r, columns, &version).await?),
            Err(why) => {
                let (info, sessions) = info_and_sessions(&r, req).await?;
                let notes = activity::privilege_notes(&info, &mut fixes);
                let why = why_text(&why, &info.database);
                return Ok(r.without_statistics(info, why, sessions, notes, fixes));
            }
        }
        tracing::debug!("postgres: layout");
    }
    let Some(ready) = &conn.ready else {
        return Err(DbError::new(
            crate::flows::ErrorKind::Unreachable,
            "internal error: no pg_stat_statements layout",
            None,
        ));
    };
    let r = Reader {
        pool,
        client: &conn.client,
        target,
        password,
    };
    read_statistics(&r, ready, req, fixes).await
}

/// The statistics of a connection whose pg_stat_statements is known: the counters, the
/// server facts, the statistics' age and the live sessions (twice, some seconds apart, for
/// a sampled call), then what is known about the statements applied.
async fn read_statistics(
    r: &Reader<'_>,
    ready: &Ready,
    req: &Request,
    mut fixes: Vec<NextStep>,
) -> Result<Snapshot, DbError> {
    let started = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "postgres: {what}"
        )
    };
    let client = r.client;
    let sampled = req.sample_seconds.is_some();
    // Details only for the statements listed lately, unless every statement's are needed:
    // to rank by IO, for the difference of a sampled call, or when nothing was listed yet.
    let listed_lately = r.pool.with_known(&r.target.name, |k| k.listed());
    let all_details = sampled || req.order_by == OrderBy::IoTime || listed_lately.is_empty();
    let first: [&(dyn ToSql + Sync); 2] = [&listed_lately, &all_details];
    let every: [&(dyn ToSql + Sync); 2] = [&listed_lately, &true];

    // One round trip: BEGIN, server facts, counters, statistics age, live sessions and
    // COMMIT are sent together (pipelined). A sampled call reads the counters again after
    // the interval, together with the rest.
    let (begin, info, counters, stats_info, sessions, _) = tokio::join!(
        client.batch_execute(BEGIN),
        client.query_one(&ready.info, &[]),
        read_counters(client, &ready.counters, &first, all_details),
        optional(
            !sampled && ready.stats_info.is_some(),
            query_opt(client, ready.stats_info.as_ref())
        ),
        optional(
            req.include_running && !sampled,
            client.query(&ready.activity, &[])
        ),
        client.batch_execute(COMMIT),
    );
    begin.map_err(|e| r.failed("BEGIN READ ONLY", e))?;
    let info = ServerInfo::from_row(&info.map_err(|e| r.failed("reading the server version", e))?);
    let mut notes = activity::privilege_notes(&info, &mut fixes);
    lap("counters");
    let counters = match counters {
        Ok(counters) => counters,
        Err(e) if e.code() == Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) => {
            // The failed read aborted the transaction: read the sessions on their own.
            fixes.push(preload_fix());
            let (_, sessions) = info_and_sessions(r, req).await?;
            let why = "pg_stat_statements is installed but not loaded: it is missing from shared_preload_libraries";
            return Ok(r.without_statistics(info, why.into(), sessions, notes, fixes));
        }
        Err(e) => return Err(r.failed("reading pg_stat_statements", e)),
    };
    let (counters, stats_info, sessions) = match req.sample_seconds {
        None => (counters, stats_info, sessions),
        Some(seconds) => sample_again(r, ready, req, seconds, &every, counters).await?,
    };
    let sessions = match sessions {
        Some(rows) => {
            let rows = rows.map_err(|e| r.failed("reading pg_stat_activity", e))?;
            Ok(parse_sessions(rows, &mut notes))
        }
        None => Ok(Vec::new()),
    };
    let (counters, resolved) =
        resolve_consistently(r, ready, req, info.io_timing, counters, &every).await?;
    let hidden_rows = counters.hidden;
    let rows = r.pool.with_known(&r.target.name, |k| {
        let listed: Vec<i64> = resolved.listed.iter().flatten().copied().collect();
        k.mark_listed(&listed);
        finish_rows(counters, resolved, k)
    });
    lap("statements");
    let mut stats = StatementStats {
        source: "postgres:pg_stat_statements".into(),
        rows,
        io_timing: if ready.columns.io.is_empty() {
            None
        } else {
            info.io_timing
        },
        hidden_rows,
        ..Default::default()
    };
    if let Some(Ok(Some(row))) = stats_info {
        stats.stats_since = row.try_get(0).ok();
        stats.stats_age_seconds = row.try_get(1).ok();
    }
    Ok(Snapshot {
        engine: Engine::Postgresql,
        server_version: info.version,
        statements: Statements::Available(stats),
        sessions,
        notes,
        fixes,
        rds: None,
    })
}

type StatsInfo = Option<Result<Option<tokio_postgres::Row>, tokio_postgres::Error>>;
type Activity = Option<Result<Vec<tokio_postgres::Row>, tokio_postgres::Error>>;

/// The second read of a sampled call, `seconds` after the first: what ran in between, and
/// the statistics' age and the live sessions as they are now.
async fn sample_again(
    r: &Reader<'_>,
    ready: &Ready,
    req: &Request,
    seconds: f64,
    every: &[&(dyn ToSql + Sync)],
    before: Counters,
) -> Result<(Counters, StatsInfo, Activity), DbError> {
    let client = r.client;
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let (begin, after, stats_info, sessions, _) = tokio::join!(
        client.batch_execute(BEGIN),
        read_counters(client, &ready.counters, every, true),
        optional(
            ready.stats_info.is_some(),
            query_opt(client, ready.stats_info.as_ref())
        ),
        optional(req.include_running, client.query(&ready.activity, &[])),
        client.batch_execute(COMMIT),
    );
    begin.map_err(|e| r.failed("BEGIN READ ONLY", e))?;
    let after = after.map_err(|e| r.failed("reading pg_stat_statements (second snapshot)", e))?;
    Ok((sampled_delta(before, after), stats_info, sessions))
}

/// What is known applied to the counters (`resolve`). When a statement to be listed was
/// read without its details (the list changed since the last call), every statement's
/// counters are read again with their details, so that the report comes from one
/// consistent read.
async fn resolve_consistently(
    r: &Reader<'_>,
    ready: &Ready,
    req: &Request,
    io_timing: Option<bool>,
    mut counters: Counters,
    every: &[&(dyn ToSql + Sync)],
) -> Result<(Counters, Applied), DbError> {
    loop {
        let resolved = resolve(r, &ready.columns, req, io_timing, &mut counters).await?;
        let list_changed = resolved
            .listed
            .iter()
            .take(req.limit)
            .flatten()
            .any(|id| !counters.has_details(*id));
        if !list_changed {
            return Ok((counters, resolved));
        }
        tracing::debug!("postgres: the list changed; reading every statement's details");
        let client = r.client;
        let (begin, again, _) = tokio::join!(
            client.batch_execute(BEGIN),
            read_counters(client, &ready.counters, every, true),
            client.batch_execute(COMMIT),
        );
        begin.map_err(|e| r.failed("BEGIN READ ONLY", e))?;
        counters = again.map_err(|e| r.failed("reading pg_stat_statements", e))?;
    }
}

async fn query_opt(
    client: &Client,
    statement: Option<&Statement>,
) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
    match statement {
        Some(s) => client.query_opt(s, &[]).await,
        None => Ok(None),
    }
}

/// Prepares the statements of a call on this connection (one round trip).
async fn prepare(r: &Reader<'_>, columns: PgssColumns, version: &str) -> Result<Ready, DbError> {
    let q = |e: tokio_postgres::Error| r.failed("preparing the statements", e);
    let client = r.client;
    let counters_sql = columns.counters_sql();
    let with_info = version_at_least(version, 1, 9);
    let (info, counters, stats_info, activity) = tokio::join!(
        client.prepare(SERVER_INFO),
        client.prepare_typed(&counters_sql, &[Type::INT8_ARRAY, Type::BOOL]),
        optional(with_info, client.prepare(STATS_INFO)),
        client.prepare(ACTIVITY),
    );
    Ok(Ready {
        info: info.map_err(q)?,
        counters: counters.map_err(q)?,
        stats_info: stats_info.transpose().map_err(q)?,
        activity: activity.map_err(q)?,
        columns,
    })
}

/// Runs `fut` when `wanted`, else nothing, so that it can sit in a pipelined `join!`.
async fn optional<T>(wanted: bool, fut: impl std::future::Future<Output = T>) -> Option<T> {
    if wanted { Some(fut.await) } else { None }
}

#[cfg(test)]
mod tests {
    use super::statements::{COLUMNS, EXTENSION, PRELOAD, SEARCH_PATH};
    use super::*;
    use crate::diagnosis::sql::{Dialect, StatementKind, classify};

    #[test]
    fn the_catalogue_only_reads() {
        let layout =
            PgssColumns::discover(&["queryid", "query", "calls", "total_exec_time", "rows"])
                .unwrap();
        let counters = layout.counters_sql();
        let texts = layout.texts_sql();
        for sql in [
            &counters,
            &texts,
            SETUP,
            SERVER_INFO,
            EXTENSION,
            PRELOAD,
            COLUMNS,
            SEARCH_PATH,
            STATS_INFO,
            ACTIVITY,
        ] {
            assert_eq!(
                classify(sql, Dialect::Postgres),
                StatementKind::Read,
                "{sql}"
            );
            assert!(sql.contains("pwt:monitor"), "unmarked: {sql}");
        }
        assert!(BEGIN.contains("READ ONLY"));
        assert!(COMMIT.starts_with("COMMIT") && COMMIT.contains("pwt:monitor"));
    }

    #[test]
    fn the_marker_follows_the_verb() {
        assert_eq!(BEGIN, "BEGIN /* pwt:monitor */ TRANSACTION READ ONLY");
        assert_eq!(COMMIT, "COMMIT /* pwt:monitor */");
        assert!(SETUP.starts_with("SELECT /* pwt:monitor */ set_config('statement_timeout'"));
    }
}
