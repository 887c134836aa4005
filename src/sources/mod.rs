//! I/O adapters: each file turns one outside system into the plain data the diagnosis core
//! takes. Nothing here decides anything; nothing in `crate::diagnosis` performs I/O.
//!
//! - [`aws`]: region, credentials, timeouts and retries for every AWS client, error
//!   classification and redaction, and [`aws::collect_storage_sample`] which runs the three
//!   AWS reads of `check_rds_iops` concurrently;
//! - [`cloudwatch`]: the `AWS/RDS` series through one batched GetMetricData (paginated);
//! - [`rds`]: DescribeDBInstances → storage type, IOPS, throughput, size, class, engine.
//! - [`postgres`], [`mysql`]: the database reads of `slow_queries`, with the rules shared in
//!   [`db`] (fixed SQL catalogue, read-only sessions, timeouts, password scrubbing) and TLS
//!   in [`tls`] (libpq's `sslmode` semantics with rustls).

pub mod aws;
pub mod cloudwatch;
pub mod db;
pub mod mysql;
pub mod postgres;
pub mod rds;
pub mod tls;

pub(crate) use db::{AbortOnDrop, lock_timeout_ms, timeout_ms};
pub use db::{CallError, Connections, DbError, read_snapshot, scrub, slow_queries};

use crate::diagnosis::InputError;
use crate::diagnosis::latency::{self, LatencyInput, LatencyReport};
use crate::diagnosis::storage::{self, RdsIopsInput, StorageReport};

/// Why check_rds_iops produced no report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    /// The arguments are wrong (a tool error naming the field).
    #[error(transparent)]
    Input(#[from] InputError),
    /// AWS could not be read (a tool error saying what to do).
    #[error(transparent)]
    Source(#[from] aws::SourceError),
}

/// check_rds_iops: validate → read CloudWatch, RDS and STS → decide.
pub async fn check_rds_iops(input: &RdsIopsInput) -> Result<StorageReport, CheckError> {
    let query = storage::validate(input)?;
    let sample = aws::collect_storage_sample(&query).await?;
    Ok(storage::analyze(input, &sample)?)
}

/// break_down_latency with its sources: the pure breakdown, then — when the caller names
/// an RDS instance — that instance's storage verdict folded into the DB observations.
/// A storage check that fails leaves the observations unknown and says why in `warnings`.
pub async fn break_down_latency(input: &LatencyInput) -> Result<LatencyReport, InputError> {
    let rds_input = match &input.rds_instance {
        Some(r) => {
            let i = r.to_input();
            storage::validate(&i)
                .map_err(|e| InputError::new(format!("rds_instance.{}", e.field), e.message))?;
            Some(i)
        }
        None => None,
    };
    let mut report = latency::analyze(input)?;
    if let Some(i) = rds_input {
        match check_rds_iops(&i).await {
            Ok(storage_report) => storage::fold_into_latency(&storage_report, &mut report),
            Err(e) => report.conclusion.warnings.push(format!(
                "rds_instance {}: the storage check failed, so db_io_saturated and disk_queue_depth stay unknown: {e}",
                i.db_instance_identifier
            )),
        }
    }
    Ok(report)
}
