//! What a storage verdict adds to another tool's report (break_down_latency names an RDS
//! instance): the DB observations it decides, the evidence behind them, a warning line with
//! the verdict, and the storage change to make first when the storage is at its limit.
//! Value in, value out: the other report is never edited here, and this module knows
//! nothing of it beyond its [`Observations`].

use super::report::{Status, StorageReport};
use super::sample::Metric;
use crate::diagnosis::symptoms::Observations;
use crate::diagnosis::{Addendum, Evidence, NextStep};

/// The tool whose verdict this is; a report it is folded into no longer needs to ask for it.
const TOOL: &str = "check_rds_iops";

/// Folds a storage verdict into `observations`, keeping what they already hold, and returns
/// them with what the verdict adds to the other report's conclusion.
pub fn fold(report: &StorageReport, observations: Observations) -> (Observations, Addendum) {
    let (observations, mut evidence) = fill(report, observations);
    let source = format!("{TOOL}:{}", report.db_instance_identifier);
    evidence.push(Evidence::text(
        "rds_storage_status",
        report.status.as_str(),
        &source,
    ));
    let first_step = if matches!(report.status, Status::Saturated | Status::NearLimit) {
        report
            .recommendations
            .first()
            .map(|r| NextStep::new(r.action.clone(), r.why.clone()).with_tool(TOOL))
    } else {
        None
    };
    let addendum = Addendum {
        evidence,
        warnings: vec![format!(
            "RDS storage ({}, {}): {}",
            report.region, report.account, report.conclusion.verdict
        )],
        first_step,
        done_tool: Some(TOOL),
    };
    (observations, addendum)
}

/// Fills the DB observations that a storage report decides, keeping what the caller
/// already gave, and returns them with the evidence for what was filled.
pub(super) fn fill(
    report: &StorageReport,
    mut observations: Observations,
) -> (Observations, Vec<Evidence>) {
    let mut evidence = Vec::new();
    if observations.db_io_saturated.is_none()
        && let Some(v) = report.observations.db_io_saturated
    {
        observations.db_io_saturated = Some(v);
        evidence.push(Evidence::flag(
            "db_io_saturated",
            v,
            &format!("{TOOL}:{}", report.db_instance_identifier),
        ));
    }
    if observations.disk_queue_depth.is_none()
        && let Some(v) = report.observations.disk_queue_depth
    {
        observations.disk_queue_depth = Some(v);
        evidence.push(Evidence::number(
            "disk_queue_depth",
            v,
            "count",
            &Metric::DiskQueueDepth.source(),
        ));
    }
    if observations.db_cpu_percent.is_none()
        && let Some(v) = report.observations.db_cpu_percent
    {
        observations.db_cpu_percent = Some(v);
        evidence.push(Evidence::number(
            "db_cpu_percent",
            v,
            "percent",
            &Metric::CpuUtilization.source(),
        ));
    }
    (observations, evidence)
}
