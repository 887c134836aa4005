//! The symptom matrix: the signals it is written in, read from the observations, and the
//! table of symptoms A–F with the signals that support each and their weights. Adding a
//! symptom or a criterion touches only [`MATRIX`].

use super::observations::{LatencyPattern, Observations};

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
    pub(super) fn describe(self) -> &'static str {
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
    pub(super) fn measured_by(self) -> (&'static str, Option<&'static str>) {
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
    pub(super) fn read(self, o: &Observations, pattern: Option<LatencyPattern>) -> Option<bool> {
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
