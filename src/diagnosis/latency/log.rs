//! What the access log says: the nginx figures (from the requests nginx proxied), the
//! arrival rate, the load of the log's last seconds to set against worker state sampled
//! now, every route's statistics, and the warnings a reader of the log needs — lines that
//! did not match, a window the log does not cover, requests retried on another upstream.

use crate::diagnosis::access_log::{AccessLogData, OTHER_ROUTES, SecondCounts};
use crate::diagnosis::nginx_format::format_rfc3339;
use crate::diagnosis::{Evidence, InputError, fmt_num, round};

use super::analysis::{Notes, Timings};
use super::endpoints;
use super::input::LatencyInput;
use super::measured::Measured;
use super::report::{AccessLogReport, EndpointStats, LogFileReport};

/// What the access log gave the rest of the analysis.
#[derive(Debug)]
pub(super) struct LogReading {
    /// Every timed route, when the log records a latency.
    pub endpoints: Option<Vec<EndpointStats>>,
    pub load: Load,
    pub report: AccessLogReport,
}

/// The request rate, over the whole log and over its last seconds.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Load {
    /// Requests kept ÷ the seconds they span.
    pub throughput: Option<f64>,
    /// The rate of the log's last seconds, when worker state or the backlog was sampled.
    pub recent_rps: Option<f64>,
    /// The mean upstream time of those seconds, ms.
    pub recent_upstream_ms: Option<f64>,
}

/// Reads the access log's figures into `t` (where the caller left them out) and `notes`.
/// A log of which no line matches the format is an error: the format is wrong.
pub(super) fn read(
    source: &str,
    log: &AccessLogData,
    input: &LatencyInput,
    m: &Measured,
    t: &mut Timings,
    notes: &mut Notes,
) -> Result<LogReading, InputError> {
    refuse_unmatched(log)?;
    if log.lines == 0 {
        notes.warnings.push(
            "The access log has no lines: check the path and that nginx writes to it.".to_owned(),
        );
    }
    fill_nginx_timings(source, log, t, notes);
    let endpoints = (log.parsed > 0 && log.has_request_time | log.has_upstream_time)
        .then(|| endpoints::from_log(log));
    read_warnings(log, notes);
    let kept = log.parsed - log.outside_window;
    let throughput = arrival_rps(log, kept);
    let (recent_rps, recent_upstream_ms) = if m.workers.is_some() || m.queue.is_some() {
        recent_load(source, log, input, notes)
    } else {
        (None, None)
    };
    notes.evidence.push(Evidence::number(
        "requests",
        kept as f64,
        "requests",
        source,
    ));
    notes.evidence.push(Evidence::number(
        "unparsed_lines",
        log.unparsed as f64,
        "lines",
        source,
    ));
    if let Some(r) = throughput {
        notes
            .evidence
            .push(Evidence::number("arrival_rps", r, "rps", source));
    }
    coverage_warning(log, notes);
    Ok(LogReading {
        endpoints,
        load: Load {
            throughput,
            recent_rps,
            recent_upstream_ms,
        },
        report: report(log, throughput),
    })
}

/// Where the first line that did not match stopped matching: `FILE line N, byte B: ...`.
fn first_unparsed(log: &AccessLogData) -> Option<String> {
    log.first_error
        .as_ref()
        .map(|(p, e)| format!("{p} line {}, {}", e.line, e.divergence))
}

fn refuse_unmatched(log: &AccessLogData) -> Result<(), InputError> {
    if log.parsed == 0 && log.unparsed > 0 {
        let at = first_unparsed(log)
            .map(|s| format!(" {s}."))
            .unwrap_or_default();
        return Err(InputError::new(
            "access_log.log_format",
            format!(
                "no line of the log matches this log_format ({} lines tried); the first stops matching at{at} Pass the log_format directive that writes this log (grep -r log_format /etc/nginx), or the preset that fits: combined, main, timed.",
                log.unparsed
            ),
        ));
    }
    Ok(())
}

/// The nginx timings of the requests nginx proxied (or, with none proxied, the whole
/// request time), where the caller gave none.
fn fill_nginx_timings(source: &str, log: &AccessLogData, t: &mut Timings, notes: &mut Notes) {
    let s = &log.sums;
    if s.proxied_n > 0 {
        let n = s.proxied_n as f64;
        t.request.fill(
            Some(s.proxied_request_ms as f64 / n),
            source,
            "figures.nginx.request_time_ms",
            notes,
        );
        t.upstream.fill(
            Some(s.proxied_upstream_ms as f64 / n),
            source,
            "figures.nginx.upstream_response_time_ms",
            notes,
        );
        let conn = (s.proxied_connect_n > 0)
            .then(|| s.proxied_connect_ms as f64 / s.proxied_connect_n as f64);
        t.connect.fill(
            conn,
            source,
            "figures.nginx.upstream_connect_time_ms",
            notes,
        );
        if s.request_n > s.proxied_n {
            notes.warnings.push(format!(
                "{} of {} timed requests had no upstream time (served by nginx itself: static files, cache hits, redirects, errors before proxying); the layer split uses the {} proxied ones.",
                s.request_n - s.proxied_n,
                s.request_n,
                s.proxied_n
            ));
        }
    } else if s.request_n > 0 {
        t.request.fill(
            Some(s.request_ms as f64 / s.request_n as f64),
            source,
            "figures.nginx.request_time_ms",
            notes,
        );
    }
}

/// What the format lacks, lines not counted, routes folded, retries, an empty window.
fn read_warnings(log: &AccessLogData, notes: &mut Notes) {
    let w = &mut notes.warnings;
    if !log.has_request_time && !log.has_upstream_time {
        w.push("The log_format records neither $request_time nor $upstream_response_time, so the log gives request counts and errors but no latency. Add them to the format (see the `timed` preset) to get per-endpoint percentiles and worker time.".to_owned());
    } else if !log.has_upstream_time {
        w.push("The log_format has no $upstream_response_time: nginx's own share and worker-seconds are unknown. Add it (see the `timed` preset).".to_owned());
    }
    if log.unparsed > 0 {
        let share = log.unparsed as f64 / log.lines.max(1) as f64 * 100.0;
        w.push(format!(
            "{} of {} lines ({}%) did not match the log_format and were not counted{}.",
            log.unparsed,
            log.lines,
            fmt_num(share),
            first_unparsed(log)
                .map(|s| format!("; the first is {s}"))
                .unwrap_or_default()
        ));
    }
    if log.routes_overflowed > 0 {
        w.push(format!(
            "More distinct routes than the limit: {} requests to further new routes are counted under `{}`. Add route_patterns for the paths that were not folded.",
            log.routes_overflowed, OTHER_ROUTES
        ));
    }
    if log.sums.multi_upstream > 0 {
        w.push(format!(
            "{} requests went to more than one upstream (retries after errors or timeouts, or internal redirects); their upstream times are summed.",
            log.sums.multi_upstream
        ));
    }
    let kept = log.parsed - log.outside_window;
    if kept == 0 && log.parsed > 0 {
        w.push(format!(
            "No request of the log falls inside since/until ({} lines outside); widen the window.",
            log.outside_window
        ));
    }
}

/// Requests per second over the log. Times are whole seconds, and the last one may still be
/// being written: the rate is the requests before it over the seconds from the first up to it.
fn arrival_rps(log: &AccessLogData, kept: u64) -> Option<f64> {
    let last_second = log
        .recent_per_second
        .last()
        .map_or(0, |(_, c)| u64::from(c.requests));
    match (log.first_ts, log.last_ts) {
        (Some(a), Some(b)) if b > a => Some(round(
            kept.saturating_sub(last_second) as f64 / (b - a) as f64,
            3,
        )),
        _ => None,
    }
}

/// Worker state is sampled now: set it against the log's last seconds (as long as the
/// sampling, at least 10 s) — their rate and their upstream time — not the whole log.
fn recent_load(
    source: &str,
    log: &AccessLogData,
    input: &LatencyInput,
    notes: &mut Notes,
) -> (Option<f64>, Option<f64>) {
    if log.recent_per_second.len() <= 1 {
        return (None, None);
    }
    let sampled_s =
        (u64::from(input.samples.saturating_sub(1)) * input.sample_interval_ms).div_ceil(1000) + 1;
    let span = (sampled_s.max(10) as usize).min(log.recent_per_second.len() - 1);
    // The last second may still be being written: left out.
    let full = &log.recent_per_second[..log.recent_per_second.len() - 1];
    let first_seen = log.first_ts.unwrap_or(i64::MIN);
    let covered: Vec<&SecondCounts> = full[full.len() - span..]
        .iter()
        .filter(|(ts, _)| *ts >= first_seen)
        .map(|(_, c)| c)
        .collect();
    let requests: u64 = covered.iter().map(|c| u64::from(c.requests)).sum();
    let up_n: u64 = covered.iter().map(|c| u64::from(c.upstream_n)).sum();
    if covered.len() < 5 || requests == 0 {
        return (None, None);
    }
    let from = format!("{source} (last {} s)", covered.len());
    let rps = round(requests as f64 / covered.len() as f64, 3);
    notes
        .evidence
        .push(Evidence::number("recent_throughput_rps", rps, "rps", &from));
    if up_n == 0 {
        return (Some(rps), None);
    }
    let up = covered.iter().map(|c| c.upstream_ms).sum::<u64>() as f64 / up_n as f64;
    notes.evidence.push(Evidence::number(
        "recent_upstream_response_time_ms",
        round(up, 3),
        "ms",
        &from,
    ));
    (Some(rps), Some(up))
}

/// A window reaching far before the log's first request: the older requests are elsewhere.
fn coverage_warning(log: &AccessLogData, notes: &mut Notes) {
    if let (Some(since), Some(first), Some(last)) = (log.since, log.first_ts, log.last_ts) {
        let asked = (log.until.unwrap_or(last).max(last) - since).max(1);
        let missing = first - since;
        if missing > 30 && missing * 10 > asked {
            notes.warnings.push(format!(
                "The log covers {} s of the {} s asked for: its first request in the window is at {}. Older requests are in rotated files (pass `access.log*`) or the service started later; figures cover only the part read.",
                (last - first).max(0),
                asked,
                format_rfc3339(first)
            ));
        }
    }
}

/// What was read, for the report; the endpoints not listed are counted once they are judged.
fn report(log: &AccessLogData, arrival_rps: Option<f64>) -> AccessLogReport {
    AccessLogReport {
        files: log
            .files
            .iter()
            .map(|f| LogFileReport {
                path: f.path.clone(),
                gzip: f.gzip,
                lines: f.lines,
                parsed_lines: f.parsed,
                unparsed_lines: f.unparsed,
                outside_window_lines: f.outside_window,
            })
            .collect(),
        lines: log.lines,
        parsed_lines: log.parsed,
        unparsed_lines: log.unparsed,
        outside_window_lines: log.outside_window,
        first_unparsed: first_unparsed(log),
        first_request_at: log.first_ts.map(format_rfc3339),
        last_request_at: log.last_ts.map(format_rfc3339),
        arrival_rps,
        latency_basis: if log.has_request_time {
            "request_time"
        } else if log.has_upstream_time {
            "upstream_response_time"
        } else {
            "none"
        }
        .to_owned(),
        routes: log.endpoints.len(),
        endpoints_not_listed: 0,
        requests_not_listed: 0,
        multi_upstream_requests: log.sums.multi_upstream,
    }
}
