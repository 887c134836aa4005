//! Statements as a person reads them: a key that ignores what a reader ignores, and the
//! placeholders a person must fill in before running one.

use super::lexer::lexer;
use super::{Dialect, Token};

/// A 64-bit key for a statement as a person reads it: two texts get the same key when they
/// differ only in whitespace, comments, the case of keywords and unquoted names, the values
/// of literals and the spelling of placeholders (`$1`, `$2`, `?`, `:name`, `%s`-turned-`$1`),
/// the number of placeholders in an `IN (…)` list, or a trailing `;`. PostgreSQL gives one
/// statement several queryids when the parameter types differ (psycopg binds a small Python
/// int as int2 and a larger one as int4), and MySQL one digest per schema; their texts key
/// alike here, so the report can count them as one statement.
pub fn statement_key(sql: &str, dialect: Dialect) -> u64 {
    use std::hash::{Hash, Hasher};
    #[derive(PartialEq)]
    enum Norm<'a> {
        Word(String),
        Value,
        Other(&'a str),
    }
    let mut tokens: Vec<Norm<'_>> = lexer(sql, dialect)
        .filter_map(|t| match t {
            Token::Space | Token::Comment => None,
            Token::Word(w) => Some(Norm::Word(w.to_ascii_lowercase())),
            Token::Literal | Token::Param(_) => Some(Norm::Value),
            Token::QuotedIdent(t) | Token::Punct(t) => Some(Norm::Other(t)),
        })
        .collect();
    while tokens.last() == Some(&Norm::Other(";")) {
        tokens.pop();
    }
    // `IN (?, ?, ?)` → `IN (?)`: an ORM's list of ids is one statement whatever its length.
    let mut kept: Vec<&Norm<'_>> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        kept.push(t);
        i += 1;
        let opens_list = *t == Norm::Value
            && kept.len() >= 3
            && *kept[kept.len() - 2] == Norm::Other("(")
            && *kept[kept.len() - 3] == Norm::Word("in".into());
        if opens_list {
            while tokens.get(i) == Some(&Norm::Other(","))
                && tokens.get(i + 1) == Some(&Norm::Value)
            {
                i += 2;
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for t in kept {
        match t {
            Norm::Word(w) => (0u8, w.as_str()).hash(&mut h),
            Norm::Value => (1u8, "?").hash(&mut h),
            Norm::Other(o) => (2u8, *o).hash(&mut h),
        }
    }
    h.finish()
}

/// The distinct placeholders of a statement, in order of first appearance (`$1`, `$2`, `?`,
/// `:name`): what a person must put real values in for before running it.
pub fn placeholders(sql: &str, dialect: Dialect) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in lexer(sql, dialect) {
        if let Token::Param(p) = t
            && !out.iter().any(|o| o == p)
        {
            out.push(p.to_owned());
        }
    }
    out
}
