//! What the adapters fetch for one check: the CloudWatch `AWS/RDS` series ([`Metric`],
//! [`Point`]), the instance as DescribeDBInstances describes it, and the window and account
//! they were read for ([`Sample`]). Plain data: `crate::sources` fills it, the analysis reads it.

use std::collections::BTreeMap;

use super::limits::MIB;

/// Source label for the instance description.
pub const SOURCE_DESCRIBE: &str = "rds:DescribeDBInstances";

/// The CloudWatch `AWS/RDS` metrics read, in one GetMetricData call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    ReadIops,
    WriteIops,
    ReadThroughput,
    WriteThroughput,
    ReadLatency,
    WriteLatency,
    DiskQueueDepth,
    CpuUtilization,
    BurstBalance,
    EbsIoBalance,
    EbsByteBalance,
    DbLoad,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::ReadIops,
        Metric::WriteIops,
        Metric::ReadThroughput,
        Metric::WriteThroughput,
        Metric::ReadLatency,
        Metric::WriteLatency,
        Metric::DiskQueueDepth,
        Metric::CpuUtilization,
        Metric::BurstBalance,
        Metric::EbsIoBalance,
        Metric::EbsByteBalance,
        Metric::DbLoad,
    ];

    /// The CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ReadIops => "ReadIOPS",
            Self::WriteIops => "WriteIOPS",
            Self::ReadThroughput => "ReadThroughput",
            Self::WriteThroughput => "WriteThroughput",
            Self::ReadLatency => "ReadLatency",
            Self::WriteLatency => "WriteLatency",
            Self::DiskQueueDepth => "DiskQueueDepth",
            Self::CpuUtilization => "CPUUtilization",
            Self::BurstBalance => "BurstBalance",
            Self::EbsIoBalance => "EBSIOBalance%",
            Self::EbsByteBalance => "EBSByteBalance%",
            Self::DbLoad => "DBLoad",
        }
    }

    /// A GetMetricData query id (lower-case start, no `%`).
    pub fn query_id(self) -> &'static str {
        match self {
            Self::ReadIops => "read_iops",
            Self::WriteIops => "write_iops",
            Self::ReadThroughput => "read_throughput",
            Self::WriteThroughput => "write_throughput",
            Self::ReadLatency => "read_latency",
            Self::WriteLatency => "write_latency",
            Self::DiskQueueDepth => "disk_queue_depth",
            Self::CpuUtilization => "cpu_utilization",
            Self::BurstBalance => "burst_balance",
            Self::EbsIoBalance => "ebs_io_balance",
            Self::EbsByteBalance => "ebs_byte_balance",
            Self::DbLoad => "db_load",
        }
    }

    pub fn from_query_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.query_id() == id)
    }

    /// How a CloudWatch value is converted for the report, and the unit after conversion.
    pub(super) fn scale(self) -> (f64, &'static str) {
        match self {
            Self::ReadIops | Self::WriteIops => (1.0, "iops"),
            Self::ReadThroughput | Self::WriteThroughput => (1.0 / MIB, "mibps"),
            Self::ReadLatency | Self::WriteLatency => (1000.0, "ms"),
            Self::DiskQueueDepth => (1.0, "count"),
            Self::DbLoad => (1.0, "sessions"),
            Self::CpuUtilization
            | Self::BurstBalance
            | Self::EbsIoBalance
            | Self::EbsByteBalance => (1.0, "percent"),
        }
    }

    pub(super) fn source(self) -> String {
        format!("cloudwatch:AWS/RDS/{}", self.name())
    }
}

/// One CloudWatch datapoint: the period's start (epoch seconds) and its Average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub timestamp: i64,
    pub value: f64,
}

/// The instance as DescribeDBInstances describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceDescription {
    pub storage_type: Option<String>,
    pub allocated_storage_gib: Option<f64>,
    pub iops: Option<f64>,
    pub storage_throughput_mibps: Option<f64>,
    pub instance_class: Option<String>,
    pub engine: Option<String>,
}

/// Everything the adapters fetched for one check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub region: String,
    /// The AWS account checked; `None` when STS GetCallerIdentity is not available.
    pub account: Option<String>,
    /// Window start and end, epoch seconds (end aligned down to the period).
    pub start: i64,
    pub end: i64,
    /// `None` when DescribeDBInstances was not allowed; `description_note` says why.
    pub description: Option<InstanceDescription>,
    pub description_note: Option<String>,
    /// Datapoints per metric; a metric without datapoints may be absent.
    pub series: BTreeMap<Metric, Vec<Point>>,
    /// Caveats from the adapters (e.g. the account could not be read).
    pub notes: Vec<String>,
}
