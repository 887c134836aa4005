//! The storage verdict as check_rds_iops returns it: [`StorageReport`] and its parts. The
//! doc comments here are the tool's output schema.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::Conclusion;
use crate::diagnosis::symptoms::Observations;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Status {
    /// At or near its limit in the peak periods, or the queue is sustained above 1.
    Saturated,
    /// Close to the limit: plan the change before the next peak.
    NearLimit,
    /// Well below its limits: storage is not the bottleneck.
    Healthy,
    /// Not enough data to decide; the report says what is missing.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Saturated => "saturated",
            Self::NearLimit => "near_limit",
            Self::Healthy => "healthy",
            Self::Unknown => "unknown",
        }
    }
}

/// What the storage is and the limits that follow from it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StorageInfo {
    /// gp2, gp3, io1, io2, standard, aurora (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_storage_gib: Option<f64>,
    /// Provisioned IOPS as described by RDS or given by the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_iops: Option<f64>,
    /// Provisioned throughput, MiB/s, as described by RDS or given by the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_throughput_mibps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Where the description came from: `rds:DescribeDBInstances`, `caller`, or `none`.
    pub source: String,
    /// The row of the limits table that applied, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// EBS volumes the storage is striped over.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<u32>,
    /// IOPS the volume sustains (gp2: its baseline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_iops_limit: Option<f64>,
    /// gp2: IOPS while BurstBalance lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_burst_iops: Option<f64>,
    /// Throughput the volume sustains, MiB/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_throughput_limit_mibps: Option<f64>,
    /// The instance class's EBS ceiling, when published and known here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_class_limit: Option<ClassLimitInfo>,
    /// The IOPS limit utilisation is measured against (lowest of volume and class, after burst).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_iops_limit: Option<f64>,
    /// What sets `effective_iops_limit`: `volume`, `volume_burst`, `gp2_baseline`,
    /// `instance_class`, `instance_class_baseline`, `caller`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops_limited_by: Option<String>,
    /// The throughput limit utilisation is measured against, MiB/s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_throughput_limit_mibps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_limited_by: Option<String>,
}

/// An instance class's EBS ceiling.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ClassLimitInfo {
    pub baseline_iops: f64,
    pub max_iops: f64,
    pub baseline_throughput_mibps: f64,
    pub max_throughput_mibps: f64,
}

/// Summary of one metric over the window (after unit conversion).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MetricStats {
    /// Mean of the per-period averages.
    pub avg: f64,
    /// Lowest period.
    pub min: f64,
    /// Highest period.
    pub max: f64,
    /// `iops`, `mibps`, `ms`, `count`, `percent`, `sessions`.
    pub unit: String,
    /// Periods with data.
    pub datapoints: usize,
}

/// Average and peak utilisation of a limit, percent.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Utilization {
    /// Mean over the periods, percent of the limit.
    pub avg: f64,
    /// The busiest period, percent of the limit.
    pub peak: f64,
}

/// Total throughput against its limit.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Throughput {
    /// ReadThroughput + WriteThroughput, mean over periods, MiB/s.
    pub avg_mibps: f64,
    /// The busiest period, MiB/s.
    pub peak_mibps: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_mibps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization_percent: Option<Utilization>,
}

/// DiskQueueDepth over the window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct QueueDepth {
    pub avg: f64,
    pub max: f64,
    /// Median over the periods: the sustained level.
    pub median: f64,
    /// Share of periods with DiskQueueDepth above 1, percent.
    pub periods_above_1_percent: f64,
    /// Above 1 in at least half of the periods.
    pub sustained_above_1: bool,
}

/// Read and write latency, ms.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Latency {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_avg_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_max_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_avg_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_max_ms: Option<f64>,
}

/// gp2 burst credits (and the instance class's EBS burst).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Burst {
    /// Lowest BurstBalance in the window, percent (gp2 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst_balance_min_percent: Option<f64>,
    /// BurstBalance reached 5 % or less: the volume ran at its baseline.
    pub burst_exhausted: bool,
    /// Lowest EBSIOBalance% (burstable instance classes), percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_io_balance_min_percent: Option<f64>,
    /// Lowest EBSByteBalance%, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebs_byte_balance_min_percent: Option<f64>,
}

/// A change to make, with the concrete figures.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Recommendation {
    /// `raise_iops`, `raise_throughput`, `grow_storage`, `gp2_to_gp3`, `move_to_io2`,
    /// `larger_instance_class`, `storage_healthy`, `collect_more`.
    pub kind: String,
    /// What to do, in the imperative.
    pub action: String,
    /// Why, with the numbers.
    pub why: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisioned_iops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput_mibps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_storage_gib: Option<f64>,
    /// The AWS CLI command that would make the change (for a person to review and run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// The storage verdict for one DB instance over one window.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct StorageReport {
    pub db_instance_identifier: String,
    /// The region checked.
    pub region: String,
    /// The AWS account checked (`unknown` when STS GetCallerIdentity was not available).
    pub account: String,
    /// Window start and end (UTC, ISO 8601) and the CloudWatch period.
    pub window_start: String,
    pub window_end: String,
    pub period_seconds: u32,
    /// `saturated`, `near_limit`, `healthy` or `unknown`.
    pub status: Status,
    /// What the storage is and its limits.
    pub storage: StorageInfo,
    /// Per metric (CloudWatch name): avg, min, max, unit and datapoints.
    pub metrics: BTreeMap<String, MetricStats>,
    /// ReadIOPS + WriteIOPS against the effective IOPS limit, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iops_utilization_percent: Option<Utilization>,
    /// ReadIOPS + WriteIOPS: mean and busiest period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_iops_avg: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_iops_peak: Option<f64>,
    /// ReadThroughput + WriteThroughput against its limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throughput: Option<Throughput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_queue_depth: Option<QueueDepth>,
    pub latency: Latency,
    pub burst: Burst,
    /// `iops` or `throughput`: the limit closest to being hit (absent when unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_limit: Option<String>,
    /// What to change, first item first.
    pub recommendations: Vec<Recommendation>,
    /// `aws cloudwatch get-metric-statistics` commands for the same instance and window.
    pub cli_commands: Vec<String>,
    /// Ready to pass to match_symptom as `{"observations": ...}` (merged with your own).
    pub observations: Observations,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}
