//! Target: the nginx `log_format` compiler (`LogFormat::compile`).
//!
//! Arbitrary text, text made of the compiler's own syntax (`$`, `${`, quotes, backslashes,
//! `log_format`, `escape=`), and formats built from real variables and separators, bare or
//! wrapped in a `log_format name escape=... '...' '...';` directive. Built formats must
//! compile exactly when they record something the analysis can use, resolve to the text
//! they were built from, and report the variables they hold; any format that compiled must
//! compile again from its resolved text.

use proptest::prelude::*;
use proptest::sample::select;
use python_web_troubleshooter::diagnosis::nginx_format::{Escape, Field, LogFormat};

/// Every field the parser reads, with its variable name.
pub const FIELDS: [Field; 13] = [
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

/// The fields whose presence makes a format usable.
const USEFUL: [&str; 6] = [
    "request",
    "uri",
    "request_uri",
    "status",
    "request_time",
    "upstream_response_time",
];

/// Variables: those the parser reads and some it skips.
const VARS: [&str; 22] = [
    "request_time",
    "upstream_response_time",
    "upstream_connect_time",
    "upstream_header_time",
    "upstream_status",
    "status",
    "request",
    "request_method",
    "uri",
    "request_uri",
    "time_local",
    "time_iso8601",
    "msec",
    "remote_addr",
    "remote_user",
    "body_bytes_sent",
    "http_referer",
    "http_user_agent",
    "http_x_forwarded_for",
    "upstream_addr",
    "host",
    "request_length",
];

/// Separators between variables. None starts with a character that would extend a bare
/// `$name`, and none contains `$`.
const SEPARATORS: [&str; 24] = [
    " ",
    " - ",
    " [",
    "] \"",
    "\" ",
    "\"",
    " \"",
    " rt=",
    " uct=\"",
    "\" urt=\"",
    "|",
    ",",
    ", ",
    " : ",
    "\t",
    "\",\"s\":",
    ",\"rt\":",
    "}",
    "'",
    "\\",
    " ' ",
    "\n",
    "é",
    "{",
];

/// One piece of a built format: a variable (bare `$name` or `${name}`) or a separator.
fn variable() -> impl Strategy<Value = (String, bool)> {
    (select(&VARS[..]), any::<bool>()).prop_map(|(name, braces)| (name.to_owned(), braces))
}

/// A format built from real variables: `var (sep var)* [sep]`, with the variables used.
pub fn built_format() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        variable(),
        prop::collection::vec((select(&SEPARATORS[..]), variable()), 0..8),
        prop::option::of(select(&SEPARATORS[..])),
    )
        .prop_map(|(first, rest, tail)| {
            let mut text = String::new();
            let mut names = Vec::new();
            let mut push_var = |text: &mut String, (name, braces): (String, bool)| {
                if braces {
                    text.push_str(&format!("${{{name}}}"));
                } else {
                    text.push_str(&format!("${name}"));
                }
                names.push(name);
            };
            push_var(&mut text, first);
            for (sep, var) in rest {
                text.push_str(sep);
                push_var(&mut text, var);
            }
            if let Some(sep) = tail {
                text.push_str(sep);
            }
            (text, names)
        })
}

/// Quotes `text` as one nginx string with `quote`.
fn quote(text: &str, quote: char) -> String {
    let mut out = String::from(quote);
    for c in text.chars() {
        if c == '\\' || c == quote {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(quote);
    out
}

/// How a built format is handed over.
#[derive(Debug, Clone)]
pub enum Wrapping {
    Bare,
    /// `log_format NAME [escape=MODE] 'part' "part" ...;`
    Directive {
        name: String,
        escape: Option<&'static str>,
        cuts: Vec<usize>,
        quotes: Vec<bool>,
        space: &'static str,
    },
}

fn wrapping() -> impl Strategy<Value = Wrapping> {
    prop_oneof![
        1 => Just(Wrapping::Bare),
        2 => (
            "[a-z_]{1,8}",
            prop::option::of(select(&["json", "default", "none"][..])),
            prop::collection::vec(any::<usize>(), 0..3),
            prop::collection::vec(any::<bool>(), 4),
            select(&[" ", "\n    ", "\t", " \n "][..]),
        )
            .prop_map(|(name, escape, cuts, quotes, space)| Wrapping::Directive {
                name,
                escape,
                cuts,
                quotes,
                space,
            }),
    ]
}

/// `text` as the operator would paste it.
pub fn wrap(text: &str, wrapping: &Wrapping) -> String {
    match wrapping {
        Wrapping::Bare => text.to_owned(),
        Wrapping::Directive {
            name,
            escape,
            cuts,
            quotes,
            space,
        } => {
            // Split the text into up to four quoted parts at character boundaries.
            let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            let mut at: Vec<usize> = cuts
                .iter()
                .filter(|_| !bounds.is_empty())
                .map(|c| bounds[c % bounds.len()])
                .collect();
            at.push(0);
            at.push(text.len());
            at.sort_unstable();
            at.dedup();
            let mut out = format!("log_format {name}{space}");
            if let Some(e) = escape {
                out.push_str(&format!("escape={e}{space}"));
            }
            for (i, w) in at.windows(2).enumerate() {
                if i > 0 {
                    out.push_str(space);
                }
                let q = if quotes[i % quotes.len()] { '\'' } else { '"' };
                out.push_str(&quote(&text[w[0]..w[1]], q));
            }
            out.push(';');
            out
        }
    }
}

/// Text made of the compiler's own syntax, for the places a hand-written format goes wrong.
fn syntax_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        select(
            &[
                "$",
                "${",
                "}",
                "$status",
                "${request_time}",
                "$request",
                "$upstream_status",
                "$x",
                "'",
                "\"",
                "\\",
                "\\'",
                "\\\"",
                "\\n",
                "log_format",
                "log_format ",
                "escape=",
                "escape=json ",
                "escape=yaml",
                ";",
                " ",
                "\n",
                "\t",
                "main",
                "timed",
                "combined",
                "{",
                "$$",
                "${}",
                "${ status }",
                "é",
                "\u{0}",
            ][..]
        )
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..16).prop_map(|t| t.concat())
}

/// Any `log_format` argument: a preset, a built format (bare or as a directive), syntax
/// soup, or arbitrary text. Used by the tool-argument target too.
pub fn spec() -> BoxedStrategy<String> {
    prop_oneof![
        1 => select(&["combined", "main", "timed", " timed ", ""][..]).prop_map(str::to_owned),
        4 => (built_format(), wrapping()).prop_map(|((text, _), w)| wrap(&text, &w)),
        3 => syntax_soup(),
        2 => any::<String>(),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Case {
    Built {
        text: String,
        names: Vec<String>,
        wrapping: Wrapping,
    },
    Spec(String),
}

fn case() -> impl Strategy<Value = Case> {
    prop_oneof![
        1 => (built_format(), wrapping()).prop_map(|((text, names), wrapping)| Case::Built {
            text,
            names,
            wrapping,
        }),
        1 => spec().prop_map(Case::Spec),
    ]
}

/// What a compile came to, comparable across two runs.
fn outcome(spec: &str) -> Result<(String, Escape, Vec<bool>), String> {
    LogFormat::compile(spec)
        .map(|f| {
            (
                f.text.clone(),
                f.escape(),
                FIELDS.map(|x| f.has(x)).to_vec(),
            )
        })
        .map_err(|e| e.0)
}

/// Whether `text` reads back as itself when passed bare (no quotes, no directive, no preset).
fn bare_safe(text: &str) -> bool {
    text.trim() == text
        && !text.ends_with(';')
        && !text.starts_with(['\'', '"'])
        && !text.starts_with("log_format")
        && !text.starts_with("escape=")
        && !["combined", "main", "timed"].contains(&text)
}

fn check_spec(spec: &str) -> Result<Option<(String, Escape, Vec<bool>)>, TestCaseError> {
    let first = outcome(spec);
    prop_assert_eq!(&first, &outcome(spec), "compile is not deterministic");
    match first {
        Err(message) => {
            prop_assert!(!message.trim().is_empty(), "an empty error for {:?}", spec);
            Ok(None)
        }
        Ok((text, escape, has)) => {
            prop_assert!(
                has.iter().any(|h| *h),
                "{:?} compiled but records no field",
                spec
            );
            if bare_safe(&text) {
                let again = outcome(&text);
                prop_assert_eq!(
                    again.map(|(t, _, h)| (t, h)),
                    Ok((text.clone(), has.clone())),
                    "the resolved text of {:?} does not compile to itself",
                    spec
                );
            }
            Ok(Some((text, escape, has)))
        }
    }
}

#[test]
fn log_format_compiler() {
    crate::fuzz("log_format_compiler", case(), |case| match case {
        Case::Spec(spec) => check_spec(&spec).map(|_| ()),
        Case::Built {
            text,
            names,
            wrapping,
        } => {
            let spec = wrap(&text, &wrapping);
            let got = check_spec(&spec)?;
            let useful = names.iter().any(|n| USEFUL.contains(&n.as_str()));
            let Some((resolved, escape, has)) = got else {
                prop_assert!(
                    !useful,
                    "{:?} records {:?} but did not compile",
                    spec,
                    names
                );
                return Ok(());
            };
            prop_assert!(useful, "{:?} compiled without a useful field", spec);
            for (i, field) in FIELDS.iter().enumerate() {
                let used = names.iter().any(|n| n == field.name());
                prop_assert_eq!(has[i], used, "${} in {:?}", field.name(), spec);
            }
            match &wrapping {
                Wrapping::Bare => {
                    prop_assert_eq!(
                        resolved.as_str(),
                        text.trim().trim_end_matches(';').trim_end()
                    )
                }
                Wrapping::Directive { escape: mode, .. } => {
                    prop_assert_eq!(&resolved, &text, "directive {:?}", spec);
                    let expected = match mode {
                        Some("json") => Escape::Json,
                        Some("none") => Escape::None,
                        _ => Escape::Default,
                    };
                    prop_assert_eq!(escape, expected);
                }
            }
            Ok(())
        }
    });
}
