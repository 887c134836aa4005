//! The caller's PromQL selector: a `{...}` list of label matchers and nothing else. It is
//! parsed into matchers and written out again by us, so what reaches the engine is always a
//! plain matcher list, whatever the caller typed.

use crate::diagnosis::InputError;

/// One label matcher, e.g. `job="shop-api"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub label: String,
    /// `=`, `!=`, `=~` or `!~`.
    pub op: &'static str,
    pub value: String,
}

/// A checked selector: at least one matcher, rendered canonically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
}

const HINT: &str = "pass PromQL label matchers in braces, e.g. {job=\"shop-api\"} or {namespace=\"shop\", app=~\"api|web\"}";

impl Selector {
    /// Parses `{label="value", ...}`; anything else (a metric name, a function, an
    /// expression) is refused.
    pub fn parse(field: &str, text: &str) -> Result<Self, InputError> {
        let bad = |what: &str| InputError::new(field, format!("{what}; {HINT}"));
        let t = text.trim();
        if t.len() > 2000 {
            return Err(bad("is longer than 2000 characters"));
        }
        let Some(inner) = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) else {
            return Err(bad("is not a `{...}` list of label matchers"));
        };
        let chars: Vec<char> = inner.chars().collect();
        let mut i = 0;
        let mut matchers = Vec::new();
        let skip_ws = |i: &mut usize| {
            while *i < chars.len() && chars[*i].is_whitespace() {
                *i += 1;
            }
        };
        loop {
            skip_ws(&mut i);
            if i == chars.len() {
                break;
            }
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let label: String = chars[start..i].iter().collect();
            if label.is_empty() || label.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(bad("has a matcher without a valid label name"));
            }
            skip_ws(&mut i);
            let op = match (chars.get(i), chars.get(i + 1)) {
                (Some('='), Some('~')) => "=~",
                (Some('!'), Some('=')) => "!=",
                (Some('!'), Some('~')) => "!~",
                (Some('='), _) => "=",
                _ => return Err(bad(&format!("has no operator after `{label}`"))),
            };
            i += op.len();
            skip_ws(&mut i);
            let quote = match chars.get(i) {
                Some(q @ ('"' | '\'')) => *q,
                _ => return Err(bad(&format!("has an unquoted value for `{label}`"))),
            };
            i += 1;
            let mut value = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(bad(&format!("has an unterminated value for `{label}`"))),
                    Some('\\') => {
                        let Some(&next) = chars.get(i + 1) else {
                            return Err(bad("ends inside an escape"));
                        };
                        value.push(match next {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(c) if *c == quote => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        value.push(*c);
                        i += 1;
                    }
                }
            }
            matchers.push(Matcher { label, op, value });
            skip_ws(&mut i);
            match chars.get(i) {
                None => break,
                Some(',') => i += 1,
                Some(_) => return Err(bad("has something other than `,` between matchers")),
            }
        }
        if matchers.is_empty() {
            return Err(bad("has no matcher"));
        }
        if matchers.len() > 20 {
            return Err(bad("has more than 20 matchers"));
        }
        if matchers.iter().all(|m| match m.op {
            "=" | "=~" => m.value.is_empty() || m.value == ".*",
            _ => true,
        }) {
            return Err(bad(
                "matches every series (each matcher allows the empty value); name the service with at least one matcher such as job=\"shop-api\"",
            ));
        }
        Ok(Self { matchers })
    }

    /// The matchers inside braces, with `extra` ones after them: `{job="a",status=~"5.."}`.
    pub fn with(&self, extra: &[Matcher]) -> String {
        let parts: Vec<String> = self
            .matchers
            .iter()
            .chain(extra)
            .map(|m| format!("{}{}{}", m.label, m.op, quote(&m.value)))
            .collect();
        format!("{{{}}}", parts.join(","))
    }

    /// The selector alone.
    pub fn render(&self) -> String {
        self.with(&[])
    }
}

/// A PromQL double-quoted string.
fn quote(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matcher_list_is_parsed_and_written_back_canonically() {
        let s = Selector::parse(
            "s",
            r#" { job = "shop-api", env=~'prod|stage' ,x!="a\"b"} "#,
        )
        .unwrap();
        assert_eq!(
            s.render(),
            r#"{job="shop-api",env=~"prod|stage",x!="a\"b"}"#
        );
        let extra = Matcher {
            label: "status".into(),
            op: "=~",
            value: "5..".into(),
        };
        assert_eq!(
            s.with(&[extra]),
            r#"{job="shop-api",env=~"prod|stage",x!="a\"b",status=~"5.."}"#
        );
    }

    #[test]
    fn anything_but_a_matcher_list_is_refused() {
        for bad in [
            "",
            "{}",
            "job=\"a\"",
            "up{job=\"a\"}",
            "{job=\"a\"} or vector(1)",
            "{job=\"a\"}[5m]",
            "{job=a}",
            "{job=\"a\"",
            "{job=\"a\" env=\"b\"}",
            "{job=\"\"}",
            "{job=~\".*\"}",
            "{1x=\"a\"}",
            "{job==\"a\"}",
        ] {
            let e = Selector::parse("prometheus.selector", bad).unwrap_err();
            assert_eq!(e.field, "prometheus.selector", "{bad}");
            assert!(e.message.contains("{job="), "{bad}: {}", e.message);
        }
    }
}
