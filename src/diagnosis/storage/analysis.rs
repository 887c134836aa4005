//! The storage verdict, in named steps: what the storage is ([`describe`]), the series'
//! figures ([`metric_stats`], [`io_totals`], [`burst`]), the limits they are measured
//! against ([`effective_limits`]), utilisation and the queue, the status, the evidence and
//! what is missing — then the recommendations, the sentence and the report.
//!
//! [`analyze`] takes a request already checked by [`super::validate`]; nothing here
//! validates again, and nothing here fails: what the data cannot decide is `unknown`, with
//! the reason.

use std::collections::BTreeMap;

use super::aws_cli::{cli_commands, iso8601};
use super::input::InstanceWindow;
use super::limits::thresholds::*;
use super::limits::{
    ClassLimit, EngineFamily, MIB, SOURCE_LIMITS, StorageType, VolumeLimits, class_limit,
    mb_to_mib, volume_limits,
};
use super::recommend::{Findings, recommend};
use super::report::{
    Burst, ClassLimitInfo, Latency, MetricStats, QueueDepth, Status, StorageInfo, StorageReport,
    Throughput, Utilization,
};
use super::sample::{Metric, Point, SOURCE_DESCRIBE, Sample};
use super::verdict::{VerdictFigures, next_steps, verdict};
use crate::diagnosis::symptoms::Observations;
use crate::diagnosis::{Conclusion, Evidence, SOURCE_CALLER, fmt_num, round};

/// Decides the storage verdict from what the adapters fetched for `check`.
pub fn analyze(check: &InstanceWindow, sample: &Sample) -> StorageReport {
    let mut warnings: Vec<String> = sample.notes.clone();
    let storage = describe(check, sample, &mut warnings);
    let metrics = metric_stats(sample);
    let io = io_totals(check, sample, &mut warnings);
    let burst = burst(&metrics);
    let limits = effective_limits(&storage, &burst, io.iops_peak, &mut warnings);
    let iops_util = match (limits.iops, io.iops_avg, io.iops_peak) {
        (Some(l), Some(a), Some(p)) if l > 0.0 => Some(utilization(a, p, l)),
        _ => None,
    };
    let throughput = throughput(&io.mibps, limits.mibps);
    let disk_queue_depth = queue_depth(series(sample, Metric::DiskQueueDepth));
    let stat = |m: Metric| metrics.get(m.name());
    let latency = Latency {
        read_avg_ms: stat(Metric::ReadLatency).map(|s| s.avg),
        read_max_ms: stat(Metric::ReadLatency).map(|s| s.max),
        write_avg_ms: stat(Metric::WriteLatency).map(|s| s.avg),
        write_max_ms: stat(Metric::WriteLatency).map(|s| s.max),
    };
    let cpu = stat(Metric::CpuUtilization).map(|s| s.avg);
    let figures = Figures {
        io,
        limits,
        iops_util,
        throughput,
        queue: disk_queue_depth,
        latency,
        burst,
        cpu,
    };
    let (status, binding_limit) = decide(&figures);
    let evidence = evidence(&storage, &figures);
    let missing = missing(check, sample, &storage, &figures);

    let recommendations = recommend(&Findings {
        status,
        storage_type: storage.storage_type,
        family: storage.family,
        allocated: storage.allocated,
        vol: &storage.vol,
        prov_mibps: storage.prov_mibps,
        iops_peak: figures.io.iops_peak,
        mibps_peak: max(&figures.io.mibps),
        binding_limit,
        iops_by: figures.limits.iops_by,
        mibps_by: figures.limits.mibps_by,
        class: figures.limits.class,
        instance_class: storage.instance_class.as_deref(),
        identifier: &check.db_instance_identifier,
        region: &sample.region,
        profile: check.profile.as_deref(),
        burst_exhausted: figures.burst.burst_exhausted,
        missing: &missing,
    });
    let cli_commands = cli_commands(check, sample);
    let observations = Observations {
        db_io_saturated: match status {
            Status::Saturated => Some(true),
            Status::NearLimit | Status::Healthy => Some(false),
            Status::Unknown => None,
        },
        disk_queue_depth: figures.queue.as_ref().map(|q| q.median),
        db_cpu_percent: figures.cpu.map(|c| round(c.clamp(0.0, 100.0), 2)),
        ..Default::default()
    };
    let verdict = verdict(&VerdictFigures {
        status,
        id: &check.db_instance_identifier,
        iops_util: figures.iops_util.as_ref(),
        iops_peak: figures.io.iops_peak,
        eff_iops: figures.limits.iops,
        throughput: figures.throughput.as_ref(),
        queue: figures.queue.as_ref(),
        burst: &figures.burst,
        binding_limit,
        missing: &missing,
    });
    let next_steps = next_steps(status, &recommendations);
    let storage_info = storage_info(storage, &figures.limits);

    StorageReport {
        db_instance_identifier: check.db_instance_identifier.clone(),
        region: sample.region.clone(),
        account: sample
            .account
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
        window_start: iso8601(sample.start),
        window_end: iso8601(sample.end),
        period_seconds: check.period_seconds,
        status,
        storage: storage_info,
        metrics,
        iops_utilization_percent: figures.iops_util,
        total_iops_avg: figures.io.iops_avg.map(|v| round(v, 2)),
        total_iops_peak: figures.io.iops_peak.map(|v| round(v, 2)),
        throughput: figures.throughput,
        disk_queue_depth: figures.queue,
        latency: figures.latency,
        burst: figures.burst,
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
    }
}

/// What the storage is: the description when RDS gave one, else what the caller stated,
/// and the volume limits that follow.
struct Described {
    /// The storage type as described or stated (also a type the table does not know).
    storage_type_text: Option<String>,
    storage_type: Option<StorageType>,
    allocated: Option<f64>,
    family: EngineFamily,
    prov_iops: Option<f64>,
    prov_mibps: Option<f64>,
    /// The caller stated the throughput.
    mibps_from_caller: bool,
    vol: VolumeLimits,
    /// DescribeDBInstances answered.
    described: bool,
    /// Where the description came from: `rds:DescribeDBInstances`, `caller` or `none`.
    source: String,
    instance_class: Option<String>,
    engine: Option<String>,
}

/// Step 1: what the storage is, saying where the description and the caller disagree (the
/// description wins on the type, the caller on the provisioned figures).
fn describe(check: &InstanceWindow, sample: &Sample, warnings: &mut Vec<String>) -> Described {
    let d = sample.description.clone().unwrap_or_default();
    let stated = &check.stated;
    let from_caller_type = stated.storage_type;
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
    let allocated = d.allocated_storage_gib.or(stated.allocated_storage_gib);
    let (family, engine_known) = EngineFamily::from_engine(d.engine.as_deref());
    if !engine_known && matches!(storage_type, Some(StorageType::Gp2 | StorageType::Gp3)) {
        warnings.push("The engine is unknown; the MySQL/MariaDB/PostgreSQL rows of the limits table are used (Oracle stripes at 200 GiB, SQL Server never; SQL Server's gp3 ranges differ).".to_owned());
    }
    let caller_iops = stated.provisioned_iops;
    let caller_mibps = stated.provisioned_throughput_mibps;
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
        warnings,
    );
    vol.iops_from_caller = caller_iops.is_some();
    let described = sample.description.is_some();
    let source = if described {
        SOURCE_DESCRIBE.to_owned()
    } else if stated.any() {
        SOURCE_CALLER.to_owned()
    } else {
        "none".to_owned()
    };
    if let Some(note) = &sample.description_note {
        warnings.push(note.clone());
    }
    Described {
        storage_type_text,
        storage_type,
        allocated,
        family,
        prov_iops,
        prov_mibps,
        mibps_from_caller: caller_mibps.is_some(),
        vol,
        described,
        source,
        instance_class: d.instance_class,
        engine: d.engine,
    }
}

/// A metric's datapoints (none when CloudWatch returned none).
fn series(sample: &Sample, m: Metric) -> &[Point] {
    sample.series.get(&m).map_or(&[], Vec::as_slice)
}

/// Step 2: avg, min and max of every metric with datapoints, by CloudWatch name.
fn metric_stats(sample: &Sample) -> BTreeMap<String, MetricStats> {
    let mut metrics = BTreeMap::new();
    for m in Metric::ALL {
        let (scale, unit) = m.scale();
        if let Some(s) = stats(series(sample, m), scale, unit) {
            metrics.insert(m.name().to_owned(), s);
        }
    }
    metrics
}

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

/// Read + write per period: IOPS and MiB/s.
struct IoTotals {
    iops: Vec<f64>,
    mibps: Vec<f64>,
    iops_avg: Option<f64>,
    iops_peak: Option<f64>,
}

/// Step 3: total IOPS and throughput per period, warning when too few periods have data.
fn io_totals(check: &InstanceWindow, sample: &Sample, warnings: &mut Vec<String>) -> IoTotals {
    let expected = ((sample.end - sample.start) / i64::from(check.period_seconds)).max(1) as usize;
    let iops = sum_series(
        series(sample, Metric::ReadIops),
        series(sample, Metric::WriteIops),
        1.0,
    );
    let mibps = sum_series(
        series(sample, Metric::ReadThroughput),
        series(sample, Metric::WriteThroughput),
        1.0 / MIB,
    );
    if !iops.is_empty() && (iops.len() as f64) < expected as f64 * MIN_COVERAGE_PERCENT / 100.0 {
        warnings.push(format!(
            "Only {} of {} periods have ReadIOPS/WriteIOPS datapoints: CloudWatch publishes nothing while the instance is stopped or the metric is idle; treat the averages with care.",
            iops.len(),
            expected
        ));
    }
    IoTotals {
        iops_avg: mean(&iops),
        iops_peak: max(&iops),
        iops,
        mibps,
    }
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

/// Step 4: the lowest burst balances of the window (gp2 credits, the class's EBS burst).
fn burst(metrics: &BTreeMap<String, MetricStats>) -> Burst {
    let min_of = |m: Metric| metrics.get(m.name()).map(|s| s.min);
    let burst_min = min_of(Metric::BurstBalance);
    Burst {
        burst_balance_min_percent: burst_min,
        burst_exhausted: burst_min.is_some_and(|b| b <= BURST_EXHAUSTED_PERCENT),
        ebs_io_balance_min_percent: min_of(Metric::EbsIoBalance),
        ebs_byte_balance_min_percent: min_of(Metric::EbsByteBalance),
    }
}

/// The limits utilisation is measured against, and what sets each.
struct Effective {
    iops: Option<f64>,
    /// `volume`, `volume_burst`, `gp2_baseline`, `instance_class`,
    /// `instance_class_baseline` or `caller`.
    iops_by: &'static str,
    mibps: Option<f64>,
    mibps_by: &'static str,
    class: Option<&'static ClassLimit>,
}

/// Step 5: the lower of the volume's current ceiling (gp2: burst while credits last) and
/// the instance class's (its burst while EBSIOBalance% lasts).
fn effective_limits(
    storage: &Described,
    burst: &Burst,
    iops_peak: Option<f64>,
    warnings: &mut Vec<String>,
) -> Effective {
    let vol = &storage.vol;
    let class = storage.instance_class.as_deref().and_then(class_limit);
    if let (Some(name), None) = (&storage.instance_class, class) {
        warnings.push(format!(
            "The EBS ceiling of instance class {name} is not in this tool's table, so it is not applied: check the class's 'Max EBS IOPS / throughput' in the RDS instance class docs; it can be lower than the volume's limit."
        ));
    }
    let (mut iops, mut iops_by) = match (vol.iops, vol.burst_iops) {
        (Some(base), Some(b)) => {
            if burst.burst_exhausted {
                (Some(base), "gp2_baseline")
            } else {
                if burst.burst_balance_min_percent.is_none() {
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
    let mut mibps = vol.mibps;
    let mut mibps_by = if storage.mibps_from_caller {
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
        if iops.is_none_or(|v| ci < v) {
            iops = Some(ci);
            iops_by = ci_by;
        }
        if mibps.is_none_or(|v| cm < v) {
            mibps = Some(cm);
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
    Effective {
        iops,
        iops_by,
        mibps,
        mibps_by,
        class,
    }
}

/// Mean and peak as percent of `limit`.
fn utilization(avg: f64, peak: f64, limit: f64) -> Utilization {
    Utilization {
        avg: round(avg / limit * 100.0, 2),
        peak: round(peak / limit * 100.0, 2),
    }
}

/// Step 6: total throughput against its limit.
fn throughput(mibps: &[f64], limit: Option<f64>) -> Option<Throughput> {
    let (a, p) = (mean(mibps)?, max(mibps)?);
    Some(Throughput {
        avg_mibps: round(a, 3),
        peak_mibps: round(p, 3),
        limit_mibps: limit.map(|l| round(l, 3)),
        utilization_percent: limit.filter(|l| *l > 0.0).map(|l| utilization(a, p, l)),
    })
}

/// Step 7: DiskQueueDepth over the window, and how often IOs queued.
fn queue_depth(points: &[Point]) -> Option<QueueDepth> {
    let values: Vec<f64> = points
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() {
        return None;
    }
    let above = values.iter().filter(|v| **v > QUEUE_DEPTH_HIGH).count();
    let share = above as f64 / values.len() as f64 * 100.0;
    Some(QueueDepth {
        avg: round(mean(&values).unwrap_or(0.0), 3),
        max: round(max(&values).unwrap_or(0.0), 3),
        median: round(median(&values).unwrap_or(0.0), 3),
        periods_above_1_percent: round(share, 2),
        sustained_above_1: share >= QUEUE_SUSTAINED_SHARE_PERCENT,
    })
}

/// The figures the status, the evidence and the sentence are made of.
struct Figures {
    io: IoTotals,
    limits: Effective,
    iops_util: Option<Utilization>,
    throughput: Option<Throughput>,
    queue: Option<QueueDepth>,
    latency: Latency,
    burst: Burst,
    /// Mean CPUUtilization, percent.
    cpu: Option<f64>,
}

/// Step 8: the status (thresholds in the module doc) and the limit closest to being hit.
fn decide(f: &Figures) -> (Status, Option<&'static str>) {
    let iops_peak_pct = f.iops_util.as_ref().map(|u| u.peak);
    let tput_peak_pct = f
        .throughput
        .as_ref()
        .and_then(|t| t.utilization_percent.as_ref())
        .map(|u| u.peak);
    let binding_limit = match (iops_peak_pct, tput_peak_pct) {
        (Some(i), Some(t)) => Some(if t > i { "throughput" } else { "iops" }),
        (Some(_), None) => Some("iops"),
        (None, Some(_)) => Some("throughput"),
        (None, None) => None,
    };
    let queue_sustained = f.queue.as_ref().map(|q| q.sustained_above_1);
    let queue_share = f.queue.as_ref().map(|q| q.periods_above_1_percent);
    let peak_pct = iops_peak_pct
        .into_iter()
        .chain(tput_peak_pct)
        .reduce(f64::max);
    let burst_low = f
        .burst
        .burst_balance_min_percent
        .is_some_and(|b| b <= BURST_LOW_PERCENT);
    let no_io_data = f.io.iops.is_empty();
    let status = if peak_pct.is_some_and(|p| p >= SATURATED_PERCENT)
        || queue_sustained == Some(true)
        || (f.burst.burst_exhausted && !no_io_data)
    {
        Status::Saturated
    } else if no_io_data {
        Status::Unknown
    } else if peak_pct.is_some_and(|p| p >= NEAR_LIMIT_PERCENT)
        || queue_share.is_some_and(|s| s >= QUEUE_NEAR_SHARE_PERCENT)
        || burst_low
    {
        Status::NearLimit
    } else if f.iops_util.is_some() {
        Status::Healthy
    } else {
        Status::Unknown
    };
    (status, binding_limit)
}

/// Step 9: the figures the conclusion rests on, each with where it came from.
fn evidence(storage: &Described, f: &Figures) -> Vec<Evidence> {
    let mut evidence = Vec::new();
    let both = |a: Metric, b: Metric| format!("{}+{}", a.source(), b.name());
    if let Some(a) = f.io.iops_avg {
        evidence.push(Evidence::number(
            "total_iops_avg",
            a,
            "iops",
            &both(Metric::ReadIops, Metric::WriteIops),
        ));
    }
    if let Some(p) = f.io.iops_peak {
        evidence.push(Evidence::number(
            "total_iops_peak",
            p,
            "iops",
            &both(Metric::ReadIops, Metric::WriteIops),
        ));
    }
    if let Some(l) = f.limits.iops {
        let by = f.limits.iops_by;
        let src = if storage.vol.iops_from_caller && by == "caller" {
            SOURCE_CALLER.to_owned()
        } else if by.starts_with("instance_class") {
            SOURCE_LIMITS.to_owned()
        } else if storage.described {
            format!("{SOURCE_DESCRIBE}+{SOURCE_LIMITS}")
        } else {
            format!("{SOURCE_CALLER}+{SOURCE_LIMITS}")
        };
        evidence.push(Evidence::number("effective_iops_limit", l, "iops", &src));
    }
    if let Some(u) = &f.iops_util {
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
    if let Some(t) = &f.throughput {
        evidence.push(Evidence::number(
            "throughput_peak_mibps",
            t.peak_mibps,
            "mibps",
            &both(Metric::ReadThroughput, Metric::WriteThroughput),
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
    if let Some(q) = &f.queue {
        let src = Metric::DiskQueueDepth.source();
        evidence.push(Evidence::number(
            "disk_queue_depth_median",
            q.median,
            "count",
            &src,
        ));
        evidence.push(Evidence::number(
            "disk_queue_depth_periods_above_1_percent",
            q.periods_above_1_percent,
            "percent",
            &src,
        ));
    }
    let measured = [
        (
            "read_latency_avg_ms",
            f.latency.read_avg_ms,
            "ms",
            Metric::ReadLatency,
        ),
        (
            "write_latency_avg_ms",
            f.latency.write_avg_ms,
            "ms",
            Metric::WriteLatency,
        ),
        (
            "burst_balance_min_percent",
            f.burst.burst_balance_min_percent,
            "percent",
            Metric::BurstBalance,
        ),
        (
            "db_cpu_percent_avg",
            f.cpu,
            "percent",
            Metric::CpuUtilization,
        ),
    ];
    for (name, value, unit, m) in measured {
        if let Some(v) = value {
            evidence.push(Evidence::number(name, v, unit, &m.source()));
        }
    }
    if let Some(t) = storage.storage_type {
        evidence.push(Evidence::text("storage_type", t.as_str(), &storage.source));
    }
    evidence
}

/// Step 10: what is missing to decide, in words that say how to get it.
fn missing(
    check: &InstanceWindow,
    sample: &Sample,
    storage: &Described,
    f: &Figures,
) -> Vec<String> {
    let mut missing: Vec<String> = Vec::new();
    if f.io.iops.is_empty() {
        missing.push(format!(
            "CloudWatch returned no ReadIOPS/WriteIOPS datapoints for {} in {} between {} and {}: check the identifier and region, that the instance was running, and that the window is within CloudWatch's retention",
            check.db_instance_identifier,
            sample.region,
            iso8601(sample.start),
            iso8601(sample.end)
        ));
    }
    if f.limits.iops.is_none() {
        missing.push(if storage.described {
            "the IOPS limit of this storage could not be determined: pass provisioned_iops".to_owned()
        } else {
            "the storage's IOPS limit is unknown (DescribeDBInstances was not available): pass provisioned_iops (and storage_type, allocated_storage_gib), or allow rds:DescribeDBInstances".to_owned()
        });
    }
    if f.queue.is_none() {
        missing.push("no DiskQueueDepth datapoints".to_owned());
    }
    missing
}

/// What the storage is and the limits that follow, for the report.
fn storage_info(storage: Described, limits: &Effective) -> StorageInfo {
    let vol = storage.vol;
    StorageInfo {
        storage_type: storage.storage_type_text,
        allocated_storage_gib: storage.allocated,
        provisioned_iops: storage.prov_iops,
        provisioned_throughput_mibps: storage.prov_mibps,
        instance_class: storage.instance_class,
        engine: storage.engine,
        source: storage.source,
        rule: vol.rule.map(|r| r.rule.to_owned()),
        volumes: vol.rule.map(|_| vol.volumes),
        volume_iops_limit: vol.iops,
        volume_burst_iops: vol.burst_iops,
        volume_throughput_limit_mibps: vol.mibps,
        instance_class_limit: limits.class.map(|c| ClassLimitInfo {
            baseline_iops: c.baseline_iops,
            max_iops: c.max_iops,
            baseline_throughput_mibps: round(mb_to_mib(c.baseline_mbps), 2),
            max_throughput_mibps: round(mb_to_mib(c.max_mbps), 2),
        }),
        effective_iops_limit: limits.iops,
        iops_limited_by: limits.iops.map(|_| limits.iops_by.to_owned()),
        effective_throughput_limit_mibps: limits.mibps.map(|m| round(m, 2)),
        throughput_limited_by: limits.mibps.map(|_| limits.mibps_by.to_owned()),
    }
}
