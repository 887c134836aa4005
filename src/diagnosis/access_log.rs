//! Per-endpoint statistics from access-log lines: route templates, percentiles, errors and
//! the worker time each endpoint consumes.
//!
//! Lines are fed one at a time to a [`LogStats`] (the adapter reads the files, possibly on
//! several threads, each with its own `LogStats`, merged at the end); nothing here does I/O.
//! Memory is bounded by the number of distinct routes, never by the number of lines.
//!
//! ## Route templates
//! Paths are folded into routes the way Sentry names transactions, method included:
//! `GET /api/orders/12345?page=2` → `GET /api/orders/{id}`. A path segment becomes
//! - `{id}` when it is all digits;
//! - `{uuid}` when it is a UUID (8-4-4-4-12 hex digits);
//! - `{hash}` when it is 16 or more hex digits with at least one digit (commit ids, digests);
//! - `{token}` when it is 20 or more characters of letters, digits, `-` and `_` that mix
//!   letters and digits (API keys, signed ids, base64 slugs).
//!
//! Operator-supplied templates (`/users/{name}/profile`, `/static/{*path}`) are tried first:
//! `{x}` matches one segment, `{*x}` the rest of the path. The query string is dropped.
//! Past [`LogOptions::max_routes`] distinct routes (scanners probing random paths), further
//! new routes are counted under `OTHER (route limit reached)` and a warning says so.
//!
//! ## Percentiles
//! Per endpoint, latency is kept exactly (every value) up to [`EXACT_SAMPLES`] requests,
//! then in an HDR histogram with 3 significant digits (relative error ≤ 0.1 %, far inside
//! the 1 % asked of it) from 1 ms to 1 hour; nginx times have millisecond resolution, so
//! values under 2048 ms are exact in both. p50/p95/p99 are the nearest-rank percentiles.
//! Latency is `$request_time` (what the client waited) when the format records it, else
//! `$upstream_response_time`.
//!
//! ## Worker time
//! `worker_seconds` is the sum of `$upstream_response_time` over the endpoint's requests:
//! the time a Gunicorn/uWSGI worker was held for it (including time in the accept queue,
//! which nginx cannot tell apart). Its share of the total is the share of the fleet's
//! capacity the endpoint consumes. `error_percent` counts responses with status ≥ 500.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use hdrhistogram::Histogram;

use super::nginx_format::{
    Divergence, Field, LogFormat, TimeList, parse_ms, parse_msec, parse_rfc3339, parse_status,
    parse_time_list, parse_time_local,
};

/// Requests per endpoint kept as exact values before switching to a histogram.
pub const EXACT_SAMPLES: usize = 512;

/// Highest latency recorded in a histogram, ms (one hour); longer values are clamped.
pub const MAX_TRACKED_MS: u64 = 3_600_000;

/// The route name used once the route limit is reached.
pub const OTHER_ROUTES: &str = "OTHER (route limit reached)";

/// How lines are read and grouped.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Keep only requests at or after this Unix time.
    pub since: Option<i64>,
    /// Keep only requests before this Unix time.
    pub until: Option<i64>,
    /// Operator-supplied route templates, tried before the automatic folding.
    pub templates: Vec<RouteTemplate>,
    /// Most distinct routes kept.
    pub max_routes: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            templates: Vec::new(),
            max_routes: 2000,
        }
    }
}

/// One segment of an operator-supplied template.
#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(Vec<u8>),
    One,
    Rest,
}

/// An operator-supplied route template such as `/users/{name}/profile`.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteTemplate {
    text: String,
    segments: Vec<Segment>,
}

impl RouteTemplate {
    /// Parses `/a/{x}/b` or `/static/{*path}`. The message says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!(
                "`{text}` must start with `/`, e.g. `/api/users/{{name}}/profile`"
            ));
        }
        let parts: Vec<&str> = text[1..].split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = if p.starts_with("{*") && p.ends_with('}') {
                if i + 1 != parts.len() {
                    return Err(format!(
                        "`{text}`: `{p}` matches the rest of the path, so it must be the last segment"
                    ));
                }
                Segment::Rest
            } else if p.starts_with('{') && p.ends_with('}') && p.len() > 2 {
                Segment::One
            } else if p.contains(['{', '}']) {
                return Err(format!(
                    "`{text}`: a placeholder must be a whole segment like `{{id}}`, got `{p}`"
                ));
            } else {
                Segment::Literal(p.as_bytes().to_vec())
            };
            segments.push(seg);
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }

    fn matches(&self, path: &[u8]) -> bool {
        let mut parts = path[1..].split(|&b| b == b'/');
        for seg in &self.segments {
            match seg {
                Segment::Rest => return true,
                Segment::One => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(l) => match parts.next() {
                    Some(p) if p == l.as_slice() => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn is_uuid(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => is_hex(b),
        })
}

/// What an id-like path segment becomes, or `None` to keep it.
fn fold_segment(s: &[u8]) -> Option<&'static [u8]> {
    if s.is_empty() {
        return None;
    }
    if s.iter().all(u8::is_ascii_digit) {
        return Some(b"{id}");
    }
    if s.len() == 36 && is_uuid(s) {
        return Some(b"{uuid}");
    }
    if s.len() >= 16 && s.iter().all(|&b| is_hex(b)) && s.iter().any(u8::is_ascii_digit) {
        return Some(b"{hash}");
    }
    if s.len() >= 20
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && s.iter().any(u8::is_ascii_digit)
        && s.iter().any(u8::is_ascii_alphabetic)
    {
        return Some(b"{token}");
    }
    None
}

/// Folds the fingerprint of a file name: `app.9f86d081.js` → `app.{hash}.js`. A dot-part of
/// 8 or more hex digits is folded when it sits between name and extension or mixes digits
/// and letters; an all-digit part becomes `{id}`.
fn fold_file_name(seg: &[u8], out: &mut Vec<u8>) {
    let parts = seg.split(|&b| b == b'.').count();
    for (i, part) in seg.split(|&b| b == b'.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        // Between the name and the extension, 8+ hex digits are a fingerprint even when
        // they happen to hold no digit (`app.deadbeef.js`).
        let middle = i > 0 && i + 1 < parts;
        let hex = part.len() >= 8
            && part.iter().all(|&b| is_hex(b))
            && (middle || part.iter().any(u8::is_ascii_digit))
            && (middle || part.iter().any(u8::is_ascii_alphabetic));
        if hex {
            out.extend_from_slice(b"{hash}");
        } else {
            match fold_segment(part) {
                Some(name) => out.extend_from_slice(name),
                None => out.extend_from_slice(part),
            }
        }
    }
}

/// Writes the route of `method path` into `out` (cleared first).
pub fn route_into(method: &[u8], target: &[u8], templates: &[RouteTemplate], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(method);
    out.push(b' ');
    let path = match memchr::memchr2(b'?', b'#', target) {
        Some(i) => &target[..i],
        None => target,
    };
    // An absolute-form target (`GET http://host/path`) names the path after the host.
    let path = if path.starts_with(b"http://") || path.starts_with(b"https://") {
        let after = &path[path.iter().position(|&b| b == b':').unwrap_or(0) + 3..];
        match memchr::memchr(b'/', after) {
            Some(i) => &after[i..],
            None => b"/",
        }
    } else {
        path
    };
    if !path.starts_with(b"/") {
        out.extend_from_slice(b"(not a path)");
        return;
    }
    if let Some(t) = templates.iter().find(|t| t.matches(path)) {
        out.extend_from_slice(t.text.as_bytes());
        return;
    }
    for seg in path[1..].split(|&b| b == b'/') {
        out.push(b'/');
        match fold_segment(seg) {
            Some(name) => out.extend_from_slice(name),
            None if seg.contains(&b'.') => fold_file_name(seg, out),
            None => out.extend_from_slice(seg),
        }
    }
}

/// A fast hash for route keys (the Fx multiply-rotate). Keys come from the log, so a crafted
/// set could collide; the route limit bounds how long a probe can get, so that costs speed,
/// never memory or correctness.
#[derive(Default, Clone, Copy)]
struct RouteHasher(u64);

impl Hasher for RouteHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

type RouteMap = HashMap<Vec<u8>, EndpointAcc, BuildHasherDefault<RouteHasher>>;

/// The latencies of one endpoint: exact while few, an HDR histogram after.
#[derive(Debug, Clone)]
enum Samples {
    Exact(Vec<u32>),
    Hdr(Box<Histogram<u32>>),
}

fn new_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_TRACKED_MS, 3).expect("constant, valid bounds")
}

impl Samples {
    fn record(&mut self, ms: u64) {
        let ms = ms.min(MAX_TRACKED_MS);
        match self {
            Self::Exact(v) => {
                v.push(ms as u32);
                if v.len() > EXACT_SAMPLES {
                    let mut h = new_histogram();
                    for x in v.iter() {
                        h.saturating_record(u64::from(*x));
                    }
                    *self = Self::Hdr(Box::new(h));
                }
            }
            Self::Hdr(h) => h.saturating_record(ms),
        }
    }

    fn merge(&mut self, other: Samples) {
        match other {
            Self::Exact(v) => v.into_iter().for_each(|x| self.record(u64::from(x))),
            Self::Hdr(h) => {
                if let Self::Exact(v) = self {
                    let mut mine = new_histogram();
                    for x in v.iter() {
                        mine.saturating_record(u64::from(*x));
                    }
                    *self = Self::Hdr(Box::new(mine));
                }
                if let Self::Hdr(mine) = self {
                    // Same bounds on both sides, so adding cannot fail.
                    let _ = mine.add(&*h);
                }
            }
        }
    }

    /// Nearest-rank percentiles `qs` (0–1) and the maximum, ms.
    fn quantiles(&mut self, qs: &[f64]) -> (Vec<f64>, f64) {
        match self {
            Self::Exact(v) => {
                if v.is_empty() {
                    return (vec![0.0; qs.len()], 0.0);
                }
                v.sort_unstable();
                let n = v.len();
                let at = |q: f64| {
                    let rank = (q * n as f64).ceil().max(1.0) as usize;
                    f64::from(v[rank.min(n) - 1])
                };
                (qs.iter().map(|q| at(*q)).collect(), f64::from(v[n - 1]))
            }
            Self::Hdr(h) => (
                qs.iter().map(|q| h.value_at_quantile(*q) as f64).collect(),
                h.max() as f64,
            ),
        }
    }
}

/// Everything kept about one endpoint.
#[derive(Debug, Clone)]
struct EndpointAcc {
    requests: u64,
    errors: u64,
    latency: Samples,
    timed: u64,
    upstream_ms: u64,
    upstream_n: u64,
}

impl EndpointAcc {
    fn new() -> Self {
        Self {
            requests: 0,
            errors: 0,
            latency: Samples::Exact(Vec::new()),
            timed: 0,
            upstream_ms: 0,
            upstream_n: 0,
        }
    }
}

/// The values of one line that the statistics use.
struct Typed<'l> {
    ts: Option<i64>,
    status: Option<u16>,
    request_ms: Option<u64>,
    upstream: Option<TimeList>,
    connect: Option<TimeList>,
    header: Option<TimeList>,
    method: Option<&'l [u8]>,
    target: Option<&'l [u8]>,
    request: Option<&'l [u8]>,
}

/// The first line that did not match, with where it diverged.
#[derive(Debug, Clone, PartialEq)]
pub struct FirstError {
    /// 1-based line number within its file.
    pub line: u64,
    pub divergence: Divergence,
}

/// Totals over all requests kept.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub request_ms: u64,
    pub request_n: u64,
    pub upstream_ms: u64,
    pub upstream_n: u64,
    pub connect_ms: u64,
    pub connect_n: u64,
    pub header_ms: u64,
    pub header_n: u64,
    /// Requests that went to more than one upstream (retries, internal redirects).
    pub multi_upstream: u64,
    /// Requests with both `$request_time` and an upstream time: the population the layer
    /// split is computed on, so nginx-only requests (static files, cache hits) do not skew it.
    pub proxied_n: u64,
    pub proxied_request_ms: u64,
    pub proxied_upstream_ms: u64,
    pub proxied_connect_ms: u64,
    pub proxied_connect_n: u64,
}

/// Accumulates the lines of one file (or one part of one).
#[derive(Debug)]
pub struct LogStats<'f> {
    format: &'f LogFormat,
    options: &'f LogOptions,
    routes: RouteMap,
    route_buf: Vec<u8>,
    /// The last `$time_local`-style value and its parse: consecutive lines mostly share it.
    last_time: ([u8; 32], usize, Option<i64>),
    /// Lines seen (non-empty).
    pub lines: u64,
    /// Lines that matched the format.
    pub parsed: u64,
    /// Lines that did not match.
    pub unparsed: u64,
    /// Matched lines outside the since/until window.
    pub outside_window: u64,
    /// The first line that did not match.
    pub first_error: Option<FirstError>,
    pub sums: Sums,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Requests per second over the last [`RECENT_SECONDS`] seconds of the log.
    recent: RecentSeconds,
    /// Requests counted under [`OTHER_ROUTES`] because the route limit was reached.
    pub routes_overflowed: u64,
}

impl<'f> LogStats<'f> {
    pub fn new(format: &'f LogFormat, options: &'f LogOptions) -> Self {
        Self {
            format,
            options,
            routes: RouteMap::default(),
            route_buf: Vec::with_capacity(128),
            last_time: ([0; 32], 0, None),
            lines: 0,
            parsed: 0,
            unparsed: 0,
            outside_window: 0,
            first_error: None,
            sums: Sums::default(),
            first_ts: None,
            last_ts: None,
            recent: RecentSeconds::default(),
            routes_overflowed: 0,
        }
    }

    /// Reads one line (without its newline). `line_no` is 1-based within its file, and is
    /// only used to report the first line that does not match.
    #[inline]
    pub fn add_line(&mut self, line: &[u8], line_no: u64) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return;
        }
        self.lines += 1;
        match self.typed(line) {
            Ok(t) => {
                self.parsed += 1;
                self.record(t);
            }
            Err(divergence) => {
                self.unparsed += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(FirstError {
                        line: line_no,
                        divergence,
                    });
                }
            }
        }
    }

    /// Splits a line and parses the values the analysis uses, each exactly once.
    #[inline]
    fn typed<'l>(&mut self, line: &'l [u8]) -> Result<Typed<'l>, Divergence> {
        let f = self.format;
        let v = f.split(line)?;
        let bad = |field: Field, value: &[u8]| f.value_divergence(line, field, value);
        type TimeParser = fn(&[u8]) -> Option<i64>;
        const TIMES: [(Field, TimeParser); 3] = [
            (Field::TimeLocal, parse_time_local),
            (Field::TimeIso8601, parse_rfc3339),
            (Field::Msec, parse_msec),
        ];
        let ts = match TIMES
            .iter()
            .find_map(|(field, parse)| v.get(*field).map(|raw| (*field, *parse, raw)))
        {
            Some((field, parse, raw)) => {
                let (buf, len, cached) = &mut self.last_time;
                if cached.is_some() && *len == raw.len() && buf[..*len] == *raw {
                    *cached
                } else {
                    let t = parse(raw).ok_or_else(|| bad(field, raw))?;
                    if raw.len() <= buf.len() {
                        buf[..raw.len()].copy_from_slice(raw);
                        *len = raw.len();
                        *cached = Some(t);
                    }
                    Some(t)
                }
            }
            None => None,
        };
        let list = |field: Field| match v.get(field) {
            Some([]) => Ok(None),
            Some(raw) => parse_time_list(raw)
                .map(Some)
                .ok_or_else(|| bad(field, raw)),
            None => Ok(None),
        };
        let request_ms = match v.get(Field::RequestTime) {
            Some(b"-") | None => None,
            Some(raw) => Some(parse_ms(raw).ok_or_else(|| bad(Field::RequestTime, raw))?),
        };
        let status = match v.get(Field::Status) {
            Some(raw) => Some(parse_status(raw).ok_or_else(|| bad(Field::Status, raw))?),
            None => v.get(Field::UpstreamStatus).and_then(parse_status),
        };
        Ok(Typed {
            ts,
            status,
            request_ms,
            upstream: list(Field::UpstreamResponseTime)?,
            connect: list(Field::UpstreamConnectTime)?,
            header: list(Field::UpstreamHeaderTime)?,
            method: v.get(Field::RequestMethod),
            target: v.get(Field::Uri).or(v.get(Field::RequestUri)),
            request: v.get(Field::Request),
        })
    }

    #[inline]
    fn record(&mut self, t: Typed<'_>) {
        if let Some(ts) = t.ts {
            if self.options.since.is_some_and(|s| ts < s)
                || self.options.until.is_some_and(|u| ts >= u)
            {
                self.outside_window += 1;
                return;
            }
            self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
            self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        }

        // Route: $request_method + $uri when logged, else the request line.
        let (method, target): (&[u8], &[u8]) = match (t.method, t.target, t.request) {
            (Some(m), Some(u), _) => (m, u),
            (_, _, Some(r)) => {
                let mut parts = r.splitn(3, |&b| b == b' ');
                match (parts.next(), parts.next()) {
                    (Some(m), Some(t)) if !m.is_empty() && m.iter().all(u8::is_ascii_uppercase) => {
                        (m, t)
                    }
                    _ => (b"-", b"(invalid request line)"),
                }
            }
            (None, Some(u), None) => (b"ANY", u),
            (Some(m), None, None) => (m, b"(no path logged)"),
            (None, None, None) => (b"ANY", b"(no path logged)"),
        };
        if target == b"(invalid request line)" {
            self.route_buf.clear();
            self.route_buf.extend_from_slice(b"(invalid request line)");
        } else {
            route_into(method, target, &self.options.templates, &mut self.route_buf);
        }

        let status = t.status;
        let request_ms = t.request_ms;
        let upstream = t.upstream;
        let upstream_ms = upstream.filter(|u| u.count > 0).map(|u| u.sum_ms);
        if let Some(ts) = t.ts {
            self.recent.add(
                ts,
                1,
                upstream_ms.unwrap_or(0),
                u32::from(upstream_ms.is_some()),
            );
        }
        let connect = t.connect.filter(|c| c.count > 0);
        if let Some(c) = connect {
            self.sums.connect_ms += c.sum_ms;
            self.sums.connect_n += 1;
        }
        if let (Some(r), Some(u)) = (request_ms, upstream_ms) {
            self.sums.proxied_n += 1;
            self.sums.proxied_request_ms += r;
            self.sums.proxied_upstream_ms += u;
            if let Some(c) = connect {
                self.sums.proxied_connect_ms += c.sum_ms;
                self.sums.proxied_connect_n += 1;
            }
        }
        if let Some(h) = t.header.filter(|h| h.count > 0) {
            self.sums.header_ms += h.sum_ms;
            self.sums.header_n += 1;
        }
        if upstream.is_some_and(|u| u.tries > 1) {
            self.sums.multi_upstream += 1;
        }
        if let Some(r) = request_ms {
            self.sums.request_ms += r;
            self.sums.request_n += 1;
        }
        if let Some(u) = upstream_ms {
            self.sums.upstream_ms += u;
            self.sums.upstream_n += 1;
        }
        let latency = if self.format.has(Field::RequestTime) {
            request_ms
        } else {
            upstream_ms
        };

        let acc = match self.routes.get_mut(self.route_buf.as_slice()) {
            Some(acc) => acc,
            None => {
                let key = if self.routes.len() >= self.options.max_routes {
                    self.routes_overflowed += 1;
                    OTHER_ROUTES.as_bytes().to_vec()
                } else {
                    self.route_buf.clone()
                };
                self.routes.entry(key).or_insert_with(EndpointAcc::new)
            }
        };
        acc.requests += 1;
        if status.is_some_and(|s| s >= 500) {
            acc.errors += 1;
        }
        if let Some(ms) = latency {
            acc.latency.record(ms);
            acc.timed += 1;
        }
        if let Some(u) = upstream_ms {
            acc.upstream_ms += u;
            acc.upstream_n += 1;
        }
    }

    /// Counts a line too long to be a log line (its bytes were not kept) as not matching.
    pub fn add_oversized(&mut self, line_no: u64) {
        self.lines += 1;
        self.unparsed += 1;
        if self.first_error.is_none() {
            self.first_error = Some(FirstError {
                line: line_no,
                divergence: Divergence {
                    byte: 0,
                    expected: "a log line (this one is longer than 1 MiB)".into(),
                    found: "a longer line".into(),
                },
            });
        }
    }

    /// Adds another part's counts (another file, or another thread's share of one).
    /// `line_offset` is how many lines of the same file come before `other`'s first line.
    pub fn merge(&mut self, other: LogStats<'_>, line_offset: u64) {
        self.lines += other.lines;
        self.parsed += other.parsed;
        self.unparsed += other.unparsed;
        self.outside_window += other.outside_window;
        if self.first_error.is_none() {
            self.first_error = other.first_error.map(|mut e| {
                e.line += line_offset;
                e
            });
        }
        let s = &mut self.sums;
        let o = other.sums;
        s.request_ms += o.request_ms;
        s.request_n += o.request_n;
        s.upstream_ms += o.upstream_ms;
        s.upstream_n += o.upstream_n;
        s.connect_ms += o.connect_ms;
        s.connect_n += o.connect_n;
        s.header_ms += o.header_ms;
        s.header_n += o.header_n;
        s.multi_upstream += o.multi_upstream;
        s.proxied_n += o.proxied_n;
        s.proxied_request_ms += o.proxied_request_ms;
        s.proxied_upstream_ms += o.proxied_upstream_ms;
        s.proxied_connect_ms += o.proxied_connect_ms;
        s.proxied_connect_n += o.proxied_connect_n;
        self.first_ts = match (self.first_ts, other.first_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_ts = match (self.last_ts, other.last_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.recent.merge(&other.recent);
        self.routes_overflowed += other.routes_overflowed;
        for (route, acc) in other.routes {
            let key = if self.routes.contains_key(&route)
                || self.routes.len() < self.options.max_routes
            {
                route
            } else {
                self.routes_overflowed += acc.requests;
                OTHER_ROUTES.as_bytes().to_vec()
            };
            match self.routes.get_mut(&key) {
                Some(mine) => {
                    mine.requests += acc.requests;
                    mine.errors += acc.errors;
                    mine.timed += acc.timed;
                    mine.upstream_ms += acc.upstream_ms;
                    mine.upstream_n += acc.upstream_n;
                    mine.latency.merge(acc.latency);
                }
                None => {
                    self.routes.insert(key, acc);
                }
            }
        }
    }

    /// Distinct routes so far.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// Per-endpoint figures, in no particular order.
    pub fn endpoints(&mut self) -> Vec<RouteFigures> {
        let has_upstream = self.format.has(Field::UpstreamResponseTime);
        self.routes
            .iter_mut()
            .map(|(route, acc)| {
                let (q, max) = acc.latency.quantiles(&[0.5, 0.95, 0.99]);
                RouteFigures {
                    endpoint: String::from_utf8_lossy(route).into_owned(),
                    requests: acc.requests,
                    timed: acc.timed,
                    p50_ms: q[0],
                    p95_ms: q[1],
                    p99_ms: q[2],
                    max_ms: max,
                    errors: acc.errors,
                    worker_ms: has_upstream.then_some(acc.upstream_ms),
                }
            })
            .collect()
    }
}

/// What a set of log files said, owned: the adapter's result, the core's input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccessLogData {
    /// One entry per file read, in the order given.
    pub files: Vec<FileData>,
    pub lines: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub outside_window: u64,
    /// The first line of any file that did not match: file, line, divergence.
    pub first_error: Option<(String, FirstError)>,
    pub sums: Sums,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Requests per second for the last [`RECENT_SECONDS`] seconds up to `last_ts`, oldest
    /// first: the current throughput, to set against worker state sampled now.
    pub recent_per_second: Vec<(i64, SecondCounts)>,
    pub routes_overflowed: u64,
    pub endpoints: Vec<RouteFigures>,
    /// Which timings the format records.
    pub has_request_time: bool,
    pub has_upstream_time: bool,
    pub has_connect_time: bool,
    pub has_status: bool,
    /// The `since` / `until` bounds applied, Unix seconds.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// The counts of one file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileData {
    pub path: String,
    pub bytes: u64,
    pub gzip: bool,
    pub lines: u64,
    pub parsed: u64,
    pub unparsed: u64,
    pub outside_window: u64,
}

impl LogStats<'_> {
    /// The counts of this (merged) part as one file's entry.
    pub fn file_data(&self, path: &str, bytes: u64, gzip: bool) -> FileData {
        FileData {
            path: path.to_owned(),
            bytes,
            gzip,
            lines: self.lines,
            parsed: self.parsed,
            unparsed: self.unparsed,
            outside_window: self.outside_window,
        }
    }

    /// Turns the merged statistics of all files into owned data.
    pub fn finish(
        mut self,
        files: Vec<FileData>,
        first_error: Option<(String, FirstError)>,
    ) -> AccessLogData {
        let endpoints = self.endpoints();
        let f = self.format;
        AccessLogData {
            files,
            lines: self.lines,
            parsed: self.parsed,
            unparsed: self.unparsed,
            outside_window: self.outside_window,
            first_error,
            sums: self.sums,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            recent_per_second: self.recent.tail(self.last_ts),
            routes_overflowed: self.routes_overflowed,
            endpoints,
            has_request_time: f.has(Field::RequestTime),
            has_upstream_time: f.has(Field::UpstreamResponseTime),
            has_connect_time: f.has(Field::UpstreamConnectTime),
            has_status: f.has(Field::Status) || f.has(Field::UpstreamStatus),
            since: self.options.since,
            until: self.options.until,
        }
    }
}

/// Seconds of per-second request counts kept at the end of the log.
pub const RECENT_SECONDS: usize = 128;

/// Requests, and their upstream time, for the latest seconds seen, in a ring indexed by the
/// second: nginx writes lines in completion order, so the end of the log is its last
/// seconds. Fixed size and a few instructions per line, whatever the log's length.
#[derive(Debug, Clone)]
struct RecentSeconds {
    second: Box<[i64; RECENT_SECONDS]>,
    slot: Box<[SecondCounts; RECENT_SECONDS]>,
}

/// One second of the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondCounts {
    pub requests: u32,
    /// Sum of `$upstream_response_time`, ms, over the `upstream_n` requests that have one.
    pub upstream_ms: u64,
    pub upstream_n: u32,
}

impl Default for RecentSeconds {
    fn default() -> Self {
        Self {
            second: Box::new([i64::MIN; RECENT_SECONDS]),
            slot: Box::new([SecondCounts::default(); RECENT_SECONDS]),
        }
    }
}

impl RecentSeconds {
    #[inline]
    fn add(&mut self, ts: i64, requests: u32, upstream_ms: u64, upstream_n: u32) {
        let i = ts.rem_euclid(RECENT_SECONDS as i64) as usize;
        if self.second[i] < ts {
            // A newer second takes the slot; an older one than the slot holds is dropped.
            self.second[i] = ts;
            self.slot[i] = SecondCounts::default();
        }
        if self.second[i] == ts {
            let s = &mut self.slot[i];
            s.requests = s.requests.saturating_add(requests);
            s.upstream_ms = s.upstream_ms.saturating_add(upstream_ms);
            s.upstream_n = s.upstream_n.saturating_add(upstream_n);
        }
    }

    fn merge(&mut self, other: &Self) {
        for i in 0..RECENT_SECONDS {
            if other.second[i] != i64::MIN {
                let o = other.slot[i];
                self.add(other.second[i], o.requests, o.upstream_ms, o.upstream_n);
            }
        }
    }

    /// The seconds in `(last − RECENT_SECONDS, last]`, oldest first; seconds with no request
    /// are listed empty.
    fn tail(&self, last: Option<i64>) -> Vec<(i64, SecondCounts)> {
        let Some(last) = last else { return Vec::new() };
        (last - RECENT_SECONDS as i64 + 1..=last)
            .map(|ts| {
                let i = ts.rem_euclid(RECENT_SECONDS as i64) as usize;
                let counts = if self.second[i] == ts {
                    self.slot[i]
                } else {
                    SecondCounts::default()
                };
                (ts, counts)
            })
            .collect()
    }
}

/// The figures of one route, before shares are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteFigures {
    pub endpoint: String,
    pub requests: u64,
    /// Requests that had a latency value.
    pub timed: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Responses with status ≥ 500.
    pub errors: u64,
    /// Sum of upstream time, ms; `None` when the format has no `$upstream_response_time`.
    pub worker_ms: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(req: &str, templates: &[RouteTemplate]) -> String {
        let (m, t) = req.split_once(' ').unwrap();
        let mut out = Vec::new();
        route_into(m.as_bytes(), t.as_bytes(), templates, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn recent_seconds_keep_the_end_of_the_log() {
        let n = |t: &(i64, SecondCounts)| (t.0, t.1.requests);
        let mut a = RecentSeconds::default();
        for ts in 1000..1300 {
            a.add(ts, 2, 20, 2);
        }
        a.add(1299, 1, 500, 1);
        // An old line written late does not disturb the recent seconds.
        a.add(1100, 5, 0, 0);
        let tail = a.tail(Some(1299));
        assert_eq!(tail.len(), RECENT_SECONDS);
        assert_eq!(n(&tail[0]), (1299 - RECENT_SECONDS as i64 + 1, 2));
        assert_eq!(
            tail[RECENT_SECONDS - 1].1,
            SecondCounts {
                requests: 3,
                upstream_ms: 520,
                upstream_n: 3
            }
        );
        // Two parts of one file merge into the same counts.
        let mut b = RecentSeconds::default();
        b.add(1299, 4, 40, 4);
        b.add(1301, 7, 70, 7);
        a.merge(&b);
        let tail = a.tail(Some(1301));
        assert_eq!(n(&tail[RECENT_SECONDS - 1]), (1301, 7));
        assert_eq!(n(&tail[RECENT_SECONDS - 2]), (1300, 0));
        assert_eq!(n(&tail[RECENT_SECONDS - 3]), (1299, 7));
        assert!(a.tail(None).is_empty());
    }

    #[test]
    fn paths_fold_into_routes() {
        assert_eq!(route("GET /api/orders/12345", &[]), "GET /api/orders/{id}");
        assert_eq!(
            route("GET /api/orders/12345/items/7?page=2", &[]),
            "GET /api/orders/{id}/items/{id}"
        );
        assert_eq!(
            route("DELETE /u/3f2504e0-4f89-11d3-9a0c-0305e82c3301/", &[]),
            "DELETE /u/{uuid}/"
        );
        assert_eq!(
            route("GET /assets/app.9f86d081884c7d659a2feaa0c55ad015.js", &[]),
            "GET /assets/app.{hash}.js"
        );
        assert_eq!(
            route("GET /static/css/site.012bdad5.css", &[]),
            "GET /static/css/site.{hash}.css"
        );
        assert_eq!(
            route("GET /invoices/1234.pdf", &[]),
            "GET /invoices/{id}.pdf"
        );
        assert_eq!(route("GET /robots.txt", &[]), "GET /robots.txt");
        assert_eq!(
            route("GET /commit/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", &[]),
            "GET /commit/{hash}"
        );
        assert_eq!(
            route("GET /share/aZ3kLm9QpR7sT2uVwX5y", &[]),
            "GET /share/{token}"
        );
        assert_eq!(route("GET /api/users/me", &[]), "GET /api/users/me");
        assert_eq!(route("GET /", &[]), "GET /");
        assert_eq!(route("GET http://example.com/a/1", &[]), "GET /a/{id}");
        assert_eq!(route("GET *", &[]), "GET (not a path)");
    }

    #[test]
    fn operator_templates_come_first() {
        let t = vec![
            RouteTemplate::parse("/users/{name}/profile").unwrap(),
            RouteTemplate::parse("/static/{*path}").unwrap(),
        ];
        assert_eq!(
            route("GET /users/alice/profile", &t),
            "GET /users/{name}/profile"
        );
        assert_eq!(
            route("GET /users/alice/other", &t),
            "GET /users/alice/other"
        );
        assert_eq!(route("GET /static/css/a.css", &t), "GET /static/{*path}");
        assert!(RouteTemplate::parse("users").is_err());
        assert!(RouteTemplate::parse("/a/{*x}/b").is_err());
        assert!(RouteTemplate::parse("/a/x{id}").is_err());
    }

    #[test]
    fn exact_and_histogram_percentiles_agree_within_one_percent() {
        // 20 000 latencies with a long tail; compare the histogram with an exact sort.
        let mut values: Vec<u64> = (0..20_000u64)
            .map(|i| {
                let x = (i * 7919) % 20_000;
                if x % 50 == 0 {
                    1500 + x % 3000
                } else {
                    5 + x % 400
                }
            })
            .collect();
        let mut s = Samples::Exact(Vec::new());
        for v in &values {
            s.record(*v);
        }
        assert!(matches!(s, Samples::Hdr(_)));
        let (q, max) = s.quantiles(&[0.5, 0.95, 0.99]);
        values.sort_unstable();
        let exact = |p: f64| values[((p * values.len() as f64).ceil() as usize).max(1) - 1] as f64;
        for (i, p) in [0.5, 0.95, 0.99].iter().enumerate() {
            let e = exact(*p);
            assert!((q[i] - e).abs() <= e * 0.01, "p{p}: {} vs {e}", q[i]);
        }
        assert!((max - *values.last().unwrap() as f64).abs() <= max * 0.01);
        // Few values stay exact.
        let mut few = Samples::Exact(Vec::new());
        for v in [10, 20, 30, 40, 1000] {
            few.record(v);
        }
        assert_eq!(few.quantiles(&[0.5, 0.99]), (vec![30.0, 1000.0], 1000.0));
    }

    #[test]
    fn stats_count_errors_worker_time_and_window() {
        let format = LogFormat::compile("timed").unwrap();
        let options = LogOptions {
            since: Some(1_696_946_100),
            ..Default::default()
        };
        let mut stats = LogStats::new(&format, &options);
        let lines = [
            r#"1.1.1.1 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders/1 HTTP/1.1" 200 5 "-" "c" rt=0.120 uct="0.001" uht="0.100" urt="0.100""#,
            r#"1.1.1.1 - - [10/Oct/2023:13:55:37 +0000] "GET /api/orders/2 HTTP/1.1" 502 5 "-" "c" rt=0.300 uct="0.001, 0.001" uht="-, 0.2" urt="0.050, 0.200""#,
            r#"1.1.1.1 - - [10/Oct/2023:13:55:38 +0000] "GET /health HTTP/1.1" 200 5 "-" "c" rt=0.001 uct="-" uht="-" urt="-""#,
            r#"1.1.1.1 - - [10/Oct/2023:13:00:00 +0000] "GET /old HTTP/1.1" 200 5 "-" "c" rt=9.000 uct="-" uht="-" urt="9.000""#,
            "garbage that is not a log line",
            "",
            r#"1.1.1.1 - - [10/Oct/2023:13:55:39 +0000] "\x16\x03\x01" 400 0 "-" "-" rt=0.000 uct="-" uht="-" urt="-""#,
        ];
        for (i, l) in lines.iter().enumerate() {
            stats.add_line(l.as_bytes(), i as u64 + 1);
        }
        assert_eq!((stats.lines, stats.parsed, stats.unparsed), (6, 5, 1));
        assert_eq!(stats.outside_window, 1);
        assert_eq!(stats.first_error.as_ref().unwrap().line, 5);
        assert_eq!(stats.sums.upstream_ms, 350);
        assert_eq!(stats.sums.upstream_n, 2);
        assert_eq!(stats.sums.multi_upstream, 1);
        let mut eps = stats.endpoints();
        eps.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
        let names: Vec<_> = eps.iter().map(|e| e.endpoint.as_str()).collect();
        assert_eq!(
            names,
            [
                "(invalid request line)",
                "GET /api/orders/{id}",
                "GET /health"
            ]
        );
        let orders = &eps[1];
        assert_eq!(orders.requests, 2);
        assert_eq!(orders.errors, 1);
        assert_eq!(orders.worker_ms, Some(350));
        assert_eq!(orders.p50_ms, 120.0);
        assert_eq!(orders.max_ms, 300.0);
        assert_eq!(eps[2].worker_ms, Some(0));
    }

    #[test]
    fn merging_parts_keeps_line_numbers_and_counts() {
        let format = LogFormat::compile("$status $request_time $request").unwrap();
        let options = LogOptions::default();
        let mut a = LogStats::new(&format, &options);
        let mut b = LogStats::new(&format, &options);
        for i in 0..600 {
            a.add_line(
                format!("200 0.{:03} GET /x/{i}", i % 1000).as_bytes(),
                i + 1,
            );
            b.add_line(
                format!("500 1.{:03} GET /x/{i}", i % 1000).as_bytes(),
                i + 1,
            );
        }
        b.add_line(b"oops", 601);
        a.merge(b, 600);
        assert_eq!(a.first_error.as_ref().unwrap().line, 1201);
        let eps = a.endpoints();
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].requests, 1200);
        assert_eq!(eps[0].errors, 600);
        assert_eq!(eps[0].worker_ms, None);
        assert!((eps[0].p50_ms - 599.0).abs() <= 6.0, "{}", eps[0].p50_ms);
    }

    #[test]
    fn route_limit_folds_the_rest() {
        let format = LogFormat::compile("$status $request").unwrap();
        let options = LogOptions {
            max_routes: 3,
            ..Default::default()
        };
        let mut s = LogStats::new(&format, &options);
        for p in ["a", "b", "c", "d", "e", "a"] {
            s.add_line(format!("200 GET /{p}").as_bytes(), 1);
        }
        assert_eq!(s.route_count(), 4);
        assert_eq!(s.routes_overflowed, 2);
        let eps = s.endpoints();
        let other = eps.iter().find(|e| e.endpoint == OTHER_ROUTES).unwrap();
        assert_eq!(other.requests, 2);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_every_line_is_counted() {
        // A small xorshift generator: deterministic noise mixed with real fragments.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let pieces: [&[u8]; 14] = [
            b"\"",
            b" ",
            b"[",
            b"]",
            b"-",
            b"0.010, 0.020",
            b" : ",
            b"GET /a/1 HTTP/1.1",
            b"10/Oct/2023:13:55:36 +0000",
            b"rt=",
            b"urt=\"",
            b"\\",
            b"{\"t\":",
            b"\xff\xfe",
        ];
        for spec in [
            "timed",
            "combined",
            r#"{"t":"$time_iso8601","s":$status,"u":"$uri","rt":$request_time}"#,
            "$msec $upstream_response_time $request",
        ] {
            let format = LogFormat::compile(spec).unwrap();
            let options = LogOptions::default();
            let mut stats = LogStats::new(&format, &options);
            let mut line = Vec::new();
            for n in 0..5000u64 {
                line.clear();
                for _ in 0..(next() % 24) {
                    let r = next();
                    if r % 3 == 0 {
                        line.push((r >> 8) as u8);
                    } else {
                        line.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()]);
                    }
                }
                line.retain(|&b| b != b'\n');
                stats.add_line(&line, n + 1);
            }
            assert_eq!(stats.lines, stats.parsed + stats.unparsed, "{spec}");
            let _ = stats.endpoints();
        }
    }
}
