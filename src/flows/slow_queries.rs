//! slow_queries: check the arguments, pick the configured target, read it through its
//! adapter within the deadline, and let the core rank and explain. Shared by the MCP tool
//! and the CLI.

use crate::config::{Config, LookupError};
use crate::diagnosis::queries::{self, Presentation, SlowQueriesInput, SlowQueriesReport};
use crate::sources::{self, Connections, DbError};

use super::{ErrorKind, ToolError};

/// One slow_queries call.
pub async fn run(
    config: &Config,
    connections: &Connections,
    input: &SlowQueriesInput,
) -> Result<SlowQueriesReport, ToolError> {
    let req = queries::validate(input)?;
    let target = config
        .target(input.target.as_deref())
        .map_err(not_configured)?;
    let started = std::time::Instant::now();
    let snapshot = sources::read_snapshot(config, connections, target, &req)
        .await
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
