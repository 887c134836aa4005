//! Every check of a break_down_latency input that needs no I/O, run once.
//!
//! [`check`] turns a [`LatencyInput`] into a [`LatencyCheck`]: the figures in range, the
//! judging and sampling settings sane, and — when an access log is named — its `log_format`
//! compiled, `since` / `until` resolved against the clock given, and its route templates
//! parsed into a [`LogPlan`]. A typo fails here, before any file is opened; the analyses
//! take the checked value and never validate again.

use crate::diagnosis::access_log::{LogOptions, RouteTemplate};
use crate::diagnosis::nginx_format::LogFormat;
use crate::diagnosis::symptoms::{self, Observations};
use crate::diagnosis::window::resolve_time;
use crate::diagnosis::{InputError, check_opt_range};

use crate::diagnosis::fleet::Selector;

use super::input::{AccessLogInput, Figures, LatencyInput, PrometheusInput};

/// The fleet to read from a Prometheus engine: the engine's name, the checked selector and
/// the window in Unix seconds.
#[derive(Debug, Clone)]
pub struct FleetPlan {
    pub engine: String,
    pub selector: Selector,
    pub since: i64,
    pub until: i64,
}

/// The window when `prometheus.since` is left out, seconds.
pub const DEFAULT_FLEET_WINDOW_SECS: i64 = 15 * 60;

/// How to read the access log an input names: the compiled format, the window and route
/// templates to apply, and the paths as the caller gave them (the caller of [`check`]
/// expands them under the operator's allow-list before reading).
#[derive(Debug, Clone)]
pub struct LogPlan {
    pub format: LogFormat,
    pub options: LogOptions,
    pub paths: Vec<String>,
}

/// A break_down_latency input that passed [`check`]: what [`super::analyze`] and
/// [`super::analyze_measured`] take, so they never validate again.
#[derive(Debug, Clone)]
pub struct LatencyCheck {
    input: LatencyInput,
    timings: CallerTimings,
    log: Option<LogPlan>,
    fleet: Option<FleetPlan>,
}

impl LatencyCheck {
    /// The input as the caller gave it.
    pub fn input(&self) -> &LatencyInput {
        &self.input
    }

    /// How to read the access log, when the input names one.
    pub fn log_plan(&self) -> Option<&LogPlan> {
        self.log.as_ref()
    }

    /// What to read from a Prometheus engine, when the input names one.
    pub fn fleet_plan(&self) -> Option<&FleetPlan> {
        self.fleet.as_ref()
    }

    /// The caller's per-request timings, checked.
    pub(super) fn timings(&self) -> &CallerTimings {
        &self.timings
    }
}

/// The caller's per-request timings in ms, in range; `db` is per request (the per-query
/// latency times the queries per request).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct CallerTimings {
    pub request: Option<f64>,
    pub upstream: Option<f64>,
    pub connect: Option<f64>,
    pub duration: Option<f64>,
    pub queue: Option<f64>,
    pub external: Option<f64>,
    pub db: Option<f64>,
}

/// Checks the input without reading any source, so bad arguments fail before a long read.
/// `now_epoch_secs` resolves durations such as `since: "15m"`.
pub fn check(input: LatencyInput, now_epoch_secs: i64) -> Result<LatencyCheck, InputError> {
    let timings = check_figures(&input.figures)?;
    check_judging(&input)?;
    check_sampling(&input)?;
    check_endpoint(input.endpoint.as_deref())?;
    let log = input
        .access_log
        .as_ref()
        .map(|a| plan_log(a, now_epoch_secs))
        .transpose()?;
    let fleet = input
        .prometheus
        .as_ref()
        .map(|p| plan_fleet(p, now_epoch_secs))
        .transpose()?;
    Ok(LatencyCheck {
        input,
        timings,
        log,
        fleet,
    })
}

/// The endpoint to focus on names one route.
fn check_endpoint(endpoint: Option<&str>) -> Result<(), InputError> {
    match endpoint {
        Some(e) if e.trim().is_empty() => Err(InputError::new(
            "endpoint",
            "is empty; pass a route such as `GET /api/orders/{id}` (the Sentry transaction), or leave it out",
        )),
        Some(e) if e.chars().count() > 512 => Err(InputError::new(
            "endpoint",
            "is longer than 512 characters; pass the route template, not a whole URL with its query",
        )),
        _ => Ok(()),
    }
}

/// The figures in range: latencies in ms, counts and percentages.
fn check_figures(f: &Figures) -> Result<CallerTimings, InputError> {
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
    let percent = "pass a percentage between 0 and 100";
    for (field, value, max, hint) in [
        (
            "figures.gunicorn.idle_workers",
            f.gunicorn.idle_workers,
            1e7,
            "pass a worker count",
        ),
        (
            "figures.gunicorn.busy_workers",
            f.gunicorn.busy_workers,
            1e7,
            "pass a worker count",
        ),
        ("figures.db.cpu_percent", f.db.cpu_percent, 100.0, percent),
        (
            "figures.db.active_sessions",
            f.db.active_sessions,
            1e7,
            "pass a session count",
        ),
        (
            "figures.db.io_wait_percent",
            f.db.io_wait_percent,
            100.0,
            percent,
        ),
    ] {
        check_opt_range(field, value, 0.0, max, hint)?;
    }
    Ok(CallerTimings {
        request,
        upstream,
        connect,
        duration,
        queue,
        external,
        db: query.map(|q| q * per_request.unwrap_or(1.0)),
    })
}

/// What "slow" is judged against, and the caller's endpoints.
fn check_judging(input: &LatencyInput) -> Result<(), InputError> {
    if input
        .slow_threshold_ms
        .is_some_and(|t| !t.is_finite() || t <= 0.0)
    {
        return Err(InputError::new(
            "slow_threshold_ms",
            "must be a positive number of milliseconds; leave it out to judge against the baseline or the routes against each other",
        ));
    }
    if let Some(b) = &input.baseline
        && (!b.p99_ms.is_finite() || b.p99_ms <= 0.0)
    {
        return Err(InputError::new(
            "baseline.p99_ms",
            "must be a positive number of milliseconds: the service's usual p99",
        ));
    }
    let probe = Observations {
        endpoints: input.endpoints.clone(),
        ..Default::default()
    };
    symptoms::validate(&probe, "")
}

/// Sampling is a short look, and the listing of endpoints bounded.
fn check_sampling(input: &LatencyInput) -> Result<(), InputError> {
    if input.samples == 0 || input.samples > 30 {
        return Err(InputError::new(
            "samples",
            "must be between 1 and 30 (default 5)",
        ));
    }
    if input.sample_interval_ms > 10_000
        || u64::from(input.samples.saturating_sub(1)) * input.sample_interval_ms > 60_000
    {
        return Err(InputError::new(
            "sample_interval_ms",
            "must be at most 10000, and samples × interval at most 60 s; sampling is a short look, not monitoring",
        ));
    }
    if input.listen_port == Some(0) {
        return Err(InputError::new(
            "listen_port",
            "must be the TCP port Gunicorn/uWSGI binds (1–65535)",
        ));
    }
    if let Some(a) = &input.access_log
        && (a.max_endpoints == 0 || a.max_endpoints > 1000)
    {
        return Err(InputError::new(
            "access_log.max_endpoints",
            "must be between 1 and 1000 (default 25)",
        ));
    }
    Ok(())
}

/// The engine named, the selector parsed, the window resolved (15 minutes to now by default).
fn plan_fleet(p: &PrometheusInput, now: i64) -> Result<FleetPlan, InputError> {
    let engine = p.source.clone().unwrap_or_else(|| "default".to_owned());
    if engine.is_empty()
        || engine.len() > 64
        || !engine
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(InputError::new(
            "prometheus.source",
            "must be the name of an engine the operator configured (letters, digits, `_`, `-`, `.`); leave it out for `default`",
        ));
    }
    let selector = Selector::parse("prometheus.selector", &p.selector)?;
    let until = p
        .until
        .as_deref()
        .map(|t| resolve_time("prometheus.until", t, now))
        .transpose()?
        .unwrap_or(now);
    let since = p
        .since
        .as_deref()
        .map(|t| resolve_time("prometheus.since", t, now))
        .transpose()?
        .unwrap_or(until - DEFAULT_FLEET_WINDOW_SECS);
    if until - since < 10 {
        return Err(InputError::new(
            "prometheus.until",
            "must be at least 10 s after `since` (and a few scrape intervals): rates need two scrapes",
        ));
    }
    if until - since > 31 * 86_400 {
        return Err(InputError::new(
            "prometheus.since",
            "the window is longer than 31 days; ask about a shorter period (e.g. 1h or 24h)",
        ));
    }
    Ok(FleetPlan {
        engine,
        selector,
        since,
        until,
    })
}

/// The access log's format compiled, its window resolved and its route templates parsed.
fn plan_log(a: &AccessLogInput, now: i64) -> Result<LogPlan, InputError> {
    let format = LogFormat::compile(&a.log_format)
        .map_err(|e| InputError::new("access_log.log_format", e.0))?;
    let since = a
        .since
        .as_deref()
        .map(|t| resolve_time("access_log.since", t, now))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|t| resolve_time("access_log.until", t, now))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(InputError::new(
            "access_log.until",
            "must be later than `since`",
        ));
    }
    if (since.is_some() || until.is_some()) && !format.has_time() {
        return Err(InputError::new(
            "access_log.since",
            "since/until need a time in the log: the log_format has none of $time_local, $time_iso8601 or $msec",
        ));
    }
    let templates = a
        .route_patterns
        .iter()
        .enumerate()
        .map(|(i, p)| {
            RouteTemplate::parse(p)
                .map_err(|m| InputError::new(format!("access_log.route_patterns[{i}]"), m))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LogPlan {
        format,
        options: LogOptions {
            since,
            until,
            templates,
            ..LogOptions::default()
        },
        paths: a.path.to_vec(),
    })
}
