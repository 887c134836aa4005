//! The endpoints, from the access log (every route) or the caller: each one's service time
//! when the queue wait is known, its share of the workers' time, whether it is slow against
//! what "slow" means for this service, whether one route holds the line, and the
//! `latency_pattern` they make (healthy, long tail or system-wide).

use crate::diagnosis::access_log::AccessLogData;
use crate::diagnosis::bound::Bound;
use crate::diagnosis::queueing::{self, HeadOfLine, RouteService, SlowMetric, ThresholdBasis};
use crate::diagnosis::symptoms::{self, DEFAULT_SLOW_MS, EndpointLatency, LatencyPattern};
use crate::diagnosis::{Evidence, SOURCE_CALLER, fmt_num, round};

use super::analysis::Notes;
use super::focus::{self, Focus};
use super::input::LatencyInput;
use super::report::{AccessLogReport, EndpointStats};

/// Per-endpoint statistics from an access log, every route; worker time is upstream time
/// (queueing included) until [`judge`] knows the queue wait.
pub(super) fn from_log(log: &AccessLogData) -> Vec<EndpointStats> {
    let total_requests: u64 = log.endpoints.iter().map(|e| e.requests).sum();
    log.endpoints
        .iter()
        .filter(|e| e.timed > 0)
        .map(|e| EndpointStats {
            endpoint: e.endpoint.clone(),
            requests: e.requests,
            p50_ms: e.p50_ms,
            p95_ms: Some(e.p95_ms),
            p99_ms: e.p99_ms,
            max_ms: Some(e.max_ms),
            mean_upstream_ms: e.worker_ms.map(|w| round(w as f64 / e.timed as f64, 3)),
            service_ms: None,
            worker_seconds: e.worker_ms.map(|w| round(w as f64 / 1000.0, 3)),
            share_of_worker_time_percent: None,
            error_percent: log
                .has_status
                .then(|| round(e.errors as f64 / e.requests.max(1) as f64 * 100.0, 2)),
            slow: false,
            share_of_requests_percent: round(
                e.requests as f64 / total_requests.max(1) as f64 * 100.0,
                2,
            ),
        })
        .collect()
}

/// The caller's endpoints, with worker time where their service time is given.
fn from_caller(endpoints: &[EndpointLatency]) -> Vec<EndpointStats> {
    let total_requests = symptoms::total_requests(endpoints.iter());
    endpoints
        .iter()
        .map(|e| EndpointStats {
            endpoint: e.endpoint.clone(),
            requests: e.requests,
            p50_ms: e.p50_ms,
            p95_ms: None,
            p99_ms: e.p99_ms,
            max_ms: None,
            mean_upstream_ms: None,
            service_ms: e.service_ms,
            worker_seconds: e
                .service_ms
                .map(|s| round(s * e.requests as f64 / 1000.0, 3)),
            share_of_worker_time_percent: None,
            error_percent: None,
            slow: false,
            share_of_requests_percent: if total_requests > 0 {
                round(e.requests as f64 / total_requests as f64 * 100.0, 2)
            } else {
                0.0
            },
        })
        .collect()
}

/// How the endpoints were judged.
#[derive(Debug, Clone)]
pub(super) struct Judgement {
    pub threshold_ms: f64,
    pub basis: ThresholdBasis,
    pub metric: SlowMetric,
    pub head_of_line: Option<HeadOfLine>,
}

/// Service time per route (when the queue wait is known), worker time from it, what slow
/// means for this service, and whether one route holds the line. Sorts by worker time.
fn judge(all: &mut [EndpointStats], queue_ms: Option<f64>, input: &LatencyInput) -> Judgement {
    if let Some(q) = queue_ms {
        for e in all.iter_mut() {
            if let Some(u) = e.mean_upstream_ms {
                let s = queueing::route_service_ms(u, q);
                e.service_ms = Some(round(s, 3));
                e.worker_seconds = Some(round(s * e.requests as f64 / 1000.0, 3));
            }
        }
    }
    let total_worker: f64 = all.iter().filter_map(|e| e.worker_seconds).sum();
    for e in all.iter_mut() {
        e.share_of_worker_time_percent = e
            .worker_seconds
            .filter(|_| total_worker > 0.0)
            .map(|w| round(w / total_worker * 100.0, 2));
    }
    let routes: Vec<RouteService> = all
        .iter()
        .filter_map(|e| {
            e.service_ms.map(|s| RouteService {
                endpoint: e.endpoint.clone(),
                requests: e.requests,
                service_ms: s,
            })
        })
        .collect();
    let with_service = !routes.is_empty() && routes.len() == all.len();
    let (threshold_ms, basis, metric) = match (input.slow_threshold_ms, &input.baseline) {
        (Some(t), _) => (t, ThresholdBasis::Caller, SlowMetric::P99Ms),
        (None, Some(b)) => (b.p99_ms * 3.0, ThresholdBasis::Baseline, SlowMetric::P99Ms),
        (None, None) => match queueing::relative_threshold(&routes).filter(|_| with_service) {
            Some(t) => (t, ThresholdBasis::Relative, SlowMetric::ServiceMs),
            None => (DEFAULT_SLOW_MS, ThresholdBasis::Default, SlowMetric::P99Ms),
        },
    };
    for e in all.iter_mut() {
        e.slow = match (metric, e.service_ms) {
            (SlowMetric::ServiceMs, Some(s)) => s > threshold_ms,
            _ => e.p99_ms > threshold_ms,
        };
    }
    all.sort_by(|a, b| {
        b.worker_seconds
            .unwrap_or(0.0)
            .total_cmp(&a.worker_seconds.unwrap_or(0.0))
            .then(b.requests.cmp(&a.requests))
            .then(b.p99_ms.total_cmp(&a.p99_ms))
            .then_with(|| a.endpoint.cmp(&b.endpoint))
    });
    let head_of_line = queue_ms.and_then(|q| queueing::head_of_line(&routes, q));
    Judgement {
        threshold_ms,
        basis,
        metric,
        head_of_line,
    }
}

fn latency_of(e: &EndpointStats) -> EndpointLatency {
    EndpointLatency {
        endpoint: e.endpoint.clone(),
        requests: e.requests,
        p50_ms: e.p50_ms,
        p99_ms: e.p99_ms,
        service_ms: e.service_ms,
    }
}

/// The endpoints judged and listed, and the pattern all of them make.
#[derive(Debug)]
pub(super) struct Ranked {
    /// The endpoints listed: from a log, the first `max_endpoints` by worker time; from the
    /// caller, all of them, slowest p99 first.
    pub endpoints: Vec<EndpointStats>,
    /// How many endpoints there were and how many are listed.
    pub bound: Bound,
    /// The listed endpoints, as match_symptom takes them.
    pub listed: Vec<EndpointLatency>,
    pub judged: Judgement,
    /// The pattern over every endpoint (listed or not), with the slow ones' share of requests.
    pub pattern: Option<(LatencyPattern, f64)>,
    /// The endpoint the caller asked about.
    pub focus: Option<Focus>,
}

/// Judges the log's routes (or, without a log, the caller's endpoints), lists them, and
/// decides the pattern. `queue_ms` is the wait for a worker, when split from service time;
/// the report's count of endpoints not listed is filled in.
pub(super) fn rank(
    input: &LatencyInput,
    from_log: Option<Vec<EndpointStats>>,
    queue_ms: Option<f64>,
    access_log: Option<&mut AccessLogReport>,
    notes: &mut Notes,
) -> Ranked {
    let max_listed = input.access_log.as_ref().map_or(25, |a| a.max_endpoints);
    let is_log = from_log.is_some();
    let mut all = match from_log {
        Some(all) => {
            if !input.endpoints.is_empty() {
                notes.warnings.push("`endpoints` were given and an access log was read; the endpoints from the log are used.".to_owned());
            }
            all
        }
        None => from_caller(&input.endpoints),
    };
    let judged = judge(&mut all, queue_ms, input);
    if !is_log {
        // The caller's endpoints are listed slowest first.
        all.sort_by(|a, b| b.p99_ms.total_cmp(&a.p99_ms));
    }
    if is_log
        && queue_ms.is_none()
        && all
            .iter()
            .any(|e| e.worker_seconds.is_some() && e.service_ms.is_none())
    {
        notes.warnings.push("Worker time per endpoint is its upstream time, which includes any wait for a free worker; with worker state and the request rate it is split into service time.".to_owned());
    }
    let all_latencies: Vec<EndpointLatency> = all.iter().map(latency_of).collect();
    let focus = input.endpoint.as_deref().map(|e| focus::find(e, &all));
    let mut endpoints = all;
    if is_log {
        endpoints.truncate(max_listed);
        // The route asked about is listed even when it is not among the largest.
        if let Some(stats) = focus.as_ref().and_then(|f| f.stats.clone())
            && !endpoints.iter().any(|e| e.endpoint == stats.endpoint)
        {
            endpoints.push(stats);
        }
    }
    if let Some(a) = access_log {
        a.endpoints_not_listed = all_latencies.len() - endpoints.len();
        a.requests_not_listed = all_latencies.iter().map(|e| e.requests).sum::<u64>()
            - endpoints.iter().map(|e| e.requests).sum::<u64>();
    }
    let listed = endpoints.iter().map(latency_of).collect();
    let bound = Bound::new(all_latencies.len(), endpoints.len());
    let pattern = symptoms::classify_pattern(&all_latencies, judged.threshold_ms, judged.metric);
    Ranked {
        endpoints,
        bound,
        listed,
        judged,
        pattern,
        focus,
    }
}

impl Ranked {
    /// Where the threshold came from: the caller's own figures, or derived here.
    pub fn threshold_source(&self) -> &'static str {
        match self.judged.basis {
            ThresholdBasis::Caller | ThresholdBasis::Baseline => SOURCE_CALLER,
            ThresholdBasis::Relative | ThresholdBasis::Default => "derived",
        }
    }

    /// The threshold, the pattern with the slow endpoints, and the route holding the line.
    /// `pattern_source` is the log's when the endpoints came from it.
    pub fn evidence(&self, pattern_source: &str, notes: &mut Notes) {
        let judged = &self.judged;
        let threshold_src = self.threshold_source();
        if self.pattern.is_some() {
            notes.evidence.push(Evidence::number(
                "slow_threshold_ms",
                judged.threshold_ms,
                "ms",
                threshold_src,
            ));
            notes.evidence.push(Evidence::text(
                "slow_threshold_basis",
                judged.basis.describe(),
                threshold_src,
            ));
            if judged.basis == ThresholdBasis::Default {
                notes.warnings.push(format!(
                    "Endpoints were judged against the fixed default of {} ms p99: no baseline was given and no service times could be compared. A service whose normal is 5 ms is in trouble at 150 ms: pass `baseline.p99_ms` (the usual p99) or worker state with the access log.",
                    fmt_num(DEFAULT_SLOW_MS)
                ));
            }
        }
        if let Some((p, share)) = self.pattern {
            self.pattern_evidence(p, share, pattern_source, &mut notes.evidence);
        }
        if let Some(h) = &judged.head_of_line {
            notes.evidence.push(Evidence::text(
                "head_of_line_endpoint",
                &h.endpoint,
                "derived",
            ));
            notes.evidence.push(Evidence::number(
                "head_of_line_share_of_service_time_percent",
                h.share_of_service_time_percent,
                "percent",
                "derived",
            ));
        }
    }

    /// The pattern, the slow endpoints' share of requests, their names and worker time.
    fn pattern_evidence(
        &self,
        p: LatencyPattern,
        share: f64,
        src: &str,
        evidence: &mut Vec<Evidence>,
    ) {
        evidence.push(Evidence::text("latency_pattern", p.as_str(), src));
        evidence.push(Evidence::number(
            "slow_endpoint_request_share_percent",
            share * 100.0,
            "percent",
            src,
        ));
        let slow: Vec<&EndpointStats> = self.endpoints.iter().filter(|e| e.slow).collect();
        if slow.is_empty() {
            return;
        }
        let names: Vec<String> = slow
            .iter()
            .take(5)
            .map(|e| match e.service_ms {
                Some(sv) => format!(
                    "{} (service {} ms, p99 {} ms)",
                    e.endpoint,
                    fmt_num(sv),
                    fmt_num(e.p99_ms)
                ),
                None => format!("{} (p99 {} ms)", e.endpoint, fmt_num(e.p99_ms)),
            })
            .collect();
        evidence.push(Evidence::text("slow_endpoints", &names.join(", "), src));
        let worker_share: f64 = slow
            .iter()
            .filter_map(|e| e.share_of_worker_time_percent)
            .sum();
        if slow
            .iter()
            .any(|e| e.share_of_worker_time_percent.is_some())
        {
            evidence.push(Evidence::number(
                "slow_endpoint_worker_time_share_percent",
                worker_share,
                "percent",
                src,
            ));
        }
    }
}
