//! Reads or writes: a statement classified by its leading keyword, for the read/write split
//! of database time.

use super::lexer::lexer;
use super::{Dialect, Token};

/// What a statement does to the data, for the read/write split of database time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    Read,
    Write,
    Other,
}

/// Classifies a statement by its leading keyword (and, for `WITH` and `COPY`, by what
/// follows). Transaction commits count as writes: their time is the WAL/redo flush of the
/// writes before them.
pub fn classify(sql: &str, dialect: Dialect) -> StatementKind {
    let mut words = lexer(sql, dialect).filter_map(|t| match t {
        Token::Word(w) => Some(w),
        _ => None,
    });
    let Some(first) = words.next() else {
        return StatementKind::Other;
    };
    let first = first.to_ascii_lowercase();
    let modifies = match first.as_str() {
        "with" => words.any(|w| {
            ["insert", "update", "delete", "merge"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k))
        }),
        "copy" => words.any(|w| w.eq_ignore_ascii_case("from")),
        _ => false,
    };
    classify_keyword(&first, modifies)
}

/// Classifies from how a statement starts (`lead`, e.g. its first characters) when the full
/// text is not at hand: the first word decides, with `modifies` as in [`classify_keyword`].
pub fn classify_lead(lead: &str, modifies: bool) -> StatementKind {
    let first = lexer(lead, Dialect::Postgres).find_map(|t| match t {
        Token::Word(w) => Some(w.to_ascii_lowercase()),
        _ => None,
    });
    classify_keyword(first.as_deref().unwrap_or(""), modifies)
}

/// The decision behind [`classify`], from a statement's leading keyword (lower case) and,
/// for `with`, whether it modifies data, for `copy`, whether it copies from a source.
/// Servers that summarise statements by keyword are classified with the same table.
pub fn classify_keyword(first: &str, modifies: bool) -> StatementKind {
    match first {
        "select" | "values" | "table" | "show" | "fetch" | "describe" | "desc" | "handler" => {
            StatementKind::Read
        }
        "with" | "copy" if modifies => StatementKind::Write,
        "with" | "copy" => StatementKind::Read,
        "insert" | "update" | "delete" | "merge" | "replace" | "upsert" | "truncate" | "load"
        | "commit" | "end" => StatementKind::Write,
        _ => StatementKind::Other,
    }
}
