//! A small SQL tokenizer: enough of PostgreSQL's and MySQL's lexical rules to tell literals,
//! comments, identifiers and keywords apart, so that query text can be shown without the
//! customer data in it and classified as a read or a write.
//!
//! Redaction must never fall out of step with the server's own lexer, because a string that
//! is mistaken for code would be shown verbatim. The rules that differ between the two
//! dialects are therefore explicit: backslash escapes (MySQL strings, PostgreSQL `E''` only),
//! double quotes (a PostgreSQL identifier, a MySQL string), dollar quoting and nested block
//! comments (PostgreSQL), `#` comments (MySQL). Anything unterminated — query text is often
//! cut off at 1 KiB by the server — is treated as a literal to the end of the text.
//!
//! ## Where it lives
//! - the lexer, a token at a time; [`tokenize`] and [`redact`] here;
//! - [`classify`]: reads and writes;
//! - [`statement_key`] and [`placeholders`]: statements as a person reads them;
//! - [`MatchForm`] and [`match_key`]: one statement however a client library wrote it
//!   (a query text from a trace against the server's statistics);
//! - [`scan_target`]: the table a statement scans and the columns it filters on.

mod classify;
mod key;
mod lexer;
mod matching;
mod scan;
#[cfg(test)]
mod tests;

pub use classify::{StatementKind, classify, classify_keyword, classify_lead};
pub use key::{placeholders, statement_key};
pub use matching::{MIN_PREFIX_TOKENS, MatchForm, Matching, match_key, match_text};
pub use scan::{ScanTarget, scan_target};

use lexer::lexer;

/// Which server's lexical rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    MySql,
}

/// One lexical unit of a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Token<'a> {
    /// A keyword or an unquoted identifier, as written.
    Word(&'a str),
    /// A quoted identifier (`"Order"`, `` `order` ``), as written.
    QuotedIdent(&'a str),
    /// A string, number, bit/hex string or dollar-quoted body. Never shown.
    Literal,
    /// A bind parameter (`$1`, `?`, `:name`), as written.
    Param(&'a str),
    /// A comment. Never shown: it may hold anything.
    Comment,
    /// Whitespace.
    Space,
    /// Any other character (operators, punctuation).
    Punct(&'a str),
}

/// Splits `sql` into tokens under `dialect`'s rules.
pub fn tokenize(sql: &str, dialect: Dialect) -> Vec<Token<'_>> {
    lexer(sql, dialect).collect()
}

/// The statement with every literal replaced by `?` and every comment removed; runs of
/// whitespace become one space. `'alice@example.com'` → `?`, `$$x$$` → `?`, `42` → `?`.
pub fn redact(sql: &str, dialect: Dialect) -> String {
    let mut out = String::with_capacity(sql.len().min(4096));
    let mut pending_space = false;
    for token in tokenize(sql, dialect) {
        let text = match token {
            Token::Space | Token::Comment => {
                pending_space = !out.is_empty();
                continue;
            }
            Token::Literal => "?",
            Token::Word(t) | Token::QuotedIdent(t) | Token::Param(t) | Token::Punct(t) => t,
        };
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push_str(text);
    }
    out
}
