//! Step 1: where does the time of a request go?
//!
//! From per-request averages the caller already has (nginx `$request_time` and
//! `$upstream_response_time`, the app's own request duration and queue wait, Gunicorn's
//! busy/idle workers, database time) this splits a request into layers:
//!
//! | layer | how |
//! |---|---|
//! | `nginx` | request_time − upstream_response_time (client I/O, buffering, TLS) |
//! | `upstream_connect` | upstream_connect_time |
//! | `queue_wait` | app queue_wait_ms, or the unexplained part of upstream time when only that is known |
//! | `app_code` | request_duration − db − external calls |
//! | `db` | database time per request |
//! | `external_calls` | time in HTTP calls to other services |
//! | `unaccounted` | upstream time left over after connect + queue + request duration |
//!
//! Figures that contradict each other (upstream longer than the whole request, DB time longer
//! than the request) are reported in `warnings` and the affected layer is clamped at zero,
//! never silently dropped. A layer that cannot be computed from what was given is left out
//! and named in `next_steps`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::symptoms::{self, DEFAULT_SLOW_MS, EndpointLatency, LatencyPattern, Observations};
use super::{
    Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, check_opt_range, fmt_num, round,
};

/// Figures the caller already has, as averages per request over the same window.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Figures {
    /// From nginx access logs (`$request_time`, `$upstream_*_time`, converted to ms).
    #[serde(default)]
    pub nginx: NginxFigures,
    /// From the app's own instrumentation (middleware, APM, Sentry spans).
    #[serde(default)]
    pub app: AppFigures,
    /// Worker state from Gunicorn/uWSGI metrics.
    #[serde(default)]
    pub gunicorn: GunicornFigures,
    /// From the database (pg_stat_statements, CloudWatch, APM DB spans).
    #[serde(default)]
    pub db: DbFigures,
}

/// nginx timings per request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NginxFigures {
    /// Mean `$request_time` (whole request as nginx saw it), ms.
    #[serde(default)]
    pub request_time_ms: Option<f64>,
    /// Mean `$upstream_response_time` (time the app took, from nginx's side), ms.
    #[serde(default)]
    pub upstream_response_time_ms: Option<f64>,
    /// Mean `$upstream_connect_time`, ms. High values mean the app's accept queue is full.
    #[serde(default)]
    pub upstream_connect_time_ms: Option<f64>,
}

/// The app's own timings per request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppFigures {
    /// Mean time inside the Python handler (middleware or APM transaction duration), ms.
    #[serde(default)]
    pub request_duration_ms: Option<f64>,
    /// Mean time a request waited for a free worker before the handler started
    /// (e.g. X-Request-Start header vs handler start), ms.
    #[serde(default)]
    pub queue_wait_ms: Option<f64>,
    /// Mean time per request in HTTP calls to other services (APM http spans), ms.
    #[serde(default)]
    pub external_calls_ms: Option<f64>,
}

/// Worker counts across the fleet (or one replica), sampled at the same time.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GunicornFigures {
    /// Workers idle.
    #[serde(default)]
    pub idle_workers: Option<f64>,
    /// Workers handling a request.
    #[serde(default)]
    pub busy_workers: Option<f64>,
}

/// Database figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DbFigures {
    /// Database CPU, 0–100 percent (e.g. RDS CPUUtilization).
    #[serde(default)]
    pub cpu_percent: Option<f64>,
    /// Mean database time per request (all its queries together), ms. If you only know the
    /// latency of one query, also pass `queries_per_request`.
    #[serde(default)]
    pub query_latency_ms: Option<f64>,
    /// Queries per request; multiplies `query_latency_ms` when that is per query.
    #[serde(default)]
    pub queries_per_request: Option<f64>,
    /// Active database sessions (pg_stat_activity state = 'active').
    #[serde(default)]
    pub active_sessions: Option<f64>,
    /// Share of database time waiting on IO, 0–100.
    #[serde(default)]
    pub io_wait_percent: Option<f64>,
}

/// What to break down.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencyInput {
    /// Figures you already have, per request, averaged over one window.
    #[serde(default)]
    pub figures: Figures,
    /// Per-endpoint latency (from Sentry's performance view, APM or logs); decides
    /// `latency_pattern`.
    #[serde(default)]
    pub endpoints: Vec<EndpointLatency>,
    /// p99 above which an endpoint counts as slow, in ms (default 1000).
    #[serde(default = "default_slow_ms")]
    pub slow_threshold_ms: f64,
    /// An RDS instance to check (check_rds_iops): its storage verdict fills
    /// `observations.db_io_saturated`, `disk_queue_depth` and `db_cpu_percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_instance: Option<super::storage::RdsInstanceRef>,
}

fn default_slow_ms() -> f64 {
    DEFAULT_SLOW_MS
}

/// Where the time goes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct LatencyReport {
    /// Layers with their mean ms per request, largest share first.
    pub layers: Vec<Layer>,
    /// The end-to-end mean the shares are computed against, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<f64>,
    /// busy ÷ (busy + idle) × 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_utilization_percent: Option<f64>,
    /// queue wait ÷ total × 100: how much of a request is spent waiting for a worker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_wait_percent: Option<f64>,
    /// The layer with the largest share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dominant_layer: Option<String>,
    /// `long_tail`, `system_wide` or `healthy`, from `endpoints`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_pattern: Option<LatencyPattern>,
    /// The endpoints considered, slowest p99 first.
    pub endpoints: Vec<EndpointStats>,
    /// Ready to pass to match_symptom unchanged, as `{"observations": ...}`.
    pub observations: Observations,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One layer of the request.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Layer {
    /// `nginx`, `upstream_connect`, `queue_wait`, `app_code`, `db`, `external_calls`, `unaccounted`.
    pub layer: String,
    /// Mean ms per request in this layer.
    pub ms: f64,
    /// Share of the end-to-end time, 0–100 (absent when the total is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_total: Option<f64>,
    /// Where the figure came from (`caller`, or `derived` when computed from other figures).
    pub source: String,
}

/// Per-endpoint statistics.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct EndpointStats {
    /// Route, e.g. `GET /api/orders/{id}`.
    pub endpoint: String,
    pub requests: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Whether its p99 exceeds the slow threshold.
    pub slow: bool,
    /// Share of all requests, 0–100.
    pub share_of_requests_percent: f64,
}

struct Checked {
    request: Option<f64>,
    upstream: Option<f64>,
    connect: Option<f64>,
    duration: Option<f64>,
    queue: Option<f64>,
    external: Option<f64>,
    db: Option<f64>,
}

fn validate(input: &LatencyInput) -> Result<Checked, InputError> {
    let f = &input.figures;
    let ms = |field: &str, v: Option<f64>| {
        check_opt_range(
            field,
            v,
            0.0,
            86_400_000.0,
            "pass a mean latency in milliseconds (seconds × 1000)",
        )
    };
    let request = ms("figures.nginx.request_time_ms", f.nginx.request_time_ms)?;
    let upstream = ms(
        "figures.nginx.upstream_response_time_ms",
        f.nginx.upstream_response_time_ms,
    )?;
    let connect = ms(
        "figures.nginx.upstream_connect_time_ms",
        f.nginx.upstream_connect_time_ms,
    )?;
    let duration = ms("figures.app.request_duration_ms", f.app.request_duration_ms)?;
    let queue = ms("figures.app.queue_wait_ms", f.app.queue_wait_ms)?;
    let external = ms("figures.app.external_calls_ms", f.app.external_calls_ms)?;
    let query = ms("figures.db.query_latency_ms", f.db.query_latency_ms)?;
    let per_request = check_opt_range(
        "figures.db.queries_per_request",
        f.db.queries_per_request,
        0.0,
        1e6,
        "pass the number of queries one request makes",
    )?;
    check_opt_range(
        "figures.gunicorn.idle_workers",
        f.gunicorn.idle_workers,
        0.0,
        1e7,
        "pass a worker count",
    )?;
    check_opt_range(
        "figures.gunicorn.busy_workers",
        f.gunicorn.busy_workers,
        0.0,
        1e7,
        "pass a worker count",
    )?;
    check_opt_range(
        "figures.db.cpu_percent",
        f.db.cpu_percent,
        0.0,
        100.0,
        "pass a percentage between 0 and 100",
    )?;
    check_opt_range(
        "figures.db.active_sessions",
        f.db.active_sessions,
        0.0,
        1e7,
        "pass a session count",
    )?;
    check_opt_range(
        "figures.db.io_wait_percent",
        f.db.io_wait_percent,
        0.0,
        100.0,
        "pass a percentage between 0 and 100",
    )?;
    if !input.slow_threshold_ms.is_finite() || input.slow_threshold_ms <= 0.0 {
        return Err(InputError::new(
            "slow_threshold_ms",
            "must be a positive number of milliseconds (default 1000)",
        ));
    }
    let probe = Observations {
        endpoints: input.endpoints.clone(),
        ..Default::default()
    };
    symptoms::validate(&probe, "")?;
    Ok(Checked {
        request,
        upstream,
        connect,
        duration,
        queue,
        external,
        db: query.map(|q| q * per_request.unwrap_or(1.0)),
    })
}

/// Breaks latency down by layer.
pub fn analyze(input: &LatencyInput) -> Result<LatencyReport, InputError> {
    let c = validate(input)?;
    let f = &input.figures;
    let mut warnings = Vec::new();
    let mut evidence = Vec::new();
    let mut layers: Vec<Layer> = Vec::new();
    let push = |layers: &mut Vec<Layer>, layer: &str, ms: f64, source: &str| {
        layers.push(Layer {
            layer: layer.to_owned(),
            ms: round(ms, 3),
            percent_of_total: None,
            source: source.to_owned(),
        })
    };

    for (metric, v) in [
        ("nginx.request_time_ms", c.request),
        ("nginx.upstream_response_time_ms", c.upstream),
        ("nginx.upstream_connect_time_ms", c.connect),
        ("app.request_duration_ms", c.duration),
        ("app.queue_wait_ms", c.queue),
        ("app.external_calls_ms", c.external),
        ("db.time_per_request_ms", c.db),
    ] {
        if let Some(v) = v {
            evidence.push(Evidence::number(metric, v, "ms", SOURCE_CALLER));
        }
    }

    // nginx's own share: what the whole request took beyond the upstream.
    if let (Some(req), Some(up)) = (c.request, c.upstream) {
        if up > req {
            warnings.push(format!(
                "Inconsistent figures: upstream_response_time_ms ({}) is larger than request_time_ms ({}); they are probably from different windows or units. The nginx layer is set to 0.",
                fmt_num(up),
                fmt_num(req)
            ));
        }
        push(&mut layers, "nginx", (req - up).max(0.0), "derived");
    }
    if let Some(conn) = c.connect {
        push(&mut layers, "upstream_connect", conn, SOURCE_CALLER);
        if let Some(up) = c.upstream.filter(|up| conn > *up) {
            warnings.push(format!("Inconsistent figures: upstream_connect_time_ms ({}) exceeds upstream_response_time_ms ({}).", fmt_num(conn), fmt_num(up)));
        }
    }

    // Queue wait: given, or the unexplained remainder of the upstream time.
    let upstream_rest = match (c.upstream, c.duration) {
        (Some(up), Some(d)) => Some(up - d - c.connect.unwrap_or(0.0)),
        _ => None,
    };
    match (c.queue, upstream_rest) {
        (Some(q), Some(rest)) => {
            push(&mut layers, "queue_wait", q, SOURCE_CALLER);
            let left = rest - q;
            if left < -(1.0f64).max(0.05 * c.upstream.unwrap_or(0.0)) {
                warnings.push(format!(
                    "Inconsistent figures: request_duration_ms + queue_wait_ms + connect ({}) exceed upstream_response_time_ms ({}) by {} ms.",
                    fmt_num(c.duration.unwrap_or(0.0) + q + c.connect.unwrap_or(0.0)),
                    fmt_num(c.upstream.unwrap_or(0.0)),
                    fmt_num(-left)
                ));
            } else if left > 1.0 {
                push(&mut layers, "unaccounted", left, "derived");
            }
        }
        (Some(q), None) => push(&mut layers, "queue_wait", q, SOURCE_CALLER),
        (None, Some(rest)) if rest > 0.0 => {
            push(&mut layers, "queue_wait", rest, "derived");
            warnings.push(format!(
                "queue_wait ({} ms) is derived as upstream_response_time − request_duration − connect; it also holds any time between nginx and the handler (WSGI server, middleware before the timer).",
                fmt_num(rest)
            ));
        }
        (None, Some(rest)) if rest < -1.0 => warnings.push(format!(
            "Inconsistent figures: request_duration_ms ({}) is larger than upstream_response_time_ms ({}).",
            fmt_num(c.duration.unwrap_or(0.0)),
            fmt_num(c.upstream.unwrap_or(0.0))
        )),
        _ => {}
    }

    // Inside the handler: DB, external calls, and the Python code itself.
    if let Some(db) = c.db {
        push(&mut layers, "db", db, SOURCE_CALLER);
    }
    if let Some(ext) = c.external {
        push(&mut layers, "external_calls", ext, SOURCE_CALLER);
    }
    if let Some(d) = c.duration {
        let inside = c.db.unwrap_or(0.0) + c.external.unwrap_or(0.0);
        if inside > d + 1.0 {
            warnings.push(format!(
                "Inconsistent figures: DB + external time ({} ms) exceeds the request duration ({} ms); app_code is set to 0. Is query_latency_ms per query rather than per request?",
                fmt_num(inside),
                fmt_num(d)
            ));
        }
        push(&mut layers, "app_code", (d - inside).max(0.0), "derived");
    }

    // The total the shares are against: nginx's view when there is one.
    let total = c
        .request
        .or_else(|| c.upstream.map(|u| u.max(0.0)))
        .or_else(|| c.duration.map(|d| d + c.queue.unwrap_or(0.0)))
        .filter(|t| *t > 0.0);
    let sum: f64 = layers.iter().map(|l| l.ms).sum();
    let denominator = total.map(|t| t.max(sum));
    if let (Some(t), true) = (total, sum > 0.0) {
        if sum > t * 1.02 + 1.0 {
            warnings.push(format!("The layers add up to {} ms, more than the {} ms total; shares are computed against the layer sum.", fmt_num(sum), fmt_num(t)));
        } else if sum < t * 0.98 - 1.0 {
            push(&mut layers, "unaccounted", t - sum, "derived");
        }
    }
    if let Some(d) = denominator {
        for l in &mut layers {
            l.percent_of_total = Some(round(l.ms / d * 100.0, 2));
        }
    }
    layers.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    let dominant_layer = layers
        .first()
        .filter(|l| l.ms > 0.0)
        .map(|l| l.layer.clone());

    let worker_utilization_percent = match (f.gunicorn.busy_workers, f.gunicorn.idle_workers) {
        (Some(b), Some(i)) if b + i > 0.0 => Some(round(b / (b + i) * 100.0, 2)),
        _ => None,
    };
    if let Some(u) = worker_utilization_percent {
        evidence.push(Evidence::number(
            "worker_utilization_percent",
            u,
            "percent",
            "derived",
        ));
    }
    let queue_ms = layers
        .iter()
        .find(|l| l.layer == "queue_wait")
        .map(|l| l.ms);
    let queue_wait_percent = match (queue_ms, denominator) {
        (Some(q), Some(d)) => Some(round(q / d * 100.0, 2)),
        _ => None,
    };

    let pattern = symptoms::classify_pattern(&input.endpoints, input.slow_threshold_ms);
    let total_requests: u64 = input.endpoints.iter().map(|e| e.requests).sum();
    let mut endpoints: Vec<EndpointStats> = input
        .endpoints
        .iter()
        .map(|e| EndpointStats {
            endpoint: e.endpoint.clone(),
            requests: e.requests,
            p50_ms: e.p50_ms,
            p99_ms: e.p99_ms,
            slow: e.p99_ms > input.slow_threshold_ms,
            share_of_requests_percent: if total_requests > 0 {
                round(e.requests as f64 / total_requests as f64 * 100.0, 2)
            } else {
                0.0
            },
        })
        .collect();
    endpoints.sort_by(|a, b| b.p99_ms.total_cmp(&a.p99_ms));
    if let Some((p, share)) = pattern {
        evidence.push(Evidence::text("latency_pattern", p.as_str(), "derived"));
        evidence.push(Evidence::number(
            "slow_endpoint_request_share_percent",
            share * 100.0,
            "percent",
            "derived",
        ));
    }

    let observations = Observations {
        workers_busy_percent: worker_utilization_percent,
        db_cpu_percent: f.db.cpu_percent,
        latency_pattern: pattern.map(|(p, _)| p),
        endpoints: input.endpoints.clone(),
        ..Default::default()
    };

    let mut report = LatencyReport {
        total_ms: total.map(|t| round(t, 3)),
        layers,
        worker_utilization_percent,
        queue_wait_percent,
        dominant_layer,
        latency_pattern: pattern.map(|(p, _)| p),
        endpoints,
        observations,
        conclusion: Conclusion {
            evidence,
            warnings,
            ..Conclusion::default()
        },
    };
    report.conclusion.verdict = verdict(&report);
    report.conclusion.next_steps = next_steps(&report, &c, input);
    Ok(report)
}

fn verdict(r: &LatencyReport) -> String {
    let Some(top) = r.layers.first().filter(|l| l.ms > 0.0) else {
        return match r.latency_pattern {
            Some(p) => format!("No layer figures given; the endpoints show a {} pattern. Add nginx and app timings to see which layer is slow.", p.as_str().replace('_', "-")),
            None => "Too few figures to break latency down: give at least nginx request and upstream times, or the app's request duration and DB time per request.".to_owned(),
        };
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
    let what = match top.layer.as_str() {
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
        _ => "part of the time is not explained by the figures given: add the missing layers",
    };
    let pattern = match r.latency_pattern {
        Some(LatencyPattern::LongTail) => {
            " A few endpoints are slow while the rest are fine (long tail)."
        }
        Some(LatencyPattern::SystemWide) => {
            " Most traffic is slow (system-wide): adding workers will not help."
        }
        Some(LatencyPattern::Healthy) => " No endpoint is slow against the threshold.",
        None => "",
    };
    format!("Dominant layer: {}{share} — {what}.{pattern}", top.layer)
}

fn next_steps(r: &LatencyReport, c: &Checked, input: &LatencyInput) -> Vec<NextStep> {
    let mut steps = Vec::new();
    match r.dominant_layer.as_deref() {
        Some("db") => steps.push(NextStep::new("List the slowest and most time-consuming queries, and what runs right now.", "The DB layer dominates; Step 2 is fixing that latency.").with_tool("slow_queries")),
        Some("queue_wait") | Some("upstream_connect") => steps.push(NextStep::new(
            "Compute the ceiling and the queue with the current workers, latency and arrival rate.",
            "Queueing means demand is at the ceiling; the what-if shows whether cutting latency or adding workers moves it.",
        ).with_tool("capacity_math")),
        Some("external_calls") => steps.push(NextStep::new("Find which external calls each slow endpoint makes (APM spans), and cache, batch or move them to a background job.", "External calls hold a worker while waiting.")),
        Some("app_code") => steps.push(NextStep::new("Profile the slowest endpoints (py-spy dump/top on a busy worker).", "Time is spent in Python itself.")),
        _ => {}
    }
    steps.push(
        NextStep::new("Pass the `observations` object to match_symptom unchanged, with app and DB CPU added if you have them.", "Step 2: the symptom matrix turns these figures into a cause and an action.")
            .with_tool("match_symptom"),
    );
    if c.request.is_none() || c.upstream.is_none() {
        steps.push(NextStep::new(
            "Add nginx request_time and upstream_response_time (log_format with $request_time $upstream_response_time).",
            "Without them the nginx share and the end-to-end total are unknown.",
        ));
    }
    if c.db.is_none() {
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
            "Collect busy and idle worker counts (Gunicorn statsd/Prometheus gauges, uWSGI stats).",
            "Worker utilisation says whether requests queue for workers.",
        ));
    }
    if input.endpoints.is_empty() {
        steps.push(NextStep::new(
            "Add per-endpoint p50/p99 and request counts (Sentry performance, APM or nginx logs).",
            "They decide long tail (E) against system-wide (F).",
        ));
    }
    if input.figures.db.cpu_percent.is_none() {
        steps.push(
            NextStep::new(
                "Check DB CPU and storage IOPS for the same window.",
                "Low DB CPU with queueing points at storage (symptom B).",
            )
            .with_tool("check_rds_iops"),
        );
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(req: f64, up: f64, dur: f64, queue: f64, db: f64) -> LatencyInput {
        LatencyInput {
            figures: Figures {
                nginx: NginxFigures {
                    request_time_ms: Some(req),
                    upstream_response_time_ms: Some(up),
                    upstream_connect_time_ms: None,
                },
                app: AppFigures {
                    request_duration_ms: Some(dur),
                    queue_wait_ms: Some(queue),
                    external_calls_ms: None,
                },
                db: DbFigures {
                    query_latency_ms: Some(db),
                    ..Default::default()
                },
                ..Default::default()
            },
            endpoints: vec![],
            slow_threshold_ms: DEFAULT_SLOW_MS,
            rds_instance: None,
        }
    }

    #[test]
    fn db_dominates_and_shares_add_up() {
        let r = analyze(&figures(1200.0, 1150.0, 1100.0, 50.0, 900.0)).unwrap();
        assert_eq!(r.dominant_layer.as_deref(), Some("db"));
        let get = |name: &str| r.layers.iter().find(|l| l.layer == name).map(|l| l.ms);
        assert_eq!(get("nginx"), Some(50.0));
        assert_eq!(get("queue_wait"), Some(50.0));
        assert_eq!(get("app_code"), Some(200.0));
        assert_eq!(get("db"), Some(900.0));
        let total: f64 = r.layers.iter().filter_map(|l| l.percent_of_total).sum();
        assert!((total - 100.0).abs() < 0.05, "{total}");
        assert_eq!(r.queue_wait_percent, Some(4.17));
        assert!(
            r.conclusion.warnings.is_empty(),
            "{:?}",
            r.conclusion.warnings
        );
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("slow_queries")
        );
    }

    #[test]
    fn upstream_longer_than_request_is_flagged() {
        let r = analyze(&figures(100.0, 300.0, 90.0, 0.0, 10.0)).unwrap();
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("larger than request_time_ms")),
            "{:?}",
            r.conclusion.warnings
        );
        assert!(r.layers.iter().all(|l| l.ms >= 0.0));
    }

    #[test]
    fn db_longer_than_request_is_flagged() {
        let r = analyze(&figures(1000.0, 990.0, 500.0, 0.0, 800.0)).unwrap();
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("exceeds the request duration")),
            "{:?}",
            r.conclusion.warnings
        );
        assert_eq!(
            r.layers.iter().find(|l| l.layer == "app_code").unwrap().ms,
            0.0
        );
    }

    #[test]
    fn queue_wait_is_derived_when_not_given() {
        let mut i = figures(2000.0, 1950.0, 450.0, 0.0, 300.0);
        i.figures.app.queue_wait_ms = None;
        i.figures.gunicorn = GunicornFigures {
            idle_workers: Some(0.0),
            busy_workers: Some(8.0),
        };
        let r = analyze(&i).unwrap();
        assert_eq!(r.dominant_layer.as_deref(), Some("queue_wait"));
        assert_eq!(r.worker_utilization_percent, Some(100.0));
        assert_eq!(r.observations.workers_busy_percent, Some(100.0));
        assert_eq!(r.layers[0].source, "derived");
    }

    #[test]
    fn per_query_latency_times_queries() {
        let mut i = figures(1000.0, 990.0, 980.0, 0.0, 20.0);
        i.figures.db.queries_per_request = Some(40.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.layers.iter().find(|l| l.layer == "db").unwrap().ms, 800.0);
    }

    #[test]
    fn observations_feed_match_symptom() {
        let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
        i.endpoints = vec![
            EndpointLatency {
                endpoint: "GET /a".into(),
                requests: 1000,
                p50_ms: 900.0,
                p99_ms: 3000.0,
            },
            EndpointLatency {
                endpoint: "GET /b".into(),
                requests: 900,
                p50_ms: 800.0,
                p99_ms: 2500.0,
            },
        ];
        let r = analyze(&i).unwrap();
        assert_eq!(r.latency_pattern, Some(LatencyPattern::SystemWide));
        let m = symptoms::analyze(&symptoms::MatchInput {
            observations: r.observations,
        })
        .unwrap();
        assert_eq!(m.matches[0].symptom, "F");
    }

    #[test]
    fn nothing_given_says_what_to_collect() {
        let r = analyze(&LatencyInput {
            slow_threshold_ms: 1000.0,
            ..Default::default()
        })
        .unwrap();
        assert!(r.layers.is_empty());
        assert!(r.conclusion.verdict.starts_with("Too few figures"));
        assert!(r.dominant_layer.is_none());
    }

    #[test]
    fn negative_figures_are_errors() {
        let mut i = figures(1200.0, 1150.0, 1100.0, 50.0, 900.0);
        i.figures.nginx.request_time_ms = Some(-1.0);
        assert_eq!(
            analyze(&i).unwrap_err().field,
            "figures.nginx.request_time_ms"
        );
    }
}
