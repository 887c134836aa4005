//! The rules the database adapters ([`super::postgres`], [`super::mysql`]) share, and
//! [`read_snapshot`], which picks the adapter for a target and bounds the read in time:
//! - a fixed catalogue of SQL in the code, every statement marked as this tool's
//!   (`monitor_marker!`); anything that varies is a bind parameter;
//! - every session read-only at the server, with a statement timeout and a lock timeout;
//! - one overall deadline per call ([`crate::config::DbSettings::timeout`], plus the sampling
//!   interval when one is asked for), so a dead or hung server gives a clear error in
//!   bounded time while the MCP server goes on serving other calls;
//! - errors name the target, say what kind of failure they are, and never contain its
//!   password ([`DbError`] scrubs it).

use std::time::Duration;

use super::{mysql, postgres};
use crate::config::{Config, EngineKind, Secret, Target, resolve_password};
use crate::diagnosis::queries::{self, Request, Snapshot};
use crate::flows::ErrorKind;

/// The marker in every statement this tool sends to a database (a comment, `/* pwt:monitor
/// */`), by which its own statements are recognised in the statistics and left out of what
/// it reports. A macro, so that the adapters' SQL constants carry it through `concat!`
/// (`marked!`); [`MONITOR_MARKER`] is the same text as a value.
macro_rules! monitor_marker {
    () => {
        "pwt:monitor"
    };
}
pub(crate) use monitor_marker;

/// The monitor marker (`monitor_marker!`) as a value, for SQL built at run time.
pub const MONITOR_MARKER: &str = monitor_marker!();

/// `<verb> /* pwt:monitor */ <rest>`: a statement of the fixed catalogue, marked as this
/// tool's own.
macro_rules! marked {
    ($verb:literal) => {
        concat!($verb, " /* ", $crate::sources::db::monitor_marker!(), " */")
    };
    ($verb:literal, $rest:literal) => {
        concat!(
            $verb,
            " /* ",
            $crate::sources::db::monitor_marker!(),
            " */ ",
            $rest
        )
    };
}
pub(crate) use marked;

/// What is kept between calls: PostgreSQL connections and what is known about each
/// target's statements (MySQL connects per call).
#[derive(Debug, Default)]
pub struct Connections {
    pg: postgres::Pool,
}

/// Why a database could not be read. Every message names the target and what to do; none
/// contains a password. The kind says what the caller can do about it: a server that
/// refuses the connection or cannot be found is [`ErrorKind::Unreachable`], one that refuses
/// the credentials or a privilege [`ErrorKind::Denied`], a timeout [`ErrorKind::TimedOut`],
/// and a password or CA file the operator has not set up [`ErrorKind::NotConfigured`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    kind: ErrorKind,
    message: String,
}

impl DbError {
    /// Builds the message, removing `secret` (as written and percent-encoded) from it.
    pub fn new(kind: ErrorKind, message: impl Into<String>, secret: Option<&Secret>) -> Self {
        Self {
            kind,
            message: scrub(message.into(), secret),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Whether a driver error comes from an operating-system timeout (a connect or read that
/// timed out), anywhere in its chain of causes.
pub(crate) fn timed_out(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Replaces every occurrence of the password in `text` with `***`.
pub fn scrub(text: String, secret: Option<&Secret>) -> String {
    let Some(secret) = secret.map(Secret::expose).filter(|s| !s.is_empty()) else {
        return text;
    };
    let encoded = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    text.replace(secret, "***").replace(&encoded, "***")
}

/// Reads one snapshot (or, with `sample_seconds`, the difference of two) from the target,
/// within the configured deadline.
pub async fn read_snapshot(
    config: &Config,
    connections: &Connections,
    target: &Target,
    req: &Request,
) -> Result<Snapshot, DbError> {
    let password = resolve_password(config, target).map_err(|why| {
        DbError::new(
            ErrorKind::NotConfigured,
            format!("cannot connect to {}: {why}", target.describe()),
            None,
        )
    })?;
    let budget = config.db.timeout + Duration::from_secs_f64(req.sample_seconds.unwrap_or(0.0));
    let work = async {
        match target.engine {
            EngineKind::Postgres => {
                postgres::snapshot(&connections.pg, target, password.as_ref(), &config.db, req)
                    .await
            }
            EngineKind::Mysql => mysql::snapshot(target, password.as_ref(), &config.db, req).await,
        }
    };
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result.map(|mut snapshot| {
            snapshot.rds = queries::rds_endpoint(&target.host);
            snapshot
        }),
        Err(_) => Err(DbError::new(
            ErrorKind::TimedOut,
            format!(
                "{} did not answer within {} s (connect + queries{}); the server may be down, \
                 overloaded or unreachable, or a proxy accepts connections without forwarding \
                 them. The bound is settings.timeout_seconds in the config file.",
                target.describe(),
                crate::diagnosis::fmt_num(budget.as_secs_f64()),
                if req.sample_seconds.is_some() {
                    " + sample_seconds"
                } else {
                    ""
                }
            ),
            password.as_ref(),
        )),
    }
}

/// Aborts a spawned task when dropped, so a connection task never outlives a call that
/// timed out.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Milliseconds for a server-side timeout: the call's budget, at least 100 ms.
pub(crate) fn timeout_ms(timeout: Duration) -> u64 {
    (timeout.as_millis() as u64).max(100)
}

/// The lock timeout: short, because waiting on a lock is exactly what must not happen to
/// a monitoring query during an incident.
pub(crate) fn lock_timeout_ms(timeout: Duration) -> u64 {
    timeout_ms(timeout).min(1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_plain_and_encoded_passwords() {
        let s = Secret::new("p@ss word");
        let out = scrub(
            "url postgresql://u:p%40ss%20word@h failed; password p@ss word".into(),
            Some(&s),
        );
        assert!(!out.contains("p@ss") && !out.contains("p%40ss"), "{out}");
        assert_eq!(scrub("x".into(), Some(&Secret::new(""))), "x");
    }
}
