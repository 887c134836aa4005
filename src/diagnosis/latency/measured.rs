//! What the sources read, as plain data: the adapters in `crate::sources` fill a
//! [`Measured`] and [`super::analyze_measured`] decides from it.

use crate::diagnosis::access_log::AccessLogData;
use crate::diagnosis::fleet::FleetData;

/// One reading of worker state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkerSample {
    pub busy: f64,
    pub idle: f64,
    /// The listen backlog, when the source exposes it.
    pub queue: Option<f64>,
}

/// Worker state sampled over a short window.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSamples {
    /// `prometheus:<url>` or `uwsgi:<addr>`.
    pub source: String,
    pub samples: Vec<WorkerSample>,
}

/// Accept-queue depth sampled over a short window.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSamples {
    pub source: String,
    pub samples: Vec<f64>,
}

/// What the sources said, for [`analyze_measured`](super::analyze_measured).
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The access logs read, with the evidence source (`nginx:<file>`).
    pub access_log: Option<(String, AccessLogData)>,
    pub workers: Option<WorkerSamples>,
    pub queue: Option<QueueSamples>,
    /// What a Prometheus engine said about the fleet.
    pub fleet: Option<FleetData>,
}
