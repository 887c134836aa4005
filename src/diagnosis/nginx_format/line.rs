//! Reading a line with a compiled format: each literal matched in turn, a variable's value
//! running up to the next literal. A line that does not match yields a [`Divergence`]: the
//! byte where it stopped matching and what the format expected there, repeating as little
//! of the line as it can.

use std::fmt;

use super::compile::{Item, LogFormat};
use super::fields::{FIELD_COUNT, FIELDS, Field};
use super::time::{parse_msec, parse_rfc3339, parse_time_local};
use super::values::{parse_ms, parse_time_list};

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
