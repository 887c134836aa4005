//! [`LogStats`]: the lines of one file (or one part of one) read into per-route
//! accumulators, the totals and the last seconds; parts are merged, then turned into an
//! [`AccessLogData`]. Memory is bounded by the number of distinct routes.

use crate::diagnosis::FastMap;
use crate::diagnosis::nginx_format::{
    Divergence, Field, LogFormat, TimeList, parse_ms, parse_msec, parse_rfc3339, parse_status,
    parse_time_list, parse_time_local,
};

use super::data::{AccessLogData, FileData, RouteFigures};
use super::recent::RecentSeconds;
use super::routes::route_into;
use super::samples::Samples;
use super::{LogOptions, OTHER_ROUTES};

/// The routes seen, by their bytes. Keys come from the log, so a crafted set could collide
/// under [`FastMap`]'s multiply-rotate hash; the route limit bounds how long a probe can get,
/// so that costs speed, never memory or correctness.
type RouteMap = FastMap<Vec<u8>, EndpointAcc>;

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

    /// Counts one request: its status, its latency and its upstream time, when known.
    #[inline]
    fn add(&mut self, status: Option<u16>, latency: Option<u64>, upstream_ms: Option<u64>) {
        self.requests += 1;
        if status.is_some_and(|s| s >= 500) {
            self.errors += 1;
        }
        if let Some(ms) = latency {
            self.latency.record(ms);
            self.timed += 1;
        }
        if let Some(u) = upstream_ms {
            self.upstream_ms += u;
            self.upstream_n += 1;
        }
    }

    /// Adds another part's counts of the same route.
    fn merge(&mut self, other: EndpointAcc) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.timed += other.timed;
        self.upstream_ms += other.upstream_ms;
        self.upstream_n += other.upstream_n;
        self.latency.merge(other.latency);
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

impl Sums {
    /// Adds one request's timings to the totals.
    #[inline]
    fn add_request(
        &mut self,
        request_ms: Option<u64>,
        upstream: Option<TimeList>,
        upstream_ms: Option<u64>,
        connect: Option<TimeList>,
        header: Option<TimeList>,
    ) {
        let connect = connect.filter(|c| c.count > 0);
        if let Some(c) = connect {
            self.connect_ms += c.sum_ms;
            self.connect_n += 1;
        }
        if let (Some(r), Some(u)) = (request_ms, upstream_ms) {
            self.proxied_n += 1;
            self.proxied_request_ms += r;
            self.proxied_upstream_ms += u;
            if let Some(c) = connect {
                self.proxied_connect_ms += c.sum_ms;
                self.proxied_connect_n += 1;
            }
        }
        if let Some(h) = header.filter(|h| h.count > 0) {
            self.header_ms += h.sum_ms;
            self.header_n += 1;
        }
        if upstream.is_some_and(|u| u.tries > 1) {
            self.multi_upstream += 1;
        }
        if let Some(r) = request_ms {
            self.request_ms += r;
            self.request_n += 1;
        }
        if let Some(u) = upstream_ms {
            self.upstream_ms += u;
            self.upstream_n += 1;
        }
    }

    /// Adds another part's totals.
    fn add(&mut self, o: Sums) {
        self.request_ms += o.request_ms;
        self.request_n += o.request_n;
        self.upstream_ms += o.upstream_ms;
        self.upstream_n += o.upstream_n;
        self.connect_ms += o.connect_ms;
        self.connect_n += o.connect_n;
        self.header_ms += o.header_ms;
        self.header_n += o.header_n;
        self.multi_upstream += o.multi_upstream;
        self.proxied_n += o.proxied_n;
        self.proxied_request_ms += o.proxied_request_ms;
        self.proxied_upstream_ms += o.proxied_upstream_ms;
        self.proxied_connect_ms += o.proxied_connect_ms;
        self.proxied_connect_n += o.proxied_connect_n;
    }
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

        self.route_of(&t);

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
        self.sums
            .add_request(request_ms, upstream, upstream_ms, t.connect, t.header);
        let latency = if self.format.has(Field::RequestTime) {
            request_ms
        } else {
            upstream_ms
        };

        self.count_in_route(status, latency, upstream_ms);
    }

    /// Counts the request under the route in `route_buf`; past the route limit, a new route
    /// is counted under [`OTHER_ROUTES`].
    #[inline]
    fn count_in_route(
        &mut self,
        status: Option<u16>,
        latency: Option<u64>,
        upstream_ms: Option<u64>,
    ) {
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
        acc.add(status, latency, upstream_ms);
    }

    /// Writes the route of a line into `route_buf`: `$request_method` + `$uri` when logged,
    /// else the request line.
    #[inline]
    fn route_of(&mut self, t: &Typed<'_>) {
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
        self.sums.add(other.sums);
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
                Some(mine) => mine.merge(acc),
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
