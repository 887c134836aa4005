//! AWS's published RDS storage limits as data, and the limits of one volume read from them.
//!
//! - [`thresholds`]: the figures that turn utilisation, queue depth and burst balance into a
//!   status;
//! - [`LIMITS`]: one row per storage type, engine family and size range (the module doc of
//!   [`super`] prints the table), and [`rule_for`] to find the row;
//! - [`INSTANCE_CLASSES`]: the EBS ceilings of the instance classes known here, and
//!   [`class_limit`] to find one;
//! - [`volume_limits`]: the IOPS, burst and throughput a volume sustains, from its row and
//!   what was provisioned.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::fmt_num;

/// Thresholds that turn the series into a status. Documented in the module doc.
pub mod thresholds {
    /// Peak utilisation at or above this (percent of the effective limit) is `saturated`.
    pub const SATURATED_PERCENT: f64 = 90.0;
    /// Peak utilisation at or above this is `near_limit`.
    pub const NEAR_LIMIT_PERCENT: f64 = 70.0;
    /// DiskQueueDepth above this means IOs wait for the volume.
    pub const QUEUE_DEPTH_HIGH: f64 = crate::diagnosis::symptoms::thresholds::DISK_QUEUE_DEPTH_HIGH;
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

/// Source label for figures taken from the limits table.
pub const SOURCE_LIMITS: &str = "aws-published-limits";

/// Bytes in a MiB (CloudWatch reports throughput in bytes per second).
pub(super) const MIB: f64 = 1024.0 * 1024.0;

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
    pub(super) fn covers(self, f: EngineFamily) -> bool {
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

pub(super) fn mb_to_mib(mb: f64) -> f64 {
    mb * 1_000_000.0 / MIB
}

/// Volume limits from the table, before burst and instance class.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct VolumeLimits {
    pub rule: Option<&'static LimitRule>,
    pub iops: Option<f64>,
    pub burst_iops: Option<f64>,
    pub mibps: Option<f64>,
    pub volumes: u32,
    pub iops_from_caller: bool,
}

/// The limits of a volume of `storage` for this engine and size, with the provisioned
/// figures where its row takes them; what cannot be decided goes into `warnings`.
pub(super) fn volume_limits(
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
