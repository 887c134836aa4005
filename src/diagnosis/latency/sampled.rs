//! Worker state and the listen backlog as sampled: their means fill the caller's worker
//! figures where left out, and the backlog's shape over the samples says whether requests
//! wait for a worker.

use crate::diagnosis::symptoms::BacklogShape;
use crate::diagnosis::{Evidence, SOURCE_CALLER, round};

use super::analysis::{Notes, Sourced};
use super::input::GunicornFigures;
use super::measured::{Measured, QueueSamples, WorkerSamples};
use super::report::{QueueReport, WorkerReport};

/// Busy and idle workers, given or sampled, and the samples' summary.
#[derive(Debug)]
pub(super) struct Workers {
    pub busy: Sourced,
    pub idle: Sourced,
    pub report: Option<WorkerReport>,
}

impl Workers {
    /// busy ÷ (busy + idle) × 100, with its evidence.
    pub fn utilization(&self, notes: &mut Notes) -> Option<f64> {
        let u = match (self.busy.value, self.idle.value) {
            (Some(b), Some(i)) if b + i > 0.0 => round(b / (b + i) * 100.0, 2),
            _ => return None,
        };
        let src = if self.given_by_caller() {
            "derived"
        } else {
            self.busy.source.as_str()
        };
        notes.evidence.push(Evidence::number(
            "worker_utilization_percent",
            u,
            "percent",
            src,
        ));
        Some(u)
    }

    /// Where the utilisation came from, for match_symptom: the caller's when both counts are.
    pub fn source(&self) -> &str {
        if self.given_by_caller() {
            SOURCE_CALLER
        } else {
            &self.busy.source
        }
    }

    fn given_by_caller(&self) -> bool {
        !self.busy.measured() && !self.idle.measured()
    }
}

/// The worker counts: the caller's, filled from the samples' means.
pub(super) fn workers(
    given: &GunicornFigures,
    sampled: Option<&WorkerSamples>,
    notes: &mut Notes,
) -> Workers {
    let mut busy = Sourced::caller(given.busy_workers);
    let mut idle = Sourced::caller(given.idle_workers);
    let Some(w) = sampled.filter(|w| !w.samples.is_empty()) else {
        return Workers {
            busy,
            idle,
            report: None,
        };
    };
    let b = mean(w.samples.iter().map(|s| s.busy));
    let i = mean(w.samples.iter().map(|s| s.idle));
    busy.fill(
        Some(round(b, 3)),
        &w.source,
        "figures.gunicorn.busy_workers",
        notes,
    );
    idle.fill(
        Some(round(i, 3)),
        &w.source,
        "figures.gunicorn.idle_workers",
        notes,
    );
    let util_max = w
        .samples
        .iter()
        .filter(|s| s.busy + s.idle > 0.0)
        .map(|s| s.busy / (s.busy + s.idle) * 100.0)
        .fold(0.0, f64::max);
    let report = WorkerReport {
        source: w.source.clone(),
        busy_samples: w.samples.iter().map(|s| s.busy).collect(),
        busy_mean: round(b, 3),
        busy_max: w.samples.iter().map(|s| s.busy).fold(0.0, f64::max),
        idle_mean: round(i, 3),
        utilization_max_percent: round(util_max, 2),
    };
    for (metric, value, unit) in [
        ("busy_workers_mean", report.busy_mean, "workers"),
        ("busy_workers_max", report.busy_max, "workers"),
        ("idle_workers_mean", report.idle_mean, "workers"),
        (
            "worker_utilization_max_percent",
            report.utilization_max_percent,
            "percent",
        ),
    ] {
        notes
            .evidence
            .push(Evidence::number(metric, value, unit, &w.source));
    }
    Workers {
        busy,
        idle,
        report: Some(report),
    }
}

/// The backlog over the samples, and what it says.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    pub growing: Option<bool>,
    pub shape: Option<BacklogShape>,
    /// Where the samples came from.
    pub source: Option<String>,
    pub report: Option<QueueReport>,
}

/// The accept queue as sampled, or else the queue gauge of the worker samples.
pub(super) fn backlog(m: &Measured, notes: &mut Notes) -> Backlog {
    let samples = m.queue.clone().or_else(|| {
        m.workers.as_ref().and_then(|w| {
            let q: Vec<f64> = w.samples.iter().filter_map(|s| s.queue).collect();
            (q.len() == w.samples.len() && !q.is_empty()).then(|| QueueSamples {
                source: w.source.clone(),
                samples: q,
            })
        })
    });
    let Some(q) = samples.filter(|q| !q.samples.is_empty()) else {
        return Backlog::default();
    };
    let nonzero = q.samples.iter().filter(|v| **v > 0.0).count();
    let report = QueueReport {
        max: q.samples.iter().copied().fold(0.0, f64::max),
        mean: round(mean(q.samples.iter().copied()), 3),
        nonzero_samples: nonzero,
        samples: q.samples.clone(),
        source: q.source.clone(),
    };
    // The shape comes from the trend: a queue that sits full is steady, not growing.
    let shape = BacklogShape::of(&q.samples);
    if let Some(shape) = shape {
        notes
            .evidence
            .push(Evidence::text("backlog_shape", shape.as_str(), &q.source));
    }
    for (metric, value, unit) in [
        ("accept_queue_max", report.max, "connections"),
        ("accept_queue_mean", report.mean, "connections"),
        ("accept_queue_nonzero_samples", nonzero as f64, "samples"),
    ] {
        notes
            .evidence
            .push(Evidence::number(metric, value, unit, &q.source));
    }
    Backlog {
        growing: shape.map(|s| s == BacklogShape::Growing),
        shape,
        source: Some(q.source),
        report: Some(report),
    }
}

fn mean(v: impl Iterator<Item = f64> + Clone) -> f64 {
    let n = v.clone().count();
    if n == 0 {
        0.0
    } else {
        v.sum::<f64>() / n as f64
    }
}
