//! Target: the Prometheus text exposition parser (`sources::prometheus::parse`) and the
//! worker counts read from a scrape with the default selectors (`read_workers`).
//!
//! Scrapes are built from `# HELP` / `# TYPE` / comment / blank lines and samples with
//! label values holding escapes, `=`, `,`, `}` and any Unicode, quoted metric names inside
//! the braces, values such as `NaN`, `+Inf`, `1e400`, `-0`, optional timestamps and
//! exemplars, and `\n` or `\r\n` line ends. A built scrape must parse to exactly the samples
//! written, and the busy/idle counts must be those the default selectors define. Arbitrary
//! text, and built scrapes with random edits, must never panic and must fail with the
//! number of a line that exists.

use crate::finite;
use proptest::prelude::*;
use proptest::sample::select;
use python_web_troubleshooter::diagnosis::latency::WorkerMetrics;
use python_web_troubleshooter::sources::prometheus::{self, Sample, Selectors};

/// One line of a built scrape: a sample (with its expected parse) or anything else.
#[derive(Debug, Clone)]
struct Line {
    text: String,
    sample: Option<Sample>,
}

/// A label value escaped as the exposition format says: `\\`, `\"` and `\n`.
fn escape(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[a-z0-9_/.]{0,12}",
        2 => any::<String>(),
        1 => select(&["", "\\", "\"", "\n", "a=b,c", "}", "{", "/search?q=a=b,c", " ", "#"][..])
            .prop_map(str::to_owned),
    ]
}

/// A sample value as written and as read (`None` for NaN, which equals nothing).
fn sample_value() -> impl Strategy<Value = (String, Option<f64>)> {
    prop_oneof![
        4 => (0u32..64).prop_map(|n| (n.to_string(), Some(f64::from(n)))),
        2 => finite()
            .prop_map(|x| (x.to_string(), Some(x))),
        1 => finite()
            .prop_map(|x| (format!("{x:e}"), Some(x))),
        1 => select(&[
            ("NaN", None),
            ("+Inf", Some(f64::INFINITY)),
            ("-Inf", Some(f64::NEG_INFINITY)),
            ("1e400", Some(f64::INFINITY)),
            ("-1e400", Some(f64::NEG_INFINITY)),
            ("-0", Some(-0.0)),
            ("1.5E-3", Some(1.5e-3)),
            ("-3", Some(-3.0)),
        ][..])
        .prop_map(|(t, v)| (t.to_owned(), v)),
    ]
}

/// Metric names: the worker gauges the default selectors read, and others that no
/// default selector names.
fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("gunicorn_workers".to_owned()),
        2 => "app_[a-zA-Z0-9_:]{0,12}",
        1 => "app:[a-z_]{1,8}",
    ]
}

fn blank() -> impl Strategy<Value = &'static str> {
    select(&["", "", " ", "\t", "  "][..])
}

/// A sample line. `gunicorn_workers` series carry a `state` of `idle` or `working`.
fn sample_line() -> impl Strategy<Value = Line> {
    (
        metric_name(),
        select(&["idle", "working"][..]),
        prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", label_value()), 0..3),
        any::<bool>(),
        sample_value(),
        prop::option::of(select(&["1395066363000", "-1", "1.5e3", "0"][..])),
        prop::option::of(Just(" # {trace_id=\"abc\"} 0.3 1.0")),
        (blank(), blank(), blank(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(name, state, extra, quoted_name, (value_text, value), ts, exemplar, space)| {
                let (lead, before_brace, inner, trailing_comma, tab) = space;
                let mut labels: Vec<(String, String)> =
                    extra.into_iter().filter(|(k, _)| k != "state").collect();
                if name == "gunicorn_workers" {
                    labels.insert(0, ("state".to_owned(), state.to_owned()));
                }
                let sep = if tab { "\t" } else { " " };
                let mut text = lead.to_owned();
                // A quoted name inside the braces (OpenMetrics 2) instead of before them.
                let quoted_name = quoted_name && !labels.is_empty();
                if !quoted_name {
                    text.push_str(&name);
                }
                if !labels.is_empty() || quoted_name {
                    if !quoted_name {
                        text.push_str(before_brace);
                    }
                    text.push('{');
                    let mut parts: Vec<String> = Vec::new();
                    if quoted_name {
                        parts.push(format!("\"{}\"", escape(&name)));
                    }
                    for (k, v) in &labels {
                        parts.push(format!("{k}{inner}={inner}\"{}\"", escape(v)));
                    }
                    text.push_str(&parts.join(&format!(",{inner}")));
                    if trailing_comma {
                        text.push(',');
                    }
                    text.push('}');
                }
                text.push_str(sep);
                text.push_str(&value_text);
                if let Some(ts) = ts {
                    text.push_str(sep);
                    text.push_str(ts);
                }
                if let Some(e) = exemplar {
                    text.push_str(e);
                }
                Line {
                    text,
                    sample: Some(Sample {
                        name,
                        labels,
                        value: value.unwrap_or(f64::NAN),
                    }),
                }
            },
        )
}

fn other_line() -> impl Strategy<Value = Line> {
    prop_oneof![
        ("[a-z_]{1,12}", "[ -~]{0,30}").prop_map(|(n, h)| format!("# HELP {n} {h}")),
        (
            "[a-z_]{1,12}",
            select(&["gauge", "counter", "histogram", "summary", "untyped"][..])
        )
            .prop_map(|(n, t)| format!("# TYPE {n} {t}")),
        "#[^\n]{0,30}".prop_map(|c| c),
        blank().prop_map(str::to_owned),
        Just("# EOF".to_owned()),
    ]
    .prop_map(|text| Line { text, sample: None })
}

fn scrape() -> impl Strategy<Value = (Vec<Line>, bool)> {
    (
        prop::collection::vec(prop_oneof![3 => sample_line(), 1 => other_line()], 0..12),
        any::<bool>(),
    )
}

fn join(lines: &[Line], crlf: bool) -> String {
    let end = if crlf { "\r\n" } else { "\n" };
    lines.iter().map(|l| format!("{}{end}", l.text)).collect()
}

#[derive(Debug, Clone)]
enum Case {
    Built(Vec<Line>, bool),
    Noise(String),
}

fn case() -> impl Strategy<Value = Case> {
    let edited = (
        scrape(),
        prop::collection::vec((any::<usize>(), any::<char>(), any::<bool>()), 1..4),
    )
        .prop_map(|((lines, crlf), edits)| {
            let mut chars: Vec<char> = join(&lines, crlf).chars().collect();
            for (at, c, insert) in edits {
                let at = if chars.is_empty() {
                    0
                } else {
                    at % chars.len()
                };
                if insert || chars.is_empty() {
                    chars.insert(at, c);
                } else {
                    chars.remove(at);
                }
            }
            Case::Noise(chars.into_iter().collect())
        });
    prop_oneof![
        4 => scrape().prop_map(|(l, crlf)| Case::Built(l, crlf)),
        2 => edited,
        1 => any::<String>().prop_map(Case::Noise),
        1 => "[a-z_{}=\",# \\\\\n0-9.+-]{0,80}".prop_map(Case::Noise),
    ]
}

fn same_value(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// What the default selectors make of `samples`, computed here from their definition:
/// busy = Σ working, idle = Σ idle; a missing one is the total (Σ all `gunicorn_workers`)
/// minus the other, at least 0; finite and non-negative, or an error.
fn expected_workers(samples: &[Sample]) -> Option<(f64, f64)> {
    let sum = |state: Option<&str>| {
        let mut hit = false;
        let mut total = 0.0;
        for s in samples.iter().filter(|s| {
            s.name == "gunicorn_workers"
                && state.is_none_or(|st| s.labels.iter().any(|(k, v)| k == "state" && v == st))
        }) {
            hit = true;
            total += s.value;
        }
        hit.then_some(total)
    };
    let (busy, idle) = match (sum(Some("working")), sum(Some("idle")), sum(None)) {
        (Some(b), Some(i), _) => (b, i),
        (Some(b), None, Some(t)) => (b, (t - b).max(0.0)),
        (None, Some(i), Some(t)) => ((t - i).max(0.0), i),
        _ => return None,
    };
    (busy.is_finite() && idle.is_finite() && busy >= 0.0 && idle >= 0.0).then_some((busy, idle))
}

fn check_scrape(text: &str, sel: &Selectors) -> Result<Option<Vec<Sample>>, TestCaseError> {
    let first = prometheus::parse(text);
    let again = prometheus::parse(text);
    prop_assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "parse is not deterministic"
    );
    match first {
        Err(e) => {
            let lines = text.lines().count();
            prop_assert!(
                e.line >= 1 && e.line <= lines,
                "error on line {} of {}: {}",
                e.line,
                lines,
                e
            );
            prop_assert!(!e.message.is_empty());
            Ok(None)
        }
        Ok(samples) => {
            if let Ok(w) = prometheus::read_workers(&samples, sel) {
                prop_assert!(w.busy.is_finite() && w.busy >= 0.0, "{:?}", w);
                prop_assert!(w.idle.is_finite() && w.idle >= 0.0, "{:?}", w);
                prop_assert!(w.queue.is_none_or(|q| q.is_finite() && q >= 0.0));
            }
            Ok(Some(samples))
        }
    }
}

#[test]
fn prometheus_text() {
    let sel = prometheus::compile(&WorkerMetrics::default(), "worker_metrics")
        .expect("the default selectors compile");
    crate::fuzz("prometheus_text", case(), |case| match case {
        Case::Noise(text) => check_scrape(&text, &sel).map(|_| ()),
        Case::Built(lines, crlf) => {
            let text = join(&lines, crlf);
            let samples = check_scrape(&text, &sel)?;
            prop_assert!(
                samples.is_some(),
                "a built scrape does not parse:\n{}",
                text
            );
            let samples = samples.unwrap();
            let written: Vec<&Sample> = lines.iter().filter_map(|l| l.sample.as_ref()).collect();
            prop_assert_eq!(samples.len(), written.len(), "{}", text);
            for (got, want) in samples.iter().zip(&written) {
                prop_assert_eq!(&got.name, &want.name);
                prop_assert_eq!(&got.labels, &want.labels);
                prop_assert!(
                    same_value(got.value, want.value),
                    "value {} read as {}",
                    want.value,
                    got.value
                );
            }
            match (
                prometheus::read_workers(&samples, &sel),
                expected_workers(&samples),
            ) {
                (Ok(w), Some((busy, idle))) => {
                    prop_assert!(same_value(w.busy, busy) && same_value(w.idle, idle));
                    prop_assert_eq!(w.queue, None);
                }
                (Err(m), None) => prop_assert!(!m.is_empty()),
                (got, want) => {
                    prop_assert!(false, "read_workers gave {:?}, expected {:?}", got, want)
                }
            }
            Ok(())
        }
    });
}
