//! The words of a storage verdict: the one sentence a person acts on, and the next steps in
//! decision order (the recommendations first, then the queries, then match_symptom).

use super::report::{Burst, QueueDepth, Recommendation, Status, Throughput, Utilization};
use crate::diagnosis::{NextStep, fmt_num};

/// The figures the verdict sentence quotes.
pub(super) struct VerdictFigures<'a> {
    pub status: Status,
    /// The DB instance identifier.
    pub id: &'a str,
    pub iops_util: Option<&'a Utilization>,
    pub iops_peak: Option<f64>,
    pub eff_iops: Option<f64>,
    pub throughput: Option<&'a Throughput>,
    pub queue: Option<&'a QueueDepth>,
    pub burst: &'a Burst,
    pub binding_limit: Option<&'a str>,
    /// What is missing to decide, for an unknown status.
    pub missing: &'a [String],
}

/// The sentence: the status, the figures behind it, the binding limit, and what to do.
pub(super) fn verdict(c: &VerdictFigures) -> String {
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

/// Each recommendation as a step, then the step the status calls for, then match_symptom.
pub(super) fn next_steps(status: Status, recs: &[Recommendation]) -> Vec<NextStep> {
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
