//! From the series to a [`LoadBalancerReport`] ([`analyze`]), and from that report to what it
//! adds to a latency breakdown ([`fold`]): the backlog observations and the evidence.

use super::input::{LbKind, LoadBalancerWindow};
use super::report::{Errors, Finding, LbStatus, LoadBalancerReport, ResponseTime, SurgeQueue};
use super::sample::{LbSample, Point, Signal};
use crate::diagnosis::nginx_format::format_rfc3339;
use crate::diagnosis::symptoms::{BacklogShape, Observations};
use crate::diagnosis::{Addendum, Evidence, fmt_num, round};

/// A p99 at least this many times the p50 is a long tail.
const LONG_TAIL_RATIO: f64 = 5.0;
/// A p99 above this is slow whatever the p50, ms.
const SLOW_P99_MS: f64 = 1000.0;
/// A Classic ELB's surge queue holds at most this many requests.
const SURGE_QUEUE_CAPACITY: u32 = 1024;

/// The report for one load balancer over one window.
pub fn analyze(w: &LoadBalancerWindow, sample: &LbSample) -> LoadBalancerReport {
    let kind = w.kind;
    let series = |s: Signal| sample.series.get(&s).map(Vec::as_slice).unwrap_or(&[]);
    let total = |s: Signal| {
        let points = series(s);
        (!points.is_empty()).then(|| points.iter().map(|p| p.value).sum::<f64>())
    };
    let requests_by_period = series(Signal::Requests);
    let requests = total(Signal::Requests);
    let seconds = (w.end - w.start).max(1) as f64;
    let response_time = response_time(kind, &series, requests_by_period);
    let percent = |n: Option<f64>| match (n, requests) {
        (Some(n), Some(r)) if r > 0.0 => Some(round(n / r * 100.0, 2)),
        _ => None,
    };
    let target_5xx = total(Signal::Target5xx);
    let lb_5xx = total(Signal::Lb5xx);
    let (lb_502, lb_503, lb_504) = (
        total(Signal::Lb502),
        total(Signal::Lb503),
        total(Signal::Lb504),
    );
    let errors = Errors {
        target_5xx,
        target_5xx_percent: percent(target_5xx),
        lb_5xx,
        lb_5xx_percent: percent(lb_5xx),
        lb_502,
        lb_503,
        lb_504,
        lb_502_percent: percent(lb_502),
        lb_503_percent: percent(lb_503),
        lb_504_percent: percent(lb_504),
    };
    let surge_queue = surge_queue(series(Signal::SurgeQueue));
    let mut report = LoadBalancerReport {
        kind,
        name: w.name.clone(),
        target_group: w.target_group.clone(),
        region: sample.region.clone(),
        start: format_rfc3339(w.start),
        end: format_rfc3339(w.end),
        period_seconds: w.period_seconds,
        status: LbStatus::Unknown,
        verdict: String::new(),
        response_time,
        requests,
        requests_per_second: requests.map(|r| round(r / seconds, 3)),
        errors,
        target_connection_errors: total(Signal::TargetConnectionErrors),
        rejected_connections: total(Signal::RejectedConnections),
        surge_queue,
        spillover: total(Signal::Spillover),
        findings: Vec::new(),
        datapoints: Signal::of(kind)
            .map(|s| {
                let (metric, stat) = s.metric(kind).unwrap_or_default();
                format!("{metric} {stat}: {}", series(s).len())
            })
            .collect(),
        notes: sample.notes.clone(),
    };
    let any_data = sample.series.values().any(|p| !p.is_empty());
    if !any_data {
        report.verdict = no_data(w, &sample.region);
        return report;
    }
    report.status = LbStatus::Measured;
    let has = |s: Signal| !series(s).is_empty();
    if has(Signal::ResponseAvg)
        && !(has(Signal::ResponseP50) || has(Signal::ResponseP90) || has(Signal::ResponseP99))
    {
        report.notes.push(format!(
            "CloudWatch returned no percentiles (p50/p90/p99) of {}, only its average: the tail is not known from the load balancer.",
            Signal::ResponseAvg.metric(kind).map(|m| m.0).unwrap_or_default()
        ));
    }
    if w.target_group.is_some() {
        report.notes.push(
            "Response time, requests, target 5xx and connection errors are of the target group; the load balancer's own 5xx and rejected connections are of the whole load balancer."
                .to_owned(),
        );
    }
    report.findings = findings(&report);
    report.verdict = verdict(&report);
    report
}

/// The percentiles (request-weighted across periods) and the exact mean.
fn response_time<'a>(
    kind: LbKind,
    series: &impl Fn(Signal) -> &'a [Point],
    requests: &[Point],
) -> Option<ResponseTime> {
    let ms = |s: Signal| weighted_mean(series(s), requests).map(|v| round(v * 1000.0, 2));
    let rt = ResponseTime {
        p50_ms: ms(Signal::ResponseP50),
        p90_ms: ms(Signal::ResponseP90),
        p99_ms: ms(Signal::ResponseP99),
        p99_max_ms: series(Signal::ResponseP99)
            .iter()
            .map(|p| p.value)
            .reduce(f64::max)
            .map(|v| round(v * 1000.0, 2)),
        avg_ms: ms(Signal::ResponseAvg),
        source: Signal::ResponseAvg.source(kind),
    };
    let any = rt.p50_ms.is_some() || rt.p90_ms.is_some() || rt.p99_ms.is_some();
    (any || rt.avg_ms.is_some()).then_some(rt)
}

/// The mean of `values`, each weighted by the request count of its period (1 where the
/// period has no count, and plainly when no period has one).
pub fn weighted_mean(values: &[Point], requests: &[Point]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let weight = |t: i64| {
        requests
            .binary_search_by_key(&t, |p| p.timestamp)
            .ok()
            .map(|i| requests[i].value)
            .filter(|w| *w > 0.0)
    };
    let weighted = values.iter().any(|p| weight(p.timestamp).is_some());
    let (mut sum, mut weights) = (0.0, 0.0);
    for p in values {
        let w = if weighted {
            weight(p.timestamp).unwrap_or(0.0)
        } else {
            1.0
        };
        sum += p.value * w;
        weights += w;
    }
    (weights > 0.0).then(|| sum / weights)
}

fn surge_queue(points: &[Point]) -> Option<SurgeQueue> {
    if points.is_empty() {
        return None;
    }
    let values: Vec<f64> = points.iter().map(|p| p.value).collect();
    Some(SurgeQueue {
        max: values.iter().copied().fold(0.0, f64::max),
        periods_above_zero: values.iter().filter(|v| **v > 0.0).count(),
        periods: values.len(),
        shape: BacklogShape::of(&values),
    })
}

fn no_data(w: &LoadBalancerWindow, region: &str) -> String {
    let list = match w.kind {
        LbKind::Alb => {
            "aws elbv2 describe-load-balancers --query 'LoadBalancers[].LoadBalancerArn'"
        }
        LbKind::Classic => {
            "aws elb describe-load-balancers --query 'LoadBalancerDescriptions[].LoadBalancerName'"
        }
    };
    let target = w
        .target_group
        .as_ref()
        .map(|t| format!(" (TargetGroup {t})"))
        .unwrap_or_default();
    format!(
        "Unknown: CloudWatch has no {} datapoints for {} {}{target} in {region} between {} and {}: check the name and region (`{list}`), and that it had traffic in the window.",
        w.kind.namespace(),
        w.kind.dimension(),
        w.name,
        format_rfc3339(w.start),
        format_rfc3339(w.end),
    )
}

/// The notable signals, worst first.
fn findings(r: &LoadBalancerReport) -> Vec<Finding> {
    let kind = r.kind;
    let mut out = Vec::new();
    let mut add = |signal: &str, value: Option<f64>, s: Signal, meaning: String| {
        if let Some(v) = value.filter(|v| *v > 0.0) {
            out.push(Finding {
                signal: signal.to_owned(),
                value: round(v, 2),
                source: s.source(kind),
                meaning,
            });
        }
    };
    add(
        "spillover",
        r.spillover,
        Signal::Spillover,
        format!(
            "The surge queue ({SURGE_QUEUE_CAPACITY} requests) was full and the ELB rejected requests with 503: every backend was out of free workers."
        ),
    );
    add(
        "surge_queue_max",
        r.surge_queue.as_ref().map(|q| q.max),
        Signal::SurgeQueue,
        "Requests waited at the ELB for a free backend connection: the backends are out of free workers, so requests queue (the same signal as the app's accept queue): queueing, not slow code alone."
            .to_owned(),
    );
    add(
        "elb_503",
        r.errors.lb_503,
        Signal::Lb503,
        "The ALB had no healthy target to send requests to: health checks failed (workers too busy to answer them, or the app down)."
            .to_owned(),
    );
    add(
        "elb_504",
        r.errors.lb_504,
        Signal::Lb504,
        "Requests got no answer within the ALB's idle timeout (60 s unless changed): handlers that slow, or requests queued behind busy workers."
            .to_owned(),
    );
    add(
        "elb_502",
        r.errors.lb_502,
        Signal::Lb502,
        "The backend closed the connection or answered malformed: workers crashed or were killed (OOM, Gunicorn --timeout), or the app's keep-alive is shorter than the ALB's idle timeout."
            .to_owned(),
    );
    if kind == LbKind::Classic && r.spillover.is_none_or(|s| s <= 0.0) {
        add(
            "elb_5xx",
            r.errors.lb_5xx,
            Signal::Lb5xx,
            "The ELB answered 5xx itself: no healthy backend, a backend that closed the connection, or one that did not answer in time."
                .to_owned(),
        );
    }
    add(
        "target_connection_errors",
        r.target_connection_errors,
        Signal::TargetConnectionErrors,
        "The load balancer could not open connections to a backend: its listen backlog is full, it is down, or a security group blocks it."
            .to_owned(),
    );
    add(
        "rejected_connections",
        r.rejected_connections,
        Signal::RejectedConnections,
        "The ALB refused client connections at its own connection limit.".to_owned(),
    );
    add(
        "target_5xx_percent",
        r.errors.target_5xx_percent,
        Signal::Target5xx,
        "The app itself answered 5xx: read its error log or Sentry for the exception.".to_owned(),
    );
    if let Some(rt) = &r.response_time
        && let Some(p99) = rt.p99_ms
    {
        let tail = rt
            .p50_ms
            .filter(|p50| *p50 > 0.0 && p99 >= LONG_TAIL_RATIO * p50);
        if let Some(p50) = tail {
            add(
                "p99_ms",
                Some(p99),
                Signal::ResponseP99,
                format!(
                    "p99 is {}× the p50: a tail of slow requests (a few slow routes, or requests waiting for a worker) while most are fast.",
                    fmt_num(p99 / p50)
                ),
            );
        } else if p99 > SLOW_P99_MS {
            add(
                "p99_ms",
                Some(p99),
                Signal::ResponseP99,
                "p99 above 1 s with the median close to it: the whole service is slow, not a few routes."
                    .to_owned(),
            );
        }
    }
    out
}

fn verdict(r: &LoadBalancerReport) -> String {
    let label = match r.kind {
        LbKind::Alb => "ALB",
        LbKind::Classic => "Classic ELB",
    };
    let mut parts = Vec::new();
    if let Some(n) = r.requests {
        parts.push(format!(
            "{} requests ({} rps)",
            fmt_num(n),
            fmt_num(r.requests_per_second.unwrap_or(0.0))
        ));
    }
    if let Some(rt) = &r.response_time {
        match (rt.p50_ms, rt.p99_ms, rt.avg_ms) {
            (Some(p50), Some(p99), _) => {
                parts.push(format!("p50 {} / p99 {} ms", fmt_num(p50), fmt_num(p99)));
            }
            (_, _, Some(avg)) => parts.push(format!("mean {} ms", fmt_num(avg))),
            _ => {}
        }
    }
    if let Some(p) = r.errors.target_5xx_percent.filter(|p| *p > 0.0) {
        parts.push(format!("app 5xx {}%", fmt_num(p)));
    }
    if let Some(p) = r.errors.lb_5xx_percent.filter(|p| *p > 0.0) {
        parts.push(format!("load-balancer 5xx {}%", fmt_num(p)));
    }
    let what = r
        .findings
        .first()
        .map(|f| f.meaning.clone())
        .unwrap_or_else(|| "No queueing or load-balancer errors.".to_owned());
    format!("{label} {}: {}. {what}", r.name, parts.join(", "))
}

/// What a load balancer report adds to a latency breakdown: the backlog observations from
/// the surge queue where the local sources left them unset (the accept queue, read on the
/// host, is the more direct view and wins), the evidence for every figure, and a warning
/// line with the verdict. Value in, value out.
pub fn fold(
    report: &LoadBalancerReport,
    mut observations: Observations,
) -> (Observations, Addendum) {
    let kind = report.kind;
    if let Some(q) = &report.surge_queue {
        let source = Signal::SurgeQueue.source(kind);
        let growing = if q.periods_above_zero == 0 {
            Some(false)
        } else if q.periods_above_zero * 2 >= q.periods {
            Some(true)
        } else {
            None
        };
        if observations.backlog_growing.is_none()
            && let Some(g) = growing
        {
            observations.backlog_growing = Some(g);
            observations
                .sources
                .insert("backlog_growing".to_owned(), source.clone());
        }
        if observations.backlog_shape.is_none()
            && let Some(shape) = q.shape
        {
            observations.backlog_shape = Some(shape);
            observations
                .sources
                .insert("backlog_shape".to_owned(), source);
        }
    }
    let addendum = Addendum {
        evidence: evidence(report),
        warnings: vec![format!(
            "Load balancer ({}, {}): {}",
            report.kind.as_str(),
            report.region,
            report.verdict
        )],
        first_step: None,
        done_tool: None,
    };
    (observations, addendum)
}

/// Every figure of the report with the metric it came from.
pub fn evidence(r: &LoadBalancerReport) -> Vec<Evidence> {
    let kind = r.kind;
    let mut out = Vec::new();
    let mut num = |metric: &str, v: Option<f64>, unit: &str, s: Signal| {
        if let Some(v) = v {
            out.push(Evidence::number(metric, v, unit, &s.source(kind)));
        }
    };
    if let Some(rt) = &r.response_time {
        num("lb_p50_ms", rt.p50_ms, "ms", Signal::ResponseP50);
        num("lb_p90_ms", rt.p90_ms, "ms", Signal::ResponseP90);
        num("lb_p99_ms", rt.p99_ms, "ms", Signal::ResponseP99);
        num("lb_avg_ms", rt.avg_ms, "ms", Signal::ResponseAvg);
    }
    num(
        "lb_requests_per_second",
        r.requests_per_second,
        "rps",
        Signal::Requests,
    );
    let e = &r.errors;
    num(
        "lb_target_5xx_percent",
        e.target_5xx_percent,
        "percent",
        Signal::Target5xx,
    );
    num(
        "lb_elb_5xx_percent",
        e.lb_5xx_percent,
        "percent",
        Signal::Lb5xx,
    );
    num("lb_elb_502", e.lb_502, "count", Signal::Lb502);
    num("lb_elb_503", e.lb_503, "count", Signal::Lb503);
    num("lb_elb_504", e.lb_504, "count", Signal::Lb504);
    num(
        "lb_target_connection_errors",
        r.target_connection_errors,
        "count",
        Signal::TargetConnectionErrors,
    );
    num(
        "lb_rejected_connections",
        r.rejected_connections,
        "count",
        Signal::RejectedConnections,
    );
    num(
        "lb_surge_queue_max",
        r.surge_queue.as_ref().map(|q| q.max),
        "requests",
        Signal::SurgeQueue,
    );
    num("lb_spillover", r.spillover, "requests", Signal::Spillover);
    out
}
