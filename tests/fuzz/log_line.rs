//! Target: the access-log line parser (`LogFormat::split` / `parse`) and the statistics
//! fed from it (`LogStats::add_line`, `finish`).
//!
//! For the presets (combined, main, timed), a JSON format written with `escape=json` and a
//! format of upstream lists (`$upstream_status $upstream_response_time` with retries
//! `0.010, 0.020`, internal redirects ` : ` and `-`), lines are built the way nginx writes
//! them, from random values escaped as the format's `escape=` says. Every built line must
//! parse, give back each value as written, and add up in the statistics (request time,
//! upstream time, retries). Arbitrary bytes and built lines with random edits must never
//! panic, and every line must be counted once as parsed or not.

use proptest::prelude::*;
use proptest::sample::select;
use python_web_troubleshooter::diagnosis::access_log::{LogOptions, LogStats};
use python_web_troubleshooter::diagnosis::nginx_format::{Escape, Field, LogFormat};

use crate::log_format::FIELDS;

const JSON: &str = r#"log_format json_timed escape=json '{"time":"$time_iso8601","method":"$request_method","uri":"$uri","status":$status,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","ua":"$http_user_agent"}';"#;

const LISTS: &str = "$msec $status $upstream_status $upstream_response_time $upstream_connect_time $request_method $uri";

const SPECS: [&str; 5] = ["combined", "main", "timed", JSON, LISTS];

/// A compiled format and its pieces: literal text or a variable name.
struct Format {
    format: LogFormat,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Var(String),
}

fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            out.push(Piece::Literal(rest[..at].to_owned()));
        }
        let name_len = rest[at + 1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - at - 1);
        out.push(Piece::Var(rest[at + 1..at + 1 + name_len].to_owned()));
        rest = &rest[at + 1 + name_len..];
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest.to_owned()));
    }
    out
}

fn formats() -> Vec<Format> {
    SPECS
        .iter()
        .map(|spec| {
            let format = LogFormat::compile(spec).expect("the fuzzed formats compile");
            let pieces = pieces(&format.text);
            Format { format, pieces }
        })
        .collect()
}

/// nginx's default escaping: `"`, `\` and bytes outside printable ASCII as `\xXX`.
fn escape_default(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// nginx's `escape=json`: `"` and `\` escaped, control characters as `\n`... or `\u00XX`.
fn escape_json(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A time in seconds with millisecond resolution, as nginx writes it, and its value in ms.
fn seconds() -> impl Strategy<Value = (String, u64)> {
    (0u64..100_000, 0u64..1000).prop_map(|(s, ms)| (format!("{s}.{ms:03}"), s * 1000 + ms))
}

/// An upstream list: one entry per try, `-` for a try without a value, `, ` between
/// servers of a group and ` : ` between groups. Returns the text, the sum of the values,
/// how many there were and how many tries.
fn time_list() -> impl Strategy<Value = (String, u64, u32, u32)> {
    let entry = prop_oneof![3 => seconds().prop_map(Some), 1 => Just(None)];
    (
        prop::collection::vec((entry, select(&[", ", " : "][..])), 1..5),
        any::<bool>(),
    )
        .prop_map(|(entries, empty)| {
            if empty {
                return ("-".to_owned(), 0, 0, 1);
            }
            let mut text = String::new();
            let (mut sum, mut count) = (0, 0);
            for (i, (e, sep)) in entries.iter().enumerate() {
                if i > 0 {
                    text.push_str(sep);
                }
                match e {
                    Some((t, ms)) => {
                        text.push_str(t);
                        sum += ms;
                        count += 1;
                    }
                    None => text.push('-'),
                }
            }
            (text, sum, count, entries.len() as u32)
        })
}

fn status_list() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof!["[1-5][0-9][0-9]", Just("-".to_owned())],
            select(&[", ", " : "][..]),
        ),
        1..4,
    )
    .prop_map(|v| {
        let mut out = String::new();
        for (i, (s, sep)) in v.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(s);
        }
        out
    })
}

/// Free text as a client could send it (user agent, referer, path).
fn free_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[ -~]{0,40}",
        1 => any::<String>(),
        1 => select(&["-", "\"", "\\", "\" rt=", "\\\"}", "\"}", ", ", " : ", "\r"][..]).prop_map(str::to_owned),
    ]
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What one variable's value adds to the expected statistics.
#[derive(Debug, Clone, Default)]
struct Expect {
    request_ms: Option<u64>,
    /// Upstream response time: sum, values, tries.
    upstream: Option<(u64, u32, u32)>,
}

/// A value for `$name` as nginx writes it with `escape`.
fn value(name: &str, escape: Escape) -> BoxedStrategy<(String, Expect)> {
    let esc = move |s: String| match escape {
        Escape::Json => escape_json(&s),
        Escape::Default => escape_default(&s),
        Escape::None => s,
    };
    let plain = |s: BoxedStrategy<String>| s.prop_map(|v| (v, Expect::default())).boxed();
    match name {
        "remote_addr" => plain(
            prop_oneof![
                "(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])){3}",
                Just("2001:db8::1".to_owned()),
            ]
            .boxed(),
        ),
        "remote_user" => plain(prop_oneof![Just("-".to_owned()), "[a-z]{1,8}"].boxed()),
        "time_local" => plain(
            (
                1u32..=28,
                select(&MONTHS[..]),
                1970u32..2100,
                0u32..24,
                0u32..60,
                0u32..60,
                select(&['+', '-'][..]),
                0u32..15,
                select(&[0u32, 30, 45][..]),
            )
                .prop_map(|(d, mon, y, h, mi, s, sign, oh, om)| {
                    format!("{d:02}/{mon}/{y}:{h:02}:{mi:02}:{s:02} {sign}{oh:02}{om:02}")
                })
                .boxed(),
        ),
        "time_iso8601" => plain(
            (
                1970u32..2100,
                1u32..=12,
                1u32..=28,
                0u32..24,
                0u32..60,
                0u32..60,
                select(&["Z", "+00:00", "-07:00", "+05:30"][..]),
            )
                .prop_map(|(y, mo, d, h, mi, s, z)| {
                    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{z}")
                })
                .boxed(),
        ),
        "msec" => plain("1[0-9]{9}\\.[0-9]{3}".boxed()),
        "request" => plain(
            (
                select(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][..]),
                prop_oneof!["/[a-zA-Z0-9/._~%?=&-]{0,40}", free_text()],
                select(&["HTTP/1.0", "HTTP/1.1", "HTTP/2.0"][..]),
            )
                .prop_map(move |(m, p, v)| esc(format!("{m} {p} {v}")))
                .boxed(),
        ),
        "request_method" => plain("[A-Z]{3,7}".boxed()),
        "uri" | "request_uri" => plain(
            prop_oneof!["/[a-zA-Z0-9/._~%-]{0,40}", free_text()]
                .prop_map(esc)
                .boxed(),
        ),
        "status" => plain("[1-5][0-9][0-9]".boxed()),
        "upstream_status" => plain(status_list().boxed()),
        "body_bytes_sent" => plain("[0-9]{1,9}".boxed()),
        "request_time" => seconds()
            .prop_map(|(t, ms)| {
                (
                    t,
                    Expect {
                        request_ms: Some(ms),
                        ..Expect::default()
                    },
                )
            })
            .boxed(),
        "upstream_response_time" => time_list()
            .prop_map(|(t, sum, count, tries)| {
                (
                    t,
                    Expect {
                        upstream: Some((sum, count, tries)),
                        ..Expect::default()
                    },
                )
            })
            .boxed(),
        n if n.starts_with("upstream_") => time_list()
            .prop_map(|(t, ..)| (t, Expect::default()))
            .boxed(),
        _ => plain(free_text().prop_map(esc).boxed()),
    }
}

/// A line built for a format: its text, each variable's value, and what it adds up to.
#[derive(Debug, Clone)]
struct BuiltLine {
    line: String,
    values: Vec<(String, String)>,
    expect: Expect,
}

/// A line of format `i`.
fn built_line(formats: &[Format], i: usize) -> BoxedStrategy<BuiltLine> {
    let escape = formats[i].format.escape();
    let parts: Vec<BoxedStrategy<(Option<String>, String, Expect)>> = formats[i]
        .pieces
        .iter()
        .map(|p| match p {
            Piece::Literal(l) => Just((None, l.clone(), Expect::default())).boxed(),
            Piece::Var(name) => {
                let name = name.clone();
                value(&name, escape)
                    .prop_map(move |(v, e)| (Some(name.clone()), v, e))
                    .boxed()
            }
        })
        .collect();
    parts
        .prop_map(|parts| {
            let mut line = String::new();
            let mut values = Vec::new();
            let mut expect = Expect::default();
            for (name, text, e) in parts {
                line.push_str(&text);
                if let Some(name) = name {
                    values.push((name, text));
                }
                expect.request_ms = expect.request_ms.or(e.request_ms);
                expect.upstream = expect.upstream.or(e.upstream);
            }
            BuiltLine {
                line,
                values,
                expect,
            }
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Case {
    /// Lines built for format `format`.
    Built {
        format: usize,
        lines: Vec<BuiltLine>,
    },
    /// Arbitrary bytes, or a built line with random edits, for every format.
    Noise(Vec<u8>),
}

/// A random edit of a line: replace, insert or delete a byte.
fn mutate(line: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    let mut line = line;
    for (at, op, byte) in edits {
        let at = if line.is_empty() { 0 } else { at % line.len() };
        match op % 3 {
            0 if !line.is_empty() => line[at] = byte,
            1 => line.insert(at, byte),
            _ if !line.is_empty() => {
                line.remove(at);
            }
            _ => {}
        }
    }
    line
}

fn case(formats: &[Format]) -> impl Strategy<Value = Case> {
    let built: Vec<BoxedStrategy<Case>> = (0..formats.len())
        .map(|i| {
            prop::collection::vec(built_line(formats, i), 1..6)
                .prop_map(move |lines| Case::Built { format: i, lines })
                .boxed()
        })
        .collect();
    let mutated: Vec<BoxedStrategy<Case>> = (0..formats.len())
        .map(|i| {
            (
                built_line(formats, i),
                prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
            )
                .prop_map(|(built, edits)| Case::Noise(mutate(built.line.into_bytes(), edits)))
                .boxed()
        })
        .collect();
    prop_oneof![
        4 => proptest::strategy::Union::new(built),
        2 => proptest::strategy::Union::new(mutated),
        1 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Case::Noise),
        1 => any::<String>().prop_map(|s| Case::Noise(s.into_bytes())),
    ]
}

/// Arbitrary input: no panic, consistent answers, every line counted once.
fn check_noise(formats: &[Format], line: &[u8]) -> Result<(), TestCaseError> {
    for f in formats {
        let split = f.format.split(line);
        let parsed = f.format.parse(line);
        let parsed_ok = parsed.is_ok() && !line.ends_with(b"\r");
        if parsed.is_ok() {
            prop_assert!(split.is_ok(), "parse accepted what split refused");
        }
        for d in [split.err(), parsed.err()].into_iter().flatten() {
            prop_assert!(d.byte <= line.len(), "divergence past the end: {:?}", d);
            prop_assert!(!d.expected.is_empty());
            prop_assert!(!d.to_string().is_empty());
        }
        let options = LogOptions::default();
        let mut stats = LogStats::new(&f.format, &options);
        stats.add_line(line, 1);
        stats.add_line(line, 2);
        prop_assert_eq!(stats.lines, stats.parsed + stats.unparsed);
        let counted = !line.strip_suffix(b"\r").unwrap_or(line).is_empty();
        prop_assert_eq!(stats.lines, if counted { 2 } else { 0 });
        if counted && parsed_ok {
            // The statistics check the values they use at least as leniently as `parse`.
            prop_assert_eq!(
                stats.parsed,
                2,
                "parse accepted a line the statistics refused"
            );
        }
        let data = stats.finish(Vec::new(), None);
        let requests: u64 = data.endpoints.iter().map(|e| e.requests).sum();
        prop_assert_eq!(requests, data.parsed - data.outside_window);
    }
    Ok(())
}

/// Built lines: parse, read back, add up.
fn check_built(f: &Format, lines: &[BuiltLine]) -> Result<(), TestCaseError> {
    let options = LogOptions::default();
    let mut stats = LogStats::new(&f.format, &options);
    let (mut request_ms, mut request_n) = (0u64, 0u64);
    let (mut upstream_ms, mut upstream_n, mut multi) = (0u64, 0u64, 0u64);
    for (n, built) in lines.iter().enumerate() {
        let BuiltLine {
            line,
            values,
            expect,
        } = built;
        let parsed = f.format.parse(line.as_bytes());
        prop_assert!(
            parsed.is_ok(),
            "{:?} does not parse: {}",
            line,
            parsed.unwrap_err()
        );
        let parsed = parsed.unwrap();
        for field in FIELDS {
            let written = values.iter().find(|(name, _)| name == field.name());
            let read = parsed.get(field);
            match written {
                Some((_, v)) => {
                    prop_assert_eq!(read, Some(v.as_bytes()), "${} of {:?}", field.name(), line)
                }
                None => prop_assert!(read.is_none(), "${} was not written", field.name()),
            }
        }
        prop_assert!(f.format.split(line.as_bytes()).is_ok());
        stats.add_line(line.as_bytes(), n as u64 + 1);
        if let Some(ms) = expect.request_ms {
            request_ms += ms;
            request_n += 1;
        }
        if let Some((sum, count, tries)) = expect.upstream {
            if count > 0 {
                upstream_ms += sum;
                upstream_n += 1;
            }
            if tries > 1 {
                multi += 1;
            }
        }
    }
    let n = lines.len() as u64;
    prop_assert_eq!((stats.lines, stats.parsed, stats.unparsed), (n, n, 0));
    prop_assert!(stats.first_error.is_none());
    prop_assert_eq!(
        (stats.sums.request_ms, stats.sums.request_n),
        (request_ms, request_n)
    );
    prop_assert_eq!(
        (stats.sums.upstream_ms, stats.sums.upstream_n),
        (upstream_ms, upstream_n)
    );
    prop_assert_eq!(stats.sums.multi_upstream, multi);
    let data = stats.finish(Vec::new(), None);
    let requests: u64 = data.endpoints.iter().map(|e| e.requests).sum();
    prop_assert_eq!(requests, n);
    if f.format.has(Field::UpstreamResponseTime) {
        let worker: u64 = data.endpoints.iter().filter_map(|e| e.worker_ms).sum();
        prop_assert_eq!(worker, upstream_ms);
    }
    Ok(())
}

#[test]
fn log_lines() {
    let formats = formats();
    crate::fuzz("log_lines", case(&formats), |case| match &case {
        Case::Built { format, lines } => check_built(&formats[*format], lines),
        Case::Noise(line) => check_noise(&formats, line),
    });
}
