//! What match_symptom takes: the observations, each optional, with the enums they are
//! written in, and their validation. break_down_latency returns an [`Observations`] ready
//! to pass here unchanged.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::diagnosis::queueing::SlowMetric;
use crate::diagnosis::{InputError, check_opt_range, fmt_num};

/// What the caller has seen. Every field is optional: pass what you know, leave the rest out.
/// `break_down_latency` returns this object ready to pass here unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Observations {
    /// Share of Gunicorn/uWSGI workers busy, 0–100 (from worker metrics or break_down_latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers_busy_percent: Option<f64>,
    /// Whether the request backlog (listen queue, queue wait) keeps growing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog_growing: Option<bool>,
    /// The backlog's shape over the samples: `growing`, `steady` (full and flat), `draining`
    /// or `empty` (break_down_latency); requests wait while it is growing or steady.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backlog_shape: Option<BacklogShape>,
    /// App containers' CPU use, 0–100 percent of their limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_cpu_percent: Option<f64>,
    /// Database CPU use, 0–100 (e.g. RDS CPUUtilization).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_cpu_percent: Option<f64>,
    /// Share of database time spent in reads (SELECT), 0–100 (slow_queries reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_read_percent: Option<f64>,
    /// Whether sessions wait on locks (pg_stat_activity wait_event_type = Lock, InnoDB lock waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_contention: Option<bool>,
    /// Whether the database storage is at its IOPS or throughput limit (check_rds_iops reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_io_saturated: Option<bool>,
    /// Sustained RDS DiskQueueDepth (outstanding IOs); above 1 the volume is a bottleneck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_queue_depth: Option<f64>,
    /// `long_tail` (a few endpoints slow, the rest fine), `system_wide` (everything slow) or
    /// `healthy`. Derived from `endpoints` when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_pattern: Option<LatencyPattern>,
    /// Per-endpoint latency, e.g. from Sentry's performance view or nginx logs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointLatency>,
    /// Whether database query latency has been rising over the incident window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_latency_rising: Option<bool>,
    /// What changed recently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_changes: Vec<RecentChange>,
    /// The worker class in use, when known: `sync`, `gthread`, `gevent`, `eventlet`,
    /// `uvicorn`, `uwsgi_threads`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_class: Option<WorkerClass>,
    /// Whether request handlers fork or spawn child processes (subprocess, multiprocessing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forks_in_workers: Option<bool>,
    /// What an endpoint was judged slow against, ms (break_down_latency sets it; endpoints
    /// are re-judged with this one, never another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_threshold_ms: Option<f64>,
    /// Which endpoint figure the threshold applies to: `p99_ms` or `service_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_metric: Option<SlowMetric>,
    /// The layer holding most of the request time (break_down_latency): `db`, `queue_wait`,
    /// `app_service`, `app_code`, `external_calls`, `nginx`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dominant_layer: Option<String>,
    /// The route holding the workers while the others wait behind it (head-of-line blocking).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_of_line_endpoint: Option<String>,
    /// That route's share of service time, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_of_line_share_percent: Option<f64>,
    /// Where each measured field came from (`prometheus:<url>`, `proc:/proc/net/tcp:<port>`,
    /// `nginx:<file>`…), as break_down_latency read it; fields not named here are `caller`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
}

/// How the backlog moved over the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum BacklogShape {
    /// Rising across the samples: arrivals outpace the workers.
    Growing,
    /// Non-empty and flat: the workers are saturated and the backlog is full.
    Steady,
    /// Falling: the workers are catching up.
    Draining,
    /// Empty in most samples.
    Empty,
}

impl BacklogShape {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Growing => "growing",
            Self::Steady => "steady",
            Self::Draining => "draining",
            Self::Empty => "empty",
        }
    }

    /// Requests wait for a worker.
    pub fn waiting(self) -> bool {
        matches!(self, Self::Growing | Self::Steady)
    }

    /// Names the shape of a series of backlog samples, from its trend: a least-squares
    /// slope whose total change over the samples exceeds max(2, half the mean) is growing or
    /// draining; empty in most samples is empty; otherwise steady.
    pub fn of(samples: &[f64]) -> Option<Self> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let nonzero = samples.iter().filter(|v| **v > 0.0).count();
        if nonzero * 2 < n || nonzero == 0 {
            return Some(Self::Empty);
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        if n < 3 {
            return Some(Self::Steady);
        }
        let xm = (n - 1) as f64 / 2.0;
        let (mut num, mut den) = (0.0, 0.0);
        for (i, v) in samples.iter().enumerate() {
            num += (i as f64 - xm) * (v - mean);
            den += (i as f64 - xm).powi(2);
        }
        let change = num / den * (n - 1) as f64;
        let material = (0.5 * mean).max(2.0);
        Some(if change > material {
            Self::Growing
        } else if change < -material {
            Self::Draining
        } else {
            Self::Steady
        })
    }
}

/// How slowness is spread over endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum LatencyPattern {
    /// A few endpoints are very slow, the rest are fine.
    LongTail,
    /// Most traffic is slow.
    SystemWide,
    /// Nothing is slow against the threshold.
    Healthy,
}

impl LatencyPattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LongTail => "long_tail",
            Self::SystemWide => "system_wide",
            Self::Healthy => "healthy",
        }
    }
}

/// Latency of one endpoint (route).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndpointLatency {
    /// Route or transaction name, e.g. `GET /api/orders/{id}`.
    pub endpoint: String,
    /// Requests in the window.
    pub requests: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Mean service time, queueing excluded, ms (break_down_latency, with worker state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_ms: Option<f64>,
}

/// A recent change to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum RecentChange {
    /// Workers per replica (or threads) were increased.
    AddedWorkers,
    /// Replicas were added.
    AddedReplicas,
    /// Containers or pods have been restarting.
    ContainerRestarts,
    /// Processes were killed for running out of memory.
    OomKills,
    /// A new version was deployed.
    Deploy,
    /// Traffic rose sharply.
    TrafficSpike,
    /// Switched to thread workers (gthread, uWSGI threads).
    SwitchedToThreads,
    /// Switched to gevent/eventlet workers.
    SwitchedToGevent,
}

/// Worker model in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum WorkerClass {
    Sync,
    Gthread,
    Gevent,
    Eventlet,
    Uvicorn,
    UwsgiThreads,
}

/// The input of the matcher.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchInput {
    /// What has been observed; pass what you know. The `observations` object returned by
    /// break_down_latency can be passed here as is.
    #[serde(default)]
    pub observations: Observations,
}

/// Validates observations: percentages in 0–100, counts and latencies finite and non-negative.
pub fn validate(o: &Observations, prefix: &str) -> Result<(), InputError> {
    let f = |name: &str| format!("{prefix}{name}");
    let pct = "pass a percentage between 0 and 100";
    check_opt_range(
        &f("workers_busy_percent"),
        o.workers_busy_percent,
        0.0,
        100.0,
        pct,
    )?;
    check_opt_range(
        &f("app_cpu_percent"),
        o.app_cpu_percent,
        0.0,
        100.0,
        "pass CPU as a percentage of the container's limit, 0–100",
    )?;
    check_opt_range(&f("db_cpu_percent"), o.db_cpu_percent, 0.0, 100.0, pct)?;
    check_opt_range(
        &f("db_read_percent"),
        o.db_read_percent,
        0.0,
        100.0,
        "pass the share of DB time in reads, 0–100",
    )?;
    check_opt_range(
        &f("disk_queue_depth"),
        o.disk_queue_depth,
        0.0,
        1e6,
        "pass the sustained RDS DiskQueueDepth (outstanding IOs)",
    )?;
    check_opt_range(
        &f("head_of_line_share_percent"),
        o.head_of_line_share_percent,
        0.0,
        100.0,
        pct,
    )?;
    if o.sources.len() > 64 || o.sources.iter().any(|(k, v)| k.len() > 64 || v.len() > 512) {
        return Err(InputError::new(
            f("sources"),
            "holds at most 64 entries of a field name and where it came from; pass break_down_latency's unchanged",
        ));
    }
    if o.slow_threshold_ms
        .is_some_and(|t| !t.is_finite() || t <= 0.0)
    {
        return Err(InputError::new(
            f("slow_threshold_ms"),
            "must be a positive number of milliseconds (pass break_down_latency's value unchanged)",
        ));
    }
    for (i, e) in o.endpoints.iter().enumerate() {
        let field = |name: &str| format!("{prefix}endpoints[{i}].{name}");
        if e.endpoint.trim().is_empty() {
            return Err(InputError::new(
                field("endpoint"),
                "must name the route, e.g. `GET /api/orders/{id}`",
            ));
        }
        let p50 = check_opt_range(
            &field("p50_ms"),
            Some(e.p50_ms),
            0.0,
            86_400_000.0,
            "pass the median latency in ms",
        )?;
        let p99 = check_opt_range(
            &field("p99_ms"),
            Some(e.p99_ms),
            0.0,
            86_400_000.0,
            "pass the 99th percentile latency in ms",
        )?;
        check_opt_range(
            &field("service_ms"),
            e.service_ms,
            0.0,
            86_400_000.0,
            "pass the mean service time in ms",
        )?;
        if p99 < p50 {
            return Err(InputError::new(
                field("p99_ms"),
                format!(
                    "is below p50_ms ({} < {}); check the two figures are not swapped",
                    fmt_num(e.p99_ms),
                    fmt_num(e.p50_ms)
                ),
            ));
        }
    }
    Ok(())
}
