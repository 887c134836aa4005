//! check_rds_iops: validate once into the instance and window to read, read CloudWatch, RDS
//! and STS concurrently, and let the core decide.

use crate::diagnosis::storage::{self, InstanceWindow, RdsIopsInput, StorageReport};
use crate::error::ToolError;
use crate::sources::aws;

/// The whole call.
pub async fn run(input: &RdsIopsInput) -> Result<StorageReport, ToolError> {
    let window = storage::validate(input, super::now_epoch_secs())?;
    Ok(report(&window).await?)
}

/// The storage verdict for an already checked instance and window (also what
/// break_down_latency folds in for its `rds_instance`).
pub async fn report(window: &InstanceWindow) -> Result<StorageReport, aws::SourceError> {
    let sample = aws::collect_storage_sample(window).await?;
    Ok(storage::analyze(window, &sample))
}
