//! PostgreSQL: `pg_stat_statements` and `pg_stat_activity` as plain rows.
//!
//! One connection per call, no TLS in this build (`sslmode=require` is refused up front).
//! The session is made read-only and bounded before the first read: `statement_timeout`,
//! `lock_timeout`, `idle_in_transaction_session_timeout` and `default_transaction_read_only`
//! are set with bind parameters, and every read runs inside `BEGIN READ ONLY`. The SQL is
//! the constants below plus the pg_stat_statements SELECT that
//! [`PgssColumns::select_sql`] builds from constant column names.
//!
//! Two quirks shape the code: `pg_stat_activity` is a per-transaction snapshot, so a sampled
//! call reads statements in two separate transactions; and the extension may live in any
//! schema, so the schema goes into `search_path` as a parameter rather than into the SQL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls};

use super::{AbortOnDrop, DbError, lock_timeout_ms, timeout_ms};
use crate::config::{DbSettings, Secret, SslMode, Target};
use crate::diagnosis::NextStep;
use crate::diagnosis::queries::{
    Engine, KeywordTotal, PgssColumns, Request, Session, Snapshot, StatementRow, StatementStats,
    Statements, delta,
};

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

/// Idle connections kept between calls, one per target, so that a call pays neither the
/// connection start-up nor the extension discovery again. A connection is taken out for the
/// duration of a call and put back only when the call succeeded; a call that fails or times
/// out drops (closes) it.
#[derive(Default)]
pub struct Pool {
    idle: Mutex<HashMap<String, Conn>>,
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
}

struct Conn {
    client: Client,
    _task: AbortOnDrop,
    /// pg_stat_statements' layout, extension version and schema, once discovered.
    layout: Option<(PgssColumns, String, String)>,
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
        let result = read(&mut conn, target, password, req).await;
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
        layout: None,
    };
    let result = read(&mut conn, target, password, req).await;
    if result.is_ok() {
        pool.put(&target.name, conn);
    }
    result
}

async fn read(
    conn: &mut Conn,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let q = |e: tokio_postgres::Error, what: &str| query_error(target, password, what, e);
    let client = &conn.client;
    let started = std::time::Instant::now();
    let lap = |what: &str| {
        tracing::debug!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "postgres: {what}"
        )
    };
    // Sent together (pipelined): one round trip.
    let (begin, info) = tokio::join!(
        client.batch_execute(BEGIN),
        client.query_typed_one(SERVER_INFO, &[])
    );
    begin.map_err(|e| q(e, "BEGIN READ ONLY"))?;
    let info = info.map_err(|e| q(e, "reading the server version"))?;
    lap("server info");
    let server_version: String = info.try_get(0).unwrap_or_default();
    let database: String = info.try_get(1).unwrap_or_default();
    let user: String = info.try_get(2).unwrap_or_default();
    let io_timing = info.try_get::<_, String>(3).ok().map(|v| v == "on");
    let read_all_stats: bool = info.try_get(4).unwrap_or(false);

    let mut notes = Vec::new();
    let mut fixes = Vec::new();
    if !read_all_stats {
        notes.push(format!(
            "Role {user} is not a member of pg_read_all_stats: statements and sessions of other roles are hidden (<insufficient privilege>)."
        ));
        fixes.push(NextStep::new(
            format!("As an administrator, run: GRANT pg_read_all_stats TO {user};  (or GRANT pg_monitor TO {user};)"),
            "Without it the tool sees only this role's own statements and sessions, and may miss the slow ones.",
        ));
    }

    if conn.layout.is_none() {
        match discover(client, target, password, &database, &mut fixes).await? {
            Ok(layout) => {
                // For the session: the extension's schema first after pg_catalog.
                client
                    .query_typed(SEARCH_PATH, &[(&layout.2, Type::TEXT)])
                    .await
                    .map_err(|e| q(e, "setting search_path"))?;
                conn.layout = Some(layout);
            }
            Err(why) => {
                return finish(
                    client,
                    target,
                    password,
                    req,
                    server_version,
                    Statements::Unavailable(why_text(&why)),
                    notes,
                    fixes,
                )
                .await;
            }
        }
    }
    let Some((columns, version, _schema)) = &conn.layout else {
        return Err(DbError::new(
            "internal error: no pg_stat_statements layout",
            None,
        ));
    };

    lap("layout");
    let mut stats = match read_statements(client, columns, version, io_timing, req).await {
        Ok(stats) => stats,
        Err(e) if e.code() == Some(&SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE) => {
            fixes.push(preload_fix());
            return finish(
                client,
                target,
                password,
                req,
                server_version,
                Statements::Unavailable(
                    "pg_stat_statements is installed but not loaded: it is missing from shared_preload_libraries".into(),
                ),
                notes,
                fixes,
            )
            .await;
        }
        Err(e) => return Err(q(e, "reading pg_stat_statements")),
    };

    if let Some(seconds) = req.sample_seconds {
        client
            .batch_execute(COMMIT)
            .await
            .map_err(|e| q(e, "COMMIT"))?;
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        client
            .batch_execute(BEGIN)
            .await
            .map_err(|e| q(e, "BEGIN READ ONLY"))?;
        let after = read_statements(client, columns, version, io_timing, req)
            .await
            .map_err(|e| q(e, "reading pg_stat_statements (second snapshot)"))?;
        stats = StatementStats {
            rows: delta(&stats.rows, &after.rows),
            hidden_rows: after.hidden_rows,
            ..after
        };
    }
    lap("statements");
    finish(
        client,
        target,
        password,
        req,
        server_version,
        Statements::Available(stats),
        notes,
        fixes,
    )
    .await
}

enum Unavailable {
    NotInstalled {
        database: String,
        preloaded: Option<bool>,
    },
    Layout(String),
}

fn why_text(why: &Unavailable) -> String {
    match why {
        Unavailable::NotInstalled {
            database,
            preloaded,
        } => format!(
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

/// Finds the extension, its schema and the columns its view has.
async fn discover(
    client: &Client,
    target: &Target,
    password: Option<&Secret>,
    database: &str,
    fixes: &mut Vec<NextStep>,
) -> Result<Result<(PgssColumns, String, String), Unavailable>, DbError> {
    let q = |e: tokio_postgres::Error, what: &str| query_error(target, password, what, e);
    let ext = client
        .query_typed_opt(EXTENSION, &[])
        .await
        .map_err(|e| q(e, "looking for pg_stat_statements"))?;
    let Some(ext) = ext else {
        let preloaded = client
            .query_typed_opt(PRELOAD, &[])
            .await
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
        return Ok(Err(Unavailable::NotInstalled {
            database: database.to_owned(),
            preloaded,
        }));
    };
    let version: String = ext.try_get(0).unwrap_or_default();
    let schema: String = ext.try_get(1).unwrap_or_default();
    let names: Vec<String> = client
        .query_typed(COLUMNS, &[(&schema, Type::TEXT)])
        .await
        .map_err(|e| q(e, "reading the columns of pg_stat_statements"))?
        .iter()
        .filter_map(|r| r.try_get(0).ok())
        .collect();
    match PgssColumns::discover(&names) {
        Ok(columns) => Ok(Ok((columns, version, schema))),
        Err(e) => Ok(Err(Unavailable::Layout(format!(
            "{e} (extension {version})"
        )))),
    }
}

async fn read_statements(
    client: &Client,
    columns: &PgssColumns,
    version: &str,
    io_timing: Option<bool>,
    req: &Request,
) -> Result<StatementStats, tokio_postgres::Error> {
    let (order, sampled) = (req.order_by, req.sample_seconds.is_some());
    let started = std::time::Instant::now();
    // Twice the limit (and some): rows of several roles for one statement merge.
    let top = (req.limit as i64) * 2 + 20;
    let (all_sql, summary_sql) = (columns.select_all_sql(), columns.select_sql(order));
    let statements = async {
        if sampled {
            client.query_typed(&all_sql, &[]).await
        } else {
            client
                .query_typed(
                    &summary_sql,
                    &[(&top, Type::INT8), (&req.min_mean_ms, Type::FLOAT8)],
                )
                .await
        }
    };
    let info = async {
        if version_at_least(version, 1, 9) {
            client.query_typed_opt(STATS_INFO, &[]).await.ok().flatten()
        } else {
            None
        }
    };
    // Sent together (pipelined): one round trip.
    let (rows, info) = tokio::join!(statements, info);
    let rows = rows?;
    tracing::debug!(
        rows = rows.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "read pg_stat_statements"
    );
    let mut stats = StatementStats {
        source: "postgres:pg_stat_statements".into(),
        io_timing: if columns.io.is_empty() {
            None
        } else {
            io_timing
        },
        ..Default::default()
    };
    for r in rows {
        let part: String = r.try_get(0).unwrap_or_default();
        let f = |i: usize| r.try_get::<_, Option<f64>>(i).ok().flatten();
        if part == "keyword" {
            let keyword: String = r.try_get(1).unwrap_or_default();
            let statements = f(4).unwrap_or(0.0).max(0.0) as u64;
            if keyword == "<hidden>" {
                stats.hidden_rows += statements;
            } else {
                stats.by_keyword.push(KeywordTotal {
                    keyword,
                    modifies: r
                        .try_get::<_, Option<bool>>(3)
                        .ok()
                        .flatten()
                        .unwrap_or(false),
                    statements,
                    total_ms: f(5).unwrap_or(0.0),
                });
            }
            continue;
        }
        let query: String = r.try_get(2).unwrap_or_default();
        if query == INSUFFICIENT {
            stats.hidden_rows += 1;
            continue;
        }
        stats.rows.push(StatementRow {
            id: r.try_get(1).unwrap_or_default(),
            query,
            calls: f(4).unwrap_or(0.0),
            total_ms: f(5).unwrap_or(0.0),
            rows: f(6).unwrap_or(0.0),
            io_ms: f(7),
            plan_ms: f(8),
            shared_blks_hit: f(9),
            shared_blks_read: f(10),
        });
    }
    if let Some(info) = info {
        stats.stats_since = info.try_get(0).ok();
        stats.stats_age_seconds = info.try_get(1).ok();
    }
    Ok(stats)
}

/// Reads live sessions (when asked), ends the transaction and assembles the snapshot.
#[allow(clippy::too_many_arguments)]
async fn finish(
    client: &Client,
    target: &Target,
    password: Option<&Secret>,
    req: &Request,
    server_version: String,
    statements: Statements,
    mut notes: Vec<String>,
    fixes: Vec<NextStep>,
) -> Result<Snapshot, DbError> {
    let sessions = if req.include_running {
        // The read and the COMMIT after it are sent together (pipelined).
        let (rows, _) = tokio::join!(
            client.query_typed(ACTIVITY, &[]),
            client.batch_execute(COMMIT)
        );
        let rows =
            rows.map_err(|e| query_error(target, password, "reading pg_stat_activity", e))?;
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
        Ok(sessions)
    } else {
        let _ = client.batch_execute(COMMIT).await;
        Ok(Vec::new())
    };
    Ok(Snapshot {
        engine: Engine::Postgresql,
        server_version,
        statements,
        sessions,
        notes,
        fixes,
    })
}

fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a, b) >= (major, minor)
}

async fn connect(
    target: &Target,
    password: Option<&Secret>,
    timeout: Duration,
) -> Result<(Client, AbortOnDrop), DbError> {
    if target.sslmode == SslMode::Require {
        return Err(DbError::new(
            format!(
                "cannot connect to {}: it requires TLS (sslmode=require or stronger) and this build connects without TLS; use an SSH tunnel or a TLS-terminating proxy on localhost, or sslmode=disable/prefer where the server allows plain connections",
                target.describe()
            ),
            password,
        ));
    }
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
        .connect_timeout(timeout)
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    if let Some(db) = &target.database {
        config.dbname(db);
    }
    if let Some(p) = password {
        config.password(p.expose());
    }
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| connect_error(target, password, e))?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    Ok((client, AbortOnDrop(task)))
}

fn connect_error(target: &Target, password: Option<&Secret>, e: tokio_postgres::Error) -> DbError {
    let detail = describe(&e);
    let hint = match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            " Check the user and the password source configured for this target (password_env, PGPASSWORD or the password file)."
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
            " Check the database name of the target."
        }
        Some(c) if *c == SqlState::TOO_MANY_CONNECTIONS => {
            " The server is out of connection slots: that is itself a finding (max_connections exhausted)."
        }
        _ if detail.contains("refused") => {
            " Nothing listens there: check host and port, and that the server runs."
        }
        _ if detail.contains("password missing") => {
            " The server asks for a password and none is configured: set password_env for the target, PGPASSWORD, or a ~/.pgpass entry."
        }
        _ => "",
    };
    DbError::new(
        format!("cannot connect to {}: {detail}.{hint}", target.describe()),
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
                text.push_str(": ");
                text.push_str(&s.to_string());
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
        let select = layout.select_sql(crate::diagnosis::queries::OrderBy::MeanTime);
        let all = layout.select_all_sql();
        for sql in [
            &all,
            SETUP,
            SERVER_INFO,
            EXTENSION,
            PRELOAD,
            COLUMNS,
            SEARCH_PATH,
            STATS_INFO,
            ACTIVITY,
            &select,
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
