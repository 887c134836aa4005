//! The evidence of a match: the observed value behind each signal, and the observations
//! the conclusion rests on, each with where it came from.

use crate::diagnosis::{Evidence, SOURCE_CALLER, fmt_num};

use super::matrix::Signal;
use super::observations::{LatencyPattern, Observations, RecentChange};

/// The observed value behind a signal, for evidence lines.
pub(super) fn reading(signal: Signal, o: &Observations, pattern: Option<LatencyPattern>) -> String {
    let pct = |name: &str, v: Option<f64>| {
        v.map(|v| format!("{name} {}%", fmt_num(v)))
            .unwrap_or_default()
    };
    let flag = |name: &str, v: Option<bool>| v.map(|v| format!("{name} {v}")).unwrap_or_default();
    let join = |parts: [String; 2]| {
        parts
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match signal {
        Signal::WorkersSaturated => pct("workers_busy_percent", o.workers_busy_percent),
        Signal::BacklogGrowing => match o.backlog_shape {
            Some(shape) => format!("backlog {}", shape.as_str()),
            None => flag("backlog_growing", o.backlog_growing),
        },
        Signal::RequestsQueuing => join([
            pct("workers_busy_percent", o.workers_busy_percent),
            flag("backlog_growing", o.backlog_growing),
        ]),
        Signal::AppCpuHigh => pct("app_cpu_percent", o.app_cpu_percent),
        Signal::DbCpuLow | Signal::DbCpuHigh => pct("db_cpu_percent", o.db_cpu_percent),
        Signal::ReadHeavy => pct("db_read_percent", o.db_read_percent),
        Signal::WriteHeavyOrLocks => join([
            pct("db_read_percent", o.db_read_percent),
            flag("lock_contention", o.lock_contention),
        ]),
        Signal::DbIoSaturated => flag("db_io_saturated", o.db_io_saturated),
        Signal::DiskQueueHigh => o
            .disk_queue_depth
            .map(|v| format!("disk_queue_depth {}", fmt_num(v)))
            .unwrap_or_default(),
        Signal::DbLatencyRising => flag("db_latency_rising", o.db_latency_rising),
        Signal::LongTail | Signal::SystemWide => pattern
            .map(|p| format!("latency_pattern {}", p.as_str()))
            .unwrap_or_default(),
    }
}

pub(super) fn evidence(o: &Observations, derived: Option<(LatencyPattern, f64)>) -> Vec<Evidence> {
    let mut ev = Vec::new();
    let nums = [
        ("workers_busy_percent", o.workers_busy_percent, "percent"),
        ("app_cpu_percent", o.app_cpu_percent, "percent"),
        ("db_cpu_percent", o.db_cpu_percent, "percent"),
        ("db_read_percent", o.db_read_percent, "percent"),
        ("disk_queue_depth", o.disk_queue_depth, "count"),
    ];
    let src = |name: &str| o.sources.get(name).map_or(SOURCE_CALLER, String::as_str);
    for (name, v, unit) in nums {
        if let Some(v) = v {
            ev.push(Evidence::number(name, v, unit, src(name)));
        }
    }
    let flags = [
        ("backlog_growing", o.backlog_growing),
        ("lock_contention", o.lock_contention),
        ("db_io_saturated", o.db_io_saturated),
        ("db_latency_rising", o.db_latency_rising),
    ];
    for (name, v) in flags {
        if let Some(v) = v {
            ev.push(Evidence::flag(name, v, src(name)));
        }
    }
    if let Some(shape) = o.backlog_shape {
        ev.push(Evidence::text(
            "backlog_shape",
            shape.as_str(),
            src("backlog_shape"),
        ));
    }
    if let Some(layer) = &o.dominant_layer {
        ev.push(Evidence::text(
            "dominant_layer",
            layer,
            src("dominant_layer"),
        ));
    }
    if let Some(route) = &o.head_of_line_endpoint {
        ev.push(Evidence::text(
            "head_of_line_endpoint",
            route,
            src("head_of_line_endpoint"),
        ));
    }
    if let Some(p) = o.latency_pattern {
        ev.push(Evidence::text(
            "latency_pattern",
            p.as_str(),
            src("latency_pattern"),
        ));
    } else if let Some((p, _)) = derived {
        ev.push(Evidence::text("latency_pattern", p.as_str(), "derived"));
    }
    for c in &o.recent_changes {
        ev.push(Evidence::text(
            "recent_change",
            change_name(*c),
            SOURCE_CALLER,
        ));
    }
    ev
}

fn change_name(c: RecentChange) -> &'static str {
    match c {
        RecentChange::AddedWorkers => "added_workers",
        RecentChange::AddedReplicas => "added_replicas",
        RecentChange::ContainerRestarts => "container_restarts",
        RecentChange::OomKills => "oom_kills",
        RecentChange::Deploy => "deploy",
        RecentChange::TrafficSpike => "traffic_spike",
        RecentChange::SwitchedToThreads => "switched_to_threads",
        RecentChange::SwitchedToGevent => "switched_to_gevent",
    }
}
