//! Queue wait against service time, head-of-line blocking, and what "slow" means for this
//! service.
//!
//! With sync workers, a request that finds every worker busy waits in the listen backlog,
//! and nginx's `$upstream_response_time` includes that wait: the kernel accepts the
//! connection at once, so `$upstream_connect_time` stays near 0. Every route then looks
//! slow, although only one may be. Little's law separates the two: the busy workers are the
//! requests in service, so the mean service time is busy workers ÷ throughput; what the
//! upstream time holds beyond that is the wait for a worker. The accept queue, where it was
//! sampled, gives a second, independent estimate (requests waiting ÷ throughput).
//!
//! The backlog is first-in first-out whatever the route, so every route waits the same on
//! average: a route's own service time is its mean upstream time less that wait. That is
//! what each route costs the workers, and what judging a route "slow" should look at: a
//! route that is slow only by queueing is a victim, not a cause.

use serde::{Deserialize, Serialize};

use schemars::JsonSchema;

use super::round;

/// How the upstream time was split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    /// Mean time a worker spends on a request, ms.
    pub service_ms: f64,
    /// Mean wait for a free worker, ms.
    pub queue_ms: f64,
    /// The same wait from the sampled accept queue (queue length ÷ throughput), ms.
    pub queue_from_backlog_ms: Option<f64>,
    /// `busy_workers` (Little's law on busy workers) or `accept_queue` (on the backlog).
    pub method: Method,
}

/// Which of Little's law's readings gave the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// service = busy workers ÷ throughput; queue = upstream − connect − service.
    BusyWorkers,
    /// queue = mean accept queue ÷ throughput; service = upstream − connect − queue.
    AcceptQueue,
}

impl Method {
    pub fn describe(self) -> &'static str {
        match self {
            Self::BusyWorkers => {
                "Little's law on busy workers: service = mean busy workers ÷ throughput; queue wait = upstream time − connect − service"
            }
            Self::AcceptQueue => {
                "Little's law on the accept queue: queue wait = mean connections waiting ÷ throughput; service = upstream time − connect − queue wait"
            }
        }
    }
}

/// Why the upstream time could not be split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoSplit {
    /// No worker state, no backlog, or no throughput.
    Missing,
    /// The workers are busier than the logged requests account for: busy ÷ throughput is
    /// this many ms per request, more than the requests logged took. Long requests are in
    /// flight and not yet in the log (it records completions), or the log and the samples
    /// cover different moments.
    Inconsistent { busy_ms_per_request: f64 },
}

/// Splits the mean upstream time (ms) into queue wait and service, from the mean busy
/// workers and/or the mean accept queue over the same window and the throughput (rps).
pub fn split(
    upstream_ms: f64,
    connect_ms: f64,
    busy_mean: Option<f64>,
    backlog_mean: Option<f64>,
    throughput_rps: f64,
) -> Result<Split, NoSplit> {
    if !(throughput_rps > 0.0 && upstream_ms > 0.0) {
        return Err(NoSplit::Missing);
    }
    let handled = (upstream_ms - connect_ms).max(0.0);
    if let Some(busy) = busy_mean.filter(|b| b.is_finite() && *b > 0.0) {
        let per_request = busy / throughput_rps * 1000.0;
        // Beyond rounding and sampling noise, more busy time than the log holds.
        if per_request > handled * 1.25 + 2.0 {
            return Err(NoSplit::Inconsistent {
                busy_ms_per_request: round(per_request, 3),
            });
        }
    }
    let from_backlog = backlog_mean
        .filter(|q| q.is_finite() && *q >= 0.0)
        .map(|q| (q / throughput_rps * 1000.0).min(handled));
    if let Some(busy) = busy_mean.filter(|b| b.is_finite() && *b > 0.0) {
        let service = (busy / throughput_rps * 1000.0).min(handled);
        return Ok(Split {
            service_ms: round(service, 3),
            queue_ms: round(handled - service, 3),
            queue_from_backlog_ms: from_backlog.map(|q| round(q, 3)),
            method: Method::BusyWorkers,
        });
    }
    from_backlog
        .map(|queue| Split {
            service_ms: round(handled - queue, 3),
            queue_ms: round(queue, 3),
            queue_from_backlog_ms: Some(round(queue, 3)),
            method: Method::AcceptQueue,
        })
        .ok_or(NoSplit::Missing)
}

/// A route's mean service time: its mean upstream time less the wait every request has.
pub fn route_service_ms(mean_upstream_ms: f64, queue_ms: f64) -> f64 {
    (mean_upstream_ms - queue_ms).max(0.0)
}

/// One or a few routes holding most of the service time while the rest wait behind them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct HeadOfLine {
    /// The route that holds the workers, e.g. `GET /api/customers/{id}/orders`.
    pub endpoint: String,
    /// Further routes in the same group, when one alone holds less than half.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub with: Vec<String>,
    /// The group's share of all service (worker) time, 0–100.
    pub share_of_service_time_percent: f64,
    /// The group's share of requests, 0–100.
    pub share_of_requests_percent: f64,
    /// The top route's mean service time, ms.
    pub service_ms: f64,
    /// The mean service time of every other route, ms.
    pub others_service_ms: f64,
    /// The mean wait for a worker that every request pays, ms: what the group costs the
    /// others.
    pub queue_wait_ms: f64,
}

/// A route's requests and mean service time, for the head-of-line test.
#[derive(Debug, Clone)]
pub struct RouteService {
    pub endpoint: String,
    pub requests: u64,
    pub service_ms: f64,
}

/// Head-of-line blocking holds when at most three routes, together at most 30 % of the
/// requests, hold at least half of the service time, while the others wait longer for a
/// worker than they are served (so they are slow only by queueing).
pub fn head_of_line(routes: &[RouteService], queue_ms: f64) -> Option<HeadOfLine> {
    let total_service: f64 = routes
        .iter()
        .map(|r| r.requests as f64 * r.service_ms)
        .sum();
    // Request counts may come from the caller: summed as floats, they cannot overflow.
    let total_requests: f64 = routes.iter().map(|r| r.requests as f64).sum();
    if total_service <= 0.0 || total_requests <= 0.0 {
        return None;
    }
    let mut ranked: Vec<&RouteService> = routes.iter().collect();
    ranked.sort_by(|a, b| {
        (b.requests as f64 * b.service_ms).total_cmp(&(a.requests as f64 * a.service_ms))
    });
    let (mut share, mut requests, mut group) = (0.0, 0.0, Vec::new());
    for r in ranked.iter().take(3) {
        share += r.requests as f64 * r.service_ms / total_service;
        requests += r.requests as f64;
        group.push(*r);
        if share >= 0.5 {
            break;
        }
    }
    let request_share = requests / total_requests;
    let others: Vec<&RouteService> = routes
        .iter()
        .filter(|r| !group.iter().any(|g| g.endpoint == r.endpoint))
        .collect();
    let others_requests: f64 = others.iter().map(|r| r.requests as f64).sum();
    if share < 0.5 || request_share > 0.3 || others_requests <= 0.0 {
        return None;
    }
    let others_service = others
        .iter()
        .map(|r| r.requests as f64 * r.service_ms)
        .sum::<f64>()
        / others_requests;
    // The others are slow only by queueing: they wait longer than they are served, and the
    // wait is material.
    if queue_ms <= others_service || queue_ms < 5.0 {
        return None;
    }
    Some(HeadOfLine {
        endpoint: group[0].endpoint.clone(),
        with: group[1..].iter().map(|r| r.endpoint.clone()).collect(),
        share_of_service_time_percent: round(share * 100.0, 2),
        share_of_requests_percent: round(request_share * 100.0, 2),
        service_ms: round(group[0].service_ms, 3),
        others_service_ms: round(others_service, 3),
        queue_wait_ms: round(queue_ms, 3),
    })
}

/// What an endpoint was judged slow against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum ThresholdBasis {
    /// The caller's `slow_threshold_ms`.
    Caller,
    /// The caller's normal (`baseline.p99_ms`): slow is 3 × normal.
    Baseline,
    /// The routes against each other: slow is 5 × the typical route's service time.
    Relative,
    /// No baseline and no way to compare: the fixed default, as a last resort.
    Default,
}

impl ThresholdBasis {
    pub fn describe(self) -> &'static str {
        match self {
            Self::Caller => "the threshold given by the caller",
            Self::Baseline => "3 × the service's normal p99 (baseline)",
            Self::Relative => {
                "5 × the typical route's service time (the routes against each other)"
            }
            Self::Default => {
                "the fixed default (no baseline given and no service times to compare): give `baseline.p99_ms` to judge against the service's own normal"
            }
        }
    }
}

/// Which figure of an endpoint a threshold applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum SlowMetric {
    /// The endpoint's p99 latency (queueing included).
    P99Ms,
    /// The endpoint's mean service time (queueing excluded).
    ServiceMs,
}

/// Slow relative to the others: 5 × the request-weighted median service time, at least this.
pub const RELATIVE_FLOOR_MS: f64 = 20.0;

/// A relative threshold: 5 × the request-weighted median of the routes' service times, and
/// at least [`RELATIVE_FLOOR_MS`].
pub fn relative_threshold(routes: &[RouteService]) -> Option<f64> {
    let total: f64 = routes.iter().map(|r| r.requests as f64).sum();
    if total <= 0.0 {
        return None;
    }
    let mut sorted: Vec<&RouteService> = routes.iter().collect();
    sorted.sort_by(|a, b| a.service_ms.total_cmp(&b.service_ms));
    let mut seen = 0.0;
    for r in sorted {
        seen += r.requests as f64;
        if seen * 2.0 >= total {
            return Some(round((r.service_ms * 5.0).max(RELATIVE_FLOOR_MS), 3));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(e: &str, n: u64, s: f64) -> RouteService {
        RouteService {
            endpoint: e.into(),
            requests: n,
            service_ms: s,
        }
    }

    #[test]
    fn littles_law_splits_queue_from_service() {
        // 4 workers all busy at 93 rps: 43 ms of service; 174 ms upstream → 131 ms queue.
        let s = split(174.0, 0.5, Some(4.0), Some(12.0), 93.0).unwrap();
        assert_eq!(s.method, Method::BusyWorkers);
        assert!((s.service_ms - 43.011).abs() < 0.01, "{s:?}");
        assert!((s.queue_ms - 130.489).abs() < 0.01, "{s:?}");
        assert!((s.queue_from_backlog_ms.unwrap() - 129.032).abs() < 0.01);
        // Only the backlog.
        let s = split(174.0, 0.0, None, Some(12.0), 93.0).unwrap();
        assert_eq!(s.method, Method::AcceptQueue);
        assert!((s.service_ms - 44.968).abs() < 0.01, "{s:?}");
        // Neither, or no throughput.
        assert_eq!(split(174.0, 0.0, None, None, 93.0), Err(NoSplit::Missing));
        assert_eq!(
            split(174.0, 0.0, Some(4.0), None, 0.0),
            Err(NoSplit::Missing)
        );
        // Idle workers: no queue.
        let s = split(10.0, 0.0, Some(0.5), None, 100.0).unwrap();
        assert_eq!((s.service_ms, s.queue_ms), (5.0, 5.0));
        // Within noise, service is capped at the upstream time.
        let s = split(10.0, 0.0, Some(0.11), None, 10.0).unwrap();
        assert_eq!((s.service_ms, s.queue_ms), (10.0, 0.0));
        // Workers far busier than the logged requests account for: long requests in flight.
        assert_eq!(
            split(39.0, 0.0, Some(3.0), Some(7.0), 39.0),
            Err(NoSplit::Inconsistent {
                busy_ms_per_request: 76.923
            })
        );
    }

    #[test]
    fn one_route_holding_the_workers_is_head_of_line() {
        let routes = [
            r("GET /api/customers/{id}/orders", 150, 250.0),
            r("GET /api/items/{id}", 500, 4.0),
            r("GET /api/health", 350, 2.0),
        ];
        let h = head_of_line(&routes, 130.0).unwrap();
        assert_eq!(h.endpoint, "GET /api/customers/{id}/orders");
        assert!(h.share_of_service_time_percent > 85.0, "{h:?}");
        assert_eq!(h.share_of_requests_percent, 15.0);
        assert!(h.with.is_empty());
        // Without queueing it is a long tail, not head-of-line blocking.
        assert!(head_of_line(&routes, 2.0).is_none());
        // Every route equally slow: nothing holds the line.
        let even = [r("a", 100, 50.0), r("b", 100, 50.0), r("c", 100, 50.0)];
        assert!(head_of_line(&even, 200.0).is_none());
        // A busy route that is simply popular is not head-of-line.
        let popular = [r("a", 800, 20.0), r("b", 200, 2.0)];
        assert!(head_of_line(&popular, 100.0).is_none());
    }

    #[test]
    fn relative_threshold_is_five_times_the_typical_route() {
        let routes = [r("slow", 150, 250.0), r("a", 500, 4.0), r("b", 350, 2.0)];
        assert_eq!(relative_threshold(&routes), Some(20.0));
        let routes = [r("slow", 150, 250.0), r("a", 500, 30.0), r("b", 350, 12.0)];
        assert_eq!(relative_threshold(&routes), Some(150.0));
        assert_eq!(relative_threshold(&[]), None);
        // Counts near u64::MAX (from a caller) do not overflow.
        let huge = [r("a", u64::MAX, 3.0), r("b", u64::MAX, 4.0)];
        assert_eq!(relative_threshold(&huge), Some(20.0));
        assert!(head_of_line(&huge, 100.0).is_none());
    }
}
