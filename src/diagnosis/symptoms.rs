//! The symptom matrix (A–F), the matcher, and death-spiral detection.
//!
//! The matrix is one table, [`MATRIX`]: each row is a symptom with the signals that support
//! it and their weights. A signal is a yes/no reading of the observations (for instance
//! "DB CPU high" is `db_cpu_percent ≥ 70`); it is *unknown* when the observation that
//! decides it was not supplied. Adding a symptom or a criterion touches only the table.
//!
//! ## Scoring
//! For each row, with `w` the weight of a criterion:
//! - `support` = Σ w of criteria the observations confirm,
//! - `against` = Σ w of criteria the observations contradict,
//! - `total`   = Σ w of all the row's criteria,
//! - `confidence = max(0, support − against) / total`.
//!
//! Unknown criteria add nothing either way, so confidence only reaches 1 when every
//! criterion of the row was observed and confirmed; each unknown one is listed in
//! `missing` with the tool that measures it. A row is reported only when something supports
//! it. With fewer than [`MIN_KNOWN_SIGNALS`] signals known at all, the verdict says the
//! evidence is too thin and asks for the Step 1 measurements instead of naming a cause.
//!
//! ## Death spirals
//! Detected from `recent_changes` plus trends, independent of the matrix:
//! - #1 worker accumulation: workers were added, and the database got slower or busier
//!   (or memory ran out);
//! - #2 restart loop: the database's IO is saturated and containers restart or are OOM-killed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

pub use super::queueing::SlowMetric;
use super::{
    Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, check_opt_range, fmt_num, round,
};

/// Below this many known signals the matcher refuses to name a cause.
pub const MIN_KNOWN_SIGNALS: usize = 2;

/// Thresholds that turn numbers into signals. Documented here once; used by the table.
pub mod thresholds {
    /// Workers busy at or above this share count as "all workers busy".
    pub const WORKERS_SATURATED_PERCENT: f64 = 90.0;
    /// App CPU at or above this is "high".
    pub const APP_CPU_HIGH_PERCENT: f64 = 75.0;
    /// DB CPU at or above this is "high".
    pub const DB_CPU_HIGH_PERCENT: f64 = 70.0;
    /// DB CPU below this is "low".
    pub const DB_CPU_LOW_PERCENT: f64 = 50.0;
    /// Reads at or above this share of DB time is "read-heavy".
    pub const READ_HEAVY_PERCENT: f64 = 70.0;
    /// Reads at or below this share of DB time is "write-heavy".
    pub const WRITE_HEAVY_READ_PERCENT: f64 = 50.0;
    /// A sustained DiskQueueDepth above this means IO requests wait for the volume.
    pub const DISK_QUEUE_DEPTH_HIGH: f64 = 1.0;
}

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

/// A yes/no reading of the observations that the matrix is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    WorkersSaturated,
    BacklogGrowing,
    RequestsQueuing,
    AppCpuHigh,
    DbCpuLow,
    DbCpuHigh,
    ReadHeavy,
    WriteHeavyOrLocks,
    DbIoSaturated,
    DiskQueueHigh,
    DbLatencyRising,
    LongTail,
    SystemWide,
}

impl Signal {
    /// What the signal means, in words.
    fn describe(self) -> &'static str {
        match self {
            Self::WorkersSaturated => "all workers busy",
            Self::BacklogGrowing => "backlog growing or full",
            Self::RequestsQueuing => "requests queuing (workers saturated or backlog growing)",
            Self::AppCpuHigh => "app CPU high",
            Self::DbCpuLow => "DB CPU low",
            Self::DbCpuHigh => "DB CPU high",
            Self::ReadHeavy => "read-heavy DB workload",
            Self::WriteHeavyOrLocks => "write-heavy DB workload or lock contention",
            Self::DbIoSaturated => "DB storage at its IOPS/throughput limit",
            Self::DiskQueueHigh => "DiskQueueDepth sustained above 1",
            Self::DbLatencyRising => "DB latency rising",
            Self::LongTail => "a few endpoints slow, the rest fine",
            Self::SystemWide => "everything slow",
        }
    }

    /// The observation that decides the signal and the tool that measures it.
    fn measured_by(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::WorkersSaturated => ("workers_busy_percent", Some("break_down_latency")),
            Self::BacklogGrowing => ("backlog_growing", Some("break_down_latency")),
            Self::RequestsQueuing => (
                "workers_busy_percent or backlog_growing",
                Some("break_down_latency"),
            ),
            Self::AppCpuHigh => ("app_cpu_percent (container CPU metrics)", None),
            // The tool that reads it depends on where the database runs.
            Self::DbCpuLow | Self::DbCpuHigh => (
                "db_cpu_percent (on AWS RDS check_rds_iops reads it; elsewhere the database host's own CPU)",
                None,
            ),
            Self::ReadHeavy => ("db_read_percent", Some("slow_queries")),
            Self::WriteHeavyOrLocks => ("db_read_percent or lock_contention", Some("slow_queries")),
            Self::DbIoSaturated => ("db_io_saturated", Some("check_rds_iops")),
            Self::DiskQueueHigh => ("disk_queue_depth", Some("check_rds_iops")),
            Self::DbLatencyRising => ("db_latency_rising", Some("slow_queries")),
            Self::LongTail | Self::SystemWide => {
                ("latency_pattern or endpoints", Some("break_down_latency"))
            }
        }
    }

    /// Reads the signal: `Some(true)` confirmed, `Some(false)` contradicted, `None` unknown.
    fn read(self, o: &Observations, pattern: Option<LatencyPattern>) -> Option<bool> {
        use thresholds::*;
        match self {
            Self::WorkersSaturated => o
                .workers_busy_percent
                .map(|v| v >= WORKERS_SATURATED_PERCENT),
            Self::BacklogGrowing => match o.backlog_shape {
                Some(shape) => Some(shape.waiting()),
                None => o.backlog_growing,
            },
            Self::RequestsQueuing => {
                match (
                    Self::WorkersSaturated.read(o, pattern),
                    Self::BacklogGrowing.read(o, pattern),
                ) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (None, None) => None,
                    _ => Some(false),
                }
            }
            Self::AppCpuHigh => o.app_cpu_percent.map(|v| v >= APP_CPU_HIGH_PERCENT),
            Self::DbCpuLow => o.db_cpu_percent.map(|v| v < DB_CPU_LOW_PERCENT),
            Self::DbCpuHigh => o.db_cpu_percent.map(|v| v >= DB_CPU_HIGH_PERCENT),
            Self::ReadHeavy => o.db_read_percent.map(|v| v >= READ_HEAVY_PERCENT),
            Self::WriteHeavyOrLocks => {
                match (
                    o.db_read_percent.map(|v| v <= WRITE_HEAVY_READ_PERCENT),
                    o.lock_contention,
                ) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (None, None) => None,
                    _ => Some(false),
                }
            }
            Self::DbIoSaturated => o.db_io_saturated,
            Self::DiskQueueHigh => o.disk_queue_depth.map(|v| v > DISK_QUEUE_DEPTH_HIGH),
            Self::DbLatencyRising => o.db_latency_rising,
            // Head-of-line blocking is a long tail that also slows everyone else.
            Self::LongTail => match (pattern, &o.head_of_line_endpoint) {
                (_, Some(_)) => Some(true),
                (p, None) => p.map(|p| p == LatencyPattern::LongTail),
            },
            Self::SystemWide => pattern.map(|p| p == LatencyPattern::SystemWide),
        }
    }
}

/// One row of the matrix.
pub struct Symptom {
    pub id: &'static str,
    pub title: &'static str,
    pub root_cause: &'static str,
    pub action: &'static str,
    /// Signals that support this symptom, with their weights.
    pub criteria: &'static [(Signal, f64)],
    /// The tool that follows up on this symptom.
    pub follow_up: Option<&'static str>,
}

/// The decision matrix. One row per symptom; the matcher has no other knowledge of them.
pub const MATRIX: &[Symptom] = &[
    Symptom {
        id: "A",
        title: "All workers busy, backlog growing, app CPU high",
        root_cause: "App-layer concurrency is exhausted: the replicas' CPUs are the bottleneck.",
        action: "Add replicas (scale out), not workers per replica.",
        criteria: &[
            (Signal::WorkersSaturated, 2.0),
            (Signal::BacklogGrowing, 2.0),
            (Signal::AppCpuHigh, 3.0),
        ],
        follow_up: Some("capacity_math"),
    },
    Symptom {
        id: "B",
        title: "Requests queuing while DB CPU is low",
        root_cause: "The database's IO / storage layer is the bottleneck, not its CPU.",
        action: "Check RDS IOPS, throughput and DiskQueueDepth; raise provisioned gp3 IOPS if saturated.",
        criteria: &[
            (Signal::RequestsQueuing, 2.0),
            (Signal::DbCpuLow, 2.0),
            (Signal::DbIoSaturated, 2.0),
            (Signal::DiskQueueHigh, 2.0),
            (Signal::DbLatencyRising, 1.0),
        ],
        follow_up: Some("check_rds_iops"),
    },
    Symptom {
        id: "C",
        title: "DB CPU high, read-heavy",
        root_cause: "Reads exceed what one database instance can serve.",
        action: "Fix the top read queries and indexes first, then evaluate a read replica.",
        criteria: &[(Signal::DbCpuHigh, 3.0), (Signal::ReadHeavy, 3.0)],
        follow_up: Some("slow_queries"),
    },
    Symptom {
        id: "D",
        title: "DB CPU high, write-heavy or lock contention",
        root_cause: "A write bottleneck on the primary; read replicas will not help.",
        action: "Optimise write-path SQL and locking, then a bigger instance or sharding.",
        criteria: &[(Signal::DbCpuHigh, 3.0), (Signal::WriteHeavyOrLocks, 3.0)],
        follow_up: Some("slow_queries"),
    },
    Symptom {
        id: "E",
        title: "A few endpoints very slow, the rest fine",
        root_cause: "Slow handlers hold workers and starve the fast endpoints.",
        action: "Make those endpoints fast or async (background jobs); size workers as a buffer for the tail.",
        criteria: &[(Signal::LongTail, 4.0)],
        follow_up: Some("break_down_latency"),
    },
    Symptom {
        id: "F",
        title: "Everything slow",
        root_cause: "Systemic latency, not a concurrency shortage.",
        action: "Fix slow queries and indexes, cut external calls; do not add workers.",
        criteria: &[(Signal::SystemWide, 4.0)],
        follow_up: Some("slow_queries"),
    },
];

/// The input of the matcher.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchInput {
    /// What has been observed; pass what you know. The `observations` object returned by
    /// break_down_latency can be passed here as is.
    #[serde(default)]
    pub observations: Observations,
}

/// The symptoms that fit, best first, and any death spiral in progress.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MatchReport {
    /// Symptoms with any supporting evidence, ranked by confidence (highest first).
    pub matches: Vec<SymptomMatch>,
    /// Death spirals and worker-model traps detected, with their evidence.
    pub anti_patterns: Vec<AntiPattern>,
    /// `long_tail`, `system_wide` or `healthy`, as given or derived from `endpoints`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_pattern: Option<LatencyPattern>,
    /// How many of the matrix's signals the observations decided.
    pub known_signals: usize,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One row of the matrix and how well the observations fit it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SymptomMatch {
    /// `A` to `F`, as in the decision matrix.
    pub symptom: String,
    pub title: String,
    pub root_cause: String,
    pub action: String,
    /// 0–1: supported weight minus contradicted weight, over the row's total weight.
    pub confidence: f64,
    /// Observations that support this symptom.
    pub evidence_for: Vec<String>,
    /// Observations that contradict it.
    pub evidence_against: Vec<String>,
    /// Observations that would confirm or refute it, and the tool that measures each.
    pub missing: Vec<MissingObservation>,
}

/// An observation that was not supplied.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MissingObservation {
    /// The criterion it decides.
    pub signal: String,
    /// The observation field(s) to supply.
    pub observation: String,
    /// The tool of this server that measures it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// A death spiral or a worker-model trap.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AntiPattern {
    /// `worker_accumulation_spiral`, `restart_loop_spiral`, `thread_workers`, `gevent`,
    /// `forking_in_workers`.
    pub name: String,
    pub title: String,
    /// `active` (the loop is running) or `risk` (one turn away).
    pub severity: String,
    pub evidence: Vec<String>,
    /// What to do instead.
    pub action: String,
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

/// Classifies how slowness is spread over endpoints.
///
/// Rule: an endpoint is slow when its `metric` (its mean service time, where known, or its
/// p99) exceeds `slow_ms`. No slow endpoint → `healthy`. Slow endpoints carrying under
/// [`LONG_TAIL_MAX_SHARE`] of the requests → `long_tail` (a few endpoints hold workers while
/// the rest are fine); otherwise → `system_wide`.
pub fn classify_pattern(
    endpoints: &[EndpointLatency],
    slow_ms: f64,
    metric: SlowMetric,
) -> Option<(LatencyPattern, f64)> {
    // Counts come from the caller: add them without overflowing (u64::MAX + 1 would panic,
    // or wrap to 0 in a release build).
    let total = total_requests(endpoints.iter());
    if total == 0 {
        return None;
    }
    let slow = total_requests(endpoints.iter().filter(|e| match (metric, e.service_ms) {
        (SlowMetric::ServiceMs, Some(s)) => s > slow_ms,
        _ => e.p99_ms > slow_ms,
    }));
    let share = slow as f64 / total as f64;
    let pattern = if slow == 0 {
        LatencyPattern::Healthy
    } else if share < LONG_TAIL_MAX_SHARE {
        LatencyPattern::LongTail
    } else {
        LatencyPattern::SystemWide
    };
    Some((pattern, share))
}

/// The requests of `endpoints` added up, saturating at `u64::MAX`.
pub(crate) fn total_requests<'a>(endpoints: impl Iterator<Item = &'a EndpointLatency>) -> u64 {
    endpoints.fold(0, |sum, e| sum.saturating_add(e.requests))
}

/// Slow endpoints above this share of requests make the pattern system-wide.
pub const LONG_TAIL_MAX_SHARE: f64 = 0.3;

/// Default latency above which an endpoint's p99 counts as slow, in ms.
pub const DEFAULT_SLOW_MS: f64 = 1000.0;

/// Matches observations against the matrix.
pub fn analyze(input: &MatchInput) -> Result<MatchReport, InputError> {
    let o = &input.observations;
    validate(o, "observations.")?;

    // The endpoints are judged with the threshold break_down_latency used, never another.
    let threshold = o.slow_threshold_ms.unwrap_or(DEFAULT_SLOW_MS);
    let metric = o.slow_metric.unwrap_or(SlowMetric::P99Ms);
    let derived = if o.latency_pattern.is_none() {
        classify_pattern(&o.endpoints, threshold, metric)
    } else {
        None
    };
    let pattern = o.latency_pattern.or(derived.map(|(p, _)| p));

    let all_signals = [
        Signal::WorkersSaturated,
        Signal::BacklogGrowing,
        Signal::AppCpuHigh,
        Signal::DbCpuHigh,
        Signal::ReadHeavy,
        Signal::WriteHeavyOrLocks,
        Signal::DbIoSaturated,
        Signal::DiskQueueHigh,
        Signal::DbLatencyRising,
        Signal::SystemWide,
    ];
    let known_signals = all_signals
        .iter()
        .filter(|s| s.read(o, pattern).is_some())
        .count();

    let mut matches: Vec<SymptomMatch> = MATRIX
        .iter()
        .map(|row| score(row, o, pattern))
        .filter(|m| m.confidence > 0.0)
        .collect();
    matches.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.symptom.cmp(&b.symptom))
    });

    let anti_patterns = anti_patterns(o);
    // Adding capacity (A) is never the first answer while the evidence says the time goes
    // elsewhere: it is demoted below every other match, its confidence capped, and the
    // reasons listed against it.
    let blockers = capacity_blockers(o, pattern, &anti_patterns);
    if !blockers.is_empty() {
        for m in matches.iter_mut().filter(|m| adds_capacity(&m.symptom)) {
            m.evidence_against.extend(blockers.iter().cloned());
            m.confidence = m.confidence.min(CAPPED_CAPACITY_CONFIDENCE);
        }
        matches.sort_by(|a, b| {
            adds_capacity(&a.symptom)
                .cmp(&adds_capacity(&b.symptom))
                .then(b.confidence.total_cmp(&a.confidence))
                .then_with(|| a.symptom.cmp(&b.symptom))
        });
    }
    settle_opposites(&mut matches, o);
    let mut conclusion = Conclusion {
        evidence: evidence(o, derived),
        ..Conclusion::default()
    };
    if let Some((_, share)) = derived {
        conclusion.evidence.push(Evidence::number(
            "slow_endpoint_request_share_percent",
            share * 100.0,
            "percent",
            "derived",
        ));
    }

    let thin = known_signals < MIN_KNOWN_SIGNALS;
    conclusion.verdict = match (thin, matches.first()) {
        (true, _) | (false, None) => {
            "Too little evidence to name a cause: break latency down first (nginx, queue, app, DB) and collect worker utilisation, app and DB CPU before changing workers or replicas.".to_owned()
        }
        (false, Some(top)) if top.confidence >= 0.5 => format!(
            "Symptom {} ({}) with confidence {}: {} {}",
            top.symptom,
            top.title,
            fmt_num(top.confidence),
            top.root_cause,
            top.action
        ),
        (false, Some(top)) => format!(
            "Leaning to symptom {} ({}) at confidence {} only; collect {} to confirm before acting.",
            top.symptom,
            top.title,
            fmt_num(top.confidence),
            top.missing.iter().map(|m| m.observation.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    if let (Some(route), Some(top)) = (&o.head_of_line_endpoint, matches.first())
        && top.symptom == "E"
        && !thin
    {
        conclusion.verdict = format!(
            "Symptom E, head-of-line blocking (confidence {}): {route} holds the workers{} and every other route waits behind it. Make that route fast (Step 2); do not add workers or replicas.",
            fmt_num(top.confidence),
            o.head_of_line_share_percent
                .map(|s| format!(" ({}% of their service time)", fmt_num(s)))
                .unwrap_or_default()
        );
    }
    if let Some(spiral) = anti_patterns.iter().find(|a| a.severity == "active") {
        conclusion.verdict = format!(
            "{} in progress — {} Then: {}",
            spiral.title, spiral.action, conclusion.verdict
        );
    }

    conclusion.next_steps = next_steps(thin, &matches, &anti_patterns, o, &blockers);
    conclusion.warnings = anti_patterns
        .iter()
        .map(|a| format!("{}: {}", a.title, a.action))
        .collect();
    if o.latency_pattern.is_some() && !o.endpoints.is_empty() {
        let derived = classify_pattern(&o.endpoints, threshold, metric);
        if let Some((d, _)) = derived
            && Some(d) != o.latency_pattern
        {
            conclusion.warnings.push(format!(
                "latency_pattern was given as {} but, judged as slow above {} ms of {}, the endpoints look {}; the given pattern was used.",
                o.latency_pattern.map(|p| p.as_str()).unwrap_or("?"),
                fmt_num(threshold),
                match metric {
                    SlowMetric::P99Ms => "p99",
                    SlowMetric::ServiceMs => "service time",
                },
                d.as_str(),
            ));
        }
    }
    if o.slow_threshold_ms.is_none() && derived.is_some() {
        conclusion.warnings.push(format!(
            "The endpoints were judged against the fixed default of {} ms p99: pass the `observations` of break_down_latency unchanged (they carry the threshold it judged with), or `slow_threshold_ms`.",
            fmt_num(DEFAULT_SLOW_MS)
        ));
    }

    Ok(MatchReport {
        matches,
        anti_patterns,
        latency_pattern: pattern,
        known_signals,
        conclusion,
    })
}

fn score(row: &Symptom, o: &Observations, pattern: Option<LatencyPattern>) -> SymptomMatch {
    let total: f64 = row.criteria.iter().map(|(_, w)| w).sum();
    let (mut support, mut against) = (0.0, 0.0);
    let (mut evidence_for, mut evidence_against, mut missing) =
        (Vec::new(), Vec::new(), Vec::new());
    for &(signal, weight) in row.criteria {
        match signal.read(o, pattern) {
            Some(true) => {
                support += weight;
                evidence_for.push(format!(
                    "{} ({})",
                    signal.describe(),
                    reading(signal, o, pattern)
                ));
            }
            Some(false) => {
                against += weight;
                evidence_against.push(format!(
                    "not {} ({})",
                    signal.describe(),
                    reading(signal, o, pattern)
                ));
            }
            None => {
                let (observation, tool) = signal.measured_by();
                missing.push(MissingObservation {
                    signal: signal.describe().to_owned(),
                    observation: observation.to_owned(),
                    tool: tool.map(str::to_owned),
                });
            }
        }
    }
    let confidence = round(((support - against) / total).max(0.0), 3);
    SymptomMatch {
        symptom: row.id.to_owned(),
        title: row.title.to_owned(),
        root_cause: row.root_cause.to_owned(),
        action: row.action.to_owned(),
        confidence,
        evidence_for,
        evidence_against,
        missing,
    }
}

/// The observed value behind a signal, for evidence lines.
fn reading(signal: Signal, o: &Observations, pattern: Option<LatencyPattern>) -> String {
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

fn evidence(o: &Observations, derived: Option<(LatencyPattern, f64)>) -> Vec<Evidence> {
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

fn anti_patterns(o: &Observations) -> Vec<AntiPattern> {
    use thresholds::*;
    let changed = |c: RecentChange| o.recent_changes.contains(&c);
    let mut out = Vec::new();

    // Death spiral #1: more workers → more DB concurrency → slower DB → more workers → OOM.
    if changed(RecentChange::AddedWorkers) {
        let mut ev = vec!["workers were added recently".to_owned()];
        let db_worse = [
            (
                o.db_latency_rising == Some(true),
                "DB latency is rising".to_owned(),
            ),
            (
                o.db_cpu_percent.is_some_and(|v| v >= DB_CPU_HIGH_PERCENT),
                format!(
                    "DB CPU is high ({}%)",
                    fmt_num(o.db_cpu_percent.unwrap_or(0.0))
                ),
            ),
            (
                o.db_io_saturated == Some(true),
                "DB storage is saturated".to_owned(),
            ),
            (
                o.disk_queue_depth
                    .is_some_and(|v| v > DISK_QUEUE_DEPTH_HIGH),
                "DiskQueueDepth is above 1".to_owned(),
            ),
            (
                o.lock_contention == Some(true),
                "sessions wait on locks".to_owned(),
            ),
        ];
        let db_hits: Vec<String> = db_worse
            .into_iter()
            .filter(|(hit, _)| *hit)
            .map(|(_, e)| e)
            .collect();
        let memory = changed(RecentChange::OomKills) || changed(RecentChange::ContainerRestarts);
        if !db_hits.is_empty() || memory {
            let active = !db_hits.is_empty() && (memory || o.backlog_growing == Some(true));
            ev.extend(db_hits);
            if changed(RecentChange::OomKills) {
                ev.push("processes are being OOM-killed".to_owned());
            }
            if changed(RecentChange::ContainerRestarts) {
                ev.push("containers are restarting".to_owned());
            }
            if o.backlog_growing == Some(true) {
                ev.push("the backlog is still growing".to_owned());
            }
            out.push(AntiPattern {
                name: "worker_accumulation_spiral".to_owned(),
                title: "Death spiral #1 (worker accumulation)".to_owned(),
                severity: if active { "active" } else { "risk" }.to_owned(),
                evidence: ev,
                action: "Do not add more workers. Roll the worker count back, cap DB concurrency (pool size, PgBouncer), and cut the latency of the slow queries.".to_owned(),
            });
        }
    }

    // Death spiral #2: DB IO saturates → workers held → pile-up → OOM → restarts → pile-up.
    let io_saturated = o.db_io_saturated == Some(true)
        || o.disk_queue_depth
            .is_some_and(|v| v > DISK_QUEUE_DEPTH_HIGH);
    let restarting = changed(RecentChange::ContainerRestarts) || changed(RecentChange::OomKills);
    if io_saturated && restarting {
        let mut ev = Vec::new();
        if o.db_io_saturated == Some(true) {
            ev.push("DB storage is at its IO limit".to_owned());
        }
        if let Some(q) = o.disk_queue_depth.filter(|v| *v > DISK_QUEUE_DEPTH_HIGH) {
            ev.push(format!("DiskQueueDepth {}", fmt_num(q)));
        }
        if changed(RecentChange::OomKills) {
            ev.push("processes are being OOM-killed".to_owned());
        }
        if changed(RecentChange::ContainerRestarts) {
            ev.push("containers are restarting".to_owned());
        }
        if o.db_latency_rising == Some(true) {
            ev.push("DB latency is rising".to_owned());
        }
        out.push(AntiPattern {
            name: "restart_loop_spiral".to_owned(),
            title: "Death spiral #2 (restart loop)".to_owned(),
            severity: "active".to_owned(),
            evidence: ev,
            action: "Restarts will not clear it: relieve the storage (raise provisioned IOPS, kill the heaviest IO queries), shed load at nginx, and keep workers and replicas as they are until DB latency recovers.".to_owned(),
        });
    } else if io_saturated && o.backlog_growing == Some(true) {
        out.push(AntiPattern {
            name: "restart_loop_spiral".to_owned(),
            title: "Death spiral #2 (restart loop)".to_owned(),
            severity: "risk".to_owned(),
            evidence: vec!["DB storage is saturated".to_owned(), "the backlog is growing".to_owned()],
            action: "Requests are piling up behind slow IO; next come OOM kills and restarts. Relieve the storage now rather than adding workers.".to_owned(),
        });
    }

    let threads = matches!(
        o.worker_class,
        Some(WorkerClass::Gthread | WorkerClass::UwsgiThreads)
    ) || changed(RecentChange::SwitchedToThreads);
    if threads {
        out.push(AntiPattern {
            name: "thread_workers".to_owned(),
            title: "Thread workers".to_owned(),
            severity: "risk".to_owned(),
            evidence: vec!["thread workers are in use".to_owned()],
            action: "Each thread can hold a DB connection, so DB concurrency spikes by threads × workers; threads share the GIL, so CPU-bound code gains nothing. Budget connections for threads and cap the pool.".to_owned(),
        });
    }
    let gevent = matches!(
        o.worker_class,
        Some(WorkerClass::Gevent | WorkerClass::Eventlet)
    ) || changed(RecentChange::SwitchedToGevent);
    if gevent {
        out.push(AntiPattern {
            name: "gevent".to_owned(),
            title: "gevent / eventlet workers".to_owned(),
            severity: "risk".to_owned(),
            evidence: vec!["a green-thread worker class is in use".to_owned()],
            action: "Monkey-patching must happen before anything else imports socket/ssl/threading; C drivers (psycopg2 without psycogreen, mysqlclient) block the whole worker; CPU-bound code starves every greenlet. Check the patch order and the DB driver.".to_owned(),
        });
    }
    if o.forks_in_workers == Some(true) {
        out.push(AntiPattern {
            name: "forking_in_workers".to_owned(),
            title: "Forking inside workers".to_owned(),
            severity: "risk".to_owned(),
            evidence: vec!["request handlers fork or spawn child processes".to_owned()],
            action: "Children copy the worker's memory, outlive timeouts as orphans and push the container into OOM; move the work to a job queue (Celery/RQ) or a sidecar.".to_owned(),
        });
    }
    out
}

/// A (add replicas) and F (do not add workers: fix latency) give opposite advice. When both
/// fit, where the time goes decides: app CPU high with the database neither dominant nor
/// busy means the requests are CPU in the app, which more cores (replicas) serve — A; else
/// the latency is systemic — F. The loser keeps a confidence below the winner's and says why.
fn settle_opposites(matches: &mut [SymptomMatch], o: &Observations) {
    let (Some(a), Some(f)) = (
        matches.iter().position(|m| m.symptom == "A"),
        matches.iter().position(|m| m.symptom == "F"),
    ) else {
        return;
    };
    if matches[a].confidence < 0.5 || matches[f].confidence < 0.5 {
        return;
    }
    let app_cpu_high = o
        .app_cpu_percent
        .is_some_and(|v| v >= thresholds::APP_CPU_HIGH_PERCENT);
    let db_busy = o.dominant_layer.as_deref() == Some("db")
        || o.db_cpu_percent
            .is_some_and(|v| v >= thresholds::DB_CPU_HIGH_PERCENT);
    let (winner, loser, why) = if app_cpu_high && !db_busy {
        (
            a,
            f,
            format!(
                "app CPU is high ({}%) and the database is not where the time goes: the requests are CPU in the app, which more cores (replicas) serve",
                fmt_num(o.app_cpu_percent.unwrap_or(0.0))
            ),
        )
    } else {
        (
            f,
            a,
            match (db_busy, o.app_cpu_percent) {
                (true, _) => {
                    "the database holds the time: more app capacity adds DB load".to_owned()
                }
                (false, Some(cpu)) => format!(
                    "app CPU is not high ({}%): the latency is not CPU in the app, so more replicas do not shorten it",
                    fmt_num(cpu)
                ),
                (false, None) => "app CPU is not known: without it the slowness reads as systemic latency, which more replicas do not shorten; pass app_cpu_percent (container CPU) to tell".to_owned(),
            },
        )
    };
    matches[loser].evidence_against.push(why);
    matches[loser].confidence = round(
        (matches[winner].confidence - 0.25)
            .min(matches[loser].confidence)
            .max(0.0),
        3,
    );
    matches.sort_by(|x, y| {
        y.confidence
            .total_cmp(&x.confidence)
            .then_with(|| x.symptom.cmp(&y.symptom))
    });
}

/// The confidence a capacity match keeps while evidence argues against it.
const CAPPED_CAPACITY_CONFIDENCE: f64 = 0.25;

/// Whether a symptom's action adds app capacity (replicas).
fn adds_capacity(symptom: &str) -> bool {
    symptom == "A"
}

/// What argues against adding capacity now, in words.
fn capacity_blockers(
    o: &Observations,
    pattern: Option<LatencyPattern>,
    anti: &[AntiPattern],
) -> Vec<String> {
    let mut out = Vec::new();
    if o.dominant_layer.as_deref() == Some("db") {
        out.push("the time is in the database (dominant layer db): more app concurrency only adds DB load".to_owned());
    }
    match (&o.head_of_line_endpoint, o.head_of_line_share_percent) {
        (Some(e), Some(share)) => out.push(format!(
            "one route, {e}, holds {}% of the workers' service time and the others wait behind it: make it fast first",
            fmt_num(share)
        )),
        (Some(e), None) => out.push(format!(
            "one route, {e}, holds the workers and the others wait behind it: make it fast first"
        )),
        (None, _) if pattern == Some(LatencyPattern::LongTail) => out.push(
            "a few endpoints are slow while the rest are fine (long tail): fix them first"
                .to_owned(),
        ),
        _ => {}
    }
    if o.db_cpu_percent
        .is_some_and(|v| v >= thresholds::DB_CPU_HIGH_PERCENT)
    {
        out.push(format!(
            "DB CPU is high ({}%): more app concurrency adds DB load",
            fmt_num(o.db_cpu_percent.unwrap_or(0.0))
        ));
    }
    for a in anti.iter().filter(|a| a.name.ends_with("_spiral")) {
        out.push(format!(
            "{} ({}) is a sign of trouble that more capacity feeds",
            a.title, a.severity
        ));
    }
    out
}

fn next_steps(
    thin: bool,
    matches: &[SymptomMatch],
    anti: &[AntiPattern],
    o: &Observations,
    blockers: &[String],
) -> Vec<NextStep> {
    let mut steps = Vec::new();
    if anti.iter().any(|a| a.severity == "active") {
        steps.push(NextStep::new(
            "Stop the spiral first: no more workers or restarts; relieve the database (kill runaway queries, shed load).",
            "A death spiral feeds itself; every added worker or restart makes the next turn worse.",
        ));
    }
    if thin || matches.is_empty() {
        steps.push(
            NextStep::new(
                "Break latency down by layer and collect worker utilisation, then call match_symptom again with its observations.",
                "Step 1 of the order: without knowing where the time goes, any change is a guess.",
            )
            .with_tool("break_down_latency"),
        );
        steps.push(NextStep::new(
            "Collect app CPU (container metrics) and DB CPU (CloudWatch CPUUtilization).",
            "CPU on each side separates A (app-bound) from B (storage) and C/D (database-bound).",
        ));
        return steps;
    }
    let top = &matches[0];
    let row = MATRIX
        .iter()
        .find(|r| r.id == top.symptom)
        .expect("matches come from the matrix");
    match (&o.head_of_line_endpoint, top.symptom.as_str()) {
        (Some(route), "E") => steps.push(NextStep {
            action: format!(
                "Make {route} fast: find what it waits on (its queries first) and fix that — an index, a cache, a background job. Do not add workers or replicas meanwhile."
            ),
            tool: Some("slow_queries".to_owned()),
            why: format!(
                "Symptom E (head-of-line blocking): {route} holds the workers{} and every other route waits behind it; making it fast frees them all.",
                o.head_of_line_share_percent
                    .map(|s| format!(" ({}% of service time)", fmt_num(s)))
                    .unwrap_or_default()
            ),
        }),
        (_, id) if adds_capacity(id) && !blockers.is_empty() => steps.push(NextStep {
            action: format!(
                "Do not add replicas yet: {}. Find and fix what holds the time first.",
                blockers.join("; ")
            ),
            tool: Some(
                if o.dominant_layer.as_deref() == Some("db") || o.head_of_line_endpoint.is_some() {
                    "slow_queries"
                } else {
                    "break_down_latency"
                }
                .to_owned(),
            ),
            why: "Scaling out multiplies what is slow; Step 2 (fix latency) comes before Step 5 (replicas).".to_owned(),
        }),
        _ => steps.push(NextStep {
            action: top.action.to_owned(),
            tool: row.follow_up.map(str::to_owned),
            why: format!("Symptom {}: {}", top.symptom, top.root_cause),
        }),
    }
    for m in &top.missing {
        steps.push(NextStep {
            action: format!(
                "Measure {} to confirm or refute symptom {}.",
                m.observation, top.symptom
            ),
            tool: m.tool.clone(),
            why: format!("The criterion \"{}\" is still unknown.", m.signal),
        });
    }
    if let Some(second) = matches.get(1).filter(|s| s.confidence >= 0.5) {
        steps.push(NextStep::new(
            format!(
                "Also consider symptom {} ({}).",
                second.symptom, second.title
            ),
            format!("It fits with confidence {}.", fmt_num(second.confidence)),
        ));
    }
    if matches!(top.symptom.as_str(), "B" | "C" | "D" | "F") {
        steps.push(NextStep::new(
            "Keep workers and replicas as they are while the database is the bottleneck.",
            "More app concurrency only adds DB load (death spiral #1).",
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(o: Observations) -> MatchReport {
        analyze(&MatchInput { observations: o }).unwrap()
    }

    fn top(o: Observations) -> String {
        run(o).matches[0].symptom.clone()
    }

    #[test]
    fn opposite_advice_is_settled_by_where_the_time_goes() {
        // System-wide slowness with the app's CPU at 95 % and an idle DB: scale out (A).
        let cpu_bound = Observations {
            workers_busy_percent: Some(100.0),
            backlog_shape: Some(BacklogShape::Steady),
            app_cpu_percent: Some(95.0),
            db_cpu_percent: Some(10.0),
            latency_pattern: Some(LatencyPattern::SystemWide),
            ..Default::default()
        };
        let r = run(cpu_bound.clone());
        assert_eq!(r.matches[0].symptom, "A", "{:?}", r.matches);
        let f = r.matches.iter().find(|m| m.symptom == "F").unwrap();
        assert!(f.confidence < r.matches[0].confidence);
        assert!(
            f.evidence_against
                .iter()
                .any(|e| e.contains("app CPU is high")),
            "{f:?}"
        );
        // The same with the time in the database: fix latency (F), not replicas.
        let r = run(Observations {
            dominant_layer: Some("db".into()),
            ..cpu_bound.clone()
        });
        assert_ne!(r.matches[0].symptom, "A", "{:?}", r.matches);
        let a = r.matches.iter().find(|m| m.symptom == "A").unwrap();
        assert!(
            a.evidence_against.iter().any(|e| e.contains("database")),
            "{a:?}"
        );
        assert!(
            !r.conclusion.next_steps[0]
                .action
                .starts_with("Add replicas")
        );
        // App CPU unknown: F keeps the lead over A.
        let r = run(Observations {
            app_cpu_percent: None,
            ..cpu_bound
        });
        assert_eq!(r.matches[0].symptom, "F", "{:?}", r.matches);
    }

    #[test]
    fn backlog_shape_comes_from_the_trend() {
        assert_eq!(BacklogShape::of(&[14.0; 5]), Some(BacklogShape::Steady));
        assert_eq!(
            BacklogShape::of(&[0.0, 5.0, 9.0, 14.0, 20.0]),
            Some(BacklogShape::Growing)
        );
        assert_eq!(
            BacklogShape::of(&[20.0, 14.0, 9.0, 4.0, 1.0]),
            Some(BacklogShape::Draining)
        );
        assert_eq!(
            BacklogShape::of(&[0.0, 0.0, 3.0, 0.0]),
            Some(BacklogShape::Empty)
        );
        assert_eq!(BacklogShape::of(&[]), None);
        // A full, steady backlog still means requests wait (A's criterion), without being
        // called growing.
        let r = run(Observations {
            workers_busy_percent: Some(100.0),
            backlog_shape: Some(BacklogShape::Steady),
            app_cpu_percent: Some(90.0),
            ..Default::default()
        });
        assert_eq!(r.matches[0].symptom, "A");
        assert_eq!(r.matches[0].confidence, 1.0);
    }

    #[test]
    fn measured_observations_keep_their_sources() {
        let mut sources = BTreeMap::new();
        sources.insert(
            "workers_busy_percent".to_owned(),
            "prometheus:http://127.0.0.1:9100/metrics".to_owned(),
        );
        let r = run(Observations {
            workers_busy_percent: Some(100.0),
            app_cpu_percent: Some(90.0),
            sources,
            ..Default::default()
        });
        let src = |m: &str| {
            r.conclusion
                .evidence
                .iter()
                .find(|e| e.metric == m)
                .map(|e| e.source.clone())
                .unwrap()
        };
        assert_eq!(
            src("workers_busy_percent"),
            "prometheus:http://127.0.0.1:9100/metrics"
        );
        assert_eq!(src("app_cpu_percent"), "caller");
    }

    #[test]
    fn symptom_a_app_concurrency_exhausted() {
        let r = run(Observations {
            workers_busy_percent: Some(100.0),
            backlog_growing: Some(true),
            app_cpu_percent: Some(95.0),
            db_cpu_percent: Some(20.0),
            ..Default::default()
        });
        assert_eq!(r.matches[0].symptom, "A");
        assert_eq!(r.matches[0].confidence, 1.0);
        assert!(
            r.conclusion.verdict.contains("Add replicas"),
            "{}",
            r.conclusion.verdict
        );
    }

    #[test]
    fn symptom_b_storage_bound() {
        let r = run(Observations {
            workers_busy_percent: Some(100.0),
            backlog_growing: Some(true),
            app_cpu_percent: Some(20.0),
            db_cpu_percent: Some(25.0),
            disk_queue_depth: Some(8.0),
            db_io_saturated: Some(true),
            ..Default::default()
        });
        assert_eq!(r.matches[0].symptom, "B");
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("check_rds_iops")
        );
        // A is contradicted by the low app CPU.
        let a = r.matches.iter().find(|m| m.symptom == "A");
        assert!(a.is_none_or(|a| a.confidence < r.matches[0].confidence));
    }

    #[test]
    fn symptom_c_read_heavy() {
        assert_eq!(
            top(Observations {
                db_cpu_percent: Some(92.0),
                db_read_percent: Some(88.0),
                ..Default::default()
            }),
            "C"
        );
    }

    #[test]
    fn symptom_d_write_heavy_or_locks() {
        assert_eq!(
            top(Observations {
                db_cpu_percent: Some(92.0),
                db_read_percent: Some(30.0),
                ..Default::default()
            }),
            "D"
        );
        assert_eq!(
            top(Observations {
                db_cpu_percent: Some(85.0),
                lock_contention: Some(true),
                db_read_percent: Some(80.0),
                ..Default::default()
            }),
            "C"
        );
        let r = run(Observations {
            db_cpu_percent: Some(85.0),
            lock_contention: Some(true),
            ..Default::default()
        });
        assert_eq!(r.matches[0].symptom, "D");
        assert!(r.matches[0].action.contains("write"));
    }

    #[test]
    fn request_counts_near_u64_max_do_not_overflow_the_pattern() {
        // Found by tests/fuzz: endpoints of u64::MAX and 1 requests panicked when their
        // counts were added up (and would have wrapped to 0 in a release build).
        let ep = |requests, p99| EndpointLatency {
            endpoint: "GET /x".into(),
            requests,
            p50_ms: 1.0,
            p99_ms: p99,
            service_ms: None,
        };
        let (pattern, share) = classify_pattern(
            &[ep(u64::MAX, 5000.0), ep(1, 10.0)],
            DEFAULT_SLOW_MS,
            SlowMetric::P99Ms,
        )
        .unwrap();
        assert_eq!(pattern, LatencyPattern::SystemWide);
        assert!(share > 0.99, "{share}");
    }

    #[test]
    fn symptom_e_long_tail_from_endpoints() {
        let ep = |name: &str, requests, p50, p99| EndpointLatency {
            endpoint: name.into(),
            requests,
            p50_ms: p50,
            p99_ms: p99,
            service_ms: None,
        };
        let r = run(Observations {
            workers_busy_percent: Some(95.0),
            endpoints: vec![
                ep("GET /api/report", 50, 8000.0, 30000.0),
                ep("GET /api/items", 5000, 40.0, 120.0),
                ep("POST /api/cart", 900, 60.0, 200.0),
            ],
            ..Default::default()
        });
        assert_eq!(r.latency_pattern, Some(LatencyPattern::LongTail));
        assert_eq!(r.matches[0].symptom, "E");
    }

    #[test]
    fn symptom_f_system_wide() {
        let r = run(Observations {
            latency_pattern: Some(LatencyPattern::SystemWide),
            db_cpu_percent: Some(40.0),
            ..Default::default()
        });
        assert_eq!(r.matches[0].symptom, "F");
        assert!(
            r.conclusion.verdict.contains("do not add workers"),
            "{}",
            r.conclusion.verdict
        );
    }

    #[test]
    fn too_little_evidence_asks_for_step_one() {
        let r = run(Observations::default());
        assert!(r.matches.is_empty());
        assert!(r.conclusion.verdict.starts_with("Too little evidence"));
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("break_down_latency")
        );
        // One signal is still too thin to name a cause.
        let r = run(Observations {
            db_cpu_percent: Some(90.0),
            ..Default::default()
        });
        assert!(
            r.conclusion.verdict.starts_with("Too little evidence"),
            "{}",
            r.conclusion.verdict
        );
    }

    #[test]
    fn missing_names_the_tool() {
        let r = run(Observations {
            db_cpu_percent: Some(90.0),
            workers_busy_percent: Some(50.0),
            ..Default::default()
        });
        let c = r.matches.iter().find(|m| m.symptom == "C").unwrap();
        assert!(c.missing.iter().any(
            |m| m.observation == "db_read_percent" && m.tool.as_deref() == Some("slow_queries")
        ));
        assert_eq!(c.confidence, 0.5);
    }

    #[test]
    fn death_spiral_one_worker_accumulation() {
        let r = run(Observations {
            recent_changes: vec![RecentChange::AddedWorkers, RecentChange::OomKills],
            db_latency_rising: Some(true),
            db_cpu_percent: Some(88.0),
            ..Default::default()
        });
        let s = r
            .anti_patterns
            .iter()
            .find(|a| a.name == "worker_accumulation_spiral")
            .unwrap();
        assert_eq!(s.severity, "active");
        assert!(
            r.conclusion.verdict.starts_with("Death spiral #1"),
            "{}",
            r.conclusion.verdict
        );
        assert!(
            r.conclusion.next_steps[0]
                .action
                .contains("no more workers")
        );
        // Added workers alone, with a healthy database, is not a spiral.
        let r = run(Observations {
            recent_changes: vec![RecentChange::AddedWorkers],
            db_cpu_percent: Some(20.0),
            ..Default::default()
        });
        assert!(r.anti_patterns.is_empty());
    }

    #[test]
    fn death_spiral_two_restart_loop() {
        let r = run(Observations {
            db_io_saturated: Some(true),
            disk_queue_depth: Some(12.0),
            recent_changes: vec![RecentChange::ContainerRestarts],
            db_latency_rising: Some(true),
            ..Default::default()
        });
        let s = r
            .anti_patterns
            .iter()
            .find(|a| a.name == "restart_loop_spiral")
            .unwrap();
        assert_eq!(s.severity, "active");
        assert!(s.evidence.iter().any(|e| e.contains("DiskQueueDepth 12")));
        assert_eq!(r.matches[0].symptom, "B");
    }

    #[test]
    fn worker_model_traps() {
        let r = run(Observations {
            worker_class: Some(WorkerClass::Gevent),
            forks_in_workers: Some(true),
            ..Default::default()
        });
        let names: Vec<_> = r.anti_patterns.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["gevent", "forking_in_workers"]);
        let r = run(Observations {
            recent_changes: vec![RecentChange::SwitchedToThreads],
            ..Default::default()
        });
        assert_eq!(r.anti_patterns[0].name, "thread_workers");
        assert!(!r.conclusion.warnings.is_empty());
    }

    #[test]
    fn invalid_observations_name_the_field() {
        for (o, field) in [
            (
                Observations {
                    workers_busy_percent: Some(-5.0),
                    ..Default::default()
                },
                "observations.workers_busy_percent",
            ),
            (
                Observations {
                    workers_busy_percent: Some(250.0),
                    ..Default::default()
                },
                "observations.workers_busy_percent",
            ),
            (
                Observations {
                    db_cpu_percent: Some(f64::NAN),
                    ..Default::default()
                },
                "observations.db_cpu_percent",
            ),
            (
                Observations {
                    endpoints: vec![EndpointLatency {
                        endpoint: "GET /".into(),
                        requests: 1,
                        p50_ms: 10.0,
                        p99_ms: 5.0,
                        service_ms: None,
                    }],
                    ..Default::default()
                },
                "observations.endpoints[0].p99_ms",
            ),
        ] {
            let err = analyze(&MatchInput { observations: o }).unwrap_err();
            assert_eq!(err.field, field);
        }
    }

    #[test]
    fn every_matrix_row_is_reachable() {
        let ids: Vec<_> = MATRIX.iter().map(|r| r.id).collect();
        assert_eq!(ids, ["A", "B", "C", "D", "E", "F"]);
        for row in MATRIX {
            assert!(!row.criteria.is_empty(), "{}", row.id);
        }
    }
}
