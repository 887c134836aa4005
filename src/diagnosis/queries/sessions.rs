//! What runs right now: the statements (and open transactions) older than
//! `running_min_seconds`, oldest first, what every session waits on, and who blocks whom.
//! MySQL's thread states are mapped onto PostgreSQL's wait event types so the two engines
//! read alike.

use std::collections::BTreeMap;

use super::input::Request;
use super::report::{RunningQuery, WaitCount};
use super::snapshot::{Engine, Session, Snapshot};
use super::text::Shown;
use crate::diagnosis::bound::Bound;
use crate::diagnosis::{Evidence, round};

/// At most this many live sessions are listed.
pub const MAX_RUNNING: usize = 50;

/// What the live sessions show.
pub(super) struct Live {
    /// The sessions listed, oldest first.
    pub running: Vec<RunningQuery>,
    /// How many sessions qualified for `running` and how many are listed.
    pub running_bound: Bound,
    /// Sessions counted by what they wait on, most first.
    pub waits: Vec<WaitCount>,
    /// Sessions that wait for a lock another session holds.
    pub blocked: u64,
    /// The sessions holding those locks.
    pub blockers: Vec<i64>,
    /// Sessions whose wait type is `Lock`.
    pub lock_waiting: u64,
    /// Whether any session waits on a lock; `None` when the sessions were not read.
    pub lock_contention: Option<bool>,
}

/// Reads the live sessions of `snap` when the request asks for them: the list, the waits
/// and the locks, with their evidence (or a warning saying why they are unavailable).
pub(super) fn live(
    req: &Request,
    snap: &Snapshot,
    text: &mut Shown,
    evidence: &mut Vec<Evidence>,
    warnings: &mut Vec<String>,
) -> Live {
    let mut running = Vec::new();
    let mut running_bound = Bound::default();
    let mut waits: BTreeMap<String, u64> = BTreeMap::new();
    let mut blocked = 0u64;
    let mut blockers: Vec<i64> = Vec::new();
    let mut sessions_known = false;
    if req.include_running {
        match &snap.sessions {
            Ok(sessions) => {
                sessions_known = true;
                for s in sessions {
                    *waits.entry(wait_class(snap.engine, s)).or_default() += 1;
                    if !s.blocked_by.is_empty() {
                        blocked += 1;
                        for b in &s.blocked_by {
                            if !blockers.contains(b) {
                                blockers.push(*b);
                            }
                        }
                    }
                }
                (running, running_bound) = listed(req, sessions, text);
                let source = format!(
                    "{}:{}",
                    snap.engine.prefix(),
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
                    &source,
                ));
                evidence.push(Evidence::number(
                    "blocked_sessions",
                    blocked as f64,
                    "sessions",
                    &source,
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
    Live {
        running,
        running_bound,
        waits,
        blocked,
        blockers,
        lock_waiting,
        lock_contention: sessions_known.then_some(blocked > 0 || lock_waiting > 0),
    }
}

/// The sessions to list: older than `running_min_seconds` or blocked, oldest first, at most
/// [`MAX_RUNNING`].
fn listed(req: &Request, sessions: &[Session], text: &mut Shown) -> (Vec<RunningQuery>, Bound) {
    let mut old: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.seconds >= req.running_min_seconds || !s.blocked_by.is_empty())
        .collect();
    old.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.pid.cmp(&b.pid)));
    let bound = Bound::cut(&mut old, MAX_RUNNING);
    text.truncated |= bound.truncated;
    let listed = old
        .into_iter()
        .map(|s| RunningQuery {
            pid: s.pid,
            seconds: round(s.seconds, 1),
            state: s.state.clone(),
            wait_event_type: s.wait_event_type.clone(),
            wait_event: s.wait_event.clone(),
            query: text.show(&s.query),
            blocked_by: s.blocked_by.clone(),
        })
        .collect();
    (listed, bound)
}

/// Up to ten pids, for a sentence.
pub(super) fn join_pids(pids: &[i64]) -> String {
    pids.iter()
        .take(10)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(", ")
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
