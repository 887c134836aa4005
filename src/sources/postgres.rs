//! PostgreSQL: `pg_stat_statements` and `pg_stat_activity` as plain rows.
//!
//! One kept connection per target (see [`Pool`]), over TLS as the target's `sslmode` says
//! ([`super::tls`]). The session is made read-only and bounded before the first read:
//! `statement_timeout`, `lock_timeout`, `idle_in_transaction_session_timeout` and
//! `default_transaction_read_only` are set with bind parameters, and every read runs inside
//! `BEGIN READ ONLY`. The SQL is the constants below plus the two pg_stat_statements
//! SELECTs that [`PgssColumns`] builds from constant column names.
//!
//! A call costs one round trip once the target is known: BEGIN, the server facts, the
//! counters of every statement (`pg_stat_statements(false)`, which skips the query-text
//! file), the statistics' age, the live sessions and COMMIT are sent together. Statement
//! text is read only for statements never met before and for listed statements whose text
//! is not remembered ([`KnownStatements`]).
//!
//! Two quirks shape the code: `pg_stat_activity` is a per-transaction snapshot, so a sampled
//! call reads statements in two separate transactions; and the extension may live in any
//! schema, so the schema goes into `search_path` as a parameter rather than into the SQL.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::TryStreamExt;
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Socket, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, Verify};
use super::{AbortOnDrop, DbError, lock_timeout_ms, timeout_ms};
use crate::config::{DbSettings, Secret, SslMode, Target};
use crate::diagnosis::known::{Known, KnownStatements};
use crate::diagnosis::queries::{
    Engine, OrderBy, PgssColumns, Request, RowKind, Session, Snapshot, StatementRow,
    StatementStats, Statements, delta, top_ids,
};
use crate::diagnosis::sql::{Dialect, classify_lead, statement_key};
use crate::diagnosis::{FastMap, NextStep};

const SETUP: &str = "SELECT /* pwt:monitor */ set_config('statement_timeout', $1, false), \
    set_config('lock_timeout', $2, false), \
    set_config('idle_in_transaction_session_timeout', $3, false), \
    set_config('default_transaction_read_only', 'on', false)";

const BEGIN: &str = "BEGIN /* pwt:monitor */ TRANSACTION READ ONLY";
const COMMIT: &str = "COMMIT /* pwt:monitor */";

const SERVER_INFO: &str = "SELECT /* pwt:monitor */ current_setting('server_version'), \
    current_database()::text, current_user::text, \
    coalesce(current_setting('track_io_timing', true), 'off'), \
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')";

const EXTENSION: &str = "SELECT /* pwt:monitor */ e.extversion::text, n.nspname::text \
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace \
    WHERE e.extname = 'pg_stat_statements'";

const PRELOAD: &str = "SELECT /* pwt:monitor */ setting FROM pg_settings \
    WHERE name = 'shared_preload_libraries'";

const COLUMNS: &str = "SELECT /* pwt:monitor */ column_name::text FROM information_schema.columns \
    WHERE table_schema = $1 AND table_name = 'pg_stat_statements' ORDER BY ordinal_position";

const SEARCH_PATH: &str =
    "SELECT /* pwt:monitor */ set_config('search_path', format('pg_catalog, %I', $1::text), false)";

const STATS_INFO: &str = "SELECT /* pwt:monitor */ stats_reset::text, \
    extract(epoch FROM now() - stats_reset)::float8 FROM pg_stat_statements_info";

const ACTIVITY: &str = "SELECT /* pwt:monitor */ pid::int8, coalesce(state, ''), \
    coalesce(extract(epoch FROM clock_timestamp() - \
        coalesce(CASE WHEN state = 'active' THEN query_start END, xact_start, query_start)), 0)::float8, \
    wait_event_type::text, wait_event::text, coalesce(left(query, 4096), ''), \
    pg_blocking_pids(pid)::int8[] \
    FROM pg_stat_activity \
    WHERE datname = current_database() AND pid <> pg_backend_pid() \
    AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle' \
    ORDER BY query_start NULLS LAST LIMIT 500";

const INSUFFICIENT: &str = "<insufficient privilege>";

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
    let (client, task) = connect(target, password, settings.timeout).await?;
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
        .map_err(|e| query_error(target, password, "setting the session timeouts", e))?;
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

/// The server facts every call reads (pipelined with the statistics).
struct ServerInfo {
    version: String,
    database: String,
    user: String,
    io_timing: Option<bool>,
    read_all_stats: bool,
}

impl ServerInfo {
    fn from_row(info: &tokio_postgres::Row) -> Self {
        Self {
            version: info.try_get(0).unwrap_or_default(),
            database: info.try_get(1).unwrap_or_default(),
            user: info.try_get(2).unwrap_or_default(),
            io_timing: info.try_get::<_, String>(3).ok().map(|v| v == "on"),
            read_all_stats: info.try_get(4).unwrap_or(false),
        }
    }
}

/// The statements' counters as read, before what is known about them is applied.
#[derive(Default)]
struct Counters {
    /// The queryids of `rows`, in the same order.
    ids: Vec<i64>,
    /// The counters of the statements this role may see, one per queryid.
    rows: Vec<StatementRow>,
    /// Statements whose details (rows, IO, plan, blocks) were read; all when `None`.
    detailed: Option<HashSet<i64>>,
    /// Rows of other roles' statements (no queryid without pg_read_all_stats).
    hidden: u64,
}

impl Counters {
    fn has_details(&self, id: i64) -> bool {
        self.detailed.as_ref().is_none_or(|d| d.contains(&id))
    }
}

async fn read(
    conn: &mut Conn,
    pool: &Pool,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let q = |e: tokio_postgres::Error, what: &str| query_error(target, password, what, e);
    let started = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "postgres: {what}"
        )
    };
    let mut fixes = Vec::new();
    if conn.ready.is_none() {
        // Once per connection: find the extension and its columns, put its schema on the
        // search path, prepare the statements of a call.
        match discover(&conn.client, target, password, &mut fixes).await? {
            Ok((columns, version)) => {
                conn.ready = Some(prepare(&conn.client, target, password, columns, &version).await?)
            }
            Err(why) => {
                let (info, sessions) =
                    info_and_sessions(&conn.client, target, password, req).await?;
                let notes = privilege_notes(&info, &mut fixes);
                return Ok(Snapshot {
                    engine: Engine::Postgresql,
                    statements: Statements::Unavailable(why_text(&why, &info.database)),
                    server_version: info.version,
                    sessions,
                    notes,
                    fixes,
                    rds: None,
                });
            }
        }
        lap("layout");
    }
    let Some(ready) = &conn.ready else {
        return Err(DbError::new(
            "internal error: no pg_stat_statements layout",
            None,
        ));
    };
    let client = &conn.client;
    let sampled = req.sample_seconds.is_some();
    // Details only for the statements listed lately, unless every statement's are needed:
    // to rank by IO, for the difference of a sampled call, or when nothing was listed yet.
    let listed_lately = pool.with_known(&target.name, |k| k.listed());
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
    begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
    let info = ServerInfo::from_row(&info.map_err(|e| q(e, "reading the server version"))?);
    let mut notes = privilege_notes(&info, &mut fixes);
    lap("counters");
    let mut counters = match counters {
        Ok(counters) => counters,
        Err(e) if e.code() == Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) => {
            // The failed read aborted the transaction: read the sessions on their own.
            fixes.push(preload_fix());
            let (_, sessions) = info_and_sessions(client, target, password, req).await?;
            return Ok(Snapshot {
                engine: Engine::Postgresql,
                server_version: info.version,
                statements: Statements::Unavailable(
                    "pg_stat_statements is installed but not loaded: it is missing from shared_preload_libraries".into(),
                ),
                sessions,
                notes,
                fixes,
                rds: None,
            });
        }
        Err(e) => return Err(q(e, "reading pg_stat_statements")),
    };
    let (stats_info, sessions) = match req.sample_seconds {
        None => (stats_info, sessions),
        Some(seconds) => {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            let (begin, after, stats_info, sessions, _) = tokio::join!(
                client.batch_execute(BEGIN),
                read_counters(client, &ready.counters, &every, true),
                optional(
                    ready.stats_info.is_some(),
                    query_opt(client, ready.stats_info.as_ref())
                ),
                optional(req.include_running, client.query(&ready.activity, &[])),
                client.batch_execute(COMMIT),
            );
            begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
            let after = after.map_err(|e| q(e, "reading pg_stat_statements (second snapshot)"))?;
            counters = sampled_delta(counters, after);
            (stats_info, sessions)
        }
    };
    let sessions = match sessions {
        Some(rows) => {
            let rows = rows.map_err(|e| q(e, "reading pg_stat_activity"))?;
            Ok(parse_sessions(rows, &mut notes))
        }
        None => Ok(Vec::new()),
    };

    let mut resolved = resolve(
        pool,
        client,
        &ready.columns,
        target,
        password,
        req,
        info.io_timing,
        &mut counters,
    )
    .await?;
    if resolved
        .listed
        .iter()
        .take(req.limit)
        .flatten()
        .any(|id| !counters.has_details(*id))
    {
        // The list changed since the last call: read again, with every statement's details,
        // so that the report comes from one consistent read.
        tracing::debug!("postgres: the list changed; reading every statement's details");
        let (begin, again, _) = tokio::join!(
            client.batch_execute(BEGIN),
            read_counters(client, &ready.counters, &every, true),
            client.batch_execute(COMMIT),
        );
        begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
        counters = again.map_err(|e| q(e, "reading pg_stat_statements"))?;
        resolved = resolve(
            pool,
            client,
            &ready.columns,
            target,
            password,
            req,
            info.io_timing,
            &mut counters,
        )
        .await?;
    }
    let hidden_rows = counters.hidden;
    let rows = pool.with_known(&target.name, |k| {
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
async fn prepare(
    client: &Client,
    target: &Target,
    password: Option<&Secret>,
    columns: PgssColumns,
    version: &str,
) -> Result<Ready, DbError> {
    let q = |e: tokio_postgres::Error| query_error(target, password, "preparing the statements", e);
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

/// Reads the counters, one row per queryid (a statement run by several roles is one
/// statement), turning rows into counters as they arrive rather than collecting thousands
/// of driver rows first. `all_details`: the details of every statement were asked for.
async fn read_counters(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    all_details: bool,
) -> Result<Counters, tokio_postgres::Error> {
    let rows = client
        .query_raw(statement, params.iter().map(|p| *p as &dyn ToSql))
        .await?;
    let mut rows = std::pin::pin!(rows);
    // Room for pg_stat_statements.max's default (5,000) without regrowing.
    const TYPICAL: usize = 8192;
    let mut out = Counters {
        ids: Vec::with_capacity(TYPICAL),
        rows: Vec::with_capacity(TYPICAL),
        detailed: (!all_details).then(HashSet::new),
        hidden: 0,
    };
    let mut at: FastMap<i64, usize> =
        FastMap::with_capacity_and_hasher(TYPICAL, Default::default());
    while let Some(r) = rows.try_next().await? {
        let Some(id) = r.try_get::<_, Option<i64>>(0).ok().flatten() else {
            out.hidden += 1;
            continue;
        };
        let f = |i: usize| r.try_get::<_, Option<f64>>(i).ok().flatten();
        let details: Option<Vec<Option<f64>>> = r.try_get(3).ok().flatten();
        let d = |i: usize| details.as_ref().and_then(|v| v.get(i).copied().flatten());
        let row = StatementRow {
            calls: f(1).unwrap_or(0.0),
            total_ms: f(2).unwrap_or(0.0),
            rows: d(0).unwrap_or(0.0),
            io_ms: d(1),
            plan_ms: d(2),
            shared_blks_hit: d(3),
            shared_blks_read: d(4),
            ..Default::default()
        };
        if let (Some(set), true) = (&mut out.detailed, details.is_some()) {
            set.insert(id);
        }
        match at.get(&id) {
            Some(&i) => {
                let m = &mut out.rows[i];
                m.calls += row.calls;
                m.total_ms += row.total_ms;
                m.rows += row.rows;
                m.io_ms = sum(m.io_ms, row.io_ms);
                m.plan_ms = sum(m.plan_ms, row.plan_ms);
                m.shared_blks_hit = sum(m.shared_blks_hit, row.shared_blks_hit);
                m.shared_blks_read = sum(m.shared_blks_read, row.shared_blks_read);
            }
            None => {
                at.insert(id, out.rows.len());
                out.ids.push(id);
                out.rows.push(StatementRow {
                    id: id.to_string(),
                    ..row
                });
            }
        }
    }
    Ok(out)
}

fn sum(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// What ran between the two reads of a sampled call (both with every statement's details).
fn sampled_delta(before: Counters, after: Counters) -> Counters {
    let (ids, rows) = delta(&before.rows, &after.rows)
        .into_iter()
        .filter_map(|r| r.id.parse::<i64>().ok().map(|id| (id, r)))
        .unzip();
    Counters {
        ids,
        rows,
        detailed: None,
        hidden: after.hidden,
    }
}

/// What is known about each statement of the counters: this tool's own statements left
/// out, every other one with its kind (or unknown), and which statements the report will
/// list (with a margin).
struct Applied {
    /// Per row of the counters: its kind, or `None` for this tool's own statements.
    kinds: Vec<Option<RowKind>>,
    /// The statements to be listed, in order, and a few more after them: each as the
    /// queryids behind it (several when one text has several, see `queries::merge`).
    listed: Vec<Vec<i64>>,
    /// Statements never met before.
    unknown: Vec<i64>,
    /// Listed statements whose text is not known.
    missing_text: Vec<i64>,
}

/// How many statements beyond `limit` get their text read and count as listed, so that a
/// statement moving up a few places next time is already at hand.
const LIST_MARGIN: usize = 10;

fn apply(
    known: &KnownStatements,
    counters: &mut Counters,
    req: &Request,
    io_timing: Option<bool>,
) -> Applied {
    // The text key of every known statement, so that the ids of one text rank as one.
    for (row, id) in counters.rows.iter_mut().zip(&counters.ids) {
        row.text_key = known.key(*id);
    }
    let mut unknown = Vec::new();
    let kinds: Vec<Option<RowKind>> = counters
        .ids
        .iter()
        .map(|id| match known.known(*id) {
            Some(Known::Monitor) => None,
            Some(Known::Statement(k)) => Some(RowKind::Known(k)),
            None => {
                unknown.push(*id);
                Some(RowKind::Unknown)
            }
        })
        .collect();
    // While some statements are unknown, a few of them may turn out to be ours and drop
    // out: take a wider margin then.
    let margin = LIST_MARGIN + if unknown.is_empty() { 0 } else { 20 };
    let wide = Request {
        limit: req.limit + margin,
        ..req.clone()
    };
    let candidates = counters
        .rows
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| k.is_some())
        .map(|(r, _)| r);
    let listed: Vec<Vec<i64>> = top_ids(candidates, &wide, io_timing, Dialect::Postgres)
        .iter()
        .map(|ids| ids.iter().filter_map(|id| id.parse().ok()).collect())
        .collect();
    let mut missing_text: Vec<i64> = listed
        .iter()
        .flatten()
        .copied()
        .filter(|id| known.text(*id).is_none())
        .collect();
    unknown.sort_unstable();
    missing_text.sort_unstable();
    Applied {
        kinds,
        listed,
        unknown,
        missing_text,
    }
}

/// The rows for the report: kinds applied, this tool's statements left out, the listed
/// statements with their text. Works in place on the rows read.
fn finish_rows(counters: Counters, applied: Applied, known: &KnownStatements) -> Vec<StatementRow> {
    let texts: FastMap<i64, Arc<str>> = applied
        .listed
        .iter()
        .flatten()
        .filter_map(|id| known.text(*id).map(|t| (*id, t)))
        .collect();
    let mut rows = counters.rows;
    for ((row, id), kind) in rows.iter_mut().zip(&counters.ids).zip(&applied.kinds) {
        if let Some(kind) = kind {
            row.kind = *kind;
            if let Some(t) = texts.get(id) {
                row.query = t.to_string();
            }
        }
    }
    let mut kinds = applied.kinds.iter();
    rows.retain(|_| kinds.next().is_some_and(Option::is_some));
    rows
}

/// Gives every statement its kind and the listed ones their text, from what is known about
/// the target's statements; reads what is not known yet and remembers it. One round trip
/// when anything is new (a second one when a new statement turns out to be ours and another
/// moves up into the list); none once everything is known. A statement that left the
/// statistics before its text was read stays of unknown kind.
#[allow(clippy::too_many_arguments)]
async fn resolve(
    pool: &Pool,
    client: &Client,
    columns: &PgssColumns,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
    io_timing: Option<bool>,
    counters: &mut Counters,
) -> Result<Applied, DbError> {
    let mut asked: HashSet<i64> = HashSet::new();
    let mut texts_sql = None;
    loop {
        let applied = pool.with_known(&target.name, |known| apply(known, counters, req, io_timing));
        let wanted: Vec<i64> = applied
            .unknown
            .iter()
            .chain(&applied.missing_text)
            .copied()
            .filter(|id| !asked.contains(id))
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(applied);
        }
        // The text is kept only for the statements to be listed; the others' text is read
        // once, for its kind and key, and dropped.
        let with_text: HashSet<i64> = applied
            .missing_text
            .iter()
            .copied()
            .filter(|id| !asked.contains(id))
            .collect();
        asked.extend(&wanted);
        let sql: &str = texts_sql.get_or_insert_with(|| columns.texts_sql());
        let params: [(&(dyn ToSql + Sync), Type); 1] = [(&wanted, Type::INT8_ARRAY)];
        let (begin, found, _) = tokio::join!(
            client.batch_execute(BEGIN),
            client.query_typed(sql, &params),
            client.batch_execute(COMMIT),
        );
        begin.map_err(|e| query_error(target, password, "BEGIN READ ONLY", e))?;
        let found = found
            .map_err(|e| query_error(target, password, "reading the text of new statements", e))?;
        tracing::debug!(
            asked = wanted.len(),
            found = found.len(),
            "postgres: statement kinds and texts"
        );
        // Kinds and keys are worked out before taking the lock: tokenizing thousands of
        // texts must not hold up another call to the same target.
        let learnt: Vec<(i64, Known, Option<String>, Option<u64>)> = found
            .into_iter()
            .filter_map(|r| {
                let id = r.try_get::<_, Option<i64>>(0).ok().flatten()?;
                let keyword: String = r.try_get(1).unwrap_or_default();
                let modifies = r
                    .try_get::<_, Option<bool>>(2)
                    .ok()
                    .flatten()
                    .unwrap_or(false);
                let ours = r
                    .try_get::<_, Option<bool>>(3)
                    .ok()
                    .flatten()
                    .unwrap_or(false);
                let text: Option<String> = r.try_get(4).ok().flatten();
                let tail: Option<i32> = r.try_get(5).ok().flatten();
                if ours {
                    return Some((id, Known::Monitor, None, None));
                }
                let key = text
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(|t| text_key(t, tail));
                let kept = text.filter(|_| with_text.contains(&id));
                Some((
                    id,
                    Known::Statement(classify_lead(&keyword, modifies)),
                    kept,
                    key,
                ))
            })
            .collect();
        pool.with_known(&target.name, |known| {
            for (id, what, text, key) in learnt {
                known.learn(id, what, text.as_deref(), key);
            }
        });
    }
}

/// The key of a statement as a person reads it, from the first 4 KiB of its text (what the
/// text query sends) and a hash of the rest, so that two long statements alike only in
/// their first 4 KiB do not merge.
fn text_key(text: &str, tail: Option<i32>) -> u64 {
    use std::hash::{Hash, Hasher};
    let key = statement_key(text, Dialect::Postgres);
    match tail {
        None => key,
        Some(tail) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (key, tail).hash(&mut h);
            h.finish()
        }
    }
}

fn parse_sessions(rows: Vec<tokio_postgres::Row>, notes: &mut Vec<String>) -> Vec<Session> {
    let mut hidden = 0;
    let mut sessions = Vec::with_capacity(rows.len());
    for r in rows {
        let query: String = r.try_get(5).unwrap_or_default();
        if query == INSUFFICIENT {
            hidden += 1;
        }
        sessions.push(Session {
            pid: r.try_get(0).unwrap_or_default(),
            state: r.try_get(1).unwrap_or_default(),
            seconds: r.try_get(2).unwrap_or_default(),
            wait_event_type: r.try_get(3).ok().flatten(),
            wait_event: r.try_get(4).ok().flatten(),
            query: if query == INSUFFICIENT {
                String::new()
            } else {
                query
            },
            blocked_by: r.try_get::<_, Vec<i64>>(6).unwrap_or_default(),
        });
    }
    if hidden > 0 {
        notes.push(format!(
            "{hidden} session(s) of other roles show no query text (<insufficient privilege>)."
        ));
    }
    sessions
}

/// Server facts and (when asked) live sessions in one read-only transaction, for the calls
/// whose statistics are unavailable.
async fn info_and_sessions(
    client: &Client,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
) -> Result<(ServerInfo, Result<Vec<Session>, String>), DbError> {
    let q = |e: tokio_postgres::Error, what: &str| query_error(target, password, what, e);
    let (begin, info, sessions, _) = tokio::join!(
        client.batch_execute(BEGIN),
        client.query_typed_one(SERVER_INFO, &[]),
        optional(req.include_running, client.query_typed(ACTIVITY, &[])),
        client.batch_execute(COMMIT),
    );
    begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
    let info = ServerInfo::from_row(&info.map_err(|e| q(e, "reading the server version"))?);
    let mut notes = Vec::new();
    let sessions = match sessions {
        Some(rows) => Ok(parse_sessions(
            rows.map_err(|e| q(e, "reading pg_stat_activity"))?,
            &mut notes,
        )),
        None => Ok(Vec::new()),
    };
    // Notes about hidden sessions are dropped here: the privilege note says it all.
    Ok((info, sessions))
}

/// The note and the fix when the role cannot see other roles' statements and sessions.
fn privilege_notes(info: &ServerInfo, fixes: &mut Vec<NextStep>) -> Vec<String> {
    let mut notes = Vec::new();
    if !info.read_all_stats {
        let user = &info.user;
        notes.push(format!(
            "Role {user} is not a member of pg_read_all_stats: statements and sessions of other roles are hidden (<insufficient privilege>)."
        ));
        fixes.push(NextStep::new(
            format!("As an administrator, run: GRANT pg_read_all_stats TO {user};  (or GRANT pg_monitor TO {user};)"),
            "Without it the tool sees only this role's own statements and sessions, and may miss the slow ones.",
        ));
    }
    notes
}

enum Unavailable {
    NotInstalled { preloaded: Option<bool> },
    Layout(String),
}

fn why_text(why: &Unavailable, database: &str) -> String {
    match why {
        Unavailable::NotInstalled { preloaded } => format!(
            "pg_stat_statements is not installed in database {database}{}",
            match preloaded {
                Some(false) => " and not in shared_preload_libraries",
                _ => "",
            }
        ),
        Unavailable::Layout(m) => m.clone(),
    }
}

fn preload_fix() -> NextStep {
    NextStep::new(
        "Add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; on RDS, the DB parameter group) and restart the server, then run CREATE EXTENSION IF NOT EXISTS pg_stat_statements; in this database",
        "The extension records per-statement time; it needs to be loaded at server start.",
    )
}

/// Finds the extension, its schema and the columns its view has, in a read-only
/// transaction, and puts the schema on the session's search path.
async fn discover(
    client: &Client,
    target: &Target,
    password: Option<&Secret>,
    fixes: &mut Vec<NextStep>,
) -> Result<Result<(PgssColumns, String), Unavailable>, DbError> {
    let q = |e: tokio_postgres::Error, what: &str| query_error(target, password, what, e);
    let (begin, ext, preload) = tokio::join!(
        client.batch_execute(BEGIN),
        client.query_typed_opt(EXTENSION, &[]),
        client.query_typed_opt(PRELOAD, &[]),
    );
    let result = async {
        begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
        let ext = ext.map_err(|e| q(e, "looking for pg_stat_statements"))?;
        let Some(ext) = ext else {
            let preloaded = preload
                .map_err(|e| q(e, "reading shared_preload_libraries"))?
                .and_then(|r| r.try_get::<_, String>(0).ok())
                .map(|s| s.contains("pg_stat_statements"));
            if preloaded == Some(false) {
                fixes.push(preload_fix());
            } else {
                fixes.push(NextStep::new(
                    "As a superuser (rds_superuser on RDS), run in this database: CREATE EXTENSION IF NOT EXISTS pg_stat_statements;",
                    "The library is loaded (or could not be checked) but the extension's view is not installed in this database.",
                ));
            }
            return Ok(Err(Unavailable::NotInstalled { preloaded }));
        };
        let version: String = ext.try_get(0).unwrap_or_default();
        let schema: String = ext.try_get(1).unwrap_or_default();
        let params: [(&(dyn ToSql + Sync), Type); 1] = [(&schema, Type::TEXT)];
        let (names, path) = tokio::join!(
            client.query_typed(COLUMNS, &params),
            client.query_typed(SEARCH_PATH, &params),
        );
        let names: Vec<String> = names
            .map_err(|e| q(e, "reading the columns of pg_stat_statements"))?
            .iter()
            .filter_map(|r| r.try_get(0).ok())
            .collect();
        path.map_err(|e| q(e, "setting search_path"))?;
        Ok(match PgssColumns::discover(&names) {
            Ok(columns) => Ok((columns, version)),
            Err(e) => Err(Unavailable::Layout(format!("{e} (extension {version})"))),
        })
    }
    .await;
    // The search path is a session setting (set_config(..., false)): it outlives the COMMIT.
    client
        .batch_execute(COMMIT)
        .await
        .map_err(|e| q(e, "COMMIT"))?;
    result
}

fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

/// Connects as the target's `sslmode` says (see [`super::tls`]): `prefer` tries TLS and,
/// when TLS was used and the attempt failed, once more without; `allow` the other way
/// round; `require` and stronger only with TLS. Never TLS over a Unix socket, as libpq.
async fn connect(
    target: &Target,
    password: Option<&Secret>,
    timeout: Duration,
) -> Result<(Client, AbortOnDrop), DbError> {
    let mode = if target.host.starts_with('/') {
        SslMode::Disable
    } else {
        target.sslmode
    };
    let fail = |message: String| {
        DbError::new(
            format!("cannot connect to {}: {message}", target.describe()),
            password,
        )
    };
    let (tls, roots) = if mode == SslMode::Disable {
        (None, String::new())
    } else {
        let verify = tls::verification(target, tls::root_file_configured(&target.sslrootcert));
        let roots = match verify {
            Verify::Nothing => None,
            _ => Some(tls::load_roots(&target.sslrootcert).map_err(|e| fail(e.to_string()))?),
        };
        let config = tls::client_config(verify, roots.as_ref()).map_err(|e| fail(e.to_string()))?;
        (
            Some(MakeRustlsConnect::new(config)),
            roots.map(|r| r.described).unwrap_or_default(),
        )
    };
    let plain = || attempt(target, password, timeout, None);
    let encrypted = |required: bool| {
        attempt(
            target,
            password,
            timeout,
            tls.clone().map(|t| (t, required)),
        )
    };
    let result = match mode {
        SslMode::Disable => plain().await,
        SslMode::Prefer => match encrypted(false).await {
            Err(first) if first.tls_used => match plain().await {
                Ok(c) => {
                    let why = super::scrub(describe(&first.error), password);
                    tracing::debug!(target = %target.name, error = %why, "TLS attempt failed; connected without TLS (sslmode=prefer)");
                    Ok(c)
                }
                Err(second) => Err(Failed::both("with TLS", first, "without TLS", second)),
            },
            other => other,
        },
        SslMode::Allow => match plain().await {
            Err(first) if first.error.as_db_error().is_some() => match encrypted(true).await {
                Ok(c) => Ok(c),
                Err(second) => Err(Failed::both("without TLS", first, "with TLS", second)),
            },
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => encrypted(true).await,
    };
    result.map_err(|f| connect_error(target, password, &f, &roots))
}

/// A failed connection attempt (or two, for `prefer` and `allow`).
struct Failed {
    error: tokio_postgres::Error,
    /// The TLS handshake was started (the server accepted TLS).
    tls_used: bool,
    /// The first attempt's error, when a second one followed: (how, message).
    earlier: Option<(&'static str, &'static str, String)>,
}

impl Failed {
    fn both(
        how_first: &'static str,
        first: Failed,
        how_second: &'static str,
        second: Failed,
    ) -> Self {
        Failed {
            earlier: Some((how_first, how_second, describe(&first.error))),
            ..second
        }
    }
}

/// One connection attempt: plain, or with TLS (`required`: no plain fallback when the
/// server declines TLS). The connection runs in its own task, ended when the client is.
async fn attempt(
    target: &Target,
    password: Option<&Secret>,
    timeout: Duration,
    tls: Option<(MakeRustlsConnect, bool)>,
) -> Result<(Client, AbortOnDrop), Failed> {
    let mut config = tokio_postgres::Config::new();
    if target.host.starts_with('/') {
        config.host_path(&target.host);
    } else {
        config.host(&target.host);
    }
    config
        .port(target.port)
        .user(&target.user)
        .application_name(&target.application_name)
        .connect_timeout(timeout);
    if let Some(db) = &target.database {
        config.dbname(db);
    }
    if let Some(p) = password {
        config.password(p.expose());
    }
    let used = Arc::new(AtomicBool::new(false));
    let result = match tls {
        None => {
            config.ssl_mode(PgSslMode::Disable);
            start(&config, NoTls).await
        }
        Some((inner, required)) => {
            config.ssl_mode(if required {
                PgSslMode::Require
            } else {
                PgSslMode::Prefer
            });
            start(
                &config,
                Tracked {
                    inner,
                    used: used.clone(),
                },
            )
            .await
        }
    };
    result.map_err(|error| Failed {
        error,
        tls_used: used.load(Ordering::Relaxed),
        earlier: None,
    })
}

async fn start<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<(Client, AbortOnDrop), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    Ok((client, AbortOnDrop(task)))
}

/// The rustls connector, noting whether the server accepted TLS and the handshake began:
/// libpq's `prefer` retries without TLS only then.
struct Tracked {
    inner: MakeRustlsConnect,
    used: Arc<AtomicBool>,
}

impl<S> MakeTlsConnect<S> for Tracked
where
    MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = TrackedConnect<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(TrackedConnect {
            inner: self.inner.make_tls_connect(domain)?,
            used: self.used.clone(),
        })
    }
}

struct TrackedConnect<T> {
    inner: T,
    used: Arc<AtomicBool>,
}

impl<S, T: TlsConnect<S>> TlsConnect<S> for TrackedConnect<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: S) -> T::Future {
        self.used.store(true, Ordering::Relaxed);
        self.inner.connect(stream)
    }
}

fn connect_error(target: &Target, password: Option<&Secret>, f: &Failed, roots: &str) -> DbError {
    let detail = describe(&f.error);
    let e = &f.error;
    let mut hint = match e.code() {
        Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && (detail.contains("no encryption") || detail.contains("SSL off")) =>
        {
            " The server accepts this role only over TLS (a hostssl line in pg_hba.conf, or rds.force_ssl = 1 on RDS): set sslmode=require for the target, or verify-full with sslrootcert to also check the server's certificate.".to_owned()
        }
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            " Check the user and the password source configured for this target (password_env, PGPASSWORD or the password file).".to_owned()
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
            " Check the database name of the target.".to_owned()
        }
        Some(c) if *c == SqlState::TOO_MANY_CONNECTIONS => {
            " The server is out of connection slots: that is itself a finding (max_connections exhausted).".to_owned()
        }
        _ if detail.contains("refused") => {
            " Nothing listens there: check host and port, and that the server runs.".to_owned()
        }
        _ if detail.contains("password missing") => {
            " The server asks for a password and none is configured: set password_env for the target, PGPASSWORD, or a ~/.pgpass entry.".to_owned()
        }
        _ => tls::hint(&detail, target, roots),
    };
    let message = match &f.earlier {
        Some((how_first, how_second, first)) => {
            if hint.is_empty() {
                hint = tls::hint(first, target, roots);
            }
            format!("{how_first}: {first}; then {how_second}: {detail}")
        }
        None => detail,
    };
    DbError::new(
        format!(
            "cannot connect to {} with sslmode={}: {message}.{hint}",
            target.describe(),
            target.sslmode.as_str()
        ),
        password,
    )
}

fn query_error(
    target: &Target,
    password: Option<&Secret>,
    what: &str,
    e: tokio_postgres::Error,
) -> DbError {
    let hint = match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => {
            " The statement timeout fired: the server is slow to answer even catalogue reads."
        }
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => {
            " The lock timeout fired: something holds a lock on a catalogue (DDL in progress?)."
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            " The role lacks a privilege: GRANT pg_monitor (or pg_read_all_stats) to it."
        }
        _ => "",
    };
    DbError::new(
        format!(
            "{} failed while {what}: {}.{hint}",
            target.describe(),
            describe(&e)
        ),
        password,
    )
}

/// The driver's message with the server's own text and SQLSTATE when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                source = s.source();
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
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
    fn extension_versions_compare_numerically() {
        assert!(version_at_least("1.10", 1, 9));
        assert!(!version_at_least("1.8", 1, 9));
        assert!(version_at_least("2.0", 1, 9));
    }
}
