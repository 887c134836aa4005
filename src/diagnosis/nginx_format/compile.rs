//! Compiling a `log_format`: a preset name, a bare format string or the whole directive as
//! it stands in nginx.conf (quotes, concatenated strings, `escape=`), split into literal
//! text and variables. Formats that cannot be read back are refused with the reason.

use super::PRESETS;
use super::fields::{FIELD_COUNT, Field};

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
pub(super) enum Item {
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
    pub(super) items: Vec<Item>,
    pub(super) escape: Escape,
    pub(super) present: [bool; FIELD_COUNT],
    /// The format text after presets and directive quoting were resolved.
    pub text: String,
}

/// Why a `log_format` text cannot be compiled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

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
        let items = items(text)?;
        let mut present = [false; FIELD_COUNT];
        for item in &items {
            if let Item::Var { field: Some(f), .. } = item {
                present[*f as usize] = true;
            }
        }
        check_readable(&items, &present)?;
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
}

/// The format's literal text and variables (`$var` or `${var}`), in order.
fn items(text: &str) -> Result<Vec<Item>, FormatError> {
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
    Ok(items)
}

/// Refuses a format with no variable, or none that says anything about requests.
fn check_readable(items: &[Item], present: &[bool; FIELD_COUNT]) -> Result<(), FormatError> {
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
    Ok(())
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
