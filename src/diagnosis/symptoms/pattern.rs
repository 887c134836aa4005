//! How slowness spreads over endpoints: healthy, a long tail (a few endpoints hold the
//! workers while the rest are fine) or system-wide — the rule break_down_latency and the
//! matcher share.

use crate::diagnosis::queueing::SlowMetric;

use super::observations::{EndpointLatency, LatencyPattern};

/// Classifies how slowness is spread over endpoints.
///
/// Rule: an endpoint is slow when its `metric` (its mean service time, where known, or its
/// p99) exceeds `slow_ms`. No slow endpoint → `healthy`. Slow endpoints carrying under
/// [`LONG_TAIL_MAX_SHARE`] of the requests → `long_tail` (a few endpoints hold workers while
/// the rest are fine); otherwise → `system_wide`.
pub fn classify_pattern(
    endpoints: &[EndpointLatency],
    slow_ms: f64,
    metric: SlowMetric,
) -> Option<(LatencyPattern, f64)> {
    // Counts come from the caller: add them without overflowing (u64::MAX + 1 would panic,
    // or wrap to 0 in a release build).
    let total = total_requests(endpoints.iter());
    if total == 0 {
        return None;
    }
    let slow = total_requests(endpoints.iter().filter(|e| match (metric, e.service_ms) {
        (SlowMetric::ServiceMs, Some(s)) => s > slow_ms,
        _ => e.p99_ms > slow_ms,
    }));
    let share = slow as f64 / total as f64;
    let pattern = if slow == 0 {
        LatencyPattern::Healthy
    } else if share < LONG_TAIL_MAX_SHARE {
        LatencyPattern::LongTail
    } else {
        LatencyPattern::SystemWide
    };
    Some((pattern, share))
}

/// The requests of `endpoints` added up, saturating at `u64::MAX`.
pub(crate) fn total_requests<'a>(endpoints: impl Iterator<Item = &'a EndpointLatency>) -> u64 {
    endpoints.fold(0, |sum, e| sum.saturating_add(e.requests))
}

/// Slow endpoints above this share of requests make the pattern system-wide.
pub const LONG_TAIL_MAX_SHARE: f64 = 0.3;

/// Default latency above which an endpoint's p99 counts as slow, in ms.
pub const DEFAULT_SLOW_MS: f64 = 1000.0;
