//! An nginx `log_format`, compiled once into a line parser.
//!
//! Access logs vary as much as the sites that write them, so the parser is built from the
//! site's own `log_format` text rather than guessed: the format is split into literal text
//! and variables (`$var` or `${var}`), and a line is read by matching each literal in turn.
//! A variable's value runs up to the next literal, so variables may come in any order and
//! those the analysis does not need are skipped without being decoded.
//!
//! What is accepted as the format:
//! - the bare format string: `$remote_addr - $remote_user [$time_local] "$request" ...`;
//! - the directive as it stands in nginx.conf, quotes, concatenated strings, `escape=` and
//!   all: `log_format main escape=json '{"t":"$time_iso8601",' '"rt":$request_time}';`;
//! - a preset name: `combined` (nginx's built-in), `main` (the nginx.conf example) or
//!   `timed` (combined plus the upstream timings, see [`TIMED`]).
//!
//! A line that does not match yields a [`Divergence`]: the byte position where it stopped
//! matching and what the format expected there, so a wrong format is reported as such
//! instead of turning into zeros.
//!
//! Values: times (`$request_time`, `$upstream_*_time`) are seconds with millisecond
//! resolution and are kept as integer milliseconds. Upstream variables hold one value per
//! upstream tried — `"0.010, 0.020"` for a retry on the next server, `"0.010 : 0.020"` for
//! an internal redirect to another upstream group — and `-` for a try that got no value;
//! [`parse_time_list`] sums the tries (each held a worker), and [`parse_status`] keeps
//! the last status (the one the client got).

use std::fmt;

/// nginx's built-in `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// The `main` format from the example nginx.conf shipped with nginx.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

/// The documented `timed` preset: `combined` plus the four timings break_down_latency needs.
/// To use it, put this in the `http` block of nginx.conf and point `access_log` at it:
///
/// ```nginx
/// log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
///                  '$body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time '
///                  'uct="$upstream_connect_time" uht="$upstream_header_time" '
///                  'urt="$upstream_response_time"';
/// ```
pub const TIMED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time""#;

/// The presets by name.
pub const PRESETS: &[(&str, &str)] = &[("combined", COMBINED), ("main", MAIN), ("timed", TIMED)];

/// The variables the analysis reads. Every other variable is matched and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    RequestTime = 0,
    UpstreamResponseTime,
    UpstreamConnectTime,
    UpstreamHeaderTime,
    UpstreamStatus,
    Status,
    Request,
    RequestMethod,
    Uri,
    RequestUri,
    TimeLocal,
    TimeIso8601,
    Msec,
}

/// How many [`Field`]s there are.
pub const FIELD_COUNT: usize = 13;

/// Every [`Field`], in discriminant order.
const FIELDS: [Field; FIELD_COUNT] = [
    Field::RequestTime,
    Field::UpstreamResponseTime,
    Field::UpstreamConnectTime,
    Field::UpstreamHeaderTime,
    Field::UpstreamStatus,
    Field::Status,
    Field::Request,
    Field::RequestMethod,
    Field::Uri,
    Field::RequestUri,
    Field::TimeLocal,
    Field::TimeIso8601,
    Field::Msec,
];

impl Field {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "request_time" => Self::RequestTime,
            "upstream_response_time" => Self::UpstreamResponseTime,
            "upstream_connect_time" => Self::UpstreamConnectTime,
            "upstream_header_time" => Self::UpstreamHeaderTime,
            "upstream_status" => Self::UpstreamStatus,
            "status" => Self::Status,
            "request" => Self::Request,
            "request_method" => Self::RequestMethod,
            "uri" => Self::Uri,
            "request_uri" => Self::RequestUri,
            "time_local" => Self::TimeLocal,
            "time_iso8601" => Self::TimeIso8601,
            "msec" => Self::Msec,
            _ => return None,
        })
    }

    /// The variable's name in nginx.
    pub fn name(self) -> &'static str {
        match self {
            Self::RequestTime => "request_time",
            Self::UpstreamResponseTime => "upstream_response_time",
            Self::UpstreamConnectTime => "upstream_connect_time",
            Self::UpstreamHeaderTime => "upstream_header_time",
            Self::UpstreamStatus => "upstream_status",
            Self::Status => "status",
            Self::Request => "request",
            Self::RequestMethod => "request_method",
            Self::Uri => "uri",
            Self::RequestUri => "request_uri",
            Self::TimeLocal => "time_local",
            Self::TimeIso8601 => "time_iso8601",
            Self::Msec => "msec",
        }
    }
}

/// nginx's `escape=` parameter of `log_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// `"`, `\` and control bytes written as `\xXX`.
    Default,
    /// JSON string escaping (`\"`, `\\`, `\u00XX`).
    Json,
    /// Nothing escaped.
    None,
}

#[derive(Debug, Clone)]
enum Item {
    Literal(Vec<u8>),
    Var {
        name: String,
        field: Option<Field>,
        /// Upstream variables hold lists separated by `, ` and ` : `.
        list: bool,
    },
}

/// A compiled `log_format`.
#[derive(Debug, Clone)]
pub struct LogFormat {
    items: Vec<Item>,
    escape: Escape,
    present: [bool; FIELD_COUNT],
    /// The format text after presets and directive quoting were resolved.
    pub text: String,
}

/// Why a `log_format` text cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// The values of one line, by [`Field`]; `None` when the format lacks the variable.
#[derive(Debug, Default, Clone, Copy)]
pub struct Values<'a> {
    values: [Option<&'a [u8]>; FIELD_COUNT],
}

impl<'a> Values<'a> {
    pub fn get(&self, field: Field) -> Option<&'a [u8]> {
        self.values[field as usize]
    }
}

/// Where and why a line stopped matching the format.
///
/// It repeats as little of the line as it can: the value of the one variable that did not
/// parse (at most [`MAX_QUOTE`] bytes of it), or, where the line's text stopped matching the
/// format's, only the kind of character found there. A log line is data from outside, and
/// an error message travels further than the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// 0-based byte offset in the line.
    pub byte: usize,
    /// What the format expected at that byte.
    pub expected: String,
    /// What was there: the variable's value in backticks, or a kind of character.
    pub found: String,
}

/// The most of a variable's value an error repeats.
pub const MAX_QUOTE: usize = 32;

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte {}: expected {}, found {}",
            self.byte + 1,
            self.expected,
            self.found
        )
    }
}

/// One variable's value, in backticks, control characters replaced, cut at [`MAX_QUOTE`].
fn quote_value(value: &[u8]) -> String {
    let end = value.len().min(MAX_QUOTE);
    let mut s: String = String::from_utf8_lossy(&value[..end])
        .chars()
        .filter(|c| *c != char::REPLACEMENT_CHARACTER)
        .map(|c| if c.is_control() { '·' } else { c })
        .collect();
    if end < value.len() {
        s.push('…');
    }
    format!("`{s}`")
}

/// The kind of character at `at`, without the character itself.
fn describe_at(line: &[u8], at: usize) -> String {
    match line.get(at) {
        None => "the end of the line",
        Some(b) if b.is_ascii_digit() => "a digit",
        Some(b) if b.is_ascii_alphabetic() => "a letter",
        Some(b' ') => "a space",
        Some(b'\t') => "a tab",
        Some(b'"') => "a double quote",
        Some(b'\'') => "a single quote",
        Some(b) if b.is_ascii_punctuation() => "punctuation",
        Some(b) if b.is_ascii_control() => "a control character",
        Some(_) => "a non-ASCII character",
    }
    .to_owned()
}

fn show_literal(l: &[u8]) -> String {
    format!("`{}`", String::from_utf8_lossy(l))
}

impl LogFormat {
    /// Compiles a preset name, a format string or a whole `log_format` directive.
    pub fn compile(spec: &str) -> Result<Self, FormatError> {
        let trimmed = spec.trim();
        if trimmed.is_empty() {
            return Err(FormatError(
                "is empty; pass the text of your nginx `log_format` directive, or a preset: combined, main, timed".into(),
            ));
        }
        if let Some((_, text)) = PRESETS.iter().find(|(name, _)| *name == trimmed) {
            return Self::build(text, Escape::Default);
        }
        let (text, escape) = unwrap_directive(trimmed)?;
        Self::build(&text, escape)
    }

    fn build(text: &str, escape: Escape) -> Result<Self, FormatError> {
        let bytes = text.as_bytes();
        let mut items: Vec<Item> = Vec::new();
        let mut literal = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b != b'$' {
                literal.push(b);
                i += 1;
                continue;
            }
            let (name, next) = if bytes.get(i + 1) == Some(&b'{') {
                let Some(close) = bytes[i + 2..].iter().position(|&c| c == b'}') else {
                    return Err(FormatError(format!(
                        "`${{` at character {} is not closed with `}}`",
                        i + 1
                    )));
                };
                (&text[i + 2..i + 2 + close], i + 3 + close)
            } else {
                let len = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                (&text[i + 1..i + 1 + len], i + 1 + len)
            };
            if name.is_empty() {
                literal.push(b);
                i += 1;
                continue;
            }
            if !literal.is_empty() {
                items.push(Item::Literal(std::mem::take(&mut literal)));
            } else if let Some(Item::Var { name: prev, .. }) = items.last() {
                return Err(FormatError(format!(
                    "variables `${prev}` and `${name}` follow each other with nothing between them, so a line cannot be split between them; nginx writes such a format but it cannot be read back. Put a separator (a space or a quote) between them in nginx.conf"
                )));
            }
            items.push(Item::Var {
                name: name.to_owned(),
                field: Field::from_name(name),
                list: name.starts_with("upstream_"),
            });
            i = next;
        }
        if !literal.is_empty() {
            items.push(Item::Literal(literal));
        }
        let mut present = [false; FIELD_COUNT];
        for item in &items {
            if let Item::Var { field: Some(f), .. } = item {
                present[*f as usize] = true;
            }
        }
        if !items.iter().any(|i| matches!(i, Item::Var { .. })) {
            return Err(FormatError(
                "has no `$variable`; pass the format text of your `log_format` directive (e.g. `$remote_addr - $remote_user [$time_local] \"$request\" $status ...`) or a preset name: combined, main, timed".into(),
            ));
        }
        let useful = [
            Field::Request,
            Field::Uri,
            Field::RequestUri,
            Field::RequestTime,
            Field::UpstreamResponseTime,
            Field::Status,
        ];
        if !useful.iter().any(|f| present[*f as usize]) {
            return Err(FormatError(
                "records none of $request, $uri, $request_uri, $status, $request_time or $upstream_response_time, so nothing about requests can be read from it; check that this is the format of the access log you pass".into(),
            ));
        }
        Ok(Self {
            items,
            escape,
            present,
            text: text.to_owned(),
        })
    }

    /// Whether the format records `field`.
    pub fn has(&self, field: Field) -> bool {
        self.present[field as usize]
    }

    /// Whether the format records a request time ($time_local, $time_iso8601 or $msec).
    pub fn has_time(&self) -> bool {
        self.has(Field::TimeLocal) || self.has(Field::TimeIso8601) || self.has(Field::Msec)
    }

    /// The format's `escape=` mode.
    pub fn escape(&self) -> Escape {
        self.escape
    }

    /// Splits one line (without its newline) into the values of the fields the format has,
    /// and checks that each looks like what its variable holds (a status code, a time...).
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<Values<'a>, Divergence> {
        let values = self.split(line)?;
        for (i, v) in values.values.iter().enumerate() {
            if let Some(v) = v {
                let field = FIELDS[i];
                if check_value(field, v).is_some() {
                    return Err(self.value_divergence(line, field, v));
                }
            }
        }
        Ok(values)
    }

    /// The divergence for a value of `field` (a slice of `line`) that does not parse.
    pub fn value_divergence(&self, line: &[u8], field: Field, value: &[u8]) -> Divergence {
        let byte = (value.as_ptr() as usize).saturating_sub(line.as_ptr() as usize);
        Divergence {
            byte,
            expected: format!(
                "{} for ${}",
                check_value(field, value).unwrap_or("a valid value"),
                field.name()
            ),
            found: quote_value(value),
        }
    }

    /// Splits one line by the format's literals, without checking the values (the caller
    /// parses those it needs and reports a bad one with [`Self::value_divergence`]).
    pub fn split<'a>(&self, line: &'a [u8]) -> Result<Values<'a>, Divergence> {
        let mut values = Values::default();
        let mut pos = 0;
        let n = self.items.len();
        let mut i = 0;
        while i < n {
            match &self.items[i] {
                Item::Literal(l) => {
                    if !has_prefix(&line[pos..], l) {
                        let common = line[pos..]
                            .iter()
                            .zip(l.iter())
                            .take_while(|(a, b)| a == b)
                            .count();
                        return Err(Divergence {
                            byte: pos + common,
                            expected: show_literal(l),
                            found: describe_at(line, pos + common),
                        });
                    }
                    pos += l.len();
                }
                Item::Var { name, field, list } => {
                    let end = match self.items.get(i + 1) {
                        None => line.len(),
                        Some(Item::Literal(l)) => match self.find_end(line, pos, l, *list) {
                            Some(e) => e,
                            None => {
                                return Err(Divergence {
                                    byte: pos,
                                    expected: format!(
                                        "the value of ${name} followed by {}",
                                        show_literal(l)
                                    ),
                                    found: describe_at(line, pos),
                                });
                            }
                        },
                        Some(Item::Var { .. }) => {
                            unreachable!("compile rejects adjacent variables")
                        }
                    };
                    if let Some(f) = field {
                        values.values[*f as usize] = Some(&line[pos..end]);
                    }
                    pos = end;
                }
            }
            i += 1;
        }
        if pos != line.len() {
            return Err(Divergence {
                byte: pos,
                expected: "the end of the line".into(),
                found: describe_at(line, pos),
            });
        }
        Ok(values)
    }

    /// Where a variable's value that starts at `from` ends: the next occurrence of the
    /// literal that follows it. A quote preceded by an odd number of backslashes is part of
    /// the value (JSON escaping); an upstream list goes on past `, ` and ` : `.
    #[inline]
    fn find_end(&self, line: &[u8], from: usize, lit: &[u8], list: bool) -> Option<usize> {
        let (first, rest) = (lit[0], &lit[1..]);
        let mut start = from;
        loop {
            let at = start + memchr::memchr(first, &line[start..])?;
            if !has_prefix(&line[at + 1..], rest) {
                start = at + 1;
                continue;
            }
            if lit[0] == b'"' && escaped(line, from, at) {
                start = at + 1;
                continue;
            }
            if list && at > from {
                let rest = &line[at..];
                let value_so_far = &line[from..at];
                if value_so_far.ends_with(b",")
                    || (rest.starts_with(b" : ") && lit != b" : ")
                    || (value_so_far.ends_with(b" :") && rest.starts_with(b" "))
                {
                    start = at + 1;
                    continue;
                }
            }
            return Some(at);
        }
    }
}

/// `hay.starts_with(lit)` for the few bytes of a format literal, without a call to memcmp.
#[inline(always)]
fn has_prefix(hay: &[u8], lit: &[u8]) -> bool {
    hay.len() >= lit.len() && hay.iter().zip(lit).all(|(a, b)| a == b)
}

/// Whether the byte at `at` is preceded (within the value starting at `from`) by an odd
/// number of backslashes.
fn escaped(line: &[u8], from: usize, at: usize) -> bool {
    let run = line[from..at]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    run % 2 == 1
}

/// A cheap plausibility check of a value, so a format that lines up by accident (the same
/// separators, different fields) is reported instead of read as garbage. Returns what was
/// expected when the value does not fit.
fn check_value(field: Field, v: &[u8]) -> Option<&'static str> {
    match field {
        Field::Status => {
            (v.len() != 3 || !v.iter().all(u8::is_ascii_digit)).then_some("a 3-digit status code")
        }
        Field::RequestTime => {
            (v != b"-" && parse_ms(v).is_none()).then_some("a time in seconds such as 0.123")
        }
        Field::UpstreamResponseTime | Field::UpstreamConnectTime | Field::UpstreamHeaderTime => {
            (!v.is_empty() && v != b"-" && parse_time_list(v).is_none())
                .then_some("upstream times in seconds such as `0.010, 0.020` or `-`")
        }
        Field::Msec => parse_msec(v)
            .is_none()
            .then_some("seconds since the epoch such as 1700000000.123"),
        Field::TimeLocal => parse_time_local(v)
            .is_none()
            .then_some("a time such as 10/Oct/2023:13:55:36 +0000"),
        Field::TimeIso8601 => parse_rfc3339(v)
            .is_none()
            .then_some("a time such as 2023-10-10T13:55:36+00:00"),
        _ => None,
    }
}

/// Parses seconds with a fraction (`0.123`, `12`, `1.5`) into whole milliseconds, rounded.
pub fn parse_ms(v: &[u8]) -> Option<u64> {
    let mut whole: u64 = 0;
    let mut i = 0;
    while i < v.len() && v[i].is_ascii_digit() {
        whole = whole.checked_mul(10)?.checked_add(u64::from(v[i] - b'0'))?;
        i += 1;
    }
    let digits_before = i;
    let mut frac_ms: u64 = 0;
    let mut round_up = false;
    if i < v.len() && v[i] == b'.' {
        i += 1;
        let mut scale = 100;
        let mut n = 0;
        while i < v.len() && v[i].is_ascii_digit() {
            let d = u64::from(v[i] - b'0');
            if n < 3 {
                frac_ms += d * scale;
                scale /= 10;
            } else if n == 3 {
                round_up = d >= 5;
            }
            n += 1;
            i += 1;
        }
        if n == 0 && digits_before == 0 {
            return None;
        }
    } else if digits_before == 0 {
        return None;
    }
    if i != v.len() || whole > 100_000_000 {
        return None;
    }
    Some(whole * 1000 + frac_ms + u64::from(round_up))
}

/// The values of an upstream list (`0.010, 0.020 : 0.005`), added up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeList {
    /// Sum of the values that were present, ms.
    pub sum_ms: u64,
    /// How many values were present (not `-`).
    pub count: u32,
    /// How many tries in total (including `-`).
    pub tries: u32,
}

/// Parses an upstream time list. `None` when an entry is neither a number nor `-`;
/// `Some` with `count == 0` when every entry is `-`.
pub fn parse_time_list(v: &[u8]) -> Option<TimeList> {
    if memchr::memchr2(b',', b':', v).is_none() {
        // One upstream: the common case.
        let v = v.trim_ascii();
        if v == b"-" || v.is_empty() {
            return Some(TimeList {
                tries: 1,
                ..TimeList::default()
            });
        }
        return Some(TimeList {
            sum_ms: parse_ms(v)?,
            count: 1,
            tries: 1,
        });
    }
    let mut out = TimeList::default();
    for part in v.split(|&b| b == b',' || b == b':') {
        let part = part.trim_ascii();
        out.tries += 1;
        if part == b"-" || part.is_empty() {
            continue;
        }
        out.sum_ms += parse_ms(part)?;
        out.count += 1;
    }
    Some(out)
}

/// The last status of an upstream status list (`502, 200` → 200), or a plain `$status`.
pub fn parse_status(v: &[u8]) -> Option<u16> {
    let last = v.rsplit(|&b| b == b',' || b == b':').next()?.trim_ascii();
    if last.len() != 3 || !last.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(last.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date and time of a Unix timestamp, UTC, as RFC 3339.
pub fn format_rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn num(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

fn month(v: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS
        .iter()
        .position(|m| m[..] == *v)
        .map(|i| i as u32 + 1)
}

fn checked_time(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(
        days_from_civil(i64::from(y), mo, d) * 86_400
            + i64::from(h) * 3600
            + i64::from(mi) * 60
            + i64::from(s),
    )
}

/// `$time_local`: `10/Oct/2000:13:55:36 -0700` → Unix seconds.
pub fn parse_time_local(v: &[u8]) -> Option<i64> {
    if v.len() != 26 || v[2] != b'/' || v[6] != b'/' || v[11] != b':' || v[20] != b' ' {
        return None;
    }
    let t = checked_time(
        num(&v[7..11])?,
        month(&v[3..6])?,
        num(&v[0..2])?,
        num(&v[12..14])?,
        num(&v[15..17])?,
        num(&v[18..20])?,
    )?;
    let sign = match v[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let off = i64::from(num(&v[22..24])?) * 3600 + i64::from(num(&v[24..26])?) * 60;
    Some(t - sign * off)
}

/// `$time_iso8601` or an RFC 3339 time: `2000-10-10T13:55:36-07:00`, `...Z`, with or
/// without fractional seconds → Unix seconds.
pub fn parse_rfc3339(v: &[u8]) -> Option<i64> {
    if v.len() < 19 || v[4] != b'-' || v[7] != b'-' || !matches!(v[10], b'T' | b't' | b' ') {
        return None;
    }
    if v[13] != b':' || v[16] != b':' {
        return None;
    }
    let t = checked_time(
        num(&v[0..4])?,
        num(&v[5..7])?,
        num(&v[8..10])?,
        num(&v[11..13])?,
        num(&v[14..16])?,
        num(&v[17..19])?,
    )?;
    let mut rest = &v[19..];
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
        rest = &rest[1 + digits..];
    }
    match rest {
        b"Z" | b"z" => Some(t),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let off = i64::from(num(&[*h1, *h2])?) * 3600 + i64::from(num(&[*m1, *m2])?) * 60;
            Some(if *sign == b'+' { t - off } else { t + off })
        }
        _ => None,
    }
}

/// `$msec`: `1700000000.123` → Unix seconds.
pub fn parse_msec(v: &[u8]) -> Option<i64> {
    let whole = v.split(|&b| b == b'.').next()?;
    let secs = num(whole).map(i64::from).or_else(|| {
        (whole.len() <= 12 && whole.iter().all(u8::is_ascii_digit) && !whole.is_empty())
            .then(|| whole.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    })?;
    let frac = &v[whole.len()..];
    if !(frac.is_empty() || (frac[0] == b'.' && frac[1..].iter().all(u8::is_ascii_digit))) {
        return None;
    }
    Some(secs)
}

/// Removes the `log_format` directive around a format, if it is there: the keyword, the
/// name, `escape=`, the quotes of each string (concatenated) and the final `;`.
fn unwrap_directive(spec: &str) -> Result<(String, Escape), FormatError> {
    let mut rest = spec.trim().trim_end_matches(';').trim_end();
    let mut escape = Escape::Default;
    if let Some(after) = rest.strip_prefix("log_format") {
        if !after.starts_with(char::is_whitespace) {
            return Err(FormatError(
                "`log_format` must be followed by a name".into(),
            ));
        }
        let after = after.trim_start();
        let name_len = after
            .find(char::is_whitespace)
            .ok_or_else(|| FormatError("`log_format NAME` is followed by no format".into()))?;
        rest = after[name_len..].trim_start();
    }
    if let Some(after) = rest.strip_prefix("escape=") {
        let len = after.find(char::is_whitespace).unwrap_or(after.len());
        escape = match &after[..len] {
            "default" => Escape::Default,
            "json" => Escape::Json,
            "none" => Escape::None,
            other => {
                return Err(FormatError(format!(
                    "escape={other} is not one of nginx's escape modes (default, json, none)"
                )));
            }
        };
        rest = after[len..].trim_start();
    }
    if !rest.starts_with(['\'', '"']) {
        return Ok((rest.to_owned(), escape));
    }
    // One or more quoted strings, concatenated as nginx does.
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(quote) = chars.next() else { break };
        if quote != '\'' && quote != '"' {
            return Err(FormatError(format!(
                "unexpected `{quote}` between the quoted parts of the format; each part must be in quotes"
            )));
        }
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some(c @ ('\\' | '\'' | '"')) => out.push(c),
                    Some(c) => {
                        out.push('\\');
                        out.push(c);
                    }
                    None => break,
                },
                c if c == quote => {
                    closed = true;
                    break;
                }
                c => out.push(c),
            }
        }
        if !closed {
            return Err(FormatError(format!(
                "a string opened with {quote} is not closed"
            )));
        }
    }
    Ok((out, escape))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(v: &Values<'a>, f: Field) -> &'a str {
        std::str::from_utf8(v.get(f).unwrap()).unwrap()
    }

    #[test]
    fn combined_preset_parses_a_real_line() {
        let f = LogFormat::compile("combined").unwrap();
        let line = br#"203.0.113.7 - - [10/Oct/2023:13:55:36 +0000] "GET /api/orders/12345?x=1 HTTP/1.1" 200 612 "-" "Mozilla/5.0 (X11; Linux x86_64) \x22quoted\x22""#;
        let v = f.parse(line).unwrap();
        assert_eq!(
            get(&v, Field::Request),
            "GET /api/orders/12345?x=1 HTTP/1.1"
        );
        assert_eq!(get(&v, Field::Status), "200");
        assert_eq!(
            parse_time_local(v.get(Field::TimeLocal).unwrap()),
            Some(1_696_946_136)
        );
        assert!(v.get(Field::RequestTime).is_none());
        assert!(!f.has(Field::RequestTime));
    }

    #[test]
    fn directive_text_with_quotes_and_concatenation() {
        let f = LogFormat::compile(
            "log_format upstream_time '$remote_addr - $remote_user [$time_local] '\n   '\"$request\" $status $body_bytes_sent '\n '\"$http_referer\" \"$http_user_agent\" '\n 'rt=$request_time uct=\"$upstream_connect_time\" uht=\"$upstream_header_time\" urt=\"$upstream_response_time\"';",
        )
        .unwrap();
        assert_eq!(f.text, TIMED);
        let line = br#"10.0.0.1 - alice [10/Oct/2023:13:55:36 +0200] "POST /login HTTP/2.0" 502 0 "-" "curl/8.0" rt=0.250 uct="0.001, 0.002" uht="-, 0.200" urt="0.010, 0.230""#;
        let v = f.parse(line).unwrap();
        assert_eq!(get(&v, Field::UpstreamResponseTime), "0.010, 0.230");
        let t = parse_time_list(v.get(Field::UpstreamResponseTime).unwrap()).unwrap();
        assert_eq!((t.sum_ms, t.count, t.tries), (240, 2, 2));
        let h = parse_time_list(v.get(Field::UpstreamHeaderTime).unwrap()).unwrap();
        assert_eq!((h.sum_ms, h.count, h.tries), (200, 1, 2));
        assert_eq!(parse_ms(v.get(Field::RequestTime).unwrap()), Some(250));
    }

    #[test]
    fn json_format_with_escaped_quotes_and_braces() {
        let f = LogFormat::compile(
            r#"log_format json_combined escape=json '{"time":"$time_iso8601","method":"$request_method","uri":"$uri","status":$status,"request_time":$request_time,"upstream_response_time":"$upstream_response_time","ua":"$http_user_agent"}';"#,
        )
        .unwrap();
        assert_eq!(f.escape(), Escape::Json);
        let line = br#"{"time":"2024-03-01T10:00:00+01:00","method":"GET","uri":"/api/items/42","status":200,"request_time":0.042,"upstream_response_time":"0.040","ua":"agent \"x\\\",\"y"}"#;
        let v = f.parse(line).unwrap();
        assert_eq!(get(&v, Field::Uri), "/api/items/42");
        assert_eq!(get(&v, Field::RequestMethod), "GET");
        assert_eq!(
            parse_rfc3339(v.get(Field::TimeIso8601).unwrap()),
            Some(1_709_283_600)
        );
    }

    #[test]
    fn braces_syntax_and_any_order() {
        let f = LogFormat::compile(
            "${status}|${request_time}|$upstream_response_time|${request_method} ${uri}",
        )
        .unwrap();
        let v = f.parse(b"404|0.003|-|GET /x y").unwrap();
        assert_eq!(get(&v, Field::Uri), "/x y");
        assert_eq!(parse_time_list(b"-").unwrap().count, 0);
    }

    #[test]
    fn internal_redirect_lists_with_colons() {
        let f =
            LogFormat::compile("$status $upstream_status $upstream_response_time $uri").unwrap();
        let v = f
            .parse(b"200 502, 504 : 200 0.100, 0.200 : 0.050 /api/x")
            .unwrap();
        assert_eq!(get(&v, Field::UpstreamResponseTime), "0.100, 0.200 : 0.050");
        assert_eq!(
            parse_status(v.get(Field::UpstreamStatus).unwrap()),
            Some(200)
        );
        let t = parse_time_list(v.get(Field::UpstreamResponseTime).unwrap()).unwrap();
        assert_eq!((t.sum_ms, t.count, t.tries), (350, 3, 3));
        assert_eq!(get(&v, Field::Uri), "/api/x");
    }

    #[test]
    fn malformed_lines_say_where_they_diverge() {
        let f = LogFormat::compile("timed").unwrap();
        // A combined line without the timings.
        let line = br#"1.2.3.4 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl""#;
        let d = f.parse(line).unwrap_err();
        assert_eq!(d.byte, line.len() - 5);
        assert!(
            d.expected.contains("$http_user_agent followed by `\" rt=`"),
            "{d}"
        );
        // A different layout whose separators happen to match: the status check catches it.
        let f = LogFormat::compile("$remote_addr $status $request_time").unwrap();
        let d = f.parse(b"1.2.3.4 GET 0.1").unwrap_err();
        assert_eq!(d.byte, 8);
        assert!(d.to_string().contains("3-digit status"), "{d}");
        let d = f.parse(b"1.2.3.4 200 fast").unwrap_err();
        assert!(d.to_string().contains("$request_time"), "{d}");
        // A literal that does not match mid-way.
        let f = LogFormat::compile("combined").unwrap();
        let d = f
            .parse(br#"1.2.3.4 - - (10/Oct/2023:13:55:36 +0000) "GET / HTTP/1.1" 200 5 "-" "c""#)
            .unwrap_err();
        assert_eq!(d.byte, 10);
        assert!(d.expected.contains("$remote_user followed by ` [`"), "{d}");
    }

    #[test]
    fn bad_formats_are_refused_with_a_reason() {
        for (spec, needle) in [
            ("", "preset"),
            ("just text", "no `$variable`"),
            ("$request_time$status", "nothing between them"),
            ("${status", "not closed"),
            ("$remote_addr $http_user_agent", "records none"),
            ("log_format x escape=yaml '$status'", "escape=yaml"),
            ("log_format x '$status", "not closed"),
        ] {
            let e = LogFormat::compile(spec).unwrap_err();
            assert!(e.0.contains(needle), "{spec}: {e}");
        }
    }

    #[test]
    fn numbers_and_times() {
        assert_eq!(parse_ms(b"0.123"), Some(123));
        assert_eq!(parse_ms(b"1.5"), Some(1500));
        assert_eq!(parse_ms(b"12"), Some(12000));
        assert_eq!(parse_ms(b"0.0005"), Some(1));
        assert_eq!(parse_ms(b"."), None);
        assert_eq!(parse_ms(b"-"), None);
        assert_eq!(parse_ms(b"1e3"), None);
        assert_eq!(parse_status(b"502, 200"), Some(200));
        assert_eq!(parse_status(b"-"), None);
        assert_eq!(parse_msec(b"1700000000.123"), Some(1_700_000_000));
        assert_eq!(parse_rfc3339(b"2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(
            parse_rfc3339(b"2024-01-01T00:00:00.5+01:00"),
            Some(1_704_067_200 - 3600)
        );
        assert_eq!(format_rfc3339(1_704_067_200), "2024-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(
            parse_time_local(b"29/Feb/2000:00:00:00 +0000"),
            Some(951_782_400)
        );
        assert_eq!(parse_time_local(b"29/Foo/2000:00:00:00 +0000"), None);
    }
}
