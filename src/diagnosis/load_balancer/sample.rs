//! What is read for a load balancer: one CloudWatch series per [`Signal`], in the metric
//! and statistic of its kind ([`Signal::metric`]), and the caveats CloudWatch gave. Plain
//! data: `crate::sources` fills a [`LbSample`], the analysis reads it.

use std::collections::BTreeMap;

use super::input::LbKind;
pub use crate::diagnosis::storage::Point;

/// One figure read per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    ResponseP50,
    ResponseP90,
    ResponseP99,
    ResponseAvg,
    Requests,
    Target5xx,
    Lb5xx,
    Lb502,
    Lb503,
    Lb504,
    TargetConnectionErrors,
    RejectedConnections,
    SurgeQueue,
    Spillover,
}

/// Whether a metric is published per target group (with `TargetGroup` next to
/// `LoadBalancer`) or only per load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Target,
    LoadBalancer,
}

impl Signal {
    pub const ALL: [Signal; 14] = [
        Signal::ResponseP50,
        Signal::ResponseP90,
        Signal::ResponseP99,
        Signal::ResponseAvg,
        Signal::Requests,
        Signal::Target5xx,
        Signal::Lb5xx,
        Signal::Lb502,
        Signal::Lb503,
        Signal::Lb504,
        Signal::TargetConnectionErrors,
        Signal::RejectedConnections,
        Signal::SurgeQueue,
        Signal::Spillover,
    ];

    /// The signals a kind of load balancer publishes.
    pub fn of(kind: LbKind) -> impl Iterator<Item = Signal> {
        Self::ALL
            .into_iter()
            .filter(move |s| s.metric(kind).is_some())
    }

    /// The CloudWatch metric name and statistic for `kind`; `None` when that kind has no
    /// such metric.
    pub fn metric(self, kind: LbKind) -> Option<(&'static str, &'static str)> {
        use LbKind::{Alb, Classic};
        Some(match (self, kind) {
            (Self::ResponseP50, Alb) => ("TargetResponseTime", "p50"),
            (Self::ResponseP90, Alb) => ("TargetResponseTime", "p90"),
            (Self::ResponseP99, Alb) => ("TargetResponseTime", "p99"),
            (Self::ResponseAvg, Alb) => ("TargetResponseTime", "Average"),
            (Self::ResponseP50, Classic) => ("Latency", "p50"),
            (Self::ResponseP90, Classic) => ("Latency", "p90"),
            (Self::ResponseP99, Classic) => ("Latency", "p99"),
            (Self::ResponseAvg, Classic) => ("Latency", "Average"),
            (Self::Requests, _) => ("RequestCount", "Sum"),
            (Self::Target5xx, Alb) => ("HTTPCode_Target_5XX_Count", "Sum"),
            (Self::Target5xx, Classic) => ("HTTPCode_Backend_5XX", "Sum"),
            (Self::Lb5xx, Alb) => ("HTTPCode_ELB_5XX_Count", "Sum"),
            (Self::Lb5xx, Classic) => ("HTTPCode_ELB_5XX", "Sum"),
            (Self::Lb502, Alb) => ("HTTPCode_ELB_502_Count", "Sum"),
            (Self::Lb503, Alb) => ("HTTPCode_ELB_503_Count", "Sum"),
            (Self::Lb504, Alb) => ("HTTPCode_ELB_504_Count", "Sum"),
            (Self::TargetConnectionErrors, Alb) => ("TargetConnectionErrorCount", "Sum"),
            (Self::TargetConnectionErrors, Classic) => ("BackendConnectionErrors", "Sum"),
            (Self::RejectedConnections, Alb) => ("RejectedConnectionCount", "Sum"),
            (Self::SurgeQueue, Classic) => ("SurgeQueueLength", "Maximum"),
            (Self::Spillover, Classic) => ("SpilloverCount", "Sum"),
            _ => return None,
        })
    }

    /// Whether the metric exists per target group; the load balancer's own codes and
    /// connection counts do not.
    pub fn scope(self) -> Scope {
        match self {
            Self::ResponseP50
            | Self::ResponseP90
            | Self::ResponseP99
            | Self::ResponseAvg
            | Self::Requests
            | Self::Target5xx
            | Self::TargetConnectionErrors => Scope::Target,
            _ => Scope::LoadBalancer,
        }
    }

    /// The GetMetricData query id (lower-case letter first, then letters, digits, `_`).
    pub fn query_id(self) -> &'static str {
        match self {
            Self::ResponseP50 => "rt_p50",
            Self::ResponseP90 => "rt_p90",
            Self::ResponseP99 => "rt_p99",
            Self::ResponseAvg => "rt_avg",
            Self::Requests => "requests",
            Self::Target5xx => "target_5xx",
            Self::Lb5xx => "lb_5xx",
            Self::Lb502 => "lb_502",
            Self::Lb503 => "lb_503",
            Self::Lb504 => "lb_504",
            Self::TargetConnectionErrors => "target_conn_errors",
            Self::RejectedConnections => "rejected",
            Self::SurgeQueue => "surge_queue",
            Self::Spillover => "spillover",
        }
    }

    pub fn from_query_id(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.query_id() == id)
    }

    /// Where a figure came from: `cloudwatch:<namespace>/<metric>`.
    pub fn source(self, kind: LbKind) -> String {
        let metric = self.metric(kind).map(|(m, _)| m).unwrap_or("unknown");
        format!("cloudwatch:{}/{metric}", kind.namespace())
    }
}

/// The series read for one load balancer over one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LbSample {
    /// The region read.
    pub region: String,
    /// Per signal, one value per period that had data, oldest first. CloudWatch leaves out
    /// periods without data: a missing period is missing here too, never a zero.
    pub series: BTreeMap<Signal, Vec<Point>>,
    /// Caveats CloudWatch reported (partial data, per-query messages).
    pub notes: Vec<String>,
}
