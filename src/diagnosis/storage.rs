//! Step 5: is the database's storage the bottleneck?
//!
//! From the CloudWatch `AWS/RDS` series of one DB instance and what its storage was
//! provisioned with, this decides whether the volume (or the instance class's EBS pipe) is at
//! its limit, which limit binds, and what to change. Numbers in, findings out: the series and
//! the instance description are fetched by `crate::sources`, never here.
//!
//! ## The limits table
//! One table, [`LIMITS`], written from AWS's published RDS storage rules. A row applies to a
//! storage type, an engine family and a range of allocated storage. RDS stripes the volume
//! over 4 EBS volumes at 400 GiB and above for MySQL, MariaDB, PostgreSQL and Db2 (200 GiB for
//! Oracle; never for SQL Server), which is why the baselines jump there.
//!
//! | storage | engines | allocated | baseline IOPS / MiB/s | provisionable IOPS | MiB/s | IOPS per GiB |
//! |---|---|---|---|---|---|---|
//! | gp3 | MySQL, MariaDB, PostgreSQL, Db2 | < 400 GiB | 3,000 / 125 | — | — | — |
//! | gp3 | MySQL, MariaDB, PostgreSQL, Db2 | ≥ 400 GiB | 12,000 / 500 | 12,000–64,000 | 500–4,000 | ≤ 500 |
//! | gp3 | Oracle | < 200 GiB | 3,000 / 125 | — | — | — |
//! | gp3 | Oracle | ≥ 200 GiB | 12,000 / 500 | 12,000–64,000 | 500–4,000 | ≤ 500 |
//! | gp3 | SQL Server (no striping) | any | 3,000 / 125 | 3,000–16,000 | 125–1,000 | ≤ 500 |
//! | gp2 | all | per volume | 3 IOPS/GiB, min 100, max 16,000; burst to 3,000 while the volume is below 1 TiB and BurstBalance lasts | — | — | — |
//! | io1 | all but SQL Server | 100 GiB+ | provisioned | 1,000–256,000 | instance class | 0.5–50 |
//! | io1 | SQL Server | 20 GiB+ | provisioned | 1,000–64,000 | instance class | 1–50 |
//! | io2 | all | 100 GiB+ | provisioned | 1,000–256,000 | instance class | ≤ 1,000 |
//! | standard | all | — | no published ceiling (≈100 IOPS average, deprecated) | — | — | — |
//!
//! gp3 throughput must also stay at or below 0.25 MiB/s per provisioned IOPS. gp2
//! throughput is 128 MiB/s per volume up to 170 GiB and 250 MiB/s above (between 170 and
//! 334 GiB only while burst credits last). A striped gp2 volume (≥ 400 GiB, Oracle ≥ 200)
//! is four volumes of a quarter of the size each, so its limits are four times a quarter's.
//!
//! The instance class has its own EBS ceiling (baseline, and a burst it can hold for 30
//! minutes a day on smaller sizes, tracked by `EBSIOBalance%` / `EBSByteBalance%`).
//! [`INSTANCE_CLASSES`] lists the classes whose figures are published and known here; for
//! any other class the report says the ceiling is unknown instead of guessing.
//!
//! ## The effective limit
//! The lower of the volume's current ceiling (gp2: the burst while BurstBalance lasts, the
//! baseline once it is exhausted) and the instance class's (its burst while EBSIOBalance%
//! lasts, its baseline once that is exhausted). Caller overrides (`provisioned_iops`,
//! `provisioned_throughput_mibps`) replace the volume's figure.
//!
//! ## Thresholds (see [`thresholds`])
//! - utilisation = (ReadIOPS + WriteIOPS) per period ÷ effective IOPS limit; `peak` is the
//!   busiest period, `avg` the mean over periods (throughput likewise, in MiB/s);
//! - `saturated`: peak utilisation of IOPS or throughput ≥ 90 %, or DiskQueueDepth > 1 in at
//!   least half of the periods (`sustained_above_1`), or gp2 BurstBalance exhausted (≤ 5 %);
//! - `near_limit`: peak utilisation ≥ 70 %, or DiskQueueDepth > 1 in at least 20 % of the
//!   periods, or BurstBalance low (≤ 20 %);
//! - `healthy`: none of these, with the IOPS limit known;
//! - `unknown`: no ReadIOPS/WriteIOPS datapoints, or the limit is unknown and nothing else
//!   says saturated — the report says what is missing.
//!
//! Peaks shorter than `period_seconds` are averaged away: CloudWatch's per-period Average is
//! what is compared, so use `period_seconds` 60 to see minute-level bursts.
//!
//! ## Recommendations
//! A concrete provisioned IOPS figure is `ceil(peak IOPS × 1.3, to 1,000)` (30 % headroom;
//! when the volume is already capped the observed peak understates demand, so re-measure
//! after the change), clamped to the allowed range of the storage type and engine, with the
//! allocated storage raised when the IOPS-per-GiB ratio or the gp3 400 GiB rule requires it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::symptoms::Observations;
use super::{Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, fmt_num, round};

/// Thresholds that turn the series into a status. Documented in the module doc.
pub mod thresholds {
    /// Peak utilisation at or above this (percent of the effective limit) is `saturated`.
    pub const SATURATED_PERCENT: f64 = 90.0;
    /// Peak utilisation at or above this is `near_limit`.
    pub const NEAR_LIMIT_PERCENT: f64 = 70.0;
    /// DiskQueueDepth above this means IOs wait for the volume.
    pub const QUEUE_DEPTH_HIGH: f64 = super::super::symptoms::thresholds::DISK_QUEUE_DEPTH_HIGH;
    /// Share of periods with DiskQueueDepth above 1 that makes the queue `sustained_above_1`.
    pub const QUEUE_SUSTAINED_SHARE_PERCENT: f64 = 50.0;
    /// Share of periods with DiskQueueDepth above 1 that makes the storage `near_limit`.
    pub const QUEUE_NEAR_SHARE_PERCENT: f64 = 20.0;
    /// gp2 BurstBalance (and EBSIOBalance%) at or below this is exhausted.
    pub const BURST_EXHAUSTED_PERCENT: f64 = 5.0;
    /// gp2 BurstBalance at or below this is low.
    pub const BURST_LOW_PERCENT: f64 = 20.0;
    /// Headroom over the observed peak when recommending provisioned IOPS or throughput.
    pub const HEADROOM: f64 = 1.3;
    /// Below this share of the expected datapoints the report warns about coverage.
    pub const MIN_COVERAGE_PERCENT: f64 = 50.0;
}
use thresholds::*;

/// Source label for the instance description.
pub const SOURCE_DESCRIBE: &str = "rds:DescribeDBInstances";
/// Source label for figures taken from the limits table.
pub const SOURCE_LIMITS: &str = "aws-published-limits";

const MIB: f64 = 1024.0 * 1024.0;

// --------------------------------------------------------------------------- input

/// What to check.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RdsIopsInput {
    /// The RDS DB instance identifier as shown in the console (not the endpoint host name,
    /// not the ARN), e.g. `orders-db`.
    pub db_instance_identifier: String,
    /// AWS region of the instance, e.g. `eu-west-1`. Default: the AWS default chain
    /// (AWS_REGION, then the profile's region).
    #[serde(default)]
    pub region: Option<String>,
    /// Named AWS profile to use (from ~/.aws/config). Default: AWS_PROFILE, then `default`.
    #[serde(default)]
    pub profile: Option<String>,
    /// How far back to look, in minutes (default 60; at most 43,200 = 30 days).
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
    /// CloudWatch period in seconds, a multiple of 60 (default 300). Use 60 to see
    /// minute-level bursts; peaks shorter than the period are averaged away.
    #[serde(default = "default_period_seconds")]
    pub period_seconds: u32,
    /// The volume's IOPS limit when DescribeDBInstances is not allowed (or to override it).
    #[serde(default)]
    pub provisioned_iops: Option<f64>,
    /// The volume's throughput limit in MiB/s when DescribeDBInstances is not allowed.
    #[serde(default)]
    pub provisioned_throughput_mibps: Option<f64>,
    /// The storage type when DescribeDBInstances is not allowed: gp2, gp3, io1, io2, standard.
    #[serde(default)]
    pub storage_type: Option<String>,
    /// Allocated storage in GiB when DescribeDBInstances is not allowed (decides gp2 and
    /// gp3 limits).
    #[serde(default)]
    pub allocated_storage_gib: Option<f64>,
}

pub const DEFAULT_WINDOW_MINUTES: u32 = 60;
pub const DEFAULT_PERIOD_SECONDS: u32 = 300;
/// GetMetricData returns at most 100,800 datapoints per call; 13 metrics × 1,440 stay under.
pub const MAX_PERIODS: u32 = 1440;

fn default_window_minutes() -> u32 {
    DEFAULT_WINDOW_MINUTES
}
fn default_period_seconds() -> u32 {
    DEFAULT_PERIOD_SECONDS
}

/// An RDS instance named by `break_down_latency` (and other tools) so that its storage
/// verdict fills the DB observations.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RdsInstanceRef {
    /// The RDS DB instance identifier, e.g. `orders-db`.
    pub db_instance_identifier: String,
    /// AWS region of the instance. Default: the AWS default chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How far back to look, in minutes (default 60).
    #[serde(default = "default_window_minutes")]
    pub window_minutes: u32,
}

impl RdsInstanceRef {
    /// The check_rds_iops input this reference stands for.
    pub fn to_input(&self) -> RdsIopsInput {
        RdsIopsInput {
            db_instance_identifier: self.db_instance_identifier.clone(),
            region: self.region.clone(),
            profile: None,
            window_minutes: self.window_minutes,
            period_seconds: DEFAULT_PERIOD_SECONDS,
            provisioned_iops: None,
            provisioned_throughput_mibps: None,
            storage_type: None,
            allocated_storage_gib: None,
        }
    }
}

/// The validated query the adapters run.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub db_instance_identifier: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub window_minutes: u32,
    pub period_seconds: u32,
}

/// Checks the arguments before anything is sent to AWS.
pub fn validate(input: &RdsIopsInput) -> Result<Query, InputError> {
    let id = input.db_instance_identifier.trim();
    let id_ok = !id.is_empty()
        && id.len() <= 63
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !id_ok {
        return Err(InputError::new(
            "db_instance_identifier",
            "must be an RDS DB instance identifier: 1–63 letters, digits or hyphens, starting with a letter (e.g. `orders-db`; not the endpoint host name or the ARN)",
        ));
    }
    if let Some(region) = &input.region {
        let ok = !region.is_empty()
            && region.len() <= 32
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(InputError::new(
                "region",
                "must be an AWS region name such as `us-east-1` or `eu-west-1`",
            ));
        }
    }
    if let Some(profile) = &input.profile {
        let ok = !profile.is_empty()
            && profile.len() <= 64
            && profile
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@' | '+'));
        if !ok {
            return Err(InputError::new(
                "profile",
                "must be the name of a profile in ~/.aws/config (letters, digits, - _ . @ +)",
            ));
        }
    }
    if !(5..=43_200).contains(&input.window_minutes) {
        return Err(InputError::new(
            "window_minutes",
            format!(
                "must be between 5 and 43200 minutes (30 days) (got {}); default 60",
                input.window_minutes
            ),
        ));
    }
    let p = input.period_seconds;
    if !(60..=86_400).contains(&p) || !p.is_multiple_of(60) {
        return Err(InputError::new(
            "period_seconds",
            format!("must be a multiple of 60 between 60 and 86400 (got {p}); default 300"),
        ));
    }
    let periods = u64::from(input.window_minutes) * 60 / u64::from(p);
    if periods == 0 {
        return Err(InputError::new(
            "period_seconds",
            "is longer than the window: make period_seconds at most window_minutes × 60",
        ));
    }
    if periods > u64::from(MAX_PERIODS) {
        return Err(InputError::new(
            "period_seconds",
            format!(
                "gives {periods} periods over the window; at most {MAX_PERIODS}: raise period_seconds or shorten window_minutes"
            ),
        ));
    }
    let positive = |field: &str, v: Option<f64>, max: f64| -> Result<(), InputError> {
        match v {
            Some(v) if !v.is_finite() || v <= 0.0 || v > max => Err(InputError::new(
                field,
                format!("must be a positive number no larger than {max} (got {v})"),
            )),
            _ => Ok(()),
        }
    };
    positive("provisioned_iops", input.provisioned_iops, 1_000_000.0)?;
    positive(
        "provisioned_throughput_mibps",
        input.provisioned_throughput_mibps,
        100_000.0,
    )?;
    positive(
        "allocated_storage_gib",
        input.allocated_storage_gib,
        1_000_000.0,
    )?;
    if let Some(t) = &input.storage_type
        && StorageType::parse(t).is_none()
    {
        return Err(InputError::new(
            "storage_type",
            format!("unknown storage type `{t}`: use one of gp2, gp3, io1, io2, standard"),
        ));
    }
    Ok(Query {
        db_instance_identifier: id.to_owned(),
        region: input.region.clone(),
        profile: input.profile.clone(),
        window_minutes: input.window_minutes,
        period_seconds: p,
    })
}

// --------------------------------------------------------------------------- data in

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
    fn scale(self) -> (f64, &'static str) {
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

    fn source(self) -> String {
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

// --------------------------------------------------------------------------- limits

/// Storage types RDS offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum StorageType {
    Gp2,
    Gp3,
    Io1,
    Io2,
    Standard,
    /// Aurora cluster storage: not provisioned in IOPS.
    Aurora,
}

impl StorageType {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gp2" => Some(Self::Gp2),
            "gp3" => Some(Self::Gp3),
            "io1" => Some(Self::Io1),
            "io2" => Some(Self::Io2),
            "standard" | "magnetic" => Some(Self::Standard),
            "aurora" | "aurora-iopt1" => Some(Self::Aurora),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gp2 => "gp2",
            Self::Gp3 => "gp3",
            Self::Io1 => "io1",
            Self::Io2 => "io2",
            Self::Standard => "standard",
            Self::Aurora => "aurora",
        }
    }
}

/// Engine families that RDS storage rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFamily {
    /// MySQL, MariaDB, PostgreSQL, Db2: striped at 400 GiB.
    Open,
    /// Oracle: striped at 200 GiB.
    Oracle,
    /// SQL Server: never striped, its own gp3 ranges.
    SqlServer,
}

impl EngineFamily {
    /// From the RDS `Engine` field. Unknown engines are treated as MySQL/PostgreSQL (with a
    /// warning from the caller).
    pub fn from_engine(engine: Option<&str>) -> (Self, bool) {
        match engine.map(str::to_ascii_lowercase) {
            Some(e) if e.contains("oracle") => (Self::Oracle, true),
            Some(e) if e.starts_with("sqlserver") => (Self::SqlServer, true),
            Some(e)
                if e.contains("mysql")
                    || e.contains("mariadb")
                    || e.contains("postgres")
                    || e.starts_with("db2") =>
            {
                (Self::Open, true)
            }
            _ => (Self::Open, false),
        }
    }

    /// Allocated storage at or above which RDS stripes over 4 volumes.
    pub fn striping_threshold_gib(self) -> Option<f64> {
        match self {
            Self::Open => Some(400.0),
            Self::Oracle => Some(200.0),
            Self::SqlServer => None,
        }
    }
}

/// How a row sets the baseline IOPS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// A fixed figure (gp3), or the provisioned one when set and provisionable.
    Fixed { iops: f64, mibps: f64 },
    /// gp2: IOPS per GiB of each volume, clamped per volume, with a burst below 1 TiB.
    PerGib {
        per_gib: f64,
        min: f64,
        max: f64,
        burst: f64,
        burst_below_gib: f64,
    },
    /// io1/io2: whatever was provisioned.
    Provisioned,
    /// Magnetic: no published ceiling.
    Unpublished,
}

/// Which engines a row covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Engines {
    All,
    Only(EngineFamily),
    AllBut(EngineFamily),
}

impl Engines {
    fn covers(self, f: EngineFamily) -> bool {
        match self {
            Self::All => true,
            Self::Only(x) => x == f,
            Self::AllBut(x) => x != f,
        }
    }
}

/// One row of the limits table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitRule {
    pub storage: StorageType,
    pub engines: Engines,
    /// The row applies to allocated storage in `[from_gib, below_gib)`.
    pub from_gib: f64,
    pub below_gib: f64,
    pub baseline: Baseline,
    /// Range of provisionable IOPS (None: cannot be provisioned in this row).
    pub iops_range: Option<(f64, f64)>,
    /// Range of provisionable throughput, MiB/s.
    pub mibps_range: Option<(f64, f64)>,
    /// Range of provisioned IOPS per GiB of allocated storage.
    pub iops_per_gib: Option<(f64, f64)>,
    /// EBS volumes the storage is striped over.
    pub volumes: u32,
    /// The rule in words, for the report.
    pub rule: &'static str,
}

const GP2: Baseline = Baseline::PerGib {
    per_gib: 3.0,
    min: 100.0,
    max: 16_000.0,
    burst: 3_000.0,
    burst_below_gib: 1024.0,
};
const GP3_SMALL: Baseline = Baseline::Fixed {
    iops: 3_000.0,
    mibps: 125.0,
};
const GP3_STRIPED: Baseline = Baseline::Fixed {
    iops: 12_000.0,
    mibps: 500.0,
};
const INF: f64 = f64::INFINITY;

/// AWS's published RDS storage rules, one row per (storage type, engines, size range).
pub const LIMITS: &[LimitRule] = &[
    LimitRule {
        storage: StorageType::Gp3,
        engines: Engines::Only(EngineFamily::Open),
        from_gib: 0.0,
        below_gib: 400.0,
        baseline: GP3_SMALL,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "gp3 below 400 GiB (MySQL/MariaDB/PostgreSQL/Db2): 3,000 IOPS and 125 MiB/s, not provisionable",
    },
    LimitRule {
        storage: StorageType::Gp3,
        engines: Engines::Only(EngineFamily::Open),
        from_gib: 400.0,
        below_gib: INF,
        baseline: GP3_STRIPED,
        iops_range: Some((12_000.0, 64_000.0)),
        mibps_range: Some((500.0, 4_000.0)),
        iops_per_gib: Some((0.0, 500.0)),
        volumes: 4,
        rule: "gp3 at 400 GiB or more (MySQL/MariaDB/PostgreSQL/Db2): 12,000 IOPS and 500 MiB/s baseline, provisionable 12,000–64,000 IOPS and 500–4,000 MiB/s",
    },
    LimitRule {
        storage: StorageType::Gp3,
        engines: Engines::Only(EngineFamily::Oracle),
        from_gib: 0.0,
        below_gib: 200.0,
        baseline: GP3_SMALL,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "gp3 below 200 GiB (Oracle): 3,000 IOPS and 125 MiB/s, not provisionable",
    },
    LimitRule {
        storage: StorageType::Gp3,
        engines: Engines::Only(EngineFamily::Oracle),
        from_gib: 200.0,
        below_gib: INF,
        baseline: GP3_STRIPED,
        iops_range: Some((12_000.0, 64_000.0)),
        mibps_range: Some((500.0, 4_000.0)),
        iops_per_gib: Some((0.0, 500.0)),
        volumes: 4,
        rule: "gp3 at 200 GiB or more (Oracle): 12,000 IOPS and 500 MiB/s baseline, provisionable 12,000–64,000 IOPS and 500–4,000 MiB/s",
    },
    LimitRule {
        storage: StorageType::Gp3,
        engines: Engines::Only(EngineFamily::SqlServer),
        from_gib: 0.0,
        below_gib: INF,
        baseline: GP3_SMALL,
        iops_range: Some((3_000.0, 16_000.0)),
        mibps_range: Some((125.0, 1_000.0)),
        iops_per_gib: Some((0.0, 500.0)),
        volumes: 1,
        rule: "gp3 on SQL Server (never striped): 3,000 IOPS and 125 MiB/s baseline at any size, provisionable 3,000–16,000 IOPS and 125–1,000 MiB/s",
    },
    LimitRule {
        storage: StorageType::Gp2,
        engines: Engines::Only(EngineFamily::Open),
        from_gib: 0.0,
        below_gib: 400.0,
        baseline: GP2,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "gp2: 3 IOPS per GiB (min 100, max 16,000), burst to 3,000 IOPS below 1 TiB while BurstBalance lasts",
    },
    LimitRule {
        storage: StorageType::Gp2,
        engines: Engines::Only(EngineFamily::Open),
        from_gib: 400.0,
        below_gib: INF,
        baseline: GP2,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 4,
        rule: "gp2 at 400 GiB or more, striped over 4 volumes: 3 IOPS per GiB (max 16,000 per volume, 64,000 in all), each volume bursting to 3,000 IOPS below 1 TiB",
    },
    LimitRule {
        storage: StorageType::Gp2,
        engines: Engines::Only(EngineFamily::Oracle),
        from_gib: 0.0,
        below_gib: 200.0,
        baseline: GP2,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "gp2 (Oracle below 200 GiB): 3 IOPS per GiB (min 100), burst to 3,000 IOPS while BurstBalance lasts",
    },
    LimitRule {
        storage: StorageType::Gp2,
        engines: Engines::Only(EngineFamily::Oracle),
        from_gib: 200.0,
        below_gib: INF,
        baseline: GP2,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 4,
        rule: "gp2 (Oracle at 200 GiB or more), striped over 4 volumes: 3 IOPS per GiB (max 16,000 per volume), each volume bursting to 3,000 IOPS below 1 TiB",
    },
    LimitRule {
        storage: StorageType::Gp2,
        engines: Engines::Only(EngineFamily::SqlServer),
        from_gib: 0.0,
        below_gib: INF,
        baseline: GP2,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "gp2 (SQL Server, never striped): 3 IOPS per GiB (min 100, max 16,000), burst to 3,000 IOPS below 1 TiB",
    },
    LimitRule {
        storage: StorageType::Io1,
        engines: Engines::AllBut(EngineFamily::SqlServer),
        from_gib: 0.0,
        below_gib: INF,
        baseline: Baseline::Provisioned,
        iops_range: Some((1_000.0, 256_000.0)),
        mibps_range: None,
        iops_per_gib: Some((0.5, 50.0)),
        volumes: 1,
        rule: "io1: the provisioned IOPS (1,000–256,000, 0.5–50 IOPS per GiB); throughput bound by the instance class",
    },
    LimitRule {
        storage: StorageType::Io1,
        engines: Engines::Only(EngineFamily::SqlServer),
        from_gib: 0.0,
        below_gib: INF,
        baseline: Baseline::Provisioned,
        iops_range: Some((1_000.0, 64_000.0)),
        mibps_range: None,
        iops_per_gib: Some((1.0, 50.0)),
        volumes: 1,
        rule: "io1 (SQL Server): the provisioned IOPS (1,000–64,000, 1–50 IOPS per GiB); throughput bound by the instance class",
    },
    LimitRule {
        storage: StorageType::Io2,
        engines: Engines::All,
        from_gib: 0.0,
        below_gib: INF,
        baseline: Baseline::Provisioned,
        iops_range: Some((1_000.0, 256_000.0)),
        mibps_range: None,
        iops_per_gib: Some((0.5, 1_000.0)),
        volumes: 1,
        rule: "io2 Block Express: the provisioned IOPS (1,000–256,000, up to 1,000 IOPS per GiB); throughput bound by the instance class",
    },
    LimitRule {
        storage: StorageType::Standard,
        engines: Engines::All,
        from_gib: 0.0,
        below_gib: INF,
        baseline: Baseline::Unpublished,
        iops_range: None,
        mibps_range: None,
        iops_per_gib: None,
        volumes: 1,
        rule: "magnetic (standard): no published IOPS ceiling (about 100 IOPS on average); deprecated",
    },
];

/// The row of [`LIMITS`] for a storage type, engine family and allocated size.
pub fn rule_for(
    storage: StorageType,
    family: EngineFamily,
    gib: f64,
) -> Option<&'static LimitRule> {
    LIMITS.iter().find(|r| {
        r.storage == storage && r.engines.covers(family) && gib >= r.from_gib && gib < r.below_gib
    })
}

/// An instance class's published EBS ceiling: baseline and burst (30 minutes a day).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassLimit {
    pub class: &'static str,
    pub baseline_iops: f64,
    pub max_iops: f64,
    /// MB/s (10^6 bytes) as AWS publishes them.
    pub baseline_mbps: f64,
    pub max_mbps: f64,
}

const fn class(
    class: &'static str,
    baseline_iops: f64,
    max_iops: f64,
    baseline_mbps: f64,
    max_mbps: f64,
) -> ClassLimit {
    ClassLimit {
        class,
        baseline_iops,
        max_iops,
        baseline_mbps,
        max_mbps,
    }
}

/// EBS ceilings of the DB instance classes known here (AWS's EBS-optimized instance table;
/// `db.r5.*` shares `db.m5.*`'s figures, `db.r6i.*` shares `db.m6i.*`'s). Any other class is
/// reported as unknown.
pub const INSTANCE_CLASSES: &[ClassLimit] = &[
    class("t3.micro", 500.0, 11_800.0, 10.88, 260.57),
    class("t3.small", 1_000.0, 11_800.0, 21.75, 260.57),
    class("t3.medium", 2_000.0, 11_800.0, 43.38, 260.57),
    class("t3.large", 4_000.0, 15_700.0, 86.88, 347.5),
    class("t3.xlarge", 8_000.0, 15_700.0, 104.25, 347.5),
    class("t3.2xlarge", 8_000.0, 15_700.0, 104.25, 347.5),
    class("m5.large", 3_600.0, 18_750.0, 81.25, 593.75),
    class("m5.xlarge", 6_000.0, 18_750.0, 143.75, 593.75),
    class("m5.2xlarge", 12_000.0, 18_750.0, 287.5, 593.75),
    class("m5.4xlarge", 18_750.0, 18_750.0, 593.75, 593.75),
    class("m5.8xlarge", 30_000.0, 30_000.0, 850.0, 850.0),
    class("m5.12xlarge", 40_000.0, 40_000.0, 1_187.5, 1_187.5),
    class("m5.16xlarge", 60_000.0, 60_000.0, 1_700.0, 1_700.0),
    class("m5.24xlarge", 80_000.0, 80_000.0, 2_375.0, 2_375.0),
    class("m6i.large", 3_600.0, 40_000.0, 81.25, 1_250.0),
    class("m6i.xlarge", 6_000.0, 40_000.0, 156.25, 1_250.0),
    class("m6i.2xlarge", 12_000.0, 40_000.0, 312.5, 1_250.0),
    class("m6i.4xlarge", 20_000.0, 40_000.0, 625.0, 1_250.0),
    class("m6i.8xlarge", 40_000.0, 40_000.0, 1_250.0, 1_250.0),
    class("m6i.12xlarge", 60_000.0, 60_000.0, 1_875.0, 1_875.0),
    class("m6i.16xlarge", 80_000.0, 80_000.0, 2_500.0, 2_500.0),
    class("m6i.24xlarge", 120_000.0, 120_000.0, 3_750.0, 3_750.0),
    class("m6i.32xlarge", 160_000.0, 160_000.0, 5_000.0, 5_000.0),
];

/// The EBS ceiling of an RDS instance class (`db.r5.large` → the m5.large row), if known.
pub fn class_limit(instance_class: &str) -> Option<&'static ClassLimit> {
    let name = instance_class.trim().to_ascii_lowercase();
    let name = name.strip_prefix("db.").unwrap_or(&name);
    let (family, size) = name.split_once('.')?;
    let family = match family {
        "r5" | "m5" => "m5",
        "r6i" | "m6i" => "m6i",
        "t3" => "t3",
        _ => return None,
    };
    let key = format!("{family}.{size}");
    INSTANCE_CLASSES.iter().find(|c| c.class == key)
}

fn mb_to_mib(mb: f64) -> f64 {
    mb * 1_000_000.0 / MIB
}

// --------------------------------------------------------------------------- report

/// Verdict on the storage layer.
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

// --------------------------------------------------------------------------- analysis

fn stats(points: &[Point], scale: f64, unit: &str) -> Option<MetricStats> {
    let values: Vec<f64> = points
        .iter()
        .map(|p| p.value * scale)
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return None;
    }
    let sum: f64 = values.iter().sum();
    Some(MetricStats {
        avg: round(sum / values.len() as f64, 4),
        min: round(values.iter().copied().fold(f64::INFINITY, f64::min), 4),
        max: round(values.iter().copied().fold(f64::NEG_INFINITY, f64::max), 4),
        unit: unit.to_owned(),
        datapoints: values.len(),
    })
}

/// Per-period sum of two series (missing side counted as 0), ordered by time.
fn sum_series(a: &[Point], b: &[Point], scale: f64) -> Vec<f64> {
    let mut by_ts: BTreeMap<i64, f64> = BTreeMap::new();
    for p in a.iter().chain(b) {
        if p.value.is_finite() {
            *by_ts.entry(p.timestamp).or_insert(0.0) += p.value * scale;
        }
    }
    by_ts.into_values().collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn max(v: &[f64]) -> Option<f64> {
    v.iter().copied().reduce(f64::max)
}

fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// Volume limits from the table, before burst and instance class.
#[derive(Debug, Clone, Default, PartialEq)]
struct VolumeLimits {
    rule: Option<&'static LimitRule>,
    iops: Option<f64>,
    burst_iops: Option<f64>,
    mibps: Option<f64>,
    volumes: u32,
    iops_from_caller: bool,
}

fn volume_limits(
    storage: Option<StorageType>,
    family: EngineFamily,
    gib: Option<f64>,
    provisioned_iops: Option<f64>,
    provisioned_mibps: Option<f64>,
    warnings: &mut Vec<String>,
) -> VolumeLimits {
    let mut out = VolumeLimits {
        volumes: 1,
        ..Default::default()
    };
    let Some(storage) = storage else {
        out.iops = provisioned_iops;
        out.mibps = provisioned_mibps;
        return out;
    };
    if storage == StorageType::Aurora {
        warnings.push("Aurora storage is not provisioned in IOPS: read the cluster's VolumeReadIOPs/VolumeWriteIOPs and the instance's DiskQueueDepth and ReadLatency instead; no IOPS limit is applied.".to_owned());
        return out;
    }
    // Without a size the gp2/gp3 row cannot be chosen; gp3 then falls back to what was
    // provisioned (RDS reports gp3's baseline as Iops / StorageThroughput).
    let size = match gib {
        Some(g) => g,
        None => {
            if matches!(storage, StorageType::Gp2 | StorageType::Gp3) && provisioned_iops.is_none()
            {
                warnings.push(format!(
                    "The allocated storage is unknown, so the {} limits cannot be looked up: pass allocated_storage_gib or provisioned_iops.",
                    storage.as_str()
                ));
                return out;
            }
            0.0
        }
    };
    let Some(rule) = rule_for(storage, family, size) else {
        return out;
    };
    out.rule = Some(rule);
    out.volumes = rule.volumes;
    match rule.baseline {
        Baseline::Fixed { iops, mibps } => {
            out.iops = Some(match provisioned_iops {
                Some(p) if rule.iops_range.is_some() => p.max(iops),
                Some(p) if p > iops => {
                    warnings.push(format!("Provisioned IOPS {} is above what this gp3 size allows ({}): below the striping threshold gp3 is fixed at 3,000 IOPS; using 3,000.", fmt_num(p), fmt_num(iops)));
                    iops
                }
                _ => iops,
            });
            out.mibps = Some(match provisioned_mibps {
                Some(p) if rule.mibps_range.is_some() => p.max(mibps),
                _ => mibps,
            });
        }
        Baseline::PerGib {
            per_gib,
            min,
            max,
            burst,
            burst_below_gib,
        } => {
            let volumes = f64::from(rule.volumes);
            let per_volume = size / volumes;
            let baseline = (per_volume * per_gib).clamp(min, max) * volumes;
            out.iops = Some(baseline);
            if per_volume < burst_below_gib && burst * volumes > baseline {
                out.burst_iops = Some(burst * volumes);
            }
            // gp2 throughput per volume: 128 MiB/s up to 170 GiB, 250 MiB/s above.
            let per_volume_mibps = if per_volume <= 170.0 { 128.0 } else { 250.0 };
            out.mibps = Some(per_volume_mibps * volumes);
            if provisioned_iops.is_some() {
                warnings.push("gp2 IOPS are not provisioned; the caller's provisioned_iops is used as the limit instead of 3 IOPS/GiB.".to_owned());
                out.iops = provisioned_iops;
                out.burst_iops = None;
            }
            if let Some(m) = provisioned_mibps {
                out.mibps = Some(m);
            }
        }
        Baseline::Provisioned => {
            out.iops = provisioned_iops;
            out.mibps = provisioned_mibps;
            if provisioned_iops.is_none() {
                warnings.push(format!(
                    "{} storage without a provisioned IOPS figure: pass provisioned_iops.",
                    storage.as_str()
                ));
            }
        }
        Baseline::Unpublished => {
            out.iops = provisioned_iops;
            out.mibps = provisioned_mibps;
        }
    }
    out
}

/// Decides the storage verdict from what the adapters fetched.
pub fn analyze(input: &RdsIopsInput, sample: &Sample) -> Result<StorageReport, InputError> {
    let query = validate(input)?;
    let mut warnings: Vec<String> = sample.notes.clone();
    let mut evidence: Vec<Evidence> = Vec::new();
    let empty: Vec<Point> = Vec::new();
    let series = |m: Metric| sample.series.get(&m).unwrap_or(&empty);

    // ---- what the storage is
    let d = sample.description.clone().unwrap_or_default();
    let from_caller_type = input.storage_type.as_deref().and_then(StorageType::parse);
    let storage_type_text = d
        .storage_type
        .clone()
        .or_else(|| from_caller_type.map(|t| t.as_str().to_owned()));
    let storage_type = storage_type_text.as_deref().and_then(StorageType::parse);
    if let (Some(t), None) = (&storage_type_text, storage_type) {
        warnings.push(format!(
            "Storage type `{t}` is not in the limits table; only the caller's overrides can set a limit."
        ));
    }
    if let (Some(caller), Some(described)) = (from_caller_type, storage_type)
        && caller != described
    {
        warnings.push(format!(
                "storage_type `{}` was given but RDS describes the instance as `{}`; the description is used.",
                caller.as_str(),
                described.as_str()
            ));
    }
    let allocated = d.allocated_storage_gib.or(input.allocated_storage_gib);
    let (family, engine_known) = EngineFamily::from_engine(d.engine.as_deref());
    if !engine_known && matches!(storage_type, Some(StorageType::Gp2 | StorageType::Gp3)) {
        warnings.push("The engine is unknown; the MySQL/MariaDB/PostgreSQL rows of the limits table are used (Oracle stripes at 200 GiB, SQL Server never; SQL Server's gp3 ranges differ).".to_owned());
    }
    let caller_iops = input.provisioned_iops;
    let caller_mibps = input.provisioned_throughput_mibps;
    for (name, caller, described) in [
        ("provisioned_iops", caller_iops, d.iops),
        (
            "provisioned_throughput_mibps",
            caller_mibps,
            d.storage_throughput_mibps,
        ),
    ] {
        if let (Some(c), Some(x)) = (caller, described)
            && (c - x).abs() > 0.5
        {
            warnings.push(format!(
                "{name} {} was given but RDS describes {}; the given figure is used.",
                fmt_num(c),
                fmt_num(x)
            ));
        }
    }
    let prov_iops = caller_iops.or(d.iops);
    let prov_mibps = caller_mibps.or(d.storage_throughput_mibps);
    let mut vol = volume_limits(
        storage_type,
        family,
        allocated,
        prov_iops,
        prov_mibps,
        &mut warnings,
    );
    vol.iops_from_caller = caller_iops.is_some();

    let described = sample.description.is_some();
    let source = if described {
        SOURCE_DESCRIBE.to_owned()
    } else if input.storage_type.is_some()
        || caller_iops.is_some()
        || caller_mibps.is_some()
        || input.allocated_storage_gib.is_some()
    {
        SOURCE_CALLER.to_owned()
    } else {
        "none".to_owned()
    };
    if let Some(note) = &sample.description_note {
        warnings.push(note.clone());
    }

    // ---- metrics
    let mut metrics = BTreeMap::new();
    for m in Metric::ALL {
        let (scale, unit) = m.scale();
        if let Some(s) = stats(series(m), scale, unit) {
            metrics.insert(m.name().to_owned(), s);
        }
    }
    let expected = ((sample.end - sample.start) / i64::from(query.period_seconds)).max(1) as usize;

    let total_iops = sum_series(series(Metric::ReadIops), series(Metric::WriteIops), 1.0);
    let total_mibps = sum_series(
        series(Metric::ReadThroughput),
        series(Metric::WriteThroughput),
        1.0 / MIB,
    );
    let iops_avg = mean(&total_iops);
    let iops_peak = max(&total_iops);
    if !total_iops.is_empty()
        && (total_iops.len() as f64) < expected as f64 * MIN_COVERAGE_PERCENT / 100.0
    {
        warnings.push(format!(
            "Only {} of {} periods have ReadIOPS/WriteIOPS datapoints: CloudWatch publishes nothing while the instance is stopped or the metric is idle; treat the averages with care.",
            total_iops.len(),
            expected
        ));
    }

    // ---- burst
    let min_of = |m: Metric| metrics.get(m.name()).map(|s| s.min);
    let burst_min = min_of(Metric::BurstBalance);
    let burst = Burst {
        burst_balance_min_percent: burst_min,
        burst_exhausted: burst_min.is_some_and(|b| b <= BURST_EXHAUSTED_PERCENT),
        ebs_io_balance_min_percent: min_of(Metric::EbsIoBalance),
        ebs_byte_balance_min_percent: min_of(Metric::EbsByteBalance),
    };

    // ---- effective limits
    let class = d.instance_class.as_deref().and_then(class_limit);
    if let (Some(name), None) = (&d.instance_class, class) {
        warnings.push(format!(
            "The EBS ceiling of instance class {name} is not in this tool's table, so it is not applied: check the class's 'Max EBS IOPS / throughput' in the RDS instance class docs; it can be lower than the volume's limit."
        ));
    }
    let (mut eff_iops, mut iops_by) = match (vol.iops, vol.burst_iops) {
        (Some(base), Some(b)) => {
            if burst.burst_exhausted {
                (Some(base), "gp2_baseline")
            } else {
                if burst_min.is_none() {
                    warnings.push("gp2 without BurstBalance datapoints: the burst ceiling (3,000 IOPS per volume) is assumed available.".to_owned());
                }
                (Some(b), "volume_burst")
            }
        }
        (Some(i), None) => (
            Some(i),
            if vol.iops_from_caller {
                "caller"
            } else {
                "volume"
            },
        ),
        (None, _) => (None, "volume"),
    };
    let mut eff_mibps = vol.mibps;
    let mut mibps_by = if caller_mibps.is_some() {
        "caller"
    } else {
        "volume"
    };
    if let Some(c) = class {
        let io_exhausted = burst
            .ebs_io_balance_min_percent
            .is_some_and(|b| b <= BURST_EXHAUSTED_PERCENT);
        let byte_exhausted = burst
            .ebs_byte_balance_min_percent
            .is_some_and(|b| b <= BURST_EXHAUSTED_PERCENT);
        let (ci, ci_by) = if io_exhausted {
            (c.baseline_iops, "instance_class_baseline")
        } else {
            (c.max_iops, "instance_class")
        };
        let (cm, cm_by) = if byte_exhausted {
            (mb_to_mib(c.baseline_mbps), "instance_class_baseline")
        } else {
            (mb_to_mib(c.max_mbps), "instance_class")
        };
        if eff_iops.is_none_or(|v| ci < v) {
            eff_iops = Some(ci);
            iops_by = ci_by;
        }
        if eff_mibps.is_none_or(|v| cm < v) {
            eff_mibps = Some(cm);
            mibps_by = cm_by;
        }
        if c.baseline_iops < c.max_iops && !io_exhausted {
            let sustained_over = iops_peak.is_some_and(|p| p > c.baseline_iops);
            if sustained_over && burst.ebs_io_balance_min_percent.is_none() {
                warnings.push(format!(
                    "The instance class sustains {} IOPS; its {} IOPS ceiling holds only while EBSIOBalance% lasts (no datapoints for it here).",
                    fmt_num(c.baseline_iops),
                    fmt_num(c.max_iops)
                ));
            }
        }
    }

    let iops_util = match (eff_iops, iops_avg, iops_peak) {
        (Some(l), Some(a), Some(p)) if l > 0.0 => Some(Utilization {
            avg: round(a / l * 100.0, 2),
            peak: round(p / l * 100.0, 2),
        }),
        _ => None,
    };
    let throughput = match (mean(&total_mibps), max(&total_mibps)) {
        (Some(a), Some(p)) => Some(Throughput {
            avg_mibps: round(a, 3),
            peak_mibps: round(p, 3),
            limit_mibps: eff_mibps.map(|l| round(l, 3)),
            utilization_percent: eff_mibps.filter(|l| *l > 0.0).map(|l| Utilization {
                avg: round(a / l * 100.0, 2),
                peak: round(p / l * 100.0, 2),
            }),
        }),
        _ => None,
    };

    // ---- queue and latency
    let queue_values: Vec<f64> = series(Metric::DiskQueueDepth)
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    let disk_queue_depth = (!queue_values.is_empty()).then(|| {
        let above = queue_values
            .iter()
            .filter(|v| **v > QUEUE_DEPTH_HIGH)
            .count();
        let share = above as f64 / queue_values.len() as f64 * 100.0;
        QueueDepth {
            avg: round(mean(&queue_values).unwrap_or(0.0), 3),
            max: round(max(&queue_values).unwrap_or(0.0), 3),
            median: round(median(&queue_values).unwrap_or(0.0), 3),
            periods_above_1_percent: round(share, 2),
            sustained_above_1: share >= QUEUE_SUSTAINED_SHARE_PERCENT,
        }
    });
    let stat = |m: Metric| metrics.get(m.name());
    let latency = Latency {
        read_avg_ms: stat(Metric::ReadLatency).map(|s| s.avg),
        read_max_ms: stat(Metric::ReadLatency).map(|s| s.max),
        write_avg_ms: stat(Metric::WriteLatency).map(|s| s.avg),
        write_max_ms: stat(Metric::WriteLatency).map(|s| s.max),
    };

    // ---- binding limit and status
    let iops_peak_pct = iops_util.as_ref().map(|u| u.peak);
    let tput_peak_pct = throughput
        .as_ref()
        .and_then(|t| t.utilization_percent.as_ref())
        .map(|u| u.peak);
    let binding_limit = match (iops_peak_pct, tput_peak_pct) {
        (Some(i), Some(t)) => Some(if t > i { "throughput" } else { "iops" }),
        (Some(_), None) => Some("iops"),
        (None, Some(_)) => Some("throughput"),
        (None, None) => None,
    };
    let queue_sustained = disk_queue_depth.as_ref().map(|q| q.sustained_above_1);
    let queue_share = disk_queue_depth.as_ref().map(|q| q.periods_above_1_percent);
    let peak_pct = iops_peak_pct
        .into_iter()
        .chain(tput_peak_pct)
        .reduce(f64::max);
    let burst_low = burst_min.is_some_and(|b| b <= BURST_LOW_PERCENT);

    let no_io_data = total_iops.is_empty();
    let status = if peak_pct.is_some_and(|p| p >= SATURATED_PERCENT)
        || queue_sustained == Some(true)
        || (burst.burst_exhausted && !no_io_data)
    {
        Status::Saturated
    } else if no_io_data {
        Status::Unknown
    } else if peak_pct.is_some_and(|p| p >= NEAR_LIMIT_PERCENT)
        || queue_share.is_some_and(|s| s >= QUEUE_NEAR_SHARE_PERCENT)
        || burst_low
    {
        Status::NearLimit
    } else if iops_util.is_some() {
        Status::Healthy
    } else {
        Status::Unknown
    };

    // ---- evidence
    let ev_source = |m: Metric| m.source();
    if let Some(a) = iops_avg {
        evidence.push(Evidence::number(
            "total_iops_avg",
            a,
            "iops",
            &format!(
                "{}+{}",
                ev_source(Metric::ReadIops),
                Metric::WriteIops.name()
            ),
        ));
    }
    if let Some(p) = iops_peak {
        evidence.push(Evidence::number(
            "total_iops_peak",
            p,
            "iops",
            &format!(
                "{}+{}",
                ev_source(Metric::ReadIops),
                Metric::WriteIops.name()
            ),
        ));
    }
    if let Some(l) = eff_iops {
        let src = if vol.iops_from_caller && iops_by == "caller" {
            SOURCE_CALLER.to_owned()
        } else if iops_by.starts_with("instance_class") {
            SOURCE_LIMITS.to_owned()
        } else if described {
            format!("{SOURCE_DESCRIBE}+{SOURCE_LIMITS}")
        } else {
            format!("{SOURCE_CALLER}+{SOURCE_LIMITS}")
        };
        evidence.push(Evidence::number("effective_iops_limit", l, "iops", &src));
    }
    if let Some(u) = &iops_util {
        evidence.push(Evidence::number(
            "iops_utilization_peak_percent",
            u.peak,
            "percent",
            "derived",
        ));
        evidence.push(Evidence::number(
            "iops_utilization_avg_percent",
            u.avg,
            "percent",
            "derived",
        ));
    }
    if let Some(t) = &throughput {
        evidence.push(Evidence::number(
            "throughput_peak_mibps",
            t.peak_mibps,
            "mibps",
            &format!(
                "{}+{}",
                ev_source(Metric::ReadThroughput),
                Metric::WriteThroughput.name()
            ),
        ));
        if let Some(u) = &t.utilization_percent {
            evidence.push(Evidence::number(
                "throughput_utilization_peak_percent",
                u.peak,
                "percent",
                "derived",
            ));
        }
    }
    if let Some(q) = &disk_queue_depth {
        evidence.push(Evidence::number(
            "disk_queue_depth_median",
            q.median,
            "count",
            &ev_source(Metric::DiskQueueDepth),
        ));
        evidence.push(Evidence::number(
            "disk_queue_depth_periods_above_1_percent",
            q.periods_above_1_percent,
            "percent",
            &ev_source(Metric::DiskQueueDepth),
        ));
    }
    if let Some(r) = latency.read_avg_ms {
        evidence.push(Evidence::number(
            "read_latency_avg_ms",
            r,
            "ms",
            &ev_source(Metric::ReadLatency),
        ));
    }
    if let Some(w) = latency.write_avg_ms {
        evidence.push(Evidence::number(
            "write_latency_avg_ms",
            w,
            "ms",
            &ev_source(Metric::WriteLatency),
        ));
    }
    if let Some(b) = burst_min {
        evidence.push(Evidence::number(
            "burst_balance_min_percent",
            b,
            "percent",
            &ev_source(Metric::BurstBalance),
        ));
    }
    let cpu = stat(Metric::CpuUtilization).map(|s| s.avg);
    if let Some(c) = cpu {
        evidence.push(Evidence::number(
            "db_cpu_percent_avg",
            c,
            "percent",
            &ev_source(Metric::CpuUtilization),
        ));
    }
    if let Some(t) = storage_type {
        evidence.push(Evidence::text("storage_type", t.as_str(), &source));
    }

    // ---- missing data
    let mut missing: Vec<String> = Vec::new();
    if no_io_data {
        missing.push(format!(
            "CloudWatch returned no ReadIOPS/WriteIOPS datapoints for {} in {} between {} and {}: check the identifier and region, that the instance was running, and that the window is within CloudWatch's retention",
            query.db_instance_identifier,
            sample.region,
            iso8601(sample.start),
            iso8601(sample.end)
        ));
    }
    if eff_iops.is_none() {
        missing.push(if described {
            "the IOPS limit of this storage could not be determined: pass provisioned_iops".to_owned()
        } else {
            "the storage's IOPS limit is unknown (DescribeDBInstances was not available): pass provisioned_iops (and storage_type, allocated_storage_gib), or allow rds:DescribeDBInstances".to_owned()
        });
    }
    if disk_queue_depth.is_none() {
        missing.push("no DiskQueueDepth datapoints".to_owned());
    }

    let recommendations = recommend(&Ctx {
        status,
        storage_type,
        family,
        allocated,
        vol: &vol,
        prov_mibps,
        iops_peak,
        mibps_peak: max(&total_mibps),
        binding_limit,
        iops_by,
        mibps_by,
        class,
        instance_class: d.instance_class.as_deref(),
        identifier: &query.db_instance_identifier,
        region: &sample.region,
        profile: query.profile.as_deref(),
        burst_exhausted: burst.burst_exhausted,
        missing: &missing,
    });

    let cli_commands = cli_commands(&query, sample);

    let observations = Observations {
        db_io_saturated: match status {
            Status::Saturated => Some(true),
            Status::NearLimit | Status::Healthy => Some(false),
            Status::Unknown => None,
        },
        disk_queue_depth: disk_queue_depth.as_ref().map(|q| q.median),
        db_cpu_percent: cpu.map(|c| round(c.clamp(0.0, 100.0), 2)),
        ..Default::default()
    };

    let storage = StorageInfo {
        storage_type: storage_type_text,
        allocated_storage_gib: allocated,
        provisioned_iops: prov_iops,
        provisioned_throughput_mibps: prov_mibps,
        instance_class: d.instance_class.clone(),
        engine: d.engine.clone(),
        source,
        rule: vol.rule.map(|r| r.rule.to_owned()),
        volumes: vol.rule.map(|_| vol.volumes),
        volume_iops_limit: vol.iops,
        volume_burst_iops: vol.burst_iops,
        volume_throughput_limit_mibps: vol.mibps,
        instance_class_limit: class.map(|c| ClassLimitInfo {
            baseline_iops: c.baseline_iops,
            max_iops: c.max_iops,
            baseline_throughput_mibps: round(mb_to_mib(c.baseline_mbps), 2),
            max_throughput_mibps: round(mb_to_mib(c.max_mbps), 2),
        }),
        effective_iops_limit: eff_iops,
        iops_limited_by: eff_iops.map(|_| iops_by.to_owned()),
        effective_throughput_limit_mibps: eff_mibps.map(|m| round(m, 2)),
        throughput_limited_by: eff_mibps.map(|_| mibps_by.to_owned()),
    };

    let verdict = verdict(&VerdictCtx {
        status,
        id: &query.db_instance_identifier,
        iops_util: iops_util.as_ref(),
        iops_peak,
        eff_iops,
        throughput: throughput.as_ref(),
        queue: disk_queue_depth.as_ref(),
        burst: &burst,
        binding_limit,
        missing: &missing,
    });

    let next_steps = next_steps(status, &recommendations);

    Ok(StorageReport {
        db_instance_identifier: query.db_instance_identifier.clone(),
        region: sample.region.clone(),
        account: sample
            .account
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
        window_start: iso8601(sample.start),
        window_end: iso8601(sample.end),
        period_seconds: query.period_seconds,
        status,
        storage,
        metrics,
        iops_utilization_percent: iops_util,
        total_iops_avg: iops_avg.map(|v| round(v, 2)),
        total_iops_peak: iops_peak.map(|v| round(v, 2)),
        throughput,
        disk_queue_depth,
        latency,
        burst,
        binding_limit: binding_limit.map(str::to_owned),
        recommendations,
        cli_commands,
        observations,
        conclusion: Conclusion {
            verdict,
            evidence,
            next_steps,
            warnings,
        },
    })
}

struct VerdictCtx<'a> {
    status: Status,
    id: &'a str,
    iops_util: Option<&'a Utilization>,
    iops_peak: Option<f64>,
    eff_iops: Option<f64>,
    throughput: Option<&'a Throughput>,
    queue: Option<&'a QueueDepth>,
    burst: &'a Burst,
    binding_limit: Option<&'a str>,
    missing: &'a [String],
}

fn verdict(c: &VerdictCtx) -> String {
    let iops = match (c.iops_util, c.iops_peak, c.eff_iops) {
        (Some(u), Some(p), Some(l)) => format!(
            "IOPS peak {} of {} ({}% peak, {}% avg)",
            fmt_num(p),
            fmt_num(l),
            fmt_num(u.peak),
            fmt_num(u.avg)
        ),
        (None, Some(p), _) => format!("IOPS peak {} (limit unknown)", fmt_num(p)),
        _ => String::new(),
    };
    let tput = c
        .throughput
        .and_then(|t| {
            t.utilization_percent.as_ref().map(|u| {
                format!(
                    "throughput peak {} MiB/s ({}% of {} MiB/s)",
                    fmt_num(t.peak_mibps),
                    fmt_num(u.peak),
                    fmt_num(t.limit_mibps.unwrap_or(0.0))
                )
            })
        })
        .unwrap_or_default();
    let queue = c
        .queue
        .map(|q| {
            format!(
                "DiskQueueDepth > 1 in {}% of periods (median {})",
                fmt_num(q.periods_above_1_percent),
                fmt_num(q.median)
            )
        })
        .unwrap_or_default();
    let burst = if c.burst.burst_exhausted {
        format!(
            "gp2 BurstBalance exhausted (min {}%)",
            fmt_num(c.burst.burst_balance_min_percent.unwrap_or(0.0))
        )
    } else {
        String::new()
    };
    let figures: Vec<&str> = [iops.as_str(), tput.as_str(), queue.as_str(), burst.as_str()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let figures = if figures.is_empty() {
        String::new()
    } else {
        format!(": {}", figures.join("; "))
    };
    let bound = c
        .binding_limit
        .map(|b| format!(" The binding limit is {b}."))
        .unwrap_or_default();
    match c.status {
        Status::Saturated => format!(
            "Storage of {} is SATURATED{figures}.{bound} IO waits for the volume: this is symptom B — raise the limit (see recommendations) rather than adding workers.",
            c.id
        ),
        Status::NearLimit => format!(
            "Storage of {} is NEAR ITS LIMIT{figures}.{bound} Plan the change before the next peak.",
            c.id
        ),
        Status::Healthy => format!(
            "Storage of {} is healthy{figures}. Storage is not the bottleneck — go back to Step 1/2 (latency breakdown, slow queries).",
            c.id
        ),
        Status::Unknown => format!(
            "Storage status of {} is UNKNOWN{figures}. Missing: {}.",
            c.id,
            if c.missing.is_empty() {
                "the IOPS limit".to_owned()
            } else {
                c.missing.join("; ")
            }
        ),
    }
}

fn next_steps(status: Status, recs: &[Recommendation]) -> Vec<NextStep> {
    let mut steps = Vec::new();
    for r in recs {
        let step = NextStep::new(r.action.clone(), r.why.clone());
        steps.push(match r.kind.as_str() {
            "storage_healthy" => step.with_tool("break_down_latency"),
            _ => step,
        });
    }
    match status {
        Status::Healthy => steps.push(
            NextStep::new(
                "List the slowest and most time-consuming queries.",
                "With storage healthy, slow DB time comes from the queries themselves (Step 2).",
            )
            .with_tool("slow_queries"),
        ),
        Status::Saturated | Status::NearLimit => steps.push(
            NextStep::new(
                "Find the queries doing the most IO (io_time, rows read) and index or rewrite them.",
                "Fewer IOs per request lowers the need for provisioned IOPS; do it alongside the storage change.",
            )
            .with_tool("slow_queries"),
        ),
        Status::Unknown => {}
    }
    steps.push(
        NextStep::new(
            "Pass this report's `observations` (merged with yours) to match_symptom.",
            "db_io_saturated and disk_queue_depth decide symptom B against C/D.",
        )
        .with_tool("match_symptom"),
    );
    steps
}

struct Ctx<'a> {
    status: Status,
    storage_type: Option<StorageType>,
    family: EngineFamily,
    allocated: Option<f64>,
    vol: &'a VolumeLimits,
    prov_mibps: Option<f64>,
    iops_peak: Option<f64>,
    mibps_peak: Option<f64>,
    binding_limit: Option<&'a str>,
    iops_by: &'a str,
    mibps_by: &'a str,
    class: Option<&'static ClassLimit>,
    instance_class: Option<&'a str>,
    identifier: &'a str,
    region: &'a str,
    profile: Option<&'a str>,
    burst_exhausted: bool,
    missing: &'a [String],
}

fn ceil_to(v: f64, step: f64) -> f64 {
    (v / step).ceil() * step
}

/// The provisioned IOPS to ask for: peak × headroom, rounded up to 1,000.
pub fn target_iops(peak: f64) -> f64 {
    ceil_to(peak * HEADROOM, 1_000.0)
}

/// A gp3/io plan that fits AWS's ranges and ratios for a wanted IOPS and throughput.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub storage: StorageType,
    pub iops: Option<f64>,
    pub mibps: Option<f64>,
    pub allocated_gib: f64,
    pub notes: Vec<String>,
}

/// Fits wanted IOPS / throughput to the rules of `storage` for this engine, growing the
/// allocated storage when the size threshold or the IOPS-per-GiB ratio requires it.
pub fn plan(
    storage: StorageType,
    family: EngineFamily,
    allocated_gib: f64,
    want_iops: f64,
    want_mibps: Option<f64>,
) -> Plan {
    let mut notes = Vec::new();
    let mut gib = allocated_gib;
    match storage {
        StorageType::Gp3 => {
            let threshold = family.striping_threshold_gib();
            // Below the striping threshold gp3 is fixed at 3,000 / 125.
            let small = threshold.is_some_and(|t| gib < t);
            let needs_more = want_iops > 3_000.0 || want_mibps.is_some_and(|m| m > 125.0);
            if small && needs_more {
                let t = threshold.unwrap_or(400.0);
                notes.push(format!(
                    "gp3 below {} GiB is fixed at 3,000 IOPS / 125 MiB/s; at {} GiB RDS stripes over 4 volumes with a 12,000 IOPS / 500 MiB/s baseline.",
                    fmt_num(t),
                    fmt_num(t)
                ));
                gib = t;
            }
            let rule = rule_for(StorageType::Gp3, family, gib);
            let (lo, hi) = rule
                .and_then(|r| r.iops_range)
                .unwrap_or((3_000.0, 3_000.0));
            let (mlo, mhi) = rule.and_then(|r| r.mibps_range).unwrap_or((125.0, 125.0));
            let base_iops = match rule.map(|r| r.baseline) {
                Some(Baseline::Fixed { iops, .. }) => iops,
                _ => 3_000.0,
            };
            let mut iops = want_iops.max(lo).min(hi);
            let mut mibps = want_mibps.map(|m| ceil_to(m, 25.0).max(mlo).min(mhi));
            // Throughput may be at most 0.25 MiB/s per provisioned IOPS.
            if let Some(m) = mibps
                && m > iops * 0.25
            {
                let need = ceil_to(m / 0.25, 1_000.0).min(hi);
                notes.push(format!(
                    "{} MiB/s needs at least {} IOPS (gp3 allows 0.25 MiB/s per IOPS).",
                    fmt_num(m),
                    fmt_num(need)
                ));
                iops = iops.max(need);
                mibps = Some(m.min(iops * 0.25));
            }
            if want_iops > hi {
                notes.push(format!(
                    "{} IOPS is above gp3's {} maximum for this engine: consider io2 Block Express.",
                    fmt_num(want_iops),
                    fmt_num(hi)
                ));
            }
            if iops > gib * 500.0 {
                gib = ceil_to(iops / 500.0, 1.0);
                notes.push(format!(
                    "gp3 allows at most 500 IOPS per GiB: grow to {} GiB.",
                    fmt_num(gib)
                ));
            }
            Plan {
                storage,
                iops: (iops > base_iops || rule.is_some_and(|r| r.iops_range.is_some()))
                    .then_some(iops),
                mibps,
                allocated_gib: gib,
                notes,
            }
        }
        StorageType::Io1 | StorageType::Io2 => {
            let rule = rule_for(storage, family, gib);
            let (lo, hi) = rule
                .and_then(|r| r.iops_range)
                .unwrap_or((1_000.0, 256_000.0));
            let (_, ratio) = rule.and_then(|r| r.iops_per_gib).unwrap_or((0.5, 50.0));
            let iops = want_iops.max(lo).min(hi);
            if want_iops > hi {
                notes.push(format!(
                    "{} IOPS is above {}'s {} maximum for this engine.",
                    fmt_num(want_iops),
                    storage.as_str(),
                    fmt_num(hi)
                ));
            }
            if iops > gib * ratio {
                gib = ceil_to(iops / ratio, 1.0);
                notes.push(format!(
                    "{} allows at most {} IOPS per GiB: grow to {} GiB.",
                    storage.as_str(),
                    fmt_num(ratio),
                    fmt_num(gib)
                ));
            }
            Plan {
                storage,
                iops: Some(iops),
                mibps: None,
                allocated_gib: gib,
                notes,
            }
        }
        _ => Plan {
            storage,
            iops: None,
            mibps: None,
            allocated_gib: gib,
            notes,
        },
    }
}

fn modify_command(c: &Ctx, p: &Plan) -> String {
    let mut cmd = format!(
        "aws rds modify-db-instance --db-instance-identifier {} --storage-type {}",
        c.identifier,
        p.storage.as_str()
    );
    if c.allocated.is_none_or(|a| p.allocated_gib > a) {
        cmd.push_str(&format!(
            " --allocated-storage {}",
            fmt_num(p.allocated_gib)
        ));
    }
    if let Some(i) = p.iops {
        cmd.push_str(&format!(" --iops {}", fmt_num(i)));
    }
    if let Some(m) = p.mibps {
        cmd.push_str(&format!(" --storage-throughput {}", fmt_num(m)));
    }
    cmd.push_str(&format!(" --region {}", c.region));
    if let Some(profile) = c.profile {
        cmd.push_str(&format!(" --profile {profile}"));
    }
    cmd
}

fn recommend(c: &Ctx) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let rec = |kind: &str, action: String, why: String| Recommendation {
        kind: kind.to_owned(),
        action,
        why,
        storage_type: None,
        provisioned_iops: None,
        throughput_mibps: None,
        allocated_storage_gib: None,
        command: None,
    };
    match c.status {
        Status::Healthy => {
            out.push(rec(
                "storage_healthy",
                "Storage healthy — go back to Step 1/2: break latency down by layer and fix the slow queries.".to_owned(),
                "IOPS and throughput stay well below their limits and IOs do not queue, so more IOPS would not make requests faster.".to_owned(),
            ));
            return out;
        }
        Status::Unknown => {
            out.push(rec(
                "collect_more",
                format!("Collect what is missing: {}.", c.missing.join("; ")),
                "Without datapoints and a limit the storage cannot be judged; unknown stays unknown.".to_owned(),
            ));
            return out;
        }
        Status::Saturated | Status::NearLimit => {}
    }

    // The instance class's EBS pipe binds: a bigger volume will not help.
    let class_binds = match c.binding_limit {
        Some("throughput") => c.mibps_by.starts_with("instance_class"),
        _ => c.iops_by.starts_with("instance_class"),
    };
    if class_binds {
        let name = c.instance_class.unwrap_or("the current class");
        let figures = c
            .class
            .map(|l| {
                format!(
                    " ({}: {} IOPS / {} MiB/s sustained, {} IOPS / {} MiB/s burst)",
                    name,
                    fmt_num(l.baseline_iops),
                    fmt_num(mb_to_mib(l.baseline_mbps)),
                    fmt_num(l.max_iops),
                    fmt_num(mb_to_mib(l.max_mbps))
                )
            })
            .unwrap_or_default();
        out.push(rec(
            "larger_instance_class",
            format!("Move to a larger instance class: the instance's EBS bandwidth, not the volume, is the limit{figures}."),
            "Raising provisioned IOPS beyond what the instance class can push changes nothing.".to_owned(),
        ));
    }

    let peak_iops = c.iops_peak.unwrap_or(0.0);
    let want_iops = target_iops(peak_iops.max(1.0));
    let throughput_bound =
        c.binding_limit == Some("throughput") && !c.mibps_by.starts_with("instance_class");
    let want_mibps = if throughput_bound {
        c.mibps_peak.map(|m| ceil_to(m * HEADROOM, 25.0))
    } else {
        None
    };
    let allocated = c.allocated.unwrap_or(0.0);
    match c.storage_type {
        Some(StorageType::Gp3) if !class_binds => {
            let current = c.vol.iops.unwrap_or(3_000.0);
            let iops = if throughput_bound {
                current
            } else {
                want_iops.max(ceil_to(current + 1.0, 1_000.0))
            };
            let p = plan(
                StorageType::Gp3,
                c.family,
                allocated,
                iops,
                want_mibps.or(c.prov_mibps.filter(|_| throughput_bound)),
            );
            let grows = p.allocated_gib > allocated;
            let kind = if throughput_bound {
                "raise_throughput"
            } else if grows && p.iops.is_none_or(|i| i <= 12_000.0) {
                "grow_storage"
            } else {
                "raise_iops"
            };
            let mut action = match kind {
                "raise_throughput" => format!(
                    "Raise gp3 storage throughput to {} MiB/s{}.",
                    fmt_num(p.mibps.unwrap_or(0.0)),
                    if grows {
                        format!(" (allocated storage to {} GiB)", fmt_num(p.allocated_gib))
                    } else {
                        String::new()
                    }
                ),
                "grow_storage" => format!(
                    "Grow allocated storage to {} GiB: gp3 then gives {} IOPS / 500 MiB/s.",
                    fmt_num(p.allocated_gib),
                    fmt_num(p.iops.unwrap_or(12_000.0))
                ),
                _ => format!(
                    "Raise provisioned gp3 IOPS to {}{}.",
                    fmt_num(p.iops.unwrap_or(want_iops)),
                    if grows {
                        format!(" and allocated storage to {} GiB", fmt_num(p.allocated_gib))
                    } else {
                        String::new()
                    }
                ),
            };
            if !p.notes.is_empty() {
                action.push(' ');
                action.push_str(&p.notes.join(" "));
            }
            let why = if throughput_bound {
                format!(
                    "Throughput peaked at {} MiB/s against a {} MiB/s limit; the target keeps 30% headroom.",
                    fmt_num(c.mibps_peak.unwrap_or(0.0)),
                    fmt_num(c.vol.mibps.unwrap_or(0.0))
                )
            } else {
                let planned = p.iops.unwrap_or(want_iops);
                let fit = if planned > want_iops {
                    format!(
                        "the smallest gp3 configuration that provides it gives {}",
                        fmt_num(planned)
                    )
                } else {
                    "within gp3's allowed range".to_owned()
                };
                format!(
                    "ReadIOPS + WriteIOPS peaked at {} against a {} limit; the peak × 1.3 headroom, rounded up to 1,000, needs {} IOPS and {fit}. Re-measure after the change: a capped volume hides demand.",
                    fmt_num(peak_iops),
                    fmt_num(current),
                    fmt_num(want_iops)
                )
            };
            let mut r = rec(kind, action, why);
            r.storage_type = Some("gp3".into());
            r.provisioned_iops = p.iops;
            r.throughput_mibps = p.mibps;
            r.allocated_storage_gib = grows.then_some(p.allocated_gib);
            r.command = Some(modify_command(c, &p));
            out.push(r);
        }
        Some(StorageType::Gp2) if !class_binds => {
            let p = plan(StorageType::Gp3, c.family, allocated, want_iops, want_mibps);
            let mut action = format!(
                "Move from gp2 to gp3{}{}.",
                p.iops
                    .map(|i| format!(" with {} provisioned IOPS", fmt_num(i)))
                    .unwrap_or_default(),
                if p.allocated_gib > allocated {
                    format!(" and {} GiB", fmt_num(p.allocated_gib))
                } else {
                    String::new()
                }
            );
            if !p.notes.is_empty() {
                action.push(' ');
                action.push_str(&p.notes.join(" "));
            }
            let why = if c.burst_exhausted {
                format!(
                    "The gp2 burst credits ran out, so the volume fell back to its {} IOPS baseline (3 IOPS/GiB); gp3 gives at least 3,000 IOPS at any size without credits, usually for less money.",
                    fmt_num(c.vol.iops.unwrap_or(0.0))
                )
            } else {
                format!(
                    "gp2 ties IOPS to size (3 IOPS/GiB) and bursts on credits; gp3 sets IOPS independently: peak {} × 1.3 headroom → {} IOPS.",
                    fmt_num(peak_iops),
                    fmt_num(want_iops)
                )
            };
            let mut r = rec("gp2_to_gp3", action, why);
            r.storage_type = Some("gp3".into());
            r.provisioned_iops = p.iops;
            r.throughput_mibps = p.mibps;
            r.allocated_storage_gib = (p.allocated_gib > allocated).then_some(p.allocated_gib);
            r.command = Some(modify_command(c, &p));
            out.push(r);
        }
        Some(t @ (StorageType::Io1 | StorageType::Io2)) if !class_binds => {
            if throughput_bound {
                out.push(rec(
                    "larger_instance_class",
                    "Move to an instance class with more EBS bandwidth: io1/io2 throughput is bound by the instance class.".to_owned(),
                    format!("Throughput peaked at {} MiB/s.", fmt_num(c.mibps_peak.unwrap_or(0.0))),
                ));
            } else {
                let current = c.vol.iops.unwrap_or(0.0);
                let p = plan(
                    t,
                    c.family,
                    allocated,
                    want_iops.max(ceil_to(current + 1.0, 1_000.0)),
                    None,
                );
                let mut action = format!(
                    "Raise provisioned {} IOPS to {}{}.",
                    t.as_str(),
                    fmt_num(p.iops.unwrap_or(want_iops)),
                    if p.allocated_gib > allocated {
                        format!(" and allocated storage to {} GiB", fmt_num(p.allocated_gib))
                    } else {
                        String::new()
                    }
                );
                if !p.notes.is_empty() {
                    action.push(' ');
                    action.push_str(&p.notes.join(" "));
                }
                let mut r = rec(
                    "raise_iops",
                    action,
                    format!(
                        "ReadIOPS + WriteIOPS peaked at {} against {} provisioned; target = peak × 1.3 rounded up to 1,000.",
                        fmt_num(peak_iops),
                        fmt_num(current)
                    ),
                );
                r.storage_type = Some(t.as_str().into());
                r.provisioned_iops = p.iops;
                r.allocated_storage_gib = (p.allocated_gib > allocated).then_some(p.allocated_gib);
                r.command = Some(modify_command(c, &p));
                out.push(r);
            }
        }
        Some(StorageType::Standard) => {
            let p = plan(StorageType::Gp3, c.family, allocated, want_iops, want_mibps);
            let mut r = rec(
                "gp2_to_gp3",
                format!(
                    "Move from magnetic (standard) to gp3{}.",
                    p.iops
                        .map(|i| format!(" with {} IOPS", fmt_num(i)))
                        .unwrap_or_default()
                ),
                "Magnetic storage is deprecated and has no published IOPS ceiling.".to_owned(),
            );
            r.storage_type = Some("gp3".into());
            r.provisioned_iops = p.iops;
            r.command = Some(modify_command(c, &p));
            out.push(r);
        }
        None if !class_binds => {
            let mut r = rec(
                "raise_iops",
                format!("Raise the volume's IOPS limit to at least {} (peak × 1.3).", fmt_num(want_iops)),
                "The storage type is unknown, so the allowed ranges could not be checked: allow rds:DescribeDBInstances or pass storage_type and allocated_storage_gib for a concrete plan.".to_owned(),
            );
            r.provisioned_iops = Some(want_iops);
            out.push(r);
        }
        _ => {}
    }
    // A volume limit the instance cannot push is wasted: say so next to the figure.
    if let (Some(cl), Some(name)) = (c.class, c.instance_class) {
        for r in &mut out {
            if let Some(i) = r.provisioned_iops.filter(|i| *i > cl.baseline_iops) {
                r.action.push_str(&format!(
                    " Note: {name} sustains {} IOPS ({} for up to 30 minutes a day), below {}: move to a larger class too if the load is sustained.",
                    fmt_num(cl.baseline_iops),
                    fmt_num(cl.max_iops),
                    fmt_num(i)
                ));
            }
        }
    }
    out
}

/// The `aws cloudwatch get-metric-statistics` commands for the same instance and window.
fn cli_commands(q: &Query, s: &Sample) -> Vec<String> {
    let profile = q
        .profile
        .as_deref()
        .map(|p| format!(" --profile {p}"))
        .unwrap_or_default();
    [Metric::ReadIops, Metric::WriteIops, Metric::DiskQueueDepth]
        .into_iter()
        .map(|m| {
            format!(
                "aws cloudwatch get-metric-statistics --namespace AWS/RDS --metric-name {} --dimensions Name=DBInstanceIdentifier,Value={} --start-time {} --end-time {} --period {} --statistics Average Maximum --region {}{profile}",
                m.name(),
                q.db_instance_identifier,
                iso8601(s.start),
                iso8601(s.end),
                q.period_seconds,
                s.region
            )
        })
        .collect()
}

/// Epoch seconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn iso8601(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Fills the DB observations that a storage report decides, keeping what the caller
/// already gave, and returns the evidence for what was filled.
pub fn fold_into(report: &StorageReport, observations: &mut Observations) -> Vec<Evidence> {
    let mut evidence = Vec::new();
    if observations.db_io_saturated.is_none()
        && let Some(v) = report.observations.db_io_saturated
    {
        observations.db_io_saturated = Some(v);
        evidence.push(Evidence::flag(
            "db_io_saturated",
            v,
            &format!("check_rds_iops:{}", report.db_instance_identifier),
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
    evidence
}

/// Folds a storage verdict into a latency breakdown: the DB observations it decides, the
/// evidence behind them, and a warning line with the verdict.
pub fn fold_into_latency(storage: &StorageReport, report: &mut super::latency::LatencyReport) {
    let evidence = fold_into(storage, &mut report.observations);
    report.conclusion.evidence.extend(evidence);
    report.conclusion.evidence.push(Evidence::text(
        "rds_storage_status",
        storage.status.as_str(),
        &format!("check_rds_iops:{}", storage.db_instance_identifier),
    ));
    report.conclusion.warnings.push(format!(
        "RDS storage ({}, {}): {}",
        storage.region, storage.account, storage.conclusion.verdict
    ));
    // The storage check this step asks for has been done.
    report
        .conclusion
        .next_steps
        .retain(|s| s.tool.as_deref() != Some("check_rds_iops"));
    if matches!(storage.status, Status::Saturated | Status::NearLimit)
        && let Some(r) = storage.recommendations.first()
    {
        report.conclusion.next_steps.insert(
            0,
            NextStep::new(r.action.clone(), r.why.clone()).with_tool("check_rds_iops"),
        );
    }
}

#[cfg(test)]
mod tests;
