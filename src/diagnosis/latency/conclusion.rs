//! The conclusion of a breakdown: the verdict (the head-of-line route, the dominant layer
//! and what it means, the pattern, saturation) and the next steps in decision order — what
//! to fix first, then what to measure that is still missing.

use crate::diagnosis::symptoms::{self, DEFAULT_SLOW_MS, LatencyPattern};
use crate::diagnosis::{NextStep, fmt_num};

use super::analysis::Timings;
use super::input::LatencyInput;
use super::report::LatencyReport;

/// One sentence to act on: the route holding the line, the dominant layer and what it
/// means, the pattern of the endpoints, and whether requests queue for workers.
pub(super) fn verdict(r: &LatencyReport) -> String {
    let Some(top) = r.layers.first().filter(|l| l.ms > 0.0) else {
        let head = match r.latency_pattern {
            Some(p) => format!("No layer figures given; the endpoints show a {} pattern. Add nginx and app timings to see which layer is slow.", p.as_str().replace('_', "-")),
            None => "Too few figures to break latency down: give at least nginx request and upstream times, or the app's request duration and DB time per request.".to_owned(),
        };
        return format!("{head}{}", hot_replica_sentence(r));
    };
    let share = top
        .percent_of_total
        .map(|p| {
            format!(
                " ({}% of {} ms)",
                fmt_num(p),
                fmt_num(r.total_ms.unwrap_or(0.0))
            )
        })
        .unwrap_or_default();
    format!(
        "{}Dominant layer: {}{share} — {}.{}{}",
        head_of_line_lead(r),
        top.layer,
        layer_meaning(&top.layer),
        pattern_sentence(r),
        saturation_sentence(r)
    ) + &hot_replica_sentence(r)
}

/// One replica far busier than the rest of the fleet: a fix on that replica, not a route.
fn hot_replica_sentence(r: &LatencyReport) -> String {
    match r.fleet.as_ref().and_then(|f| f.hot_replica.as_ref()) {
        Some(h) => format!(
            " Replica {} is {}% busy against {}% for the others ({}): fix that replica, not a route.",
            h.replica,
            fmt_num(h.utilization_percent),
            fmt_num(h.others_median_percent),
            h.why
        ),
        None => String::new(),
    }
}

/// What it means that `layer` holds most of the time.
fn layer_meaning(layer: &str) -> &'static str {
    match layer {
        "db" => {
            "the database is where requests spend their time: find the slow queries before touching workers"
        }
        "queue_wait" => {
            "requests wait for a free worker: concurrency is short, so find out whether the workers are slow (latency) or too few (CPU-bound) before adding any"
        }
        "app_code" => {
            "the Python code itself is the slow layer: profile the hot endpoints (serialisation, N+1 loops, CPU work)"
        }
        "external_calls" => {
            "calls to other services dominate: cut, cache, parallelise or move them off the request path"
        }
        "nginx" => {
            "nginx-side time dominates: slow clients, large bodies or buffering, not the app"
        }
        "upstream_connect" => {
            "connecting to the app is slow: the app's accept queue is full, so workers are saturated"
        }
        "app_server" => {
            "the time is spent inside the app server (waiting for a worker, the Python handler and the DB together — nginx cannot tell them apart): add the app's own timings or the DB layer to split it"
        }
        "app_service" => {
            "the workers' own service time (the Python handler and what it waits on: DB, external calls) is the slow layer: find what the slowest routes spend it on"
        }
        _ => "part of the time is not explained by the figures given: add the missing layers",
    }
}

/// How slowness spreads over the endpoints, naming the slow ones of a long tail.
fn pattern_sentence(r: &LatencyReport) -> String {
    let slow: Vec<String> = r
        .endpoints
        .iter()
        .filter(|e| e.slow)
        .take(3)
        .map(|e| match e.share_of_worker_time_percent {
            Some(w) => format!(
                "{} (p99 {} ms, {}% of worker time)",
                e.endpoint,
                fmt_num(e.p99_ms),
                fmt_num(w)
            ),
            None => format!("{} (p99 {} ms)", e.endpoint, fmt_num(e.p99_ms)),
        })
        .collect();
    let long_tail = if slow.is_empty() {
        " A few endpoints are slow while the rest are fine (long tail).".to_owned()
    } else {
        format!(
            " Long tail: {} slow while the rest are fine.",
            slow.join(", ")
        )
    };
    let healthy = format!(
        " No endpoint is slow against {} ms ({}).",
        fmt_num(r.slow_threshold_ms.unwrap_or(DEFAULT_SLOW_MS)),
        r.slow_threshold_basis
            .map_or("the default", |b| b.describe())
    );
    match r.latency_pattern {
        Some(LatencyPattern::LongTail) => long_tail,
        Some(LatencyPattern::SystemWide) => {
            " Most traffic is slow (system-wide): adding workers will not help.".to_owned()
        }
        Some(LatencyPattern::Healthy) => healthy,
        None => String::new(),
    }
}

/// Whether requests queue for workers: busy workers and connections in the accept queue.
fn saturation_sentence(r: &LatencyReport) -> String {
    match (r.worker_utilization_percent, &r.accept_queue) {
        (Some(u), Some(q)) if q.nonzero_samples > 0 => format!(
            " Workers are {}% busy and up to {} connections wait in the accept queue: requests queue for workers.",
            fmt_num(u),
            fmt_num(q.max)
        ),
        (None, Some(q)) if q.nonzero_samples > 0 => format!(
            " Up to {} connections wait in the accept queue: requests queue for workers.",
            fmt_num(q.max)
        ),
        (Some(u), _) if u >= symptoms::thresholds::WORKERS_SATURATED_PERCENT => {
            format!(" Workers are {}% busy.", fmt_num(u))
        }
        _ => String::new(),
    }
}

/// The route holding the line, when there is one: it leads the verdict.
fn head_of_line_lead(r: &LatencyReport) -> String {
    match &r.head_of_line {
        Some(h) => format!(
            "Head-of-line blocking: {} holds {}% of the workers' service time with {}% of the requests (mean service {} ms against {} ms for the rest), and every request waits {} ms for a worker behind it. Make that route fast (Step 2); do not add workers or replicas. ",
            h.endpoint,
            fmt_num(h.share_of_service_time_percent),
            fmt_num(h.share_of_requests_percent),
            fmt_num(h.service_ms),
            fmt_num(h.others_service_ms),
            fmt_num(h.queue_wait_ms)
        ),
        None => String::new(),
    }
}

/// What to do next, in decision order: what to fix, then match_symptom, then what to
/// measure that is still missing.
pub(super) fn next_steps(r: &LatencyReport, t: &Timings, input: &LatencyInput) -> Vec<NextStep> {
    let mut steps = fix_steps(r);
    steps.push(
        NextStep::new("Pass the `observations` object to match_symptom unchanged, with app and DB CPU added if you have them.", "Step 2: the symptom matrix turns these figures into a cause and an action.")
            .with_tool("match_symptom"),
    );
    measure_steps(r, t, input, &mut steps);
    steps
}

/// What to fix first: the route holding the line, else the dominant layer, and a long tail.
fn fix_steps(r: &LatencyReport) -> Vec<NextStep> {
    let mut steps = Vec::new();
    if let Some(h) = &r.head_of_line {
        steps.push(
            NextStep::new(
                format!(
                    "Make {} fast: list the statements it runs and what runs now, then fix the slowest (an index, fewer queries, a cache); do not add workers or replicas meanwhile.",
                    h.endpoint
                ),
                format!(
                    "It holds {}% of the workers' service time; every other route is slow only because it waits {} ms behind it (head-of-line blocking, symptom E).",
                    fmt_num(h.share_of_service_time_percent),
                    fmt_num(h.queue_wait_ms)
                ),
            )
            .with_tool("slow_queries"),
        );
    }
    match r.dominant_layer.as_deref() {
        _ if r.head_of_line.is_some() => {}
        Some("db") => steps.push(NextStep::new("List the slowest and most time-consuming queries, and what runs right now.", "The DB layer dominates; Step 2 is fixing that latency.").with_tool("slow_queries")),
        Some("queue_wait") | Some("upstream_connect") => steps.push(NextStep::new(
            "Compute the ceiling and the queue with the current workers, latency and arrival rate.",
            "Queueing means demand is at the ceiling; the what-if shows whether cutting latency or adding workers moves it.",
        ).with_tool("capacity_math")),
        Some("external_calls") => steps.push(NextStep::new("Find which external calls each slow endpoint makes (APM spans), and cache, batch or move them to a background job.", "External calls hold a worker while waiting.")),
        Some("app_code") => steps.push(NextStep::new("Profile the slowest endpoints (py-spy dump/top on a busy worker).", "Time is spent in Python itself.")),
        Some("app_server") => steps.push(NextStep::new("Measure the DB time of the slowest endpoints' requests, and what runs right now.", "The app server holds the time; the database is the most common reason a handler is slow.").with_tool("slow_queries")),
        Some("app_service") => steps.push(NextStep::new("Find what the slowest routes spend their service time on: their database statements first, then a profile of a busy worker (py-spy dump).", "The workers' own time is the slow layer, not waiting for them.").with_tool("slow_queries")),
        _ => {}
    }
    if r.latency_pattern == Some(LatencyPattern::LongTail) && r.head_of_line.is_none() {
        let slow: Vec<&str> = r
            .endpoints
            .iter()
            .filter(|e| e.slow)
            .take(3)
            .map(|e| e.endpoint.as_str())
            .collect();
        if !slow.is_empty() {
            steps.push(NextStep::new(
                format!("Make {} fast or move its work to a background job; size workers as a buffer for it only meanwhile.", slow.join(", ")),
                "A long tail holds workers that the fast endpoints need (symptom E); fixing it raises the ceiling without new workers.",
            ));
        }
    }
    steps
}

/// The measurements still missing, each with the tool or source that gives it.
fn measure_steps(r: &LatencyReport, t: &Timings, input: &LatencyInput, steps: &mut Vec<NextStep>) {
    if t.request.value.is_none() || t.upstream.value.is_none() {
        steps.push(NextStep::new(
            "Pass `access_log` {path, log_format} to read nginx's $request_time and $upstream_response_time (add them to the log_format if missing: preset `timed`).",
            "Without them the nginx share and the end-to-end total are unknown.",
        ).with_tool("break_down_latency"));
    }
    if t.db.is_none()
        && !steps
            .iter()
            .any(|s| s.tool.as_deref() == Some("slow_queries"))
    {
        steps.push(
            NextStep::new(
                "Measure DB time per request (APM DB spans, or pg_stat_statements).",
                "The DB layer is unknown, and it is the most common slow layer.",
            )
            .with_tool("slow_queries"),
        );
    }
    if r.worker_utilization_percent.is_none() {
        steps.push(NextStep::new(
            "Read busy and idle workers: pass `gunicorn_metrics_url` (Prometheus gauges) or `uwsgi_stats`, or give figures.gunicorn.",
            "Worker utilisation says whether requests queue for workers.",
        ).with_tool("break_down_latency"));
    }
    if r.accept_queue.is_none() {
        steps.push(NextStep::new(
            "Pass `listen_port` (the port Gunicorn/uWSGI binds) when running on the app's host to read its accept queue.",
            "A non-empty accept queue is direct evidence that requests wait for a free worker; it needs nothing installed.",
        ).with_tool("break_down_latency"));
    }
    if r.endpoints.is_empty() {
        steps.push(NextStep::new(
            "Add per-endpoint latency: pass `access_log`, or `endpoints` from Sentry's performance view or APM.",
            "They decide long tail (E) against system-wide (F).",
        ));
    }
    if input.figures.db.cpu_percent.is_none() && input.rds_instance.is_none() {
        steps.push(NextStep::new(
            "Give the database's CPU for the same window as figures.db.cpu_percent: on AWS RDS, name the instance in `rds_instance` (check_rds_iops reads CPU and storage); elsewhere, the database host's own CPU (top, node exporter).",
            "Low DB CPU with queueing points at storage (symptom B); high DB CPU at the queries (C/D).",
        ));
    }
}
