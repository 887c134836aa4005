//! What runs right now and who this tool is on the server: the live sessions of this
//! database (`pg_stat_activity`, with `pg_blocking_pids`), the server facts every call reads,
//! and the note and fix when the role cannot see other roles' statements and sessions.

use super::{BEGIN, COMMIT, Reader, optional};
use crate::diagnosis::NextStep;
use crate::diagnosis::queries::{Request, Session};
use crate::sources::DbError;
use crate::sources::db::marked;

pub(super) const SERVER_INFO: &str = marked!(
    "SELECT",
    "current_setting('server_version'), \
    current_database()::text, current_user::text, \
    coalesce(current_setting('track_io_timing', true), 'off'), \
    pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')"
);

pub(super) const ACTIVITY: &str = marked!(
    "SELECT",
    "pid::int8, coalesce(state, ''), \
    coalesce(extract(epoch FROM clock_timestamp() - \
        coalesce(CASE WHEN state = 'active' THEN query_start END, xact_start, query_start)), 0)::float8, \
    wait_event_type::text, wait_event::text, coalesce(left(query, 4096), ''), \
    pg_blocking_pids(pid)::int8[] \
    FROM pg_stat_activity \
    WHERE datname = current_database() AND pid <> pg_backend_pid() \
    AND backend_type = 'client backend' AND state IS DISTINCT FROM 'idle' \
    ORDER BY query_start NULLS LAST LIMIT 500"
);

const INSUFFICIENT: &str = "<insufficient privilege>";

/// The server facts every call reads (pipelined with the statistics).
pub(super) struct ServerInfo {
    pub version: String,
    pub database: String,
    pub user: String,
    pub io_timing: Option<bool>,
    pub read_all_stats: bool,
}

impl ServerInfo {
    pub(super) fn from_row(info: &tokio_postgres::Row) -> Self {
        Self {
            version: info.try_get(0).unwrap_or_default(),
            database: info.try_get(1).unwrap_or_default(),
            user: info.try_get(2).unwrap_or_default(),
            io_timing: info.try_get::<_, String>(3).ok().map(|v| v == "on"),
            read_all_stats: info.try_get(4).unwrap_or(false),
        }
    }
}

/// The sessions as rows of the activity query; sessions of other roles whose text is
/// hidden are counted in a note.
pub(super) fn parse_sessions(
    rows: Vec<tokio_postgres::Row>,
    notes: &mut Vec<String>,
) -> Vec<Session> {
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
pub(super) async fn info_and_sessions(
    r: &Reader<'_>,
    req: &Request,
) -> Result<(ServerInfo, Result<Vec<Session>, String>), DbError> {
    let client = r.client;
    let q = |e: tokio_postgres::Error, what: &str| r.failed(what, e);
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
pub(super) fn privilege_notes(info: &ServerInfo, fixes: &mut Vec<NextStep>) -> Vec<String> {
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
