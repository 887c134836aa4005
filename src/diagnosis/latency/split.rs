//! Queue wait against service time: with worker state (or the backlog) and the request
//! rate, Little's law splits what nginx saw of the app server (see
//! [`crate::diagnosis::queueing`]). The app's own timings, when given, are better and are
//! used instead. The split is found for the log's last seconds, which match the moment the
//! workers were sampled, and applied to the whole log as a share.

use crate::diagnosis::queueing::{self, Method, NoSplit, Split};
use crate::diagnosis::{Evidence, fmt_num, round};

use super::analysis::{Notes, Timings};
use super::log::Load;
use super::report::QueueReport;

/// The split, as found and as applied to the whole log's means.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Splits {
    /// For the moment the workers were sampled: the service time reported.
    pub recent: Option<Split>,
    /// For the whole log: the layers and the routes' service times.
    pub whole: Option<Split>,
}

/// Splits the upstream time into the wait for a worker and the service time, when the app's
/// own timings are not given and the busy workers or the backlog and the rate are known.
pub(super) fn queue_from_service(
    t: &Timings,
    load: Load,
    busy: Option<f64>,
    accept_queue: Option<&QueueReport>,
    notes: &mut Notes,
) -> Splits {
    // The log's last seconds, when worker state was sampled, match the samples' moment.
    let split_upstream = match (load.recent_upstream_ms, t.upstream.measured()) {
        (Some(r), true) => Some(r),
        _ => t.upstream.value,
    };
    let recent = match (split_upstream, load.recent_rps.or(load.throughput)) {
        (Some(up), Some(rps)) if t.duration.is_none() && t.queue.is_none() => {
            match queueing::split(
                up,
                t.connect.value.unwrap_or(0.0),
                busy,
                accept_queue.map(|q| q.mean),
                rps,
            ) {
                Ok(sp) => Some(sp),
                Err(NoSplit::Inconsistent {
                    busy_ms_per_request,
                }) => {
                    notes.warnings.push(format!(
                        "Queue wait and service time are not split: the workers are busier than the logged requests account for ({} busy at {} rps is {} ms per request, but the requests logged took {} ms). Long requests are in flight and not yet in the log (it records completions), or the log covers another moment than the samples: read again once they finish, or pass `since` covering the incident.",
                        fmt_num(busy.unwrap_or(0.0)),
                        fmt_num(rps),
                        fmt_num(busy_ms_per_request),
                        fmt_num(up)
                    ));
                    None
                }
                Err(NoSplit::Missing) => None,
            }
        }
        _ => None,
    };
    // The layers and the routes are means over the whole log: the split found for the last
    // seconds is applied to them as a share.
    let whole = match (recent, split_upstream, t.upstream.value) {
        (Some(sp), Some(recent_up), Some(up))
            if recent_up > 0.0 && (recent_up - up).abs() > 1e-9 =>
        {
            let handled = (up - t.connect.value.unwrap_or(0.0)).max(0.0);
            let share = sp.queue_ms / (sp.queue_ms + sp.service_ms).max(1e-9);
            Some(Split {
                queue_ms: round(handled * share, 3),
                service_ms: round(handled * (1.0 - share), 3),
                ..sp
            })
        }
        _ => recent,
    };
    match recent {
        Some(sp) => split_evidence(sp, notes),
        None if t.upstream.value.is_some()
            && t.duration.is_none()
            && t.queue.is_none()
            && (busy.is_none() && accept_queue.is_none() || load.throughput.is_none()) =>
        {
            notes.warnings.push("Upstream time includes any wait for a free worker: without worker state (gunicorn_metrics_url, uwsgi_stats or figures.gunicorn) or the accept queue (listen_port), and the request rate from the log, the wait cannot be told from the service time, and worker time per endpoint counts both.".to_owned());
        }
        None => {}
    }
    Splits { recent, whole }
}

/// The split's figures and method, and a warning when its two estimates of the wait differ.
fn split_evidence(sp: Split, notes: &mut Notes) {
    let method = match sp.method {
        Method::BusyWorkers => "derived:littles_law_busy_workers",
        Method::AcceptQueue => "derived:littles_law_accept_queue",
    };
    let ev = &mut notes.evidence;
    ev.push(Evidence::number(
        "service_time_ms",
        sp.service_ms,
        "ms",
        method,
    ));
    ev.push(Evidence::number("queue_wait_ms", sp.queue_ms, "ms", method));
    ev.push(Evidence::text(
        "queue_split_method",
        sp.method.describe(),
        method,
    ));
    if let (Method::BusyWorkers, Some(b)) = (sp.method, sp.queue_from_backlog_ms) {
        ev.push(Evidence::number(
            "queue_wait_from_accept_queue_ms",
            b,
            "ms",
            "derived:littles_law_accept_queue",
        ));
        if (b - sp.queue_ms).abs() > 0.5 * b.max(sp.queue_ms) && (b - sp.queue_ms).abs() > 20.0 {
            notes.warnings.push(format!(
                "The two estimates of the wait for a worker disagree: {} ms from busy workers, {} ms from the accept queue. The worker samples and the log may cover different moments; sample while the load is on, over the log's window.",
                fmt_num(sp.queue_ms),
                fmt_num(b)
            ));
        }
    }
}
