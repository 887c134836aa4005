//! Unit tests for the limits table (with AWS's published examples) and the verdict rules.

use super::fold::fill;
use super::limits::{MIB, VolumeLimits, mb_to_mib, volume_limits};
use super::*;
use crate::diagnosis::round;
use crate::diagnosis::symptoms::Observations;

const HOUR: i64 = 3600;
const END: i64 = 1_700_000_100;

fn input(id: &str) -> RdsIopsInput {
    RdsIopsInput {
        db_instance_identifier: id.to_owned(),
        region: None,
        profile: None,
        window_minutes: None,
        since: None,
        until: None,
        period_seconds: 300,
        provisioned_iops: None,
        provisioned_throughput_mibps: None,
        storage_type: None,
        allocated_storage_gib: None,
    }
}

/// The report for `input` over `s`, the arguments checked first as the tool does.
fn report(input: &RdsIopsInput, s: &Sample) -> StorageReport {
    analyze(&validate(input, END).unwrap(), s)
}

fn described(
    storage: &str,
    gib: f64,
    iops: Option<f64>,
    mibps: Option<f64>,
) -> InstanceDescription {
    InstanceDescription {
        storage_type: Some(storage.to_owned()),
        allocated_storage_gib: Some(gib),
        iops,
        storage_throughput_mibps: mibps,
        instance_class: Some("db.m7g.large".to_owned()),
        engine: Some("postgres".to_owned()),
    }
}

/// Twelve 5-minute periods ending at END, one value each from `f(i)`.
fn series(f: impl Fn(usize) -> f64) -> Vec<Point> {
    (0..12)
        .map(|i| Point {
            timestamp: END - HOUR + i as i64 * 300,
            value: f(i),
        })
        .collect()
}

fn sample(d: Option<InstanceDescription>, metrics: Vec<(Metric, Vec<Point>)>) -> Sample {
    Sample {
        region: "eu-west-1".to_owned(),
        account: Some("123456789012".to_owned()),
        start: END - HOUR,
        end: END,
        description: d,
        description_note: None,
        series: metrics.into_iter().collect(),
        notes: vec![],
    }
}

fn io(read: f64, write: f64, queue: f64) -> Vec<(Metric, Vec<Point>)> {
    vec![
        (Metric::ReadIops, series(|_| read)),
        (Metric::WriteIops, series(|_| write)),
        (Metric::DiskQueueDepth, series(|_| queue)),
        (Metric::ReadThroughput, series(|_| 10.0 * MIB)),
        (Metric::WriteThroughput, series(|_| 5.0 * MIB)),
        (Metric::ReadLatency, series(|_| 0.002)),
        (Metric::WriteLatency, series(|_| 0.004)),
        (Metric::CpuUtilization, series(|_| 20.0)),
    ]
}

fn vol(storage: StorageType, family: EngineFamily, gib: f64) -> VolumeLimits {
    volume_limits(
        Some(storage),
        family,
        Some(gib),
        None,
        None,
        &mut Vec::new(),
    )
}

// ------------------------------------------------------------------ limits table

#[test]
fn gp2_published_examples() {
    // AWS: "a 100 GiB gp2 volume has a baseline of 300 IOPS" and bursts to 3,000.
    let v = vol(StorageType::Gp2, EngineFamily::Open, 100.0);
    assert_eq!(v.iops, Some(300.0));
    assert_eq!(v.burst_iops, Some(3_000.0));
    assert_eq!(v.volumes, 1);
    // Minimum 100 IOPS (33.33 GiB or less).
    assert_eq!(
        vol(StorageType::Gp2, EngineFamily::Open, 20.0).iops,
        Some(100.0)
    );
    // SQL Server is never striped: 16,000 IOPS at 5,334 GiB and above, no burst above 1 TiB.
    let v = vol(StorageType::Gp2, EngineFamily::SqlServer, 6_000.0);
    assert_eq!(v.iops, Some(16_000.0));
    assert_eq!(v.burst_iops, None);
    // Striped from 400 GiB (MySQL/PostgreSQL): 3 IOPS/GiB, each quarter bursting to 3,000.
    let v = vol(StorageType::Gp2, EngineFamily::Open, 1_024.0);
    assert_eq!(
        (v.iops, v.burst_iops, v.volumes),
        (Some(3_072.0), Some(12_000.0), 4)
    );
    // 64 TiB: 16,000 per volume, 64,000 in all, no burst.
    let v = vol(StorageType::Gp2, EngineFamily::Open, 65_536.0);
    assert_eq!((v.iops, v.burst_iops), (Some(64_000.0), None));
    // gp2 throughput: 128 MiB/s per volume up to 170 GiB, 250 above.
    assert_eq!(
        vol(StorageType::Gp2, EngineFamily::Open, 100.0).mibps,
        Some(128.0)
    );
    assert_eq!(
        vol(StorageType::Gp2, EngineFamily::Open, 300.0).mibps,
        Some(250.0)
    );
}

#[test]
fn gp3_published_baselines() {
    let v = vol(StorageType::Gp3, EngineFamily::Open, 399.0);
    assert_eq!(
        (v.iops, v.mibps, v.volumes),
        (Some(3_000.0), Some(125.0), 1)
    );
    let v = vol(StorageType::Gp3, EngineFamily::Open, 400.0);
    assert_eq!(
        (v.iops, v.mibps, v.volumes),
        (Some(12_000.0), Some(500.0), 4)
    );
    // Oracle stripes at 200 GiB.
    assert_eq!(
        vol(StorageType::Gp3, EngineFamily::Oracle, 199.0).iops,
        Some(3_000.0)
    );
    assert_eq!(
        vol(StorageType::Gp3, EngineFamily::Oracle, 200.0).iops,
        Some(12_000.0)
    );
    // SQL Server differs: 3,000 / 125 at any size, provisionable to 16,000 / 1,000.
    let v = vol(StorageType::Gp3, EngineFamily::SqlServer, 2_000.0);
    assert_eq!((v.iops, v.mibps), (Some(3_000.0), Some(125.0)));
    let rule = rule_for(StorageType::Gp3, EngineFamily::SqlServer, 2_000.0).unwrap();
    assert_eq!(rule.iops_range, Some((3_000.0, 16_000.0)));
    assert_eq!(rule.mibps_range, Some((125.0, 1_000.0)));
    // Provisioned values win when set at or above 400 GiB.
    let v = volume_limits(
        Some(StorageType::Gp3),
        EngineFamily::Open,
        Some(1_000.0),
        Some(20_000.0),
        Some(750.0),
        &mut Vec::new(),
    );
    assert_eq!((v.iops, v.mibps), (Some(20_000.0), Some(750.0)));
}

#[test]
fn io_storage_uses_provisioned_iops_and_warns_without_it() {
    let v = volume_limits(
        Some(StorageType::Io1),
        EngineFamily::Open,
        Some(500.0),
        Some(10_000.0),
        None,
        &mut Vec::new(),
    );
    assert_eq!(v.iops, Some(10_000.0));
    let mut warnings = Vec::new();
    let v = volume_limits(
        Some(StorageType::Io2),
        EngineFamily::Open,
        Some(500.0),
        None,
        None,
        &mut warnings,
    );
    assert_eq!(v.iops, None);
    assert!(warnings[0].contains("provisioned_iops"), "{warnings:?}");
}

#[test]
fn every_storage_type_and_engine_has_exactly_one_row() {
    for storage in [
        StorageType::Gp2,
        StorageType::Gp3,
        StorageType::Io1,
        StorageType::Io2,
        StorageType::Standard,
    ] {
        for family in [
            EngineFamily::Open,
            EngineFamily::Oracle,
            EngineFamily::SqlServer,
        ] {
            for gib in [20.0, 199.0, 200.0, 399.0, 400.0, 1_000.0, 65_536.0] {
                let rows = LIMITS
                    .iter()
                    .filter(|r| {
                        r.storage == storage
                            && r.engines.covers(family)
                            && gib >= r.from_gib
                            && gib < r.below_gib
                    })
                    .count();
                assert_eq!(rows, 1, "{storage:?} {family:?} {gib} GiB");
            }
        }
    }
}

#[test]
fn instance_classes_known_and_unknown() {
    let c = class_limit("db.r5.large").unwrap();
    assert_eq!((c.baseline_iops, c.max_iops), (3_600.0, 18_750.0));
    assert_eq!(
        class_limit("db.m5.4xlarge").unwrap().baseline_iops,
        18_750.0
    );
    assert!(class_limit("db.m7g.large").is_none());
    assert!(class_limit("nonsense").is_none());
    // 593.75 MB/s is 566.2 MiB/s.
    assert_eq!(round(mb_to_mib(593.75), 1), 566.2);
}

#[test]
fn engine_families() {
    assert_eq!(
        EngineFamily::from_engine(Some("postgres")),
        (EngineFamily::Open, true)
    );
    assert_eq!(
        EngineFamily::from_engine(Some("mariadb")),
        (EngineFamily::Open, true)
    );
    assert_eq!(
        EngineFamily::from_engine(Some("oracle-ee")),
        (EngineFamily::Oracle, true)
    );
    assert_eq!(
        EngineFamily::from_engine(Some("sqlserver-se")),
        (EngineFamily::SqlServer, true)
    );
    assert_eq!(EngineFamily::from_engine(None), (EngineFamily::Open, false));
}

// ------------------------------------------------------------------ plans

#[test]
fn gp3_below_400_gib_must_grow_to_raise_iops() {
    let p = plan(StorageType::Gp3, EngineFamily::Open, 100.0, 4_000.0, None);
    assert_eq!(p.allocated_gib, 400.0);
    assert_eq!(p.iops, Some(12_000.0));
    assert!(p.notes[0].contains("fixed at 3,000"), "{:?}", p.notes);
}

#[test]
fn gp3_plan_clamps_to_range_and_ratio() {
    let p = plan(StorageType::Gp3, EngineFamily::Open, 500.0, 20_000.0, None);
    assert_eq!((p.iops, p.allocated_gib), (Some(20_000.0), 500.0));
    let p = plan(StorageType::Gp3, EngineFamily::Open, 500.0, 70_000.0, None);
    assert_eq!(p.iops, Some(64_000.0));
    assert!(p.notes.iter().any(|n| n.contains("io2")), "{:?}", p.notes);
    // 500 IOPS per GiB: 64,000 IOPS needs 128 GiB — already met at 500 GiB.
    assert_eq!(p.allocated_gib, 500.0);
    // Throughput needs 0.25 MiB/s per IOPS: 1,000 MiB/s on SQL Server needs 4,000 IOPS.
    let p = plan(
        StorageType::Gp3,
        EngineFamily::SqlServer,
        100.0,
        3_000.0,
        Some(1_000.0),
    );
    assert_eq!((p.iops, p.mibps), (Some(4_000.0), Some(1_000.0)));
}

#[test]
fn io1_plan_respects_50_iops_per_gib() {
    let p = plan(StorageType::Io1, EngineFamily::Open, 100.0, 10_000.0, None);
    assert_eq!((p.iops, p.allocated_gib), (Some(10_000.0), 200.0));
    let p = plan(StorageType::Io2, EngineFamily::Open, 100.0, 10_000.0, None);
    assert_eq!((p.iops, p.allocated_gib), (Some(10_000.0), 100.0));
}

#[test]
fn target_is_peak_with_headroom_rounded_up() {
    assert_eq!(target_iops(3_000.0), 4_000.0);
    assert_eq!(target_iops(9_500.0), 13_000.0);
}

// ------------------------------------------------------------------ verdict rules

#[test]
fn gp3_saturated_on_iops_with_a_sustained_queue() {
    let s = sample(
        Some(described("gp3", 100.0, Some(3_000.0), Some(125.0))),
        io(1_900.0, 1_050.0, 6.0),
    );
    let r = report(&input("orders-db"), &s);
    assert_eq!(r.status, Status::Saturated);
    assert_eq!(r.storage.effective_iops_limit, Some(3_000.0));
    let u = r.iops_utilization_percent.as_ref().unwrap();
    assert_eq!((u.avg, u.peak), (98.33, 98.33));
    let q = r.disk_queue_depth.as_ref().unwrap();
    assert!(q.sustained_above_1);
    assert_eq!(q.periods_above_1_percent, 100.0);
    assert_eq!(r.binding_limit.as_deref(), Some("iops"));
    let rec = &r.recommendations[0];
    assert_eq!(rec.kind, "grow_storage");
    assert_eq!(rec.allocated_storage_gib, Some(400.0));
    assert_eq!(rec.provisioned_iops, Some(12_000.0));
    assert!(
        rec.command
            .as_deref()
            .unwrap()
            .contains("--allocated-storage 400"),
        "{rec:?}"
    );
    assert_eq!(r.observations.db_io_saturated, Some(true));
    assert_eq!(r.observations.disk_queue_depth, Some(6.0));
    assert_eq!(r.observations.db_cpu_percent, Some(20.0));
    assert!(
        r.conclusion.verdict.contains("SATURATED"),
        "{}",
        r.conclusion.verdict
    );
    assert_eq!(r.account, "123456789012");
    assert_eq!(r.cli_commands.len(), 3);
    assert!(r.cli_commands[0].contains("--metric-name ReadIOPS"));
    assert!(r.cli_commands[2].contains("--metric-name DiskQueueDepth"));
    assert!(r.cli_commands[0].contains("Value=orders-db"));
    assert!(r.cli_commands[0].contains(&format!("--start-time {}", iso8601(END - HOUR))));
    assert!(r.cli_commands[0].contains("--period 300"));
    assert!(r.cli_commands[0].contains("--region eu-west-1"));
}

#[test]
fn gp3_striped_saturated_gets_a_concrete_iops_number() {
    let s = sample(
        Some(described("gp3", 1_000.0, Some(12_000.0), Some(500.0))),
        io(8_000.0, 3_500.0, 3.0),
    );
    let r = report(&input("orders-db"), &s);
    assert_eq!(r.status, Status::Saturated);
    let rec = &r.recommendations[0];
    assert_eq!(rec.kind, "raise_iops");
    // 11,500 × 1.3 = 14,950 → 15,000.
    assert_eq!(rec.provisioned_iops, Some(15_000.0));
    assert!(rec.command.as_deref().unwrap().contains("--iops 15000"));
}

#[test]
fn healthy_storage_points_back_to_step_1_and_2() {
    let s = sample(
        Some(described("gp3", 500.0, Some(12_000.0), Some(500.0))),
        io(900.0, 300.0, 0.2),
    );
    let r = report(&input("orders-db"), &s);
    assert_eq!(r.status, Status::Healthy);
    assert_eq!(r.iops_utilization_percent.as_ref().unwrap().peak, 10.0);
    assert_eq!(r.recommendations[0].kind, "storage_healthy");
    assert!(r.recommendations[0].action.contains("Step 1/2"));
    assert_eq!(r.observations.db_io_saturated, Some(false));
    assert!(r.conclusion.verdict.contains("healthy"));
}

#[test]
fn near_limit_between_70_and_90_percent() {
    let s = sample(
        Some(described("gp3", 100.0, None, None)),
        io(1_600.0, 700.0, 0.4),
    );
    let r = report(&input("orders-db"), &s);
    assert_eq!(r.status, Status::NearLimit);
    assert_eq!(r.observations.db_io_saturated, Some(false));
}

#[test]
fn queue_alone_in_one_period_of_five_is_near_limit_and_in_half_saturated() {
    let d = Some(described("gp3", 500.0, Some(12_000.0), None));
    let mut m = io(900.0, 300.0, 0.0);
    m[2] = (
        Metric::DiskQueueDepth,
        series(|i| if i % 4 == 0 { 2.0 } else { 0.1 }),
    );
    let r = report(&input("db"), &sample(d.clone(), m));
    assert_eq!(r.status, Status::NearLimit, "{:?}", r.disk_queue_depth);
    let mut m = io(900.0, 300.0, 0.0);
    m[2] = (
        Metric::DiskQueueDepth,
        series(|i| if i % 2 == 0 { 2.0 } else { 0.1 }),
    );
    let r = report(&input("db"), &sample(d, m));
    assert_eq!(r.status, Status::Saturated);
    assert!(r.disk_queue_depth.unwrap().sustained_above_1);
}

#[test]
fn gp2_with_exhausted_burst_balance() {
    let mut m = io(250.0, 50.0, 4.0);
    m.push((
        Metric::BurstBalance,
        series(|i| (60.0 - i as f64 * 10.0).max(0.0)),
    ));
    let s = sample(Some(described("gp2", 100.0, None, None)), m);
    let r = report(&input("legacy-db"), &s);
    assert_eq!(r.status, Status::Saturated);
    assert!(r.burst.burst_exhausted);
    assert_eq!(r.burst.burst_balance_min_percent, Some(0.0));
    // Burst gone: the 300 IOPS baseline is the limit.
    assert_eq!(r.storage.effective_iops_limit, Some(300.0));
    assert_eq!(r.storage.iops_limited_by.as_deref(), Some("gp2_baseline"));
    let rec = &r.recommendations[0];
    assert_eq!(rec.kind, "gp2_to_gp3");
    assert_eq!(rec.storage_type.as_deref(), Some("gp3"));
    assert!(rec.why.contains("burst credits ran out"), "{}", rec.why);
    assert!(r.conclusion.verdict.contains("BurstBalance exhausted"));
}

#[test]
fn throughput_bound_gp3() {
    let mut m = io(1_000.0, 500.0, 0.5);
    m[3] = (Metric::ReadThroughput, series(|_| 100.0 * MIB));
    m[4] = (Metric::WriteThroughput, series(|_| 22.0 * MIB));
    let s = sample(Some(described("gp3", 100.0, Some(3_000.0), Some(125.0))), m);
    let r = report(&input("etl-db"), &s);
    assert_eq!(r.status, Status::Saturated);
    assert_eq!(r.binding_limit.as_deref(), Some("throughput"));
    let t = r.throughput.as_ref().unwrap();
    assert_eq!(t.peak_mibps, 122.0);
    assert_eq!(t.utilization_percent.as_ref().unwrap().peak, 97.6);
    let rec = &r.recommendations[0];
    assert_eq!(rec.kind, "raise_throughput");
    // 122 × 1.3 = 158.6 → 175 MiB/s, but below 400 GiB gp3 is fixed: grow to 400 (500 MiB/s).
    assert_eq!(rec.allocated_storage_gib, Some(400.0));
    assert_eq!(rec.throughput_mibps, Some(500.0));
}

#[test]
fn no_datapoints_is_unknown_and_says_what_is_missing() {
    let s = sample(Some(described("gp3", 100.0, None, None)), vec![]);
    let r = report(&input("idle-db"), &s);
    assert_eq!(r.status, Status::Unknown);
    assert!(
        r.conclusion
            .verdict
            .contains("no ReadIOPS/WriteIOPS datapoints"),
        "{}",
        r.conclusion.verdict
    );
    assert_eq!(r.observations.db_io_saturated, None);
    assert_eq!(r.recommendations[0].kind, "collect_more");
    assert!(r.metrics.is_empty());
}

#[test]
fn unknown_limit_without_describe_asks_for_overrides_and_overrides_decide() {
    let mut s = sample(None, io(2_000.0, 900.0, 0.3));
    s.description_note = Some("DescribeDBInstances was not allowed".to_owned());
    let r = report(&input("locked-db"), &s);
    assert_eq!(r.status, Status::Unknown);
    assert!(
        r.conclusion.verdict.contains("provisioned_iops"),
        "{}",
        r.conclusion.verdict
    );
    assert_eq!(r.storage.source, "none");
    let mut i = input("locked-db");
    i.provisioned_iops = Some(3_000.0);
    let r = report(&i, &s);
    assert_eq!(r.status, Status::Saturated);
    assert_eq!(r.storage.source, "caller");
    assert_eq!(r.storage.iops_limited_by.as_deref(), Some("caller"));
    assert!(
        r.conclusion
            .evidence
            .iter()
            .any(|e| e.metric == "effective_iops_limit" && e.source == "caller")
    );
}

#[test]
fn instance_class_ceiling_binds_before_the_volume() {
    let mut d = described("io1", 1_000.0, Some(40_000.0), None);
    d.instance_class = Some("db.m5.large".to_owned());
    let s = sample(Some(d), io(12_000.0, 6_000.0, 2.0));
    let r = report(&input("big-db"), &s);
    assert_eq!(r.storage.effective_iops_limit, Some(18_750.0));
    assert_eq!(r.storage.iops_limited_by.as_deref(), Some("instance_class"));
    assert_eq!(r.status, Status::Saturated);
    assert_eq!(r.recommendations[0].kind, "larger_instance_class");
}

#[test]
fn unknown_class_is_said_not_guessed() {
    let s = sample(
        Some(described("gp3", 500.0, Some(12_000.0), Some(500.0))),
        io(900.0, 300.0, 0.2),
    );
    let r = report(&input("db"), &s);
    assert!(r.storage.instance_class_limit.is_none());
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("db.m7g.large") && w.contains("not in this tool's table"))
    );
}

#[test]
fn evidence_names_cloudwatch_sources() {
    let s = sample(
        Some(described("gp3", 100.0, None, None)),
        io(1_900.0, 1_050.0, 6.0),
    );
    let r = report(&input("orders-db"), &s);
    let sources: Vec<&str> = r
        .conclusion
        .evidence
        .iter()
        .map(|e| e.source.as_str())
        .collect();
    assert!(
        sources.contains(&"cloudwatch:AWS/RDS/DiskQueueDepth"),
        "{sources:?}"
    );
    assert!(
        sources.contains(&"cloudwatch:AWS/RDS/ReadLatency"),
        "{sources:?}"
    );
    assert_eq!(r.latency.read_avg_ms, Some(2.0));
    assert_eq!(r.latency.write_avg_ms, Some(4.0));
    assert_eq!(r.metrics["ReadThroughput"].unit, "mibps");
    assert_eq!(r.metrics["ReadThroughput"].avg, 10.0);
    assert_eq!(r.metrics["ReadIOPS"].datapoints, 12);
}

#[test]
fn fold_keeps_what_the_caller_gave() {
    let s = sample(
        Some(described("gp3", 100.0, None, None)),
        io(1_900.0, 1_050.0, 6.0),
    );
    let r = report(&input("orders-db"), &s);
    let o = Observations {
        db_cpu_percent: Some(35.0),
        ..Default::default()
    };
    let (o, ev) = fill(&r, o);
    assert_eq!(o.db_cpu_percent, Some(35.0));
    assert_eq!(o.db_io_saturated, Some(true));
    assert_eq!(o.disk_queue_depth, Some(6.0));
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].source, "cloudwatch:AWS/RDS/DiskQueueDepth");
}

#[test]
fn validation_names_the_field() {
    let mut i = input("orders.db");
    assert_eq!(
        validate(&i, END).unwrap_err().field,
        "db_instance_identifier"
    );
    i.db_instance_identifier = "orders-db; rm -rf /".to_owned();
    assert_eq!(
        validate(&i, END).unwrap_err().field,
        "db_instance_identifier"
    );
    i.db_instance_identifier = "orders-db".to_owned();
    i.period_seconds = 90;
    assert_eq!(validate(&i, END).unwrap_err().field, "period_seconds");
    i.period_seconds = 60;
    i.window_minutes = Some(43_200);
    let e = validate(&i, END).unwrap_err();
    assert_eq!(e.field, "period_seconds");
    assert!(e.message.contains("at most 1440"), "{e}");
    i.window_minutes = None;
    i.region = Some("EU WEST".to_owned());
    assert_eq!(validate(&i, END).unwrap_err().field, "region");
    i.region = None;
    i.provisioned_iops = Some(-5.0);
    assert_eq!(validate(&i, END).unwrap_err().field, "provisioned_iops");
    i.provisioned_iops = None;
    i.storage_type = Some("nvme".to_owned());
    assert_eq!(validate(&i, END).unwrap_err().field, "storage_type");
}

#[test]
fn the_window_takes_a_period_or_timestamps_as_well_as_minutes() {
    let now = 1_700_000_130; // 30 s into a 5-minute period
    let aligned = 1_700_000_100;
    let window = |i: &RdsIopsInput| {
        let w = validate(i, now).unwrap();
        (w.start, w.end)
    };
    let mut i = input("orders-db");
    assert_eq!(
        window(&i),
        (aligned - 3600, aligned),
        "default: the last 60 minutes"
    );
    i.since = Some("24h".to_owned());
    assert_eq!(
        window(&i),
        (aligned - 86_400, aligned),
        "Sentry's period form"
    );
    i.since = Some("2023-11-14T00:00:00Z".to_owned());
    i.until = Some("2023-11-14T06:00:00Z".to_owned());
    assert_eq!(window(&i), (1_699_920_000, 1_699_941_600));
    i.window_minutes = Some(60);
    assert_eq!(
        validate(&i, now).unwrap_err().field,
        "since",
        "both forms at once"
    );
    i.window_minutes = None;
    i.since = Some("2023-11-14T06:00:00Z".to_owned());
    i.until = Some("2023-11-14T00:00:00Z".to_owned());
    assert_eq!(
        validate(&i, now).unwrap_err().field,
        "since",
        "since after until"
    );
    i.since = Some("yesterday".to_owned());
    assert_eq!(validate(&i, now).unwrap_err().field, "since");
    i.since = Some("45d".to_owned());
    i.until = None;
    let e = validate(&i, now).unwrap_err();
    assert!(e.message.contains("30 days"), "{e}");
}

#[test]
fn iso8601_dates() {
    assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
    assert_eq!(iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
}

#[test]
fn recommendation_warns_when_the_class_cannot_push_the_new_iops() {
    let mut d = described("gp3", 200.0, Some(3_000.0), Some(125.0));
    d.instance_class = Some("db.r5.large".to_owned());
    let s = sample(Some(d), io(1_900.0, 1_050.0, 6.0));
    let r = report(&input("orders-db"), &s);
    assert_eq!(r.storage.iops_limited_by.as_deref(), Some("volume"));
    let rec = &r.recommendations[0];
    assert_eq!(rec.provisioned_iops, Some(12_000.0));
    assert!(
        rec.action.contains("db.r5.large sustains 3600 IOPS"),
        "{}",
        rec.action
    );
}

#[test]
fn fold_adds_the_verdict_and_puts_the_storage_change_first() {
    let s = sample(
        Some(described("gp3", 100.0, None, None)),
        io(1_900.0, 1_050.0, 6.0),
    );
    let r = report(&input("orders-db"), &s);
    let (o, add) = fold(&r, Observations::default());
    assert_eq!(o.db_io_saturated, Some(true));
    assert_eq!(add.evidence.len(), 4);
    let status = add.evidence.last().unwrap();
    assert_eq!(status.metric, "rds_storage_status");
    assert_eq!(status.source, "check_rds_iops:orders-db");
    assert!(
        add.warnings[0].starts_with(
            "RDS storage (eu-west-1, 123456789012): Storage of orders-db is SATURATED"
        )
    );
    let before = crate::diagnosis::Conclusion {
        next_steps: vec![
            crate::diagnosis::NextStep::new("check storage", "why").with_tool("check_rds_iops"),
            crate::diagnosis::NextStep::new("list queries", "why").with_tool("slow_queries"),
        ],
        ..Default::default()
    };
    let after = before.with(add);
    let tools: Vec<_> = after.next_steps.iter().map(|s| s.tool.as_deref()).collect();
    assert_eq!(tools, [Some("check_rds_iops"), Some("slow_queries")]);
    assert_eq!(after.next_steps[0].action, r.recommendations[0].action);
    assert_eq!(after.evidence.len(), 4);

    let healthy = sample(
        Some(described("gp3", 100.0, None, None)),
        io(300.0, 100.0, 0.1),
    );
    let (_, add) = fold(
        &report(&input("orders-db"), &healthy),
        Observations::default(),
    );
    assert!(add.first_step.is_none());
    assert_eq!(add.done_tool, Some("check_rds_iops"));
}

#[test]
fn an_instance_reference_names_its_fields_under_rds_instance() {
    let r = RdsInstanceRef {
        db_instance_identifier: "orders-db".to_owned(),
        region: None,
        window_minutes: 1,
    };
    assert_eq!(
        r.check(END).unwrap_err().field,
        "rds_instance.window_minutes"
    );
    let r = RdsInstanceRef {
        window_minutes: 60,
        ..r
    };
    let checked = r.check(END).unwrap();
    assert_eq!(checked.period_seconds, DEFAULT_PERIOD_SECONDS);
    assert_eq!(checked.stated, StatedStorage::default());
}
