//! The observations break_down_latency hands to match_symptom unchanged: worker
//! utilisation, the backlog, the pattern and the threshold it was judged with, the dominant
//! layer and the route holding the line — each with the source it came from.

use crate::diagnosis::SOURCE_CALLER;
use crate::diagnosis::symptoms::Observations;

use super::endpoints::Ranked;
use super::input::LatencyInput;
use super::sampled::{Backlog, Workers};

/// What the observations are made of.
pub(super) struct Gathered<'a> {
    pub input: &'a LatencyInput,
    pub worker_utilization_percent: Option<f64>,
    pub workers: &'a Workers,
    pub backlog: &'a Backlog,
    pub ranked: &'a Ranked,
    /// Where the pattern came from: the log, or `derived`.
    pub pattern_source: &'a str,
    pub dominant_layer: Option<String>,
}

/// The observations, with where each measured field came from.
pub(super) fn gather(g: Gathered<'_>) -> Observations {
    let judged = &g.ranked.judged;
    let pattern = g.ranked.pattern;
    let mut observations = Observations {
        workers_busy_percent: g.worker_utilization_percent,
        backlog_growing: g.backlog.growing,
        db_cpu_percent: g.input.figures.db.cpu_percent,
        latency_pattern: pattern.map(|(p, _)| p),
        endpoints: g.ranked.listed.clone(),
        slow_threshold_ms: pattern.map(|_| judged.threshold_ms),
        slow_metric: pattern.map(|_| judged.metric),
        dominant_layer: g.dominant_layer.clone(),
        head_of_line_endpoint: judged.head_of_line.as_ref().map(|h| h.endpoint.clone()),
        head_of_line_share_percent: judged
            .head_of_line
            .as_ref()
            .map(|h| h.share_of_service_time_percent),
        backlog_shape: g.backlog.shape,
        ..Default::default()
    };
    // Where each field came from travels with it to match_symptom.
    let mut note = |field: &str, present: bool, source: &str| {
        if present && source != SOURCE_CALLER {
            observations
                .sources
                .insert(field.to_owned(), source.to_owned());
        }
    };
    note(
        "workers_busy_percent",
        g.worker_utilization_percent.is_some(),
        g.workers.source(),
    );
    if let Some(src) = &g.backlog.source {
        note("backlog_growing", g.backlog.growing.is_some(), src);
        note("backlog_shape", g.backlog.shape.is_some(), src);
    }
    note("latency_pattern", pattern.is_some(), g.pattern_source);
    note(
        "slow_threshold_ms",
        pattern.is_some(),
        g.ranked.threshold_source(),
    );
    note("dominant_layer", g.dominant_layer.is_some(), "derived");
    let head_of_line = judged.head_of_line.is_some();
    note("head_of_line_endpoint", head_of_line, "derived");
    note("head_of_line_share_percent", head_of_line, "derived");
    observations
}
