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
//!
//! ## Where things are
//! - `input`: the arguments, and [`validate`] which checks them once into an
//!   [`InstanceWindow`] — everything after it takes that checked value;
//! - `sample`: what the adapters fetch (CloudWatch series, the instance description);
//! - `limits`: the thresholds, the limits table, the instance classes' EBS ceilings and
//!   the volume limits they give;
//! - `analysis`: [`analyze`], the verdict in named steps; `verdict`: its sentence and
//!   the next steps;
//! - `recommend`: what to change, with the figures and the `aws rds` command;
//! - `aws_cli`: the `aws cloudwatch` commands to rerun the reads;
//! - `report`: the report and its parts;
//! - `fold`: what a storage verdict adds to another tool's report, as a value.

mod analysis;
mod aws_cli;
mod fold;
mod input;
mod limits;
mod recommend;
mod report;
mod sample;
mod verdict;

pub use analysis::analyze;
pub use aws_cli::iso8601;
pub use fold::fold;
pub use input::{
    DEFAULT_PERIOD_SECONDS, DEFAULT_WINDOW_MINUTES, InstanceWindow, MAX_PERIODS, RdsInstanceRef,
    RdsIopsInput, StatedStorage, check_region, validate,
};
pub use limits::{
    Baseline, ClassLimit, EngineFamily, Engines, INSTANCE_CLASSES, LIMITS, LimitRule,
    SOURCE_LIMITS, StorageType, class_limit, rule_for, thresholds,
};
pub use recommend::{Plan, plan, target_iops};
pub use report::{
    Burst, ClassLimitInfo, Latency, MetricStats, QueueDepth, Recommendation, Status, StorageInfo,
    StorageReport, Throughput, Utilization,
};
pub use sample::{InstanceDescription, Metric, Point, SOURCE_DESCRIBE, Sample};

#[cfg(test)]
mod tests;
