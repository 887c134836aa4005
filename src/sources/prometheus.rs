//! Worker state from a Prometheus text endpoint (Gunicorn or uWSGI exporters, or the app's
//! own gauges), sampled a few times over a short window.
//!
//! The exposition format is parsed here rather than with the `prometheus-parse` crate,
//! whose line splitting mis-reads label values that contain `=` or `,` (a `path` label with
//! a query string is enough). This parser follows the text format 0.0.4 (and the parts of
//! OpenMetrics a scrape can contain): `# HELP` / `# TYPE` / `# EOF` lines, label values
//! with `\\`, `\"` and `\n` escapes and any other character, a trailing comma, quoted metric
//! names inside the braces, `NaN` / `+Inf` / `-Inf`, optional timestamps and exemplars.
//! A line that breaks the format fails the whole scrape, as it does for Prometheus.
//!
//! Which series mean "busy" and "idle" workers is configurable ([`WorkerMetrics`]); the
//! defaults cover the `gunicorn_workers{state="idle"|"working"}` gauges, the common
//! spellings of Gunicorn busy/idle gauges, and uWSGI's exporter (`uwsgi_worker_busy`,
//! `uwsgi_worker_idle`, `uwsgi_listen_queue_length`).

use super::fetch;
use super::reach::Reach;
use super::sampling::Sampling;
use crate::diagnosis::InputError;
use crate::diagnosis::latency::{WorkerMetrics, WorkerSample, WorkerSamples};
use crate::error::ToolError;
use crate::progress::Lane;

/// One sample of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// Where and why a scrape did not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn name(&mut self, label: bool) -> Option<&'a str> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphabetic()
                || c == b'_'
                || (!label && c == b':')
                || (self.i > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| std::str::from_utf8(&self.s[start..self.i]).unwrap_or(""))
    }
    fn quoted(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err("expected `\"` to open a label value".into());
        }
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("a label value is not closed with `\"`".into()),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(b'n') => out.push(b'\n'),
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'"') => out.push(b'"'),
                        Some(c) => {
                            out.push(b'\\');
                            out.push(c);
                        }
                        None => return Err("a label value ends in a lone backslash".into()),
                    }
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| "a label value is not UTF-8".into())
    }
    fn token(&mut self) -> &'a str {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c != b' ' && c != b'\t') {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }
}

fn parse_value(t: &str) -> Option<f64> {
    match t {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => t.parse::<f64>().ok().filter(|_| {
            t.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        }),
    }
}

fn parse_line(line: &str) -> Result<Option<Sample>, String> {
    let mut c = Cursor {
        s: line.as_bytes(),
        i: 0,
    };
    c.skip_blanks();
    match c.peek() {
        None | Some(b'#') => return Ok(None),
        _ => {}
    }
    let mut name = c.name(false).map(str::to_owned);
    let mut labels = Vec::new();
    let before_blanks = c.i;
    c.skip_blanks();
    if c.peek() != Some(b'{') {
        c.i = before_blanks;
    }
    if c.peek() == Some(b'{') {
        c.i += 1;
        loop {
            c.skip_blanks();
            match c.peek() {
                Some(b'}') => {
                    c.i += 1;
                    break;
                }
                Some(b'"') => {
                    // OpenMetrics 2 / Prometheus 3: a quoted name inside the braces.
                    let quoted = c.quoted()?;
                    c.skip_blanks();
                    if c.peek() == Some(b'=') {
                        c.i += 1;
                        c.skip_blanks();
                        labels.push((quoted, c.quoted()?));
                    } else if name.is_none() {
                        name = Some(quoted);
                    } else {
                        return Err("a quoted metric name after the metric name".into());
                    }
                }
                Some(_) => {
                    let label = c
                        .name(true)
                        .ok_or_else(|| format!("expected a label name at byte {}", c.i + 1))?
                        .to_owned();
                    c.skip_blanks();
                    if c.peek() != Some(b'=') {
                        return Err(format!(
                            "expected `=` after a label name at byte {}",
                            c.i + 1
                        ));
                    }
                    c.i += 1;
                    c.skip_blanks();
                    labels.push((label, c.quoted()?));
                }
                None => return Err("the label set is not closed with `}`".into()),
            }
            c.skip_blanks();
            match c.peek() {
                Some(b',') => c.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected `,` or `}}` at byte {}", c.i + 1)),
            }
        }
    }
    let name = name.ok_or_else(|| "a sample line must start with a metric name".to_owned())?;
    if !matches!(c.peek(), Some(b' ' | b'\t')) {
        return Err(format!(
            "expected a space before the value at byte {}",
            c.i + 1
        ));
    }
    c.skip_blanks();
    let at = c.i + 1;
    let raw = c.token();
    let value =
        parse_value(raw).ok_or_else(|| format!("the sample value at byte {at} is not a number"))?;
    c.skip_blanks();
    if c.peek().is_some_and(|b| b != b'#') {
        let at = c.i + 1;
        let ts = c.token();
        if ts.parse::<f64>().is_err() {
            return Err(format!("the timestamp at byte {at} is not a number"));
        }
        c.skip_blanks();
    }
    if c.peek().is_some_and(|b| b != b'#') {
        return Err(format!("unexpected text at byte {}", c.i + 1));
    }
    Ok(Some(Sample {
        name,
        labels,
        value,
    }))
}

/// Parses a scrape in the Prometheus text exposition format.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(s)) => out.push(s),
            Ok(None) => {}
            Err(message) => {
                return Err(ParseError {
                    line: i + 1,
                    message,
                });
            }
        }
    }
    Ok(out)
}

/// A series selector: `name`, `name{label="value",...}`, or `count:` before either to count
/// the matching series instead of adding their values.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    name: String,
    labels: Vec<(String, String)>,
    count: bool,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (count, rest) = match text.trim().strip_prefix("count:") {
            Some(r) => (true, r.trim()),
            None => (false, text.trim()),
        };
        let probe = format!("{rest} 0");
        match parse_line(&probe) {
            Ok(Some(s)) => Ok(Self {
                name: s.name,
                labels: s.labels,
                count,
            }),
            _ => Err(format!(
                "`{text}` is not a series selector; write e.g. gunicorn_workers{{state=\"idle\"}} or count:uwsgi_worker_busy"
            )),
        }
    }

    fn matches(&self, s: &Sample) -> bool {
        s.name == self.name
            && self
                .labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
    }

    /// The sum (or count) over the matching series; `None` when none match.
    fn eval(&self, samples: &[Sample]) -> Option<f64> {
        let mut hit = false;
        let mut total = 0.0;
        for s in samples.iter().filter(|s| self.matches(s)) {
            hit = true;
            total += if self.count { 1.0 } else { s.value };
        }
        hit.then_some(total)
    }
}

/// The parsed selectors of a [`WorkerMetrics`].
#[derive(Debug, Clone)]
pub struct Selectors {
    busy: Vec<Selector>,
    idle: Vec<Selector>,
    total: Vec<Selector>,
    queue: Vec<Selector>,
}

/// Parses the selectors of `cfg`; errors name the list (`worker_metrics.busy`, ...).
pub fn compile(cfg: &WorkerMetrics, field: &str) -> Result<Selectors, InputError> {
    let list = |name: &str, v: &[String]| {
        v.iter()
            .map(|s| Selector::parse(s).map_err(|m| InputError::new(format!("{field}.{name}"), m)))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(Selectors {
        busy: list("busy", &cfg.busy)?,
        idle: list("idle", &cfg.idle)?,
        total: list("total", &cfg.total)?,
        queue: list("queue", &cfg.queue)?,
    })
}

fn first(selectors: &[Selector], samples: &[Sample]) -> Option<f64> {
    selectors.iter().find_map(|s| s.eval(samples))
}

/// Reads busy and idle workers (and the backlog, when exposed) from one scrape.
pub fn read_workers(samples: &[Sample], sel: &Selectors) -> Result<WorkerSample, String> {
    let busy = first(&sel.busy, samples);
    let idle = first(&sel.idle, samples);
    let total = first(&sel.total, samples);
    let (busy, idle) = match (busy, idle, total) {
        (Some(b), Some(i), _) => (b, i),
        (Some(b), None, Some(t)) => (b, (t - b).max(0.0)),
        (None, Some(i), Some(t)) => ((t - i).max(0.0), i),
        _ => {
            // The series' names are the endpoint's text: counted, not repeated.
            let mut names: Vec<&str> = samples.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            return Err(format!(
                "no busy/idle worker series found (looked for {}); the endpoint exposes {} series under {} other metric names. Expose worker-state gauges (e.g. gunicorn_workers{{state=\"idle\"|\"working\"}} set in pre_request/post_request hooks) or name your series in worker_metrics",
                {
                    let mut looked: Vec<&str> = sel
                        .busy
                        .iter()
                        .chain(&sel.idle)
                        .map(|s| s.name.as_str())
                        .collect();
                    looked.sort_unstable();
                    looked.dedup();
                    looked.join(", ")
                },
                samples.len(),
                names.len(),
            ));
        }
    };
    if !busy.is_finite() || !idle.is_finite() || busy < 0.0 || idle < 0.0 {
        return Err(format!(
            "worker counts are not usable numbers (busy {busy}, idle {idle})"
        ));
    }
    Ok(WorkerSample {
        busy,
        idle,
        queue: first(&sel.queue, samples).filter(|q| q.is_finite() && *q >= 0.0),
    })
}

/// Scrapes `url` `sampling.samples` times, `sampling.interval` apart.
pub fn sample_workers(
    field: &str,
    url: &str,
    sel: &Selectors,
    sampling: Sampling,
    reach: &Reach,
    lane: &Lane,
) -> Result<WorkerSamples, ToolError> {
    let samples = sampling.run(lane, "worker state", || {
        let reply = fetch::get(field, url, sampling.timeout, reach)?;
        let samples = parse(&reply.body).map_err(|e| {
            ToolError::bad_input(
                field,
                format!(
                    "{url} answered {} that are not in the Prometheus text format ({e}); pass the URL of a /metrics page",
                    reply.describe()
                ),
            )
        })?;
        read_workers(&samples, sel).map_err(|m| ToolError::bad_input(field, format!("{url}: {m}")))
    })?;
    Ok(WorkerSamples {
        source: format!("prometheus:{url}"),
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRAPE: &str = r#"# HELP gunicorn_workers Workers by state.
# TYPE gunicorn_workers gauge
gunicorn_workers{state="idle"} 1.0
gunicorn_workers{state="working"} 3.0
# a comment
http_requests_total{path="/search?q=a=b,c",method="GET",} 1027 1395066363000
weird{msg="quote \" backslash \\ newline \n end"} +Inf
{"dotted.name", zone="a"} NaN
latency_bucket{le="0.5"} 12 # {trace_id="abc"} 0.3 1.0
# EOF
"#;

    #[test]
    fn parses_real_world_edge_cases() {
        let s = parse(SCRAPE).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[2].labels[0], ("path".into(), "/search?q=a=b,c".into()));
        assert_eq!(s[2].value, 1027.0);
        assert_eq!(s[3].labels[0].1, "quote \" backslash \\ newline \n end");
        assert!(s[3].value.is_infinite());
        assert_eq!(s[4].name, "dotted.name");
        assert!(s[4].value.is_nan());
        assert_eq!(s[5].value, 12.0);
    }

    #[test]
    fn broken_lines_fail_with_their_line_number() {
        for (text, line) in [
            ("ok 1\nbad{a=\"x} 1\n", 2),
            ("m{a=x} 1", 1),
            ("m 1 2 3", 1),
            ("m abc", 1),
            ("m{a=\"1\" b=\"2\"} 1", 1),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
        }
    }

    #[test]
    fn worker_state_from_default_names() {
        let sel = compile(&WorkerMetrics::default(), "worker_metrics").unwrap();
        let w = read_workers(&parse(SCRAPE).unwrap(), &sel).unwrap();
        assert_eq!((w.busy, w.idle, w.queue), (3.0, 1.0, None));
        // uWSGI exporter: per-worker 0/1 gauges and the listen queue.
        let uwsgi = "uwsgi_worker_busy{worker_id=\"1\"} 1\nuwsgi_worker_busy{worker_id=\"2\"} 1\nuwsgi_worker_idle{worker_id=\"1\"} 0\nuwsgi_worker_idle{worker_id=\"2\"} 0\nuwsgi_listen_queue_length 7\n";
        let w = read_workers(&parse(uwsgi).unwrap(), &sel).unwrap();
        assert_eq!((w.busy, w.idle, w.queue), (2.0, 0.0, Some(7.0)));
        // Busy plus a total.
        let w = read_workers(
            &parse("gunicorn_workers_busy 2\ngunicorn_workers_total 8\n").unwrap(),
            &sel,
        )
        .unwrap();
        assert_eq!((w.busy, w.idle), (2.0, 6.0));
        let e = read_workers(&parse("process_cpu_seconds_total 3\n").unwrap(), &sel).unwrap_err();
        // The endpoint's own names are counted, not repeated.
        assert!(!e.contains("process_cpu_seconds_total"), "{e}");
        assert!(e.contains("1 series under 1 other metric names"), "{e}");
        // Parse errors say where, never what.
        for text in [
            "AKIASECRETVALUE",
            "m AKIASECRETVALUE",
            "m 1 AKIASECRETVALUE",
            "m{AKIASECRETVALUE}",
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(!e.contains("SECRET"), "{text}: {e}");
        }
    }

    #[test]
    fn custom_selectors() {
        let cfg = WorkerMetrics {
            busy: vec!["app_workers{kind=\"busy\"}".into()],
            idle: vec![],
            total: vec!["count:app_workers".into()],
            queue: vec![],
        };
        let sel = compile(&cfg, "worker_metrics").unwrap();
        let text = "app_workers{kind=\"busy\"} 1\napp_workers{kind=\"idle\"} 0\napp_workers{kind=\"other\"} 0\n";
        let w = read_workers(&parse(text).unwrap(), &sel).unwrap();
        assert_eq!((w.busy, w.idle), (1.0, 2.0));
        let bad = WorkerMetrics {
            busy: vec!["not a selector {".into()],
            ..Default::default()
        };
        assert_eq!(
            compile(&bad, "worker_metrics").unwrap_err().field,
            "worker_metrics.busy"
        );
    }
}
