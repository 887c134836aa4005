//! From what the engine said to the analysis' own shapes: endpoint rows folded to route
//! templates, one worker reading for the fleet, and the fleet report with its hot replica.

use std::collections::BTreeMap;

use crate::diagnosis::access_log::route_into;
use crate::diagnosis::bound::Bound;
use crate::diagnosis::latency::{EndpointStats, WorkerSample, WorkerSamples};
use crate::diagnosis::nginx_format::format_rfc3339;
use crate::diagnosis::{fmt_num, round};

use super::plan::{BUSY_STATES, IDLE_STATES};
use super::report::{FleetReport, HotReplica, ReplicaStats};
use super::{FleetData, ReplicaWorkers, RouteSeries};

/// Replicas listed in the report.
pub const MAX_REPLICAS: usize = 20;

/// The route's name as the access log would write it: `METHOD /template`; a raw path is
/// folded (`/orders/123` → `/orders/{id}`), a Flask rule written as a template
/// (`/orders/<int:id>` → `/orders/{id}`), a view name kept.
fn endpoint_name(r: &RouteSeries) -> String {
    let method = r.method.as_deref().unwrap_or("");
    if r.route.starts_with('/') {
        let route: Vec<String> = r
            .route
            .split('/')
            .map(
                |seg| match seg.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
                    Some(inner) => format!("{{{}}}", inner.rsplit(':').next().unwrap_or(inner)),
                    None => seg.to_owned(),
                },
            )
            .collect();
        let mut out = Vec::new();
        route_into(method.as_bytes(), route.join("/").as_bytes(), &[], &mut out);
        String::from_utf8_lossy(&out).trim_start().to_owned()
    } else if method.is_empty() {
        r.route.clone()
    } else {
        format!("{method} {}", r.route)
    }
}

/// Every route with requests in the window, as endpoint rows: requests = rate × window,
/// service time = handler time ÷ requests (the histogram is timed inside the app, so no
/// queue wait is in it), worker seconds from the handler time. Routes that fold into one
/// template are added up; their percentiles are the highest of theirs.
pub fn endpoints(data: &FleetData) -> Option<Vec<EndpointStats>> {
    let h = data.histogram.as_ref()?;
    let window = (data.until - data.since).max(1) as f64;
    let mut merged: BTreeMap<String, RouteSeries> = BTreeMap::new();
    for r in h.routes.iter().filter(|r| r.rps > 0.0 && r.rps.is_finite()) {
        let e = merged.entry(endpoint_name(r)).or_default();
        e.rps += r.rps;
        e.busy_ms_per_s = add(e.busy_ms_per_s, r.busy_ms_per_s);
        e.error_rps = add(e.error_rps, r.error_rps);
        e.p50_ms = max(e.p50_ms, r.p50_ms);
        e.p95_ms = max(e.p95_ms, r.p95_ms);
        e.p99_ms = max(e.p99_ms, r.p99_ms);
    }
    let total_rps: f64 = merged.values().map(|r| r.rps).sum();
    let has_status = h.labels.status.is_some();
    Some(
        merged
            .into_iter()
            .map(|(endpoint, r)| {
                let service = r.busy_ms_per_s.map(|b| b / r.rps);
                EndpointStats {
                    endpoint,
                    requests: (r.rps * window).round() as u64,
                    p50_ms: round(r.p50_ms.unwrap_or(0.0), 3),
                    p95_ms: r.p95_ms.map(|v| round(v, 3)),
                    p99_ms: round(r.p99_ms.or(service).unwrap_or(0.0), 3),
                    max_ms: None,
                    worker_seconds: r.busy_ms_per_s.map(|b| round(b / 1000.0 * window, 3)),
                    mean_upstream_ms: None,
                    service_ms: service.map(|s| round(s, 3)),
                    share_of_worker_time_percent: None,
                    error_percent: has_status
                        .then(|| round(r.error_rps.unwrap_or(0.0) / r.rps * 100.0, 2)),
                    slow: false,
                    share_of_requests_percent: round(
                        r.rps / total_rps.max(f64::MIN_POSITIVE) * 100.0,
                        2,
                    ),
                }
            })
            .collect(),
    )
}

/// A warning when the route label holds raw paths (many series folding into few routes):
/// a counter that first appears inside the window, as a path seen once does, adds nothing
/// to `rate()`, so such routes are undercounted.
pub fn raw_path_note(data: &FleetData) -> Option<String> {
    let h = data.histogram.as_ref()?;
    let routes: std::collections::BTreeSet<String> = h.routes.iter().map(endpoint_name).collect();
    (h.routes.len() > 2 * routes.len() + 20).then(|| {
        format!(
            "The route label `{}` holds raw paths ({} series for {} routes): a path first seen inside the window adds nothing to rate(), so request counts are low. Label by the route template instead (prometheus-flask-exporter: group_by='url_rule').",
            h.labels.route.as_deref().unwrap_or("?"),
            h.routes.len(),
            routes.len()
        )
    })
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b.filter(|v| v.is_finite())) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Busy and idle workers across the fleet, as one reading, for the worker figures.
pub fn worker_reading(data: &FleetData) -> Option<WorkerSamples> {
    let (gauge, replicas) = data.workers.as_ref()?;
    if replicas.is_empty() {
        return None;
    }
    Some(WorkerSamples {
        source: data.source(gauge),
        samples: vec![WorkerSample {
            busy: replicas.iter().map(|r| r.busy).sum(),
            idle: replicas.iter().map(|r| r.idle).sum(),
            queue: None,
        }],
    })
}

/// Sums a gauge's states into busy and idle.
pub fn busy_idle(state: &str, value: f64, into: &mut ReplicaWorkers) {
    if BUSY_STATES.contains(&state) {
        into.busy += value;
    } else if IDLE_STATES.contains(&state) {
        into.idle += value;
    }
}

fn utilization(busy: f64, idle: f64) -> Option<f64> {
    (busy + idle > 0.0).then(|| busy / (busy + idle) * 100.0)
}

/// The fleet report, with how its replica list was bounded.
pub fn report(data: &FleetData) -> (FleetReport, Bound) {
    let mut families = Vec::new();
    if let Some(h) = &data.histogram {
        families.push(format!("{}:{}", h.histogram.family, h.histogram.metric));
    }
    if let Some((g, _)) = &data.workers {
        families.push(format!("gunicorn:{g}"));
    }
    if data.ingress_split_ms.is_some() {
        families.push(format!("ingress-nginx:{}", super::plan::INGRESS_UPSTREAM));
    }
    let rps_of = |replica: &str| {
        data.replica_rps
            .iter()
            .find(|(r, _)| r == replica)
            .map(|(_, v)| round(*v, 3))
    };
    let mut replicas: Vec<ReplicaStats> = data
        .workers
        .as_ref()
        .map(|(_, rs)| {
            rs.iter()
                .filter_map(|r| {
                    utilization(r.busy, r.idle).map(|u| ReplicaStats {
                        replica: r.replica.clone(),
                        busy_workers: round(r.busy, 3),
                        idle_workers: round(r.idle, 3),
                        utilization_percent: round(u, 2),
                        requests_per_second: r.rps.or_else(|| rps_of(&r.replica)),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    replicas.sort_by(|a, b| {
        b.utilization_percent
            .total_cmp(&a.utilization_percent)
            .then_with(|| a.replica.cmp(&b.replica))
    });
    let hot_replica = hot(&replicas);
    let (busy, idle) = data
        .workers
        .as_ref()
        .map(|(_, rs)| {
            (
                rs.iter().map(|r| r.busy).sum::<f64>(),
                rs.iter().map(|r| r.idle).sum::<f64>(),
            )
        })
        .unzip();
    let requests_per_second = data
        .histogram
        .as_ref()
        .map(|h| round(h.routes.iter().map(|r| r.rps).sum(), 3));
    let bound = Bound::cut(&mut replicas, MAX_REPLICAS);
    let report = FleetReport {
        engine: data.engine.clone(),
        selector: data.selector.clone(),
        since: format_rfc3339(data.since),
        until: format_rfc3339(data.until),
        families,
        route_label: data.histogram.as_ref().and_then(|h| h.labels.route.clone()),
        requests_per_second,
        utilization_percent: busy
            .zip(idle)
            .and_then(|(b, i)| utilization(b, i))
            .map(|u| round(u, 2)),
        busy_workers: busy.map(|b| round(b, 3)),
        idle_workers: idle.map(|i| round(i, 3)),
        replicas,
        hot_replica,
        queries: data.queries.clone(),
        unknown: data.unknown.clone(),
    };
    (report, bound)
}

/// The replica far busier than the others: at least 50 % busy and 20 points above the
/// others' median. Sorted most utilised first.
fn hot(replicas: &[ReplicaStats]) -> Option<HotReplica> {
    let (top, others) = replicas.split_first()?;
    if others.is_empty() {
        return None;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            0.0
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let others_util = median(&mut others.iter().map(|r| r.utilization_percent).collect());
    if top.utilization_percent < 50.0 || top.utilization_percent - others_util < 20.0 {
        return None;
    }
    let workers = |r: &ReplicaStats| r.busy_workers + r.idle_workers;
    let others_workers = median(&mut others.iter().map(workers).collect());
    let others_rps = median(
        &mut others
            .iter()
            .filter_map(|r| r.requests_per_second)
            .collect(),
    );
    let why = if workers(top) < others_workers * 0.8 {
        // Gauge means over a window: near whole numbers, shown to a tenth.
        let n = round(workers(top), 1);
        format!(
            "it runs {} worker{} against a median of {} on the others",
            fmt_num(n),
            if (n - 1.0).abs() < 0.05 { "" } else { "s" },
            fmt_num(round(others_workers, 1))
        )
    } else if top
        .requests_per_second
        .is_some_and(|r| others_rps > 0.0 && r > others_rps * 1.25)
    {
        format!(
            "it serves {} requests/s against a median of {} on the others: check the balancer",
            fmt_num(top.requests_per_second.unwrap_or(0.0)),
            fmt_num(others_rps)
        )
    } else {
        "the same workers and requests as the others take longer there: check that host (CPU steal, noisy neighbour, a bad deploy)".to_owned()
    };
    Some(HotReplica {
        replica: top.replica.clone(),
        utilization_percent: top.utilization_percent,
        others_median_percent: round(others_util, 2),
        why,
    })
}
