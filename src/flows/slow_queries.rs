//! slow_queries: check the arguments, pick the configured target, read it through its
//! adapter within the deadline, and let the core rank and explain. Shared by the MCP tool
//! and the CLI.

use std::future::Future;
use std::time::Duration;

use crate::config::{Config, LookupError};
use crate::diagnosis::fmt_num;
use crate::diagnosis::queries::{self, Presentation, SlowQueriesInput, SlowQueriesReport};
use crate::progress::Progress;
use crate::sources::{self, Connections, DbError};

use super::{ErrorKind, ToolError};

/// One slow_queries call.
pub async fn run(
    config: &Config,
    connections: &Connections,
    input: &SlowQueriesInput,
    progress: &Progress,
) -> Result<SlowQueriesReport, ToolError> {
    let req = queries::validate(input)?;
    let target = config
        .target(input.target.as_deref())
        .map_err(not_configured)?;
    let started = std::time::Instant::now();
    let read = sources::read_snapshot(config, connections, target, &req);
    let snapshot = match req.sample_seconds {
        Some(seconds) if progress.is_listening() => while_sampling(read, seconds, progress).await,
        _ => read.await,
    }
    .map_err(unread)?;
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

/// Awaits `read`, which waits out a sample of `seconds`, reporting by the clock once a
/// second how much of the sample has passed, and done when the read ends.
async fn while_sampling<T>(read: impl Future<Output = T>, seconds: f64, progress: &Progress) -> T {
    let lane = progress.lane();
    let started = tokio::time::Instant::now();
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await; // the first tick is immediate
    let mut read = std::pin::pin!(read);
    let out = loop {
        tokio::select! {
            out = &mut read => break out,
            _ = every.tick() => {
                let passed = started.elapsed().as_secs_f64().min(seconds);
                lane.report(passed, seconds, || {
                    format!("slow_queries: sampling, {} of {} s", passed.round(), fmt_num(seconds))
                });
            }
        }
    };
    lane.report(1.0, 1.0, || "slow_queries: sample read".into());
    out
}

/// No target of that name, or none named and no default.
fn not_configured(err: LookupError) -> ToolError {
    ToolError::new(ErrorKind::NotConfigured, err.to_string())
}

/// The database could not be read; the adapter said why and what kind of failure it is.
fn unread(err: DbError) -> ToolError {
    ToolError::new(err.kind(), err.message())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::InputError;

    #[test]
    fn every_failure_keeps_its_words_and_says_its_kind() {
        let bad = ToolError::from(InputError::new("limit", "must be at least 1"));
        assert_eq!(bad.kind, ErrorKind::BadInput);
        assert_eq!(
            bad.text("slow_queries"),
            "slow_queries: invalid argument `limit`: must be at least 1"
        );
        let unknown = not_configured(LookupError::Unknown {
            name: "prod".into(),
            known: "shop".into(),
        });
        assert_eq!(unknown.kind, ErrorKind::NotConfigured);
        assert!(unknown.text("slow_queries").starts_with(
            "slow_queries: unknown database target `prod`; configured targets: shop."
        ));
        let denied = unread(DbError::new(
            ErrorKind::Denied,
            "cannot connect to target `t`: password authentication failed",
            None,
        ));
        assert_eq!(denied.kind, ErrorKind::Denied);
        assert_eq!(
            denied.text("slow_queries"),
            "slow_queries: cannot connect to target `t`: password authentication failed"
        );
    }
}
