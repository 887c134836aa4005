//! What to change when the storage is at or near its limit, with the figures: the
//! provisioned IOPS (peak × 1.3, rounded up to 1,000) fitted to AWS's ranges and ratios
//! ([`plan`]), a move from gp2 or magnetic to gp3, a larger instance class when its EBS
//! pipe binds, and the `aws rds modify-db-instance` command for a person to review.

use super::aws_cli::region_and_profile;
use super::limits::{
    Baseline, ClassLimit, EngineFamily, StorageType, VolumeLimits, mb_to_mib, rule_for,
    thresholds::HEADROOM,
};
use super::report::{Recommendation, Status};
use crate::diagnosis::fmt_num;

/// What the analysis found that the recommendations build on.
pub(super) struct Findings<'a> {
    pub status: Status,
    pub storage_type: Option<StorageType>,
    pub family: EngineFamily,
    pub allocated: Option<f64>,
    pub vol: &'a VolumeLimits,
    pub prov_mibps: Option<f64>,
    pub iops_peak: Option<f64>,
    pub mibps_peak: Option<f64>,
    pub binding_limit: Option<&'a str>,
    /// What sets the effective IOPS limit (see `StorageInfo::iops_limited_by`).
    pub iops_by: &'a str,
    pub mibps_by: &'a str,
    pub class: Option<&'static ClassLimit>,
    pub instance_class: Option<&'a str>,
    /// Where a `modify-db-instance` command goes: the instance, its region and profile.
    pub identifier: &'a str,
    pub region: &'a str,
    pub profile: Option<&'a str>,
    pub burst_exhausted: bool,
    /// What is missing to decide, for an unknown status.
    pub missing: &'a [String],
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
    match storage {
        StorageType::Gp3 => plan_gp3(family, allocated_gib, want_iops, want_mibps),
        StorageType::Io1 | StorageType::Io2 => plan_io(storage, family, allocated_gib, want_iops),
        _ => Plan {
            storage,
            iops: None,
            mibps: None,
            allocated_gib,
            notes: Vec::new(),
        },
    }
}

/// gp3: fixed at 3,000 IOPS / 125 MiB/s below the striping threshold, provisionable above
/// it within a range, at most 500 IOPS per GiB and 0.25 MiB/s per IOPS.
fn plan_gp3(
    family: EngineFamily,
    allocated_gib: f64,
    want_iops: f64,
    want_mibps: Option<f64>,
) -> Plan {
    let storage = StorageType::Gp3;
    let mut notes = Vec::new();
    let mut gib = allocated_gib;
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
        iops: (iops > base_iops || rule.is_some_and(|r| r.iops_range.is_some())).then_some(iops),
        mibps,
        allocated_gib: gib,
        notes,
    }
}

/// io1/io2: the provisioned IOPS within the engine's range and IOPS-per-GiB ratio.
fn plan_io(storage: StorageType, family: EngineFamily, allocated_gib: f64, want_iops: f64) -> Plan {
    let mut notes = Vec::new();
    let mut gib = allocated_gib;
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

/// The `aws rds modify-db-instance` command that carries out `p` on this instance.
fn modify_command(f: &Findings, p: &Plan) -> String {
    let mut cmd = format!(
        "aws rds modify-db-instance --db-instance-identifier {} --storage-type {}",
        f.identifier,
        p.storage.as_str()
    );
    if f.allocated.is_none_or(|a| p.allocated_gib > a) {
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
    cmd.push_str(&region_and_profile(f.region, f.profile));
    cmd
}

/// A recommendation without figures yet.
fn rec(kind: &str, action: String, why: String) -> Recommendation {
    Recommendation {
        kind: kind.to_owned(),
        action,
        why,
        storage_type: None,
        provisioned_iops: None,
        throughput_mibps: None,
        allocated_storage_gib: None,
        command: None,
    }
}

/// What the storage should sustain after the change.
struct Wanted {
    /// ReadIOPS + WriteIOPS at the busiest period.
    peak_iops: f64,
    /// [`target_iops`] of that peak.
    iops: f64,
    /// Throughput binds, and the volume (not the instance class) sets it.
    throughput_bound: bool,
    /// The throughput to ask for when it binds: peak × headroom, rounded up to 25 MiB/s.
    mibps: Option<f64>,
    /// The allocated storage now, GiB (0 when unknown).
    allocated: f64,
}

impl Wanted {
    fn from(f: &Findings) -> Self {
        let peak_iops = f.iops_peak.unwrap_or(0.0);
        let throughput_bound =
            f.binding_limit == Some("throughput") && !f.mibps_by.starts_with("instance_class");
        Wanted {
            peak_iops,
            iops: target_iops(peak_iops.max(1.0)),
            throughput_bound,
            mibps: if throughput_bound {
                f.mibps_peak.map(|m| ceil_to(m * HEADROOM, 25.0))
            } else {
                None
            },
            allocated: f.allocated.unwrap_or(0.0),
        }
    }

    /// gp3 sized for what is wanted, on this engine.
    fn gp3_plan(&self, f: &Findings) -> Plan {
        plan(
            StorageType::Gp3,
            f.family,
            self.allocated,
            self.iops,
            self.mibps,
        )
    }
}

/// What to change, first item first: for a healthy or unknown storage the one thing to do
/// instead; at or near the limit, a larger instance class when its EBS pipe binds, then
/// the change to the volume for its storage type.
pub(super) fn recommend(f: &Findings) -> Vec<Recommendation> {
    match f.status {
        Status::Healthy => {
            return vec![rec(
                "storage_healthy",
                "Storage healthy — go back to Step 1/2: break latency down by layer and fix the slow queries.".to_owned(),
                "IOPS and throughput stay well below their limits and IOs do not queue, so more IOPS would not make requests faster.".to_owned(),
            )];
        }
        Status::Unknown => {
            return vec![rec(
                "collect_more",
                format!("Collect what is missing: {}.", f.missing.join("; ")),
                "Without datapoints and a limit the storage cannot be judged; unknown stays unknown.".to_owned(),
            )];
        }
        Status::Saturated | Status::NearLimit => {}
    }
    let mut out = Vec::new();
    // The instance class's EBS pipe binds: a bigger volume will not help.
    let class_binds = match f.binding_limit {
        Some("throughput") => f.mibps_by.starts_with("instance_class"),
        _ => f.iops_by.starts_with("instance_class"),
    };
    if class_binds {
        out.push(larger_class(f));
    }
    let want = Wanted::from(f);
    let volume = match f.storage_type {
        Some(StorageType::Gp3) if !class_binds => Some(raise_gp3(f, &want)),
        Some(StorageType::Gp2) if !class_binds => Some(gp2_to_gp3(f, &want)),
        Some(t @ (StorageType::Io1 | StorageType::Io2)) if !class_binds => {
            Some(raise_io(f, t, &want))
        }
        Some(StorageType::Standard) => Some(magnetic_to_gp3(f, &want)),
        None if !class_binds => Some(raise_unknown_type(&want)),
        _ => None,
    };
    out.extend(volume);
    note_class_ceiling(f, &mut out);
    out
}

/// The instance class's EBS bandwidth binds: move to a larger class.
fn larger_class(f: &Findings) -> Recommendation {
    let name = f.instance_class.unwrap_or("the current class");
    let figures = f
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
    rec(
        "larger_instance_class",
        format!(
            "Move to a larger instance class: the instance's EBS bandwidth, not the volume, is the limit{figures}."
        ),
        "Raising provisioned IOPS beyond what the instance class can push changes nothing."
            .to_owned(),
    )
}

/// gp3: more IOPS (or throughput when that binds), growing the volume where gp3's rules
/// require it.
fn raise_gp3(f: &Findings, want: &Wanted) -> Recommendation {
    let current = f.vol.iops.unwrap_or(3_000.0);
    let iops = if want.throughput_bound {
        current
    } else {
        want.iops.max(ceil_to(current + 1.0, 1_000.0))
    };
    let p = plan(
        StorageType::Gp3,
        f.family,
        want.allocated,
        iops,
        want.mibps
            .or(f.prov_mibps.filter(|_| want.throughput_bound)),
    );
    let grows = p.allocated_gib > want.allocated;
    let kind = if want.throughput_bound {
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
            fmt_num(p.iops.unwrap_or(want.iops)),
            if grows {
                format!(" and allocated storage to {} GiB", fmt_num(p.allocated_gib))
            } else {
                String::new()
            }
        ),
    };
    append_notes(&mut action, &p);
    let why = if want.throughput_bound {
        format!(
            "Throughput peaked at {} MiB/s against a {} MiB/s limit; the target keeps 30% headroom.",
            fmt_num(f.mibps_peak.unwrap_or(0.0)),
            fmt_num(f.vol.mibps.unwrap_or(0.0))
        )
    } else {
        let planned = p.iops.unwrap_or(want.iops);
        let fit = if planned > want.iops {
            format!(
                "the smallest gp3 configuration that provides it gives {}",
                fmt_num(planned)
            )
        } else {
            "within gp3's allowed range".to_owned()
        };
        format!(
            "ReadIOPS + WriteIOPS peaked at {} against a {} limit; the peak × 1.3 headroom, rounded up to 1,000, needs {} IOPS and {fit}. Re-measure after the change: a capped volume hides demand.",
            fmt_num(want.peak_iops),
            fmt_num(current),
            fmt_num(want.iops)
        )
    };
    with_plan(rec(kind, action, why), f, &p, want.allocated)
}

/// gp2: move to gp3, which sets IOPS apart from size and needs no burst credits.
fn gp2_to_gp3(f: &Findings, want: &Wanted) -> Recommendation {
    let p = want.gp3_plan(f);
    let mut action = format!(
        "Move from gp2 to gp3{}{}.",
        p.iops
            .map(|i| format!(" with {} provisioned IOPS", fmt_num(i)))
            .unwrap_or_default(),
        if p.allocated_gib > want.allocated {
            format!(" and {} GiB", fmt_num(p.allocated_gib))
        } else {
            String::new()
        }
    );
    append_notes(&mut action, &p);
    let why = if f.burst_exhausted {
        format!(
            "The gp2 burst credits ran out, so the volume fell back to its {} IOPS baseline (3 IOPS/GiB); gp3 gives at least 3,000 IOPS at any size without credits, usually for less money.",
            fmt_num(f.vol.iops.unwrap_or(0.0))
        )
    } else {
        format!(
            "gp2 ties IOPS to size (3 IOPS/GiB) and bursts on credits; gp3 sets IOPS independently: peak {} × 1.3 headroom → {} IOPS.",
            fmt_num(want.peak_iops),
            fmt_num(want.iops)
        )
    };
    with_plan(rec("gp2_to_gp3", action, why), f, &p, want.allocated)
}

/// io1/io2: more provisioned IOPS; their throughput is the instance class's to give.
fn raise_io(f: &Findings, t: StorageType, want: &Wanted) -> Recommendation {
    if want.throughput_bound {
        return rec(
            "larger_instance_class",
            "Move to an instance class with more EBS bandwidth: io1/io2 throughput is bound by the instance class.".to_owned(),
            format!("Throughput peaked at {} MiB/s.", fmt_num(f.mibps_peak.unwrap_or(0.0))),
        );
    }
    let current = f.vol.iops.unwrap_or(0.0);
    let p = plan(
        t,
        f.family,
        want.allocated,
        want.iops.max(ceil_to(current + 1.0, 1_000.0)),
        None,
    );
    let mut action = format!(
        "Raise provisioned {} IOPS to {}{}.",
        t.as_str(),
        fmt_num(p.iops.unwrap_or(want.iops)),
        if p.allocated_gib > want.allocated {
            format!(" and allocated storage to {} GiB", fmt_num(p.allocated_gib))
        } else {
            String::new()
        }
    );
    append_notes(&mut action, &p);
    let why = format!(
        "ReadIOPS + WriteIOPS peaked at {} against {} provisioned; target = peak × 1.3 rounded up to 1,000.",
        fmt_num(want.peak_iops),
        fmt_num(current)
    );
    with_plan(rec("raise_iops", action, why), f, &p, want.allocated)
}

/// Magnetic storage: move to gp3 (whether or not the instance class binds too).
fn magnetic_to_gp3(f: &Findings, want: &Wanted) -> Recommendation {
    let p = want.gp3_plan(f);
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
    r.command = Some(modify_command(f, &p));
    r
}

/// The storage type is unknown: the IOPS to ask for, without a plan.
fn raise_unknown_type(want: &Wanted) -> Recommendation {
    let mut r = rec(
        "raise_iops",
        format!(
            "Raise the volume's IOPS limit to at least {} (peak × 1.3).",
            fmt_num(want.iops)
        ),
        "The storage type is unknown, so the allowed ranges could not be checked: allow rds:DescribeDBInstances or pass storage_type and allocated_storage_gib for a concrete plan.".to_owned(),
    );
    r.provisioned_iops = Some(want.iops);
    r
}

/// `r` with the plan's figures and the command that carries it out (`allocated`: the
/// allocated storage now, which the plan may grow).
fn with_plan(mut r: Recommendation, f: &Findings, p: &Plan, allocated: f64) -> Recommendation {
    r.storage_type = Some(p.storage.as_str().into());
    r.provisioned_iops = p.iops;
    r.throughput_mibps = p.mibps;
    r.allocated_storage_gib = (p.allocated_gib > allocated).then_some(p.allocated_gib);
    r.command = Some(modify_command(f, p));
    r
}

/// The plan's notes after the action, as sentences.
fn append_notes(action: &mut String, p: &Plan) {
    if !p.notes.is_empty() {
        action.push(' ');
        action.push_str(&p.notes.join(" "));
    }
}

/// A volume limit the instance cannot push is wasted: say so next to the figure.
fn note_class_ceiling(f: &Findings, out: &mut [Recommendation]) {
    let (Some(cl), Some(name)) = (f.class, f.instance_class) else {
        return;
    };
    for r in out {
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
