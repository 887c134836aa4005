//! Flows: one file per tool that reaches outside this process.
//!
//! A flow is the whole of one call: it parses and validates its input once into a checked
//! type, gathers what the checked input names from [`crate::sources`], hands the checked
//! input and the gathered data to the pure core ([`crate::diagnosis`]), and combines reports
//! by returning values. The core and the sources never call each other; only flows join
//! them. The MCP tools and the CLI both call these functions, so the two cannot disagree.
//!
//! Every flow fails with one [`ToolError`] (the sources' error too), whose [`ErrorKind`]
//! says what the caller can do about it.

pub mod break_down_latency;
pub mod check_rds_iops;
pub mod slow_queries;

pub use crate::error::{ErrorKind, ToolError};

/// The clock, in Unix seconds, for `since` / `until` periods.
fn now_epoch_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
