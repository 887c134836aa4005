//! The rules the database adapters ([`super::postgres`], [`super::mysql`]) share, and the
//! `slow_queries` call that drives them:
//! - a fixed catalogue of SQL in the code; anything that varies is a bind parameter;
//! - every session read-only at the server, with a statement timeout and a lock timeout;
//! - one overall deadline per call ([`crate::config::DbSettings::timeout`], plus the sampling
//!   interval when one is asked for), so a dead or hung server gives a clear error in
//!   bounded time while the MCP server goes on serving other calls;
//! - errors name the target and never contain its password ([`DbError`] scrubs it).

use std::time::Duration;

use super::{mysql, postgres};
use crate::config::{Config, EngineKind, LookupError, Secret, Target, resolve_password};
use crate::diagnosis::InputError;
use crate::diagnosis::queries::{
    self, Presentation, Request, SlowQueriesInput, SlowQueriesReport, Snapshot,
};

/// Why a slow_queries call produced no report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The arguments are wrong (names the field).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The target is not configured.
    #[error(transparent)]
    Target(#[from] LookupError),
    /// The database could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<CallError> for crate::error::ToolError {
    fn from(err: CallError) -> Self {
        use crate::error::{ErrorKind, ToolError};
        match err {
            CallError::Input(e) => e.into(),
            CallError::Target(e) => ToolError::new(ErrorKind::NotConfigured, e.to_string()),
            CallError::Db(e) => ToolError::new(ErrorKind::Unreachable, e.to_string()),
        }
    }
}

/// What is kept between calls: PostgreSQL connections and what is known about each
/// target's statements (MySQL connects per call).
#[derive(Debug, Default)]
pub struct Connections {
    pg: postgres::Pool,
}

/// The slow_queries call: check the arguments, pick the target, read it, let the core
/// rank and explain. Shared by the MCP tool and the CLI.
pub async fn slow_queries(
    config: &Config,
    connections: &Connections,
    input: &SlowQueriesInput,
) -> Result<SlowQueriesReport, CallError> {
    let req = queries::validate(input)?;
    let target = config.target(input.target.as_deref())?;
    let started = std::time::Instant::now();
    let snapshot = read_snapshot(config, connections, target, &req).await?;
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "snapshot read"
    );
    let report = queries::analyze(
        &target.name,
        &req,
        &snapshot,
        Presentation {
            redact_literals: config.db.redact_literals,
        },
    );
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "analysed"
    );
    Ok(report)
}

/// Why a database could not be read. Every message names the target and what to do; none
/// contains a password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DbError {
    message: String,
}

impl DbError {
    /// Builds the message, removing `secret` (as written and percent-encoded) from it.
    pub fn new(message: impl Into<String>, secret: Option<&Secret>) -> Self {
        Self {
            message: scrub(message.into(), secret),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
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
