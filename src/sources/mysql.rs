//! MySQL and MariaDB: statement digests, the process list and InnoDB lock waits as plain rows.
//!
//! One connection per call, over TLS as the target's `ssl-mode` says (`connect`). The
//! session is read-only
//! (`SET SESSION TRANSACTION READ ONLY`, then `START TRANSACTION READ ONLY`) with a statement
//! time limit (`max_statement_time` on MariaDB, `max_execution_time` on MySQL) and short lock
//! waits, all set with bind parameters. The connection's default schema is
//! `performance_schema`, so this tool's own statements are recorded there and drop out of
//! the digests, also of the statements run with no default schema, which count when no
//! schema is asked for (an account that may not use `performance_schema` as its default
//! connects without one, and those are then left out, saying so). The target's schema is
//! passed as a parameter, never written into SQL.
//!
//! `performance_schema` is off by default on MariaDB: the digests are then reported as
//! unavailable with the setting to change, and the live process list still works.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, DriverError, OptsBuilder, Row, SslOpts};

use super::db::marked;
use super::tls::{self, Verify};
use super::{DbError, lock_timeout_ms, timeout_ms};
use crate::config::{DbSettings, RootCerts, Secret, SslMode, Target};
use crate::diagnosis::NextStep;
use crate::diagnosis::queries::{
    Engine, Request, RowMatch, Session, Snapshot, StatementRow, StatementStats, Statements, delta,
};
use crate::flows::ErrorKind;

const SERVER_INFO: &str = marked!("SELECT", "VERSION(), @@performance_schema, CURRENT_USER()");

const READ_ONLY: &str = "SET SESSION TRANSACTION READ ONLY";
const BEGIN: &str = "START TRANSACTION READ ONLY";
const COMMIT: &str = "COMMIT";
const MARIADB_TIMEOUT: &str = "SET SESSION max_statement_time = ?";
const MYSQL_TIMEOUT: &str = "SET SESSION max_execution_time = ?";
const LOCK_WAIT: &str = "SET SESSION lock_wait_timeout = ?";
const INNODB_LOCK_WAIT: &str = "SET SESSION innodb_lock_wait_timeout = ?";

/// The default schema of this tool's connection: its own statements are recorded there.
const OWN_SCHEMA: &str = "performance_schema";

/// Digests of one schema (the first two `?` = the target's database), or of every schema
/// but this tool's when it is NULL, with the statements run with no default schema when
/// the third `?` is true. Times are picoseconds in the table; divided by 1e9 they are
/// milliseconds.
const DIGESTS: &str = marked!(
    "SELECT",
    "COALESCE(DIGEST, ''), COALESCE(DIGEST_TEXT, ''), \
    COUNT_STAR + 0e0, SUM_TIMER_WAIT / 1e9, SUM_ROWS_SENT + SUM_ROWS_AFFECTED + 0e0, \
    SUM_ROWS_EXAMINED + 0e0, SUM_NO_INDEX_USED + SUM_NO_GOOD_INDEX_USED + 0e0 \
    FROM performance_schema.events_statements_summary_by_digest \
    WHERE CASE WHEN ? IS NOT NULL THEN SCHEMA_NAME = ? \
        ELSE SCHEMA_NAME <> 'performance_schema' OR (SCHEMA_NAME IS NULL AND ?) END \
    ORDER BY SUM_TIMER_WAIT DESC LIMIT 20000"
);

/// Digests per schema other than `?` (and this tool's), for a schema that has none: where
/// the application's statements went. The second `?`: count those with no default schema.
const OTHER_SCHEMAS: &str = marked!(
    "SELECT",
    "SCHEMA_NAME, COUNT(*) + 0 \
    FROM performance_schema.events_statements_summary_by_digest \
    WHERE NOT (SCHEMA_NAME <=> ?) AND NOT (SCHEMA_NAME <=> 'performance_schema') \
    AND (SCHEMA_NAME IS NOT NULL OR ?) \
    GROUP BY SCHEMA_NAME ORDER BY COUNT(*) DESC LIMIT 1000"
);

/// How much of a statement the digest keeps (bytes of tokens); its text is cut there, with
/// no mark.
const DIGEST_LENGTH: &str = marked!("SELECT", "@@performance_schema_max_digest_length + 0");

/// The digest length when the server does not say.
const DEFAULT_DIGEST_LENGTH: u64 = 1024;

const DIGESTS_SINCE: &str = marked!(
    "SELECT",
    "CAST(MIN(FIRST_SEEN) AS CHAR), \
    TIMESTAMPDIFF(SECOND, MIN(FIRST_SEEN), NOW()) + 0e0 \
    FROM performance_schema.events_statements_summary_by_digest"
);

/// Non-idle connections, plus idle ones holding an open InnoDB transaction.
const PROCESSLIST: &str = marked!(
    "SELECT",
    "p.ID + 0, COALESCE(p.COMMAND, ''), \
    COALESCE(p.STATE, ''), p.TIME + 0e0, COALESCE(p.INFO, ''), t.trx_id IS NOT NULL \
    FROM information_schema.PROCESSLIST p \
    LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID \
    WHERE p.ID <> CONNECTION_ID() AND (p.DB = ? OR ? IS NULL) \
    AND (p.COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') OR t.trx_id IS NOT NULL) \
    ORDER BY p.TIME DESC LIMIT 500"
);

/// The same without the transaction join, for accounts without the PROCESS privilege.
const PROCESSLIST_PLAIN: &str = marked!(
    "SELECT",
    "ID + 0, COALESCE(COMMAND, ''), \
    COALESCE(STATE, ''), TIME + 0e0, COALESCE(INFO, ''), 0 \
    FROM information_schema.PROCESSLIST \
    WHERE ID <> CONNECTION_ID() AND (DB = ? OR ? IS NULL) \
    AND COMMAND NOT IN ('Sleep', 'Daemon', 'Binlog Dump') \
    ORDER BY TIME DESC LIMIT 500"
);

const MARIADB_LOCK_WAITS: &str = marked!(
    "SELECT",
    "r.trx_mysql_thread_id + 0, b.trx_mysql_thread_id + 0 \
    FROM information_schema.INNODB_LOCK_WAITS w \
    JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
    JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id"
);

const MYSQL_LOCK_WAITS: &str = marked!(
    "SELECT",
    "waiting_pid + 0, blocking_pid + 0 FROM sys.innodb_lock_waits"
);

/// Reads the statistics of `target`'s schema. The caller bounds the whole call in time.
pub async fn snapshot(
    target: &Target,
    password: Option<&Secret>,
    settings: &DbSettings,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let (mut conn, scoped) = connect(target, password).await?;
    let result = read(&mut conn, scoped, target, password, settings, req).await;
    // A polite goodbye when it is quick; the deadline of the caller bounds it anyway.
    let _ = tokio::time::timeout(Duration::from_millis(200), conn.disconnect()).await;
    result
}

/// Connects as the target's TLS settings say (MySQL's `ssl-mode` semantics, see
/// [`super::tls`]): `PREFERRED` (the default) uses TLS when the server offers it, without
/// checking the certificate, and connects without TLS to a server that has none;
/// `REQUIRED` insists on TLS; `VERIFY_CA` / `VERIFY_IDENTITY` check the certificate against
/// `ssl-ca` (else the system's roots). The default schema is [`OWN_SCHEMA`], or none when
/// the account may not use it; the flag says which.
async fn connect(target: &Target, password: Option<&Secret>) -> Result<(Conn, bool), DbError> {
    let roots_described = match &target.sslrootcert {
        RootCerts::File(p) => format!("the CA file {}", p.display()),
        _ => "the system trust store".to_owned(),
    };
    let fail = |e: mysql_async::Error, tls_used: bool| {
        connect_error(target, password, e, tls_used, &roots_described)
    };
    match open(target, password, Some(OWN_SCHEMA)).await? {
        Ok(conn) => Ok((conn, true)),
        Err((mysql_async::Error::Server(e), _)) if e.code == 1044 || e.code == 1049 => {
            match open(target, password, None).await? {
                Ok(conn) => Ok((conn, false)),
                Err((e, tls_used)) => Err(fail(e, tls_used)),
            }
        }
        Err((e, tls_used)) => Err(fail(e, tls_used)),
    }
}

/// One connection attempt (two for `PREFERRED` against a server without TLS) with `db` as
/// the default schema: the driver's error and whether TLS was used when it fails.
async fn open(
    target: &Target,
    password: Option<&Secret>,
    db: Option<&str>,
) -> Result<Result<Conn, (mysql_async::Error, bool)>, DbError> {
    tls::install_default_provider();
    let base = OptsBuilder::default()
        .ip_or_hostname(target.host.clone())
        .tcp_port(target.port)
        .user(Some(target.user.clone()))
        .pass(password.map(|p| p.expose().to_owned()))
        .db_name(db.map(str::to_owned))
        .prefer_socket(false)
        .stmt_cache_size(0);
    Ok(match target.sslmode {
        SslMode::Disable => Conn::new(base).await.map_err(|e| (e, false)),
        SslMode::Allow | SslMode::Prefer => {
            let opts = base
                .clone()
                .ssl_opts(ssl_opts(target, password, Verify::Nothing)?);
            match Conn::new(opts).await {
                Err(mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer)) => {
                    Conn::new(base).await.map_err(|e| (e, false))
                }
                other => other.map_err(|e| (e, true)),
            }
        }
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            let verify = tls::verification(target, tls::root_file_configured(&target.sslrootcert));
            let opts = base.ssl_opts(ssl_opts(target, password, verify)?);
            Conn::new(opts).await.map_err(|e| (e, true))
        }
    })
}

/// The driver's TLS options for a certificate check.
fn ssl_opts(
    target: &Target,
    password: Option<&Secret>,
    verify: Verify,
) -> Result<SslOpts, DbError> {
    let opts = SslOpts::default();
    if verify == Verify::Nothing {
        return Ok(opts.with_danger_accept_invalid_certs(true));
    }
    let opts = match &target.sslrootcert {
        RootCerts::File(path) => {
            // Checked here for a clear message; the driver reads it again itself.
            tls::load_roots(&target.sslrootcert).map_err(|e| {
                DbError::new(
                    ErrorKind::NotConfigured,
                    format!("cannot connect to {}: {e}", target.describe()),
                    password,
                )
            })?;
            opts.with_root_certs(vec![path.clone().into()])
                .with_disable_built_in_roots(true)
        }
        RootCerts::DefaultFile(_) | RootCerts::System => {
            let system = tls::system_roots_der();
            if system.is_empty() {
                opts
            } else {
                opts.with_root_certs(system.iter().map(|der| der.clone().into()).collect())
                    .with_disable_built_in_roots(true)
            }
        }
    };
    Ok(opts.with_danger_skip_domain_validation(verify == Verify::Chain))
}

/// `scoped`: this tool's statements are recorded under [`OWN_SCHEMA`], so the statements
/// with no default schema are the application's.
async fn read(
    conn: &mut Conn,
    scoped: bool,
    target: &Target,
    password: Option<&Secret>,
    settings: &DbSettings,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let q = |e: mysql_async::Error, what: &str| query_error(target, password, what, e);
    let info: Vec<Row> = conn
        .query(SERVER_INFO)
        .await
        .map_err(|e| q(e, "reading the server version"))?;
    let info = info.first();
    let server_version: String = info.and_then(|r| get(r, 0)).unwrap_or_default();
    let perf_schema: bool = info.and_then(|r| get::<i64>(r, 1)).unwrap_or(0) == 1;
    let user: String = info.and_then(|r| get(r, 2)).unwrap_or_default();
    let engine = if server_version.to_ascii_lowercase().contains("mariadb") {
        Engine::Mariadb
    } else {
        Engine::Mysql
    };

    let t = settings.timeout;
    let lock_s = lock_timeout_ms(t).div_ceil(1000);
    match engine {
        Engine::Mariadb => conn
            .exec_drop(MARIADB_TIMEOUT, (timeout_ms(t) as f64 / 1000.0,))
            .await
            .map_err(|e| q(e, "setting max_statement_time"))?,
        _ => conn
            .exec_drop(MYSQL_TIMEOUT, (timeout_ms(t),))
            .await
            .map_err(|e| q(e, "setting max_execution_time"))?,
    }
    conn.exec_drop(LOCK_WAIT, (lock_s,))
        .await
        .map_err(|e| q(e, "setting lock_wait_timeout"))?;
    conn.exec_drop(INNODB_LOCK_WAIT, (lock_s,))
        .await
        .map_err(|e| q(e, "setting innodb_lock_wait_timeout"))?;
    conn.query_drop(READ_ONLY)
        .await
        .map_err(|e| q(e, "making the session read-only"))?;
    conn.query_drop(BEGIN)
        .await
        .map_err(|e| q(e, "START TRANSACTION READ ONLY"))?;

    let mut notes = Vec::new();
    let mut fixes = Vec::new();
    let schema = target.database.clone();
    let statements = if !perf_schema {
        fixes.push(NextStep::new(
            "Turn on performance_schema (performance_schema = ON in the server's option file or, on RDS, the DB parameter group; it needs a restart)",
            "Statement digests (time per normalised statement) come from performance_schema, which MariaDB ships off.",
        ));
        Statements::Unavailable(
            "performance_schema is off, so there are no statement digests".into(),
        )
    } else {
        match read_digests(conn, schema.as_deref(), scoped).await {
            Ok(mut stats) => {
                if let Some(seconds) = req.sample_seconds {
                    conn.query_drop(COMMIT).await.map_err(|e| q(e, "COMMIT"))?;
                    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                    conn.query_drop(BEGIN)
                        .await
                        .map_err(|e| q(e, "START TRANSACTION READ ONLY"))?;
                    let after = read_digests(conn, schema.as_deref(), scoped)
                        .await
                        .map_err(|e| q(e, "reading statement digests (second snapshot)"))?;
                    stats = StatementStats {
                        rows: delta(&stats.rows, &after.rows),
                        ..after
                    };
                }
                if req.query_text.is_some() {
                    mark_cut_digests(conn, &mut stats.rows).await;
                }
                if let Some(schema) = schema.as_deref().filter(|_| stats.rows.is_empty()) {
                    stats.scope = Some(format!("schema `{schema}`"));
                    if req.sample_seconds.is_none() {
                        elsewhere(conn, schema, scoped, &mut notes, &mut fixes)
                            .await
                            .map_err(|e| q(e, "counting the digests of other schemas"))?;
                    }
                }
                if schema.is_none() && !scoped {
                    notes.push(format!("Statements run with no default schema are left out: this account may not use {OWN_SCHEMA} as its default schema, so this tool's own statements would be counted with them (GRANT SELECT ON performance_schema.* to it)."));
                }
                Statements::Available(stats)
            }
            Err(mysql_async::Error::Server(e)) if e.code == 1142 || e.code == 1044 => {
                fixes.push(NextStep::new(
                    format!(
                        "As an administrator, run: GRANT SELECT ON performance_schema.* TO {user};"
                    ),
                    "Statement digests live in performance_schema.",
                ));
                Statements::Unavailable(format!(
                    "this account may not read performance_schema ({})",
                    e.message
                ))
            }
            Err(e) => return Err(q(e, "reading statement digests")),
        }
    };

    let sessions = if req.include_running {
        read_sessions(
            conn,
            engine,
            schema.as_deref(),
            &user,
            &mut notes,
            &mut fixes,
        )
        .await
    } else {
        Ok(Vec::new())
    };
    let _ = conn.query_drop(COMMIT).await;
    Ok(Snapshot {
        engine,
        server_version,
        statements,
        sessions,
        notes,
        fixes,
        rds: None,
    })
}

/// Says where the digests are when the target's schema has none: a target pointed at the
/// wrong schema (or an application that runs with no default one) otherwise reports an
/// empty database.
async fn elsewhere(
    conn: &mut Conn,
    schema: &str,
    scoped: bool,
    notes: &mut Vec<String>,
    fixes: &mut Vec<NextStep>,
) -> Result<(), mysql_async::Error> {
    let rows: Vec<Row> = conn.exec(OTHER_SCHEMAS, (schema, scoped)).await?;
    let counts: Vec<(Option<String>, u64)> = rows
        .iter()
        .map(|r| (get::<String>(r, 0), get::<u64>(r, 1).unwrap_or(0)))
        .collect();
    let total: u64 = counts.iter().map(|(_, n)| n).sum();
    if total == 0 {
        notes.push(format!(
            "No statement digests for schema `{schema}`, nor for any other schema: the statistics were reset lately, or no statement ran since."
        ));
        return Ok(());
    }
    let named: Vec<String> = counts
        .iter()
        .take(5)
        .map(|(s, n)| match s {
            Some(s) => format!("`{s}` {n}"),
            None => format!("no default schema {n}"),
        })
        .collect();
    notes.push(format!(
        "No statement digests for schema `{schema}` (the target's database); {total} digest(s) exist in other schemas: {}{}.",
        named.join(", "),
        if counts.len() > 5 { ", …" } else { "" }
    ));
    let example = match counts.iter().find_map(|(s, _)| s.as_deref()) {
        Some(s) => format!(" (e.g. `{s}`)"),
        None => String::new(),
    };
    fixes.push(NextStep::new(
        format!(
            "Point the target's `database` at the application's schema{example}, or leave it out to read every schema (with the statements run with no default schema), and call slow_queries again"
        ),
        format!(
            "The digests are filtered by the target's schema `{schema}`, and the application's statements were recorded under another one."
        ),
    ));
    Ok(())
}

async fn read_digests(
    conn: &mut Conn,
    schema: Option<&str>,
    scoped: bool,
) -> Result<StatementStats, mysql_async::Error> {
    let rows: Vec<Row> = conn.exec(DIGESTS, (schema, schema, scoped)).await?;
    let mut stats = StatementStats {
        source: "mysql:performance_schema.events_statements_summary_by_digest".into(),
        ..Default::default()
    };
    for r in &rows {
        stats.rows.push(StatementRow {
            id: get(r, 0).unwrap_or_default(),
            query: get(r, 1).unwrap_or_default(),
            calls: get(r, 2).unwrap_or(0.0),
            total_ms: get(r, 3).unwrap_or(0.0),
            rows: get(r, 4).unwrap_or(0.0),
            rows_examined: get(r, 5),
            no_index_used: get(r, 6),
            ..Default::default()
        });
    }
    let since: Vec<Row> = conn.query(DIGESTS_SINCE).await?;
    if let Some(r) = since.first() {
        stats.stats_since = get(r, 0);
        stats.stats_age_seconds = get(r, 1);
    }
    Ok(stats)
}

/// Marks the digests whose text may be cut (it is about as long as the digest keeps), so
/// that a `query_text` is compared with them as far as they go.
async fn mark_cut_digests(conn: &mut Conn, rows: &mut [StatementRow]) {
    let max = conn
        .query_first::<Row, _>(DIGEST_LENGTH)
        .await
        .ok()
        .flatten()
        .and_then(|r| get::<u64>(&r, 0))
        .unwrap_or(DEFAULT_DIGEST_LENGTH);
    for r in rows {
        if (r.query.len() as u64) * 4 >= max * 3 {
            r.match_key = RowMatch::FromTextMaybeCut;
        }
    }
}

async fn read_sessions(
    conn: &mut Conn,
    engine: Engine,
    schema: Option<&str>,
    user: &str,
    notes: &mut Vec<String>,
    fixes: &mut Vec<NextStep>,
) -> Result<Vec<Session>, String> {
    let rows: Vec<Row> = match conn.exec(PROCESSLIST, (schema, schema)).await {
        Ok(rows) => rows,
        Err(_) => {
            notes.push("Open transactions of idle connections are not visible to this account (information_schema.INNODB_TRX needs the PROCESS privilege).".into());
            conn.exec(PROCESSLIST_PLAIN, (schema, schema))
                .await
                .map_err(|e| format!("information_schema.PROCESSLIST could not be read: {e}"))?
        }
    };
    let lock_sql = match engine {
        Engine::Mariadb => MARIADB_LOCK_WAITS,
        _ => MYSQL_LOCK_WAITS,
    };
    let mut blocked: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    match conn.query::<Row, _>(lock_sql).await {
        Ok(waits) => {
            for w in &waits {
                if let (Some(r), Some(b)) = (get::<i64>(w, 0), get::<i64>(w, 1)) {
                    let list = blocked.entry(r).or_default();
                    if !list.contains(&b) {
                        list.push(b);
                    }
                }
            }
        }
        Err(e) => {
            notes.push(format!("InnoDB lock waits could not be read ({e}); lock contention is judged from thread states only."));
            fixes.push(NextStep::new(
                format!("As an administrator, run: GRANT PROCESS ON *.* TO {user};"),
                "The process list of other accounts and InnoDB lock waits need the PROCESS privilege.",
            ));
        }
    }
    let mut sessions = Vec::with_capacity(rows.len());
    for r in &rows {
        let pid: i64 = get(r, 0).unwrap_or_default();
        let command: String = get(r, 1).unwrap_or_default();
        let state: String = get(r, 2).unwrap_or_default();
        let in_trx = get::<i64>(r, 5).unwrap_or(0) == 1;
        let blocked_by = blocked.remove(&pid).unwrap_or_default();
        let state = if command == "Sleep" && in_trx {
            "idle in transaction".to_owned()
        } else if state.is_empty() {
            command.clone()
        } else {
            state
        };
        let (wait_event_type, wait_event) = if !blocked_by.is_empty() {
            (Some("Lock".to_owned()), Some("innodb row lock".to_owned()))
        } else if command == "Sleep" {
            (
                Some("Client".to_owned()),
                Some("idle in transaction".to_owned()),
            )
        } else {
            (None, None)
        };
        sessions.push(Session {
            pid,
            seconds: get(r, 3).unwrap_or(0.0),
            state,
            wait_event_type,
            wait_event,
            query: get(r, 4).unwrap_or_default(),
            blocked_by,
        });
    }
    Ok(sessions)
}

/// A column value, or `None` when it is NULL or does not convert.
fn get<T: FromValue>(row: &Row, index: usize) -> Option<T> {
    row.get_opt::<Option<T>, usize>(index)
        .and_then(Result::ok)
        .flatten()
}

/// A failure the server did not explain: a timeout, or the server unreachable (refused,
/// unknown host, connection lost) or answering with an error.
fn failure_kind(e: &mysql_async::Error) -> ErrorKind {
    if super::db::timed_out(e) {
        ErrorKind::TimedOut
    } else {
        ErrorKind::Unreachable
    }
}

/// Why a connection failed, with what to do about it.
fn connect_error(
    target: &Target,
    password: Option<&Secret>,
    e: mysql_async::Error,
    tls_used: bool,
    roots: &str,
) -> DbError {
    let detail = e.to_string();
    let hint = match &e {
        mysql_async::Error::Server(s) if s.code == 1045 && !tls_used => {
            " Check the user and the password source configured for this target (password_env); if the account requires TLS (REQUIRE SSL, or require_secure_transport), set ssl-mode=REQUIRED or stronger for the target.".to_owned()
        }
        mysql_async::Error::Server(s) if s.code == 1045 => {
            " Check the user and the password source configured for this target (password_env).".to_owned()
        }
        mysql_async::Error::Server(s) if s.code == 3159 => {
            " The server only accepts TLS connections (require_secure_transport): set ssl-mode=REQUIRED or stronger for the target.".to_owned()
        }
        mysql_async::Error::Server(s) if s.code == 1049 => {
            " Check the database name of the target.".to_owned()
        }
        mysql_async::Error::Server(s) if s.code == 1040 => {
            " The server is out of connection slots (max_connections): that is itself a finding.".to_owned()
        }
        _ if detail.contains("refused") => {
            " Nothing listens there: check host and port, and that the server runs.".to_owned()
        }
        _ => tls::hint(&detail, target, roots),
    };
    let kind = match &e {
        // Access denied (1045, 1044), or this account only over TLS (3159).
        mysql_async::Error::Server(s) if matches!(s.code, 1044 | 1045 | 3159) => ErrorKind::Denied,
        _ => failure_kind(&e),
    };
    DbError::new(
        kind,
        format!(
            "cannot connect to {} with ssl-mode={}: {detail}.{hint}",
            target.describe(),
            target.sslmode.mysql_str()
        ),
        password,
    )
}

/// Why a read failed, with what to do about it.
fn query_error(
    target: &Target,
    password: Option<&Secret>,
    what: &str,
    e: mysql_async::Error,
) -> DbError {
    let hint = match &e {
        mysql_async::Error::Server(s) if s.code == 1969 || s.code == 3024 => {
            " The statement time limit fired: the server is slow to answer even catalogue reads."
        }
        mysql_async::Error::Server(s) if s.code == 1227 || s.code == 1142 => {
            " The account lacks a privilege: GRANT PROCESS ON *.* and SELECT ON performance_schema.* to it."
        }
        _ => "",
    };
    let kind = match &e {
        mysql_async::Error::Server(s) if s.code == 1969 || s.code == 3024 => ErrorKind::TimedOut,
        mysql_async::Error::Server(s) if s.code == 1227 || s.code == 1142 => ErrorKind::Denied,
        _ => failure_kind(&e),
    };
    DbError::new(
        kind,
        format!("{} failed while {what}: {e}.{hint}", target.describe()),
        password,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::sql::{Dialect, StatementKind, classify};

    #[test]
    fn the_catalogue_only_reads_or_limits_the_session() {
        for sql in [
            SERVER_INFO,
            DIGESTS,
            OTHER_SCHEMAS,
            DIGEST_LENGTH,
            DIGESTS_SINCE,
            PROCESSLIST,
            PROCESSLIST_PLAIN,
            MARIADB_LOCK_WAITS,
            MYSQL_LOCK_WAITS,
        ] {
            assert_eq!(classify(sql, Dialect::MySql), StatementKind::Read, "{sql}");
            assert!(
                sql.contains(crate::sources::db::MONITOR_MARKER),
                "unmarked: {sql}"
            );
        }
        for sql in [
            MARIADB_TIMEOUT,
            MYSQL_TIMEOUT,
            LOCK_WAIT,
            INNODB_LOCK_WAIT,
            READ_ONLY,
        ] {
            assert!(sql.starts_with("SET SESSION "), "{sql}");
        }
        assert!(BEGIN.ends_with("READ ONLY"));
    }
}
