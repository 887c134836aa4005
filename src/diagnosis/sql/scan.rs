//! The table a statement scans and the columns its `WHERE` clause filters on: the column
//! list of an index that would serve the filter, as far as the outer statement shows it.

use super::lexer::lexer;
use super::{Dialect, Token};

/// The table a statement reads or changes and the columns its `WHERE` clause filters that
/// table on, as far as the text shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanTarget {
    /// As written (schema-qualified when it is); MySQL's backticks removed, PostgreSQL's
    /// double quotes kept (they make the name case-sensitive).
    pub table: String,
    /// Columns compared with a value (`=`, `IN`, then at most one of `<`, `>`, `BETWEEN`,
    /// `LIKE`), equality first: the column list of an index that would serve the filter.
    /// Empty when the filter is on expressions, other tables' columns, or absent.
    pub filter_columns: Vec<String>,
}

/// The first table of a `SELECT … FROM t`, `UPDATE t` or `DELETE FROM t`, and what its
/// `WHERE` clause filters it on (see [`ScanTarget`]). Only the outer statement is read:
/// subqueries are skipped, and a statement starting with `WITH` (whose `FROM` may name a
/// CTE rather than a table) gives `None`, as does a `FROM (subquery)`.
pub fn scan_target(sql: &str, dialect: Dialect) -> Option<ScanTarget> {
    let tokens: Vec<Token<'_>> = lexer(sql, dialect)
        .filter(|t| !matches!(t, Token::Space | Token::Comment))
        .collect();
    let mut at = table_start(&tokens)?;
    if is_word(&tokens, at, "only") {
        at += 1;
    }
    // The name, possibly schema-qualified.
    let mut parts: Vec<String> = Vec::new();
    loop {
        parts.push(ident(tokens.get(at)?, dialect)?);
        at += 1;
        if matches!(tokens.get(at), Some(Token::Punct("."))) {
            at += 1;
        } else {
            break;
        }
    }
    let table = parts.join(".");
    let name = parts.last().cloned().unwrap_or_default();
    // An alias: `orders o`, `orders AS o`.
    let mut alias = None;
    if is_word(&tokens, at, "as") {
        at += 1;
    }
    if let Some(Token::Word(w)) = tokens.get(at)
        && !is_clause_keyword(&w.to_ascii_lowercase())
    {
        alias = Some(w.to_string());
        at += 1;
    }
    let (single, where_at) = other_tables(&tokens, at);
    let filter_columns = match where_at {
        Some(start) => {
            let scanned = Scanned {
                dialect,
                table: &name,
                alias: alias.as_deref(),
                single,
            };
            filter_columns(&tokens, start, &scanned)
        }
        None => Vec::new(),
    };
    Some(ScanTarget {
        table,
        filter_columns,
    })
}

/// The word at `i`, lower case.
fn word_at(tokens: &[Token<'_>], i: usize) -> Option<String> {
    match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
        _ => None,
    }
}

/// Whether the token at `i` is the keyword `kw` (lower case).
fn is_word(tokens: &[Token<'_>], i: usize, kw: &str) -> bool {
    word_at(tokens, i).as_deref() == Some(kw)
}

/// Where the table name starts: after the outer `FROM` of a `SELECT`, after `UPDATE`, after
/// `DELETE FROM`; `None` for any other statement.
fn table_start(tokens: &[Token<'_>]) -> Option<usize> {
    match word_at(tokens, 0)?.as_str() {
        "select" => {
            let mut depth = 0i32;
            for (i, t) in tokens.iter().enumerate() {
                match t {
                    Token::Punct("(") => depth += 1,
                    Token::Punct(")") => depth -= 1,
                    Token::Word(w) if depth == 0 && w.eq_ignore_ascii_case("from") => {
                        return Some(i + 1);
                    }
                    _ => {}
                }
            }
            None
        }
        "update" => Some(1),
        "delete" if is_word(tokens, 1, "from") => Some(2),
        _ => None,
    }
}

/// From `at` to `WHERE`: whether the scanned table is the only one (any other table — a
/// comma in FROM, a JOIN, UPDATE … FROM, DELETE … USING — makes unqualified columns
/// ambiguous; the commas of an UPDATE's SET list are not tables), and where the `WHERE`
/// clause starts.
fn other_tables(tokens: &[Token<'_>], at: usize) -> (bool, Option<usize>) {
    let mut single = true;
    let mut in_set = false;
    let mut depth = 0i32;
    let mut i = at;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct("(") => depth += 1,
            Token::Punct(")") => depth -= 1,
            Token::Punct(",") if depth == 0 && !in_set => single = false,
            Token::Word(w) if depth == 0 => {
                let w = w.to_ascii_lowercase();
                if w == "set" {
                    in_set = true;
                } else if w == "join" || w == "using" || w == "from" {
                    in_set = false;
                    single = false;
                } else if w == "where" {
                    return (single, Some(i + 1));
                } else if ENDS_WHERE.contains(&w.as_str()) {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    (single, None)
}

/// The table whose filter is read.
struct Scanned<'s> {
    dialect: Dialect,
    /// Its name, unqualified.
    table: &'s str,
    alias: Option<&'s str>,
    /// Whether it is the statement's only table (unqualified columns are then its own).
    single: bool,
}

/// The columns of the `WHERE` clause starting at `start` compared with a value, equality
/// first, then at most one range column; subqueries are skipped.
fn filter_columns(tokens: &[Token<'_>], start: usize, scanned: &Scanned<'_>) -> Vec<String> {
    let mut equal: Vec<String> = Vec::new();
    let mut range: Vec<String> = Vec::new();
    let mut depth = 0i32;
    let mut i = start;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct("(") => {
                if matches!(word_at(tokens, i + 1).as_deref(), Some("select" | "with")) {
                    i = skip_parens(tokens, i);
                    continue;
                }
                depth += 1;
            }
            Token::Punct(")") => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
            }
            Token::Word(w)
                if depth == 0 && ENDS_WHERE.contains(&w.to_ascii_lowercase().as_str()) =>
            {
                break;
            }
            Token::Word(_) | Token::QuotedIdent(_) => {
                if let Some((column, next, equality)) = compared_column(
                    tokens,
                    i,
                    scanned.dialect,
                    scanned.table,
                    scanned.alias,
                    scanned.single,
                ) {
                    let list = if equality { &mut equal } else { &mut range };
                    if !list.contains(&column) {
                        list.push(column);
                    }
                    i = next;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut filter_columns = equal;
    if let Some(r) = range.into_iter().find(|r| !filter_columns.contains(r)) {
        filter_columns.push(r);
    }
    filter_columns
}

/// Keywords that end a `WHERE` clause (or the `FROM` list, when there is no `WHERE`).
const ENDS_WHERE: &[&str] = &[
    "group",
    "order",
    "limit",
    "having",
    "returning",
    "for",
    "union",
    "intersect",
    "except",
    "window",
    "offset",
    "fetch",
];

/// Words that follow a table name and are not an alias.
fn is_clause_keyword(w: &str) -> bool {
    ENDS_WHERE.contains(&w)
        || matches!(
            w,
            "where"
                | "set"
                | "join"
                | "inner"
                | "left"
                | "right"
                | "full"
                | "cross"
                | "natural"
                | "on"
                | "using"
                | "lateral"
                | "tablesample"
                | "straight_join"
                | "force"
                | "use"
                | "ignore"
                | "partition"
        )
}

/// A name as shown: a word as written, a quoted identifier with MySQL's backticks removed.
fn ident(t: &Token<'_>, dialect: Dialect) -> Option<String> {
    match t {
        Token::Word(w) => Some((*w).to_owned()),
        Token::QuotedIdent(q) if dialect == Dialect::MySql => {
            Some(q.trim_matches('`').replace("``", "`"))
        }
        Token::QuotedIdent(q) => Some((*q).to_owned()),
        _ => None,
    }
}

/// The index after the parenthesis that closes the one at `open`.
fn skip_parens(tokens: &[Token<'_>], open: usize) -> usize {
    let mut depth = 0i32;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Punct("(") => depth += 1,
            Token::Punct(")") => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// At `i`, a column of the scanned table compared with a value: `col = $1`, `t.col IN (…)`,
/// `col >= ?`, `col BETWEEN ? AND ?`, `col LIKE ?`. Returns the column, where to go on, and
/// whether the comparison is an equality (`=`, `IN`). A comparison with another column (a
/// join condition), an expression, or a column of another table is not one.
fn compared_column(
    tokens: &[Token<'_>],
    i: usize,
    dialect: Dialect,
    table: &str,
    alias: Option<&str>,
    single: bool,
) -> Option<(String, usize, bool)> {
    // Not the argument of a function or the right-hand side of something.
    if let Some(Token::Punct(p)) = i.checked_sub(1).and_then(|p| tokens.get(p))
        && matches!(*p, "." | "=" | "<" | ">" | "!")
    {
        return None;
    }
    let mut j = i;
    let first = ident(&tokens[j], dialect)?;
    let (qualifier, column) = if matches!(tokens.get(j + 1), Some(Token::Punct("."))) {
        j += 2;
        (Some(first), ident(tokens.get(j)?, dialect)?)
    } else {
        (None, first)
    };
    j += 1;
    if let Token::Word(w) = &tokens[i]
        && qualifier.is_none()
        && is_operator_word(&w.to_ascii_lowercase())
    {
        return None;
    }
    let ours = match qualifier.as_deref() {
        Some(q) => q == table || Some(q) == alias,
        None => single,
    };
    let punct = |k: usize| match tokens.get(k) {
        Some(Token::Punct(p)) => Some(*p),
        _ => None,
    };
    let lower = |k: usize| match tokens.get(k) {
        Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
        _ => None,
    };
    let value = |k: usize| match tokens.get(k) {
        Some(Token::Literal | Token::Param(_)) => true,
        Some(Token::Punct("(")) => true,
        Some(Token::Word(w)) => w.eq_ignore_ascii_case("any"),
        _ => false,
    };
    let (equality, after) = match (punct(j), punct(j + 1)) {
        (Some("="), _) => (true, j + 1),
        (Some("<" | ">"), Some("=")) => (false, j + 2),
        (Some("<"), Some(">")) | (Some("!"), Some("=")) => return None,
        (Some("<" | ">"), _) => (false, j + 1),
        _ => match lower(j).as_deref() {
            Some("in") => (true, j + 1),
            Some("between" | "like" | "ilike") => (false, j + 1),
            _ => return None,
        },
    };
    if !value(after) || !ours {
        return None;
    }
    Some((column, after, equality))
}

/// Words in a `WHERE` clause that are operators or values, never a column.
fn is_operator_word(w: &str) -> bool {
    matches!(
        w,
        "and"
            | "or"
            | "not"
            | "in"
            | "is"
            | "null"
            | "true"
            | "false"
            | "like"
            | "ilike"
            | "between"
            | "exists"
            | "any"
            | "all"
            | "some"
            | "case"
            | "when"
            | "then"
            | "else"
            | "end"
    )
}
