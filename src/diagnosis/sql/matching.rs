//! One statement as every client library writes it: the form a query text copied from a
//! trace (a Sentry span) and the text the server recorded share when they are the same
//! statement on the server.
//!
//! The application's driver decides how the text looks. psycopg and mysqlclient/PyMySQL
//! take `%s` and `%(name)s` (SQLAlchemy's `%(id_1)s`), other drivers `?`, `:name` or `$1`;
//! psycopg 2 and the MySQL drivers put the values into the text before sending it, so the
//! server normalises them back into `$1` (pg_stat_statements) or `?` (MySQL's digest); an
//! ORM quotes names (`"orders"."id"`, `` `orders`.`id` ``) and the MySQL digest re-quotes
//! every name with spaces around `.`. A [`MatchForm`] is what is left when all of that is
//! taken out:
//! - values, placeholders of every spelling, `TRUE`/`FALSE`/`NULL` and a sign in front of a
//!   value are one value; a parenthesised list of values (`IN (…)` of any length, a `VALUES`
//!   row, MySQL's `(...)`, `IN %s` with a tuple) is one list, and so are several rows of
//!   lists; `ARRAY[…]` of values is one value;
//! - names compare without their quotes and in any case, keywords in any case;
//! - whitespace, comments and a trailing `;` do not count.
//!
//! A text that ends with `...` (or `…`) was cut — Sentry cuts long span descriptions, MySQL
//! its digest text at `performance_schema_max_digest_length` — and matches on what was kept.

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use super::lexer::lexer;
use super::{Dialect, Token};

/// The fewest tokens a cut text must keep to match on them: a few words in common say
/// nothing about two statements.
pub const MIN_PREFIX_TOKENS: usize = 16;

/// The longest `%(name)` placeholder name, in tokens.
const MAX_NAME_TOKENS: usize = 16;

/// A statement's text as compared ([`MatchForm::compare`]): its normalised tokens, each
/// hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchForm {
    tokens: Vec<u64>,
    cut: bool,
}

/// How two texts compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matching {
    /// The same statement.
    Whole,
    /// Alike as far as the cut one goes.
    Prefix,
    No,
}

impl MatchForm {
    pub fn new(sql: &str, dialect: Dialect) -> Self {
        let (tokens, cut) = tokens(sql, dialect);
        Self {
            tokens: tokens.iter().map(token_hash).collect(),
            cut,
        }
    }

    /// The key of the whole form: two texts of one statement have the same key.
    pub fn key(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.tokens.hash(&mut h);
        h.finish()
    }

    /// Whether the text was cut (it ended with `...`).
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    /// How many tokens it kept.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Whether `self` and `other` are the same statement: wholly, or as far as a cut one
    /// goes (it must keep at least [`MIN_PREFIX_TOKENS`]).
    pub fn compare(&self, other: &MatchForm) -> Matching {
        if !self.cut && !other.cut {
            return if self.tokens == other.tokens {
                Matching::Whole
            } else {
                Matching::No
            };
        }
        let (short, long) = if self.len() <= other.len() {
            (self, other)
        } else {
            (other, self)
        };
        if short.cut && short.len() >= MIN_PREFIX_TOKENS && long.tokens.starts_with(&short.tokens) {
            Matching::Prefix
        } else {
            Matching::No
        }
    }
}

/// The key of `sql`'s [`MatchForm`].
pub fn match_key(sql: &str, dialect: Dialect) -> u64 {
    MatchForm::new(sql, dialect).key()
}

/// `sql` as compared, for a person: names unquoted and in lower case, every value `?`,
/// every list of values `(?)`; `...` at the end when it was cut.
pub fn match_text(sql: &str, dialect: Dialect) -> String {
    let (tokens, cut) = tokens(sql, dialect);
    let mut out = String::new();
    let mut glue = true;
    for t in &tokens {
        let text: &str = match t {
            Tok::Word(w) => w.as_ref(),
            Tok::Value => "?",
            Tok::List => "(?)",
            Tok::Op(o) => o,
        };
        let sticks = matches!(t, Tok::Op("," | ")" | "]" | "." | ":" | ";"));
        if !glue && !sticks {
            out.push(' ');
        }
        out.push_str(text);
        glue = matches!(t, Tok::Op("(" | "[" | "." | ":"));
    }
    if cut {
        out.push_str(" ...");
    }
    out
}

/// One token as compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Tok<'a> {
    /// A keyword or a name: unquoted, lower case.
    Word(Cow<'a, str>),
    /// A literal, a placeholder, `TRUE`, `FALSE` or `NULL`.
    Value,
    /// A parenthesised list of values (or several).
    List,
    Op(&'a str),
}

fn token_hash(t: &Tok<'_>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// The normalised tokens of `sql`, and whether it was cut.
fn tokens(sql: &str, dialect: Dialect) -> (Vec<Tok<'_>>, bool) {
    let trimmed = sql.trim_end();
    let kept = trimmed
        .strip_suffix("...")
        .or_else(|| trimmed.strip_suffix('…'));
    let cut = kept.is_some();
    let mut tokens = raw_tokens(kept.unwrap_or(trimmed), dialect);
    if cut {
        // The last token may be a part of one.
        tokens.pop();
    } else {
        while tokens.last() == Some(&Tok::Op(";")) {
            tokens.pop();
        }
    }
    let mut tokens = fold_lists(fold_arrays(fold_signs(tokens)));
    if cut {
        // A list cut open cannot be folded: compare up to where it opens.
        if let Some(open) = unclosed_paren(&tokens) {
            tokens.truncate(open);
        }
    }
    (tokens, cut)
}

/// The lexer's tokens with placeholders, literals and `TRUE`/`FALSE`/`NULL` as values, names
/// unquoted and lower case, whitespace and comments left out.
fn raw_tokens(sql: &str, dialect: Dialect) -> Vec<Tok<'_>> {
    let toks: Vec<Token<'_>> = lexer(sql, dialect).collect();
    let mut out = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        i += 1;
        match t {
            Token::Space | Token::Comment => {}
            Token::Punct("%") => match psycopg_placeholder(&toks, i) {
                Some(n) => {
                    out.push(Tok::Value);
                    i += n;
                }
                None => {
                    // `%%` is psycopg's escaped `%`.
                    if toks.get(i) == Some(&Token::Punct("%")) {
                        i += 1;
                    }
                    out.push(Tok::Op("%"));
                }
            },
            Token::Word(w) => out.push(word(w)),
            Token::QuotedIdent(q) => out.push(Tok::Word(Cow::Owned(unquote(q)))),
            // `x::int`: the lexer takes `:int` for a named parameter; it is a type name.
            Token::Param(p) if p.starts_with(':') && i >= 2 && toks[i - 2] == Token::Punct(":") => {
                out.push(Tok::Op(&p[..1]));
                out.push(Tok::Word(lower(&p[1..])));
            }
            Token::Literal | Token::Param(_) => out.push(Tok::Value),
            Token::Punct(p) => out.push(Tok::Op(p)),
        }
    }
    out
}

/// How many tokens after a `%` (at `at`) make a psycopg / mysqlclient placeholder: `%s`
/// (psycopg 3 also `%b`, `%t`) or `%(name)s`, written without spaces.
fn psycopg_placeholder(toks: &[Token<'_>], at: usize) -> Option<usize> {
    let format = |t: Option<&Token<'_>>| matches!(t, Some(Token::Word("s" | "b" | "t")));
    if format(toks.get(at)) {
        return Some(1);
    }
    if toks.get(at) != Some(&Token::Punct("(")) {
        return None;
    }
    let name = toks.get(at + 1..)?;
    let close = name
        .iter()
        .take(MAX_NAME_TOKENS)
        .take_while(|t| !matches!(t, Token::Space | Token::Comment))
        .position(|t| *t == Token::Punct(")"))?;
    (close > 0 && format(toks.get(at + 1 + close + 1))).then_some(close + 3)
}

fn word(w: &str) -> Tok<'_> {
    if ["true", "false", "null"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
    {
        Tok::Value
    } else {
        Tok::Word(lower(w))
    }
}

fn lower(w: &str) -> Cow<'_, str> {
    if w.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(w.to_ascii_lowercase())
    } else {
        Cow::Borrowed(w)
    }
}

/// `"Order"` → `order`, `` `a``b` `` → `` a`b ``.
fn unquote(quoted: &str) -> String {
    let mut chars = quoted.chars();
    let Some(q) = chars.next() else {
        return String::new();
    };
    let inner = chars.as_str();
    let inner = inner.strip_suffix(q).unwrap_or(inner);
    inner
        .replace(&format!("{q}{q}"), &q.to_string())
        .to_ascii_lowercase()
}

/// Words after which a `-` or `+` can only be a value's sign.
const SIGN_AFTER: [&str; 16] = [
    "select", "where", "and", "or", "not", "when", "then", "else", "in", "like", "between",
    "limit", "offset", "having", "on", "return",
];

/// `= -5` is the value `-5`: PostgreSQL records `$1` for it, MySQL `- ?`.
fn fold_signs(tokens: Vec<Tok<'_>>) -> Vec<Tok<'_>> {
    let mut out: Vec<Tok<'_>> = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let sign = matches!(t, Tok::Op("-" | "+"));
        if sign && tokens.get(i + 1) == Some(&Tok::Value) && takes_sign(out.last()) {
            continue;
        }
        out.push(t.clone());
    }
    out
}

/// Whether a `-` after `prev` is a sign rather than a subtraction.
fn takes_sign(prev: Option<&Tok<'_>>) -> bool {
    match prev {
        None => true,
        Some(Tok::Op(p)) => !matches!(*p, ")" | "]"),
        Some(Tok::Word(w)) => SIGN_AFTER.contains(&w.as_ref()),
        Some(Tok::Value | Tok::List) => false,
    }
}

/// `ARRAY[1, 2, 3]` → one value: psycopg 2 turns a Python list into one.
fn fold_arrays(tokens: Vec<Tok<'_>>) -> Vec<Tok<'_>> {
    let mut out: Vec<Tok<'_>> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == Tok::Op("[")
            && matches!(out.last(), Some(Tok::Word(w)) if w == "array")
            && let Some(end) = values_to(&tokens, i + 1, "]")
        {
            out.pop();
            out.push(Tok::Value);
            i = end + 1;
            continue;
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// A parenthesised list of values → one list; rows of lists → one list; `IN ?` → `IN` and
/// a list.
fn fold_lists(tokens: Vec<Tok<'_>>) -> Vec<Tok<'_>> {
    let mut out: Vec<Tok<'_>> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        let list_end = match t {
            Tok::Op("(") => values_to(&tokens, i + 1, ")"),
            Tok::Value if matches!(out.last(), Some(Tok::Word(w)) if w == "in") => Some(i),
            _ => None,
        };
        match list_end {
            Some(end) => {
                out.push(Tok::List);
                i = end + 1;
                let n = out.len();
                if n >= 3 && out[n - 3] == Tok::List && out[n - 2] == Tok::Op(",") {
                    out.truncate(n - 2);
                }
            }
            None => {
                out.push(t.clone());
                i += 1;
            }
        }
    }
    out
}

/// Where `close` ends a list of values starting at `start` (`?, ?, ?` or MySQL's `...`), if
/// it does.
fn values_to(tokens: &[Tok<'_>], start: usize, close: &str) -> Option<usize> {
    let dots = [Tok::Op("."), Tok::Op("."), Tok::Op(".")];
    if tokens.get(start..start + 3) == Some(&dots[..]) {
        return (tokens.get(start + 3) == Some(&Tok::Op(close))).then_some(start + 3);
    }
    let mut i = start;
    loop {
        if tokens.get(i) != Some(&Tok::Value) {
            return None;
        }
        match tokens.get(i + 1) {
            Some(Tok::Op(",")) => i += 2,
            Some(Tok::Op(c)) if *c == close => return Some(i + 1),
            _ => return None,
        }
    }
}

/// The position of the innermost `(` left open.
fn unclosed_paren(tokens: &[Tok<'_>]) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Tok::Op("(") => open.push(i),
            Tok::Op(")") => {
                open.pop();
            }
            _ => {}
        }
    }
    open.last().copied()
}
