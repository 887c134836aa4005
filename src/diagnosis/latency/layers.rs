//! The layers of a request, outermost first: nginx's own share, connecting to the app, the
//! wait for a worker, the app server as nginx sees it (split into queue wait and service
//! when Little's law can), and inside the handler the database, external calls and the
//! Python code. Then their shares of the end-to-end total. Figures that contradict each
//! other are named in warnings and the layer clamped at zero, never silently dropped.

use crate::diagnosis::queueing::Split;
use crate::diagnosis::{SOURCE_CALLER, fmt_num, round};

use super::analysis::{Notes, Timings};
use super::report::Layer;

/// The layers found so far.
#[derive(Debug, Default)]
pub(super) struct Layers(pub Vec<Layer>);

impl Layers {
    fn push(&mut self, layer: &str, ms: f64, source: &str) {
        self.0.push(Layer {
            layer: layer.to_owned(),
            ms: round(ms, 3),
            percent_of_total: None,
            source: source.to_owned(),
        });
    }
}

/// nginx's own share, the upstream connect, and the queue wait when it is given or can be
/// derived from the app's request duration.
pub(super) fn outer(t: &Timings, layers: &mut Layers, notes: &mut Notes) {
    // nginx's own share: what the whole request took beyond the upstream.
    if let (Some(req), Some(up)) = (t.request.value, t.upstream.value) {
        // nginx rounds both to the millisecond and times them separately: allow for that.
        if up > req * 1.01 + 1.0 {
            notes.warnings.push(format!(
                "Inconsistent figures: upstream_response_time_ms ({}) is larger than request_time_ms ({}); they are probably from different windows or units. The nginx layer is set to 0.",
                fmt_num(up),
                fmt_num(req)
            ));
        }
        layers.push("nginx", (req - up).max(0.0), "derived");
    }
    if let Some(conn) = t.connect.value {
        layers.push("upstream_connect", conn, &t.connect.source);
        if let Some(up) = t.upstream.value.filter(|up| conn > *up) {
            notes.warnings.push(format!(
                "Inconsistent figures: upstream_connect_time_ms ({}) exceeds upstream_response_time_ms ({}).",
                fmt_num(conn),
                fmt_num(up)
            ));
        }
    }
    queue_wait(t, layers, notes);
}

/// Queue wait: given, or the unexplained remainder of the upstream time.
fn queue_wait(t: &Timings, layers: &mut Layers, notes: &mut Notes) {
    let connect = t.connect.value.unwrap_or(0.0);
    let upstream_rest = match (t.upstream.value, t.duration) {
        (Some(up), Some(d)) => Some(up - d - connect),
        _ => None,
    };
    match (t.queue, upstream_rest) {
        (Some(q), Some(rest)) => {
            layers.push("queue_wait", q, SOURCE_CALLER);
            let left = rest - q;
            if left < -(1.0f64).max(0.05 * t.upstream.value.unwrap_or(0.0)) {
                notes.warnings.push(format!(
                    "Inconsistent figures: request_duration_ms + queue_wait_ms + connect ({}) exceed upstream_response_time_ms ({}) by {} ms.",
                    fmt_num(t.duration.unwrap_or(0.0) + q + connect),
                    fmt_num(t.upstream.value.unwrap_or(0.0)),
                    fmt_num(-left)
                ));
            } else if left > 1.0 {
                layers.push("unaccounted", left, "derived");
            }
        }
        (Some(q), None) => layers.push("queue_wait", q, SOURCE_CALLER),
        (None, Some(rest)) if rest > 0.0 => {
            layers.push("queue_wait", rest, "derived");
            notes.warnings.push(format!(
                "queue_wait ({} ms) is derived as upstream_response_time − request_duration − connect; it also holds any time between nginx and the handler (WSGI server, middleware before the timer).",
                fmt_num(rest)
            ));
        }
        (None, Some(rest)) if rest < -1.0 => notes.warnings.push(format!(
            "Inconsistent figures: request_duration_ms ({}) is larger than upstream_response_time_ms ({}).",
            fmt_num(t.duration.unwrap_or(0.0)),
            fmt_num(t.upstream.value.unwrap_or(0.0))
        )),
        _ => {}
    }
}

/// Without the app's own timings, what nginx saw of the app server stays one layer — or
/// two, queue wait and service, when Little's law splits it.
pub(super) fn app_server(
    t: &Timings,
    whole_split: Option<Split>,
    layers: &mut Layers,
    notes: &mut Notes,
) {
    let (Some(up), None) = (t.upstream.value, t.duration) else {
        return;
    };
    let known = t.connect.value.unwrap_or(0.0)
        + t.queue.unwrap_or(0.0)
        + t.db.unwrap_or(0.0)
        + t.external.unwrap_or(0.0);
    if known > up + 1.0 {
        notes.warnings.push(format!(
            "Inconsistent figures: connect + queue + DB + external time ({} ms) exceeds upstream_response_time_ms ({} ms).",
            fmt_num(known),
            fmt_num(up)
        ));
    }
    match whole_split {
        Some(sp) => {
            layers.push("queue_wait", sp.queue_ms, "derived");
            layers.push(
                "app_service",
                (sp.service_ms - t.inside_handler()).max(0.0),
                "derived",
            );
        }
        None => layers.push("app_server", (up - known).max(0.0), &t.upstream.source),
    }
}

/// Inside the handler: DB, external calls, and the Python code itself.
pub(super) fn handler(t: &Timings, layers: &mut Layers, notes: &mut Notes) {
    if let Some(db) = t.db {
        layers.push("db", db, SOURCE_CALLER);
    }
    if let Some(ext) = t.external {
        layers.push("external_calls", ext, SOURCE_CALLER);
    }
    if let Some(d) = t.duration {
        let inside = t.inside_handler();
        if inside > d + 1.0 {
            notes.warnings.push(format!(
                "Inconsistent figures: DB + external time ({} ms) exceeds the request duration ({} ms); app_code is set to 0. Is query_latency_ms per query rather than per request?",
                fmt_num(inside),
                fmt_num(d)
            ));
        }
        layers.push("app_code", (d - inside).max(0.0), "derived");
    }
}

/// The end-to-end figures the layers are measured against.
#[derive(Debug)]
pub(super) struct Totals {
    /// The end-to-end mean, ms: nginx's view when there is one.
    pub total: Option<f64>,
    pub dominant_layer: Option<String>,
    pub queue_wait_percent: Option<f64>,
}

/// Each layer's share of the total (what the layers leave unexplained becomes
/// `unaccounted`), the layers sorted largest first, and the dominant one.
pub(super) fn totals(t: &Timings, layers: &mut Layers, notes: &mut Notes) -> Totals {
    let total = t
        .request
        .value
        .or_else(|| t.upstream.value.map(|u| u.max(0.0)))
        .or_else(|| t.duration.map(|d| d + t.queue.unwrap_or(0.0)))
        .filter(|t| *t > 0.0);
    let sum: f64 = layers.0.iter().map(|l| l.ms).sum();
    let denominator = total.map(|t| t.max(sum));
    if let (Some(t), true) = (total, sum > 0.0) {
        if sum > t * 1.02 + 1.0 {
            notes.warnings.push(format!(
                "The layers add up to {} ms, more than the {} ms total; shares are computed against the layer sum.",
                fmt_num(sum),
                fmt_num(t)
            ));
        } else if sum < t * 0.98 - 1.0 {
            layers.push("unaccounted", t - sum, "derived");
        }
    }
    if let Some(d) = denominator {
        for l in &mut layers.0 {
            l.percent_of_total = Some(round(l.ms / d * 100.0, 2));
        }
    }
    layers.0.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    let dominant_layer = layers
        .0
        .first()
        .filter(|l| l.ms > 0.0)
        .map(|l| l.layer.clone());
    let queue_ms = layers
        .0
        .iter()
        .find(|l| l.layer == "queue_wait")
        .map(|l| l.ms);
    let queue_wait_percent = match (queue_ms, denominator) {
        (Some(q), Some(d)) => Some(round(q / d * 100.0, 2)),
        _ => None,
    };
    Totals {
        total,
        dominant_layer,
        queue_wait_percent,
    }
}
