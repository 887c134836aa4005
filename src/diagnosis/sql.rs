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

/// The tokens one at a time, so a caller that needs only the first few stops early.
fn lexer(sql: &str, dialect: Dialect) -> Lexer<'_> {
    Lexer {
        src: sql,
        bytes: sql.as_bytes(),
        pos: 0,
        dialect,
    }
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
    let word = |i: usize| match tokens.get(i) {
        Some(Token::Word(w)) => Some(w.to_ascii_lowercase()),
        _ => None,
    };
    let is = |i: usize, kw: &str| word(i).as_deref() == Some(kw);
    // Where the table name starts.
    let mut at = match word(0)?.as_str() {
        "select" => {
            let mut depth = 0i32;
            let mut found = None;
            for (i, t) in tokens.iter().enumerate() {
                match t {
                    Token::Punct("(") => depth += 1,
                    Token::Punct(")") => depth -= 1,
                    Token::Word(w) if depth == 0 && w.eq_ignore_ascii_case("from") => {
                        found = Some(i + 1);
                        break;
                    }
                    _ => {}
                }
            }
            found?
        }
        "update" => 1,
        "delete" if is(1, "from") => 2,
        _ => return None,
    };
    if is(at, "only") {
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
    if is(at, "as") {
        at += 1;
    }
    if let Some(Token::Word(w)) = tokens.get(at)
        && !is_clause_keyword(&w.to_ascii_lowercase())
    {
        alias = Some(w.to_string());
        at += 1;
    }
    // Any other table (a comma in FROM, a JOIN, UPDATE … FROM, DELETE … USING) before WHERE
    // makes unqualified columns ambiguous. The commas of an UPDATE's SET list are not tables.
    let mut single = true;
    let mut in_set = false;
    let mut depth = 0i32;
    let mut where_at = None;
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
                    where_at = Some(i + 1);
                    break;
                } else if ENDS_WHERE.contains(&w.as_str()) {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut equal: Vec<String> = Vec::new();
    let mut range: Vec<String> = Vec::new();
    if let Some(start) = where_at {
        let mut depth = 0i32;
        let mut i = start;
        while i < tokens.len() {
            match &tokens[i] {
                Token::Punct("(") => {
                    if matches!(word(i + 1).as_deref(), Some("select" | "with")) {
                        i = skip_parens(&tokens, i);
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
                    if let Some((column, next, equality)) =
                        compared_column(&tokens, i, dialect, &name, alias.as_deref(), single)
                    {
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
    }
    let mut filter_columns = equal;
    if let Some(r) = range.into_iter().find(|r| !filter_columns.contains(r)) {
        filter_columns.push(r);
    }
    Some(ScanTarget {
        table,
        filter_columns,
    })
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

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    dialect: Dialect,
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        (self.pos < self.bytes.len()).then(|| self.next_token())
    }
}

impl<'a> Lexer<'a> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn slice(&self, start: usize) -> &'a str {
        // Every boundary the lexer stops at is an ASCII byte or the end, so it is a char
        // boundary; fall back to an empty slice rather than panic if that ever changes.
        self.src.get(start..self.pos).unwrap_or("")
    }

    fn next_token(&mut self) -> Token<'a> {
        let start = self.pos;
        let c = self.bytes[self.pos];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => {
                while matches!(
                    self.peek(0),
                    Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
                ) {
                    self.pos += 1;
                }
                Token::Space
            }
            b'-' if self.peek(1) == Some(b'-') => self.line_comment(),
            b'#' if self.dialect == Dialect::MySql => self.line_comment(),
            b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
            b'\'' => {
                self.pos += 1;
                self.quoted(b'\'', self.dialect == Dialect::MySql);
                Token::Literal
            }
            b'"' => {
                self.pos += 1;
                match self.dialect {
                    Dialect::Postgres => {
                        self.quoted(b'"', false);
                        Token::QuotedIdent(self.slice(start))
                    }
                    Dialect::MySql => {
                        self.quoted(b'"', true);
                        Token::Literal
                    }
                }
            }
            b'`' if self.dialect == Dialect::MySql => {
                self.pos += 1;
                self.quoted(b'`', false);
                Token::QuotedIdent(self.slice(start))
            }
            b'$' if self.dialect == Dialect::Postgres => self.dollar(),
            b'0'..=b'9' => {
                self.number();
                Token::Literal
            }
            b'.' if matches!(self.peek(1), Some(b'0'..=b'9')) => {
                self.number();
                Token::Literal
            }
            b'?' => {
                self.pos += 1;
                Token::Param(self.slice(start))
            }
            b':' if self.peek(1).is_some_and(is_ident_start) => {
                self.pos += 1;
                while self.peek(0).is_some_and(is_ident_char) {
                    self.pos += 1;
                }
                Token::Param(self.slice(start))
            }
            c if is_ident_start(c) => self.word(),
            _ => {
                // One character; a multi-byte UTF-8 character is taken whole.
                let len = self.src[self.pos..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
                self.pos += len;
                Token::Punct(self.slice(start))
            }
        }
    }

    fn line_comment(&mut self) -> Token<'a> {
        while let Some(c) = self.peek(0) {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
        Token::Comment
    }

    fn block_comment(&mut self) -> Token<'a> {
        self.pos += 2;
        let nests = self.dialect == Dialect::Postgres;
        let mut depth = 1usize;
        while self.pos < self.bytes.len() {
            if self.peek(0) == Some(b'*') && self.peek(1) == Some(b'/') {
                self.pos += 2;
                depth -= 1;
                if depth == 0 {
                    return Token::Comment;
                }
            } else if nests && self.peek(0) == Some(b'/') && self.peek(1) == Some(b'*') {
                self.pos += 2;
                depth += 1;
            } else {
                self.pos += 1;
            }
        }
        Token::Comment
    }

    /// Consumes a quoted run after its opening quote, up to and including the closing one.
    /// A doubled quote is an escaped quote; with `backslash`, `\x` escapes any character.
    fn quoted(&mut self, quote: u8, backslash: bool) {
        while let Some(c) = self.peek(0) {
            if backslash && c == b'\\' {
                self.pos += 2;
                continue;
            }
            self.pos += 1;
            if c == quote {
                if self.peek(0) == Some(quote) {
                    self.pos += 1;
                } else {
                    return;
                }
            }
        }
        self.pos = self.bytes.len();
    }

    /// `$1` (a parameter), `$$…$$` or `$tag$…$tag$` (a dollar-quoted string), or a lone `$`.
    fn dollar(&mut self) -> Token<'a> {
        let start = self.pos;
        if matches!(self.peek(1), Some(b'0'..=b'9')) {
            self.pos += 1;
            while matches!(self.peek(0), Some(b'0'..=b'9')) {
                self.pos += 1;
            }
            return Token::Param(self.slice(start));
        }
        let mut end = self.pos + 1;
        if self.bytes.get(end).copied().is_some_and(is_ident_start) {
            while self
                .bytes
                .get(end)
                .copied()
                .is_some_and(|c| is_ident_start(c) || c.is_ascii_digit())
            {
                end += 1;
            }
        }
        if self.bytes.get(end) != Some(&b'$') {
            self.pos += 1;
            return Token::Punct(self.slice(start));
        }
        let tag = &self.bytes[start..=end];
        self.pos = end + 1;
        let body = &self.bytes[self.pos..];
        match body.windows(tag.len()).position(|w| w == tag) {
            Some(at) => self.pos += at + tag.len(),
            None => self.pos = self.bytes.len(),
        }
        Token::Literal
    }

    fn number(&mut self) {
        if self.peek(0) == Some(b'0')
            && matches!(self.peek(1), Some(b'x' | b'X' | b'b' | b'B' | b'o' | b'O'))
        {
            self.pos += 2;
            while self
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.pos += 1;
            }
            return;
        }
        while self
            .peek(0)
            .is_some_and(|c| c.is_ascii_digit() || c == b'_')
        {
            self.pos += 1;
        }
        if self.peek(0) == Some(b'.') && self.peek(1) != Some(b'.') {
            self.pos += 1;
            while self
                .peek(0)
                .is_some_and(|c| c.is_ascii_digit() || c == b'_')
            {
                self.pos += 1;
            }
        }
        if matches!(self.peek(0), Some(b'e' | b'E'))
            && (self.peek(1).is_some_and(|c| c.is_ascii_digit())
                || (matches!(self.peek(1), Some(b'+' | b'-'))
                    && self.peek(2).is_some_and(|c| c.is_ascii_digit())))
        {
            self.pos += 2;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
        }
        // `123abc` is one junk token to the server; do not let the tail pass as a word.
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> Token<'a> {
        let start = self.pos;
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let word = self.slice(start);
        // String prefixes: E'..' (backslash escapes), B'..', X'..', N'..' and, in MySQL,
        // charset introducers such as _utf8mb4'..'; PostgreSQL's U&'..' as well.
        if self.peek(0) == Some(b'\'') {
            let upper = word.to_ascii_uppercase();
            let escapes = match (self.dialect, upper.as_str()) {
                (Dialect::Postgres, "E") => Some(true),
                (Dialect::Postgres, "B" | "X" | "N") => Some(false),
                (Dialect::MySql, "B" | "X" | "N") => Some(true),
                (Dialect::MySql, w) if w.starts_with('_') => Some(true),
                _ => None,
            };
            if let Some(backslash) = escapes {
                self.pos += 1;
                self.quoted(b'\'', backslash);
                return Token::Literal;
            }
        }
        if self.dialect == Dialect::Postgres
            && word.eq_ignore_ascii_case("U")
            && self.peek(0) == Some(b'&')
            && self.peek(1) == Some(b'\'')
        {
            self.pos += 2;
            self.quoted(b'\'', false);
            return Token::Literal;
        }
        Token::Word(word)
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMAIL: &str = "alice@example.com";
    const CARD: &str = "4111111111111111";

    fn pg(sql: &str) -> String {
        redact(sql, Dialect::Postgres)
    }

    fn my(sql: &str) -> String {
        redact(sql, Dialect::MySql)
    }

    #[test]
    fn strings_and_numbers_become_placeholders() {
        assert_eq!(
            pg(
                "SELECT * FROM customers WHERE email = 'alice@example.com' AND card = 4111111111111111"
            ),
            "SELECT * FROM customers WHERE email = ? AND card = ?"
        );
        assert_eq!(pg("SELECT 1.5e-3, .5, 0x1F, 1_000"), "SELECT ?, ?, ?, ?");
        assert_eq!(pg("SELECT -42"), "SELECT -?");
    }

    #[test]
    fn identifiers_with_digits_and_parameters_stay() {
        assert_eq!(
            pg("SELECT t1.c2 FROM t1 WHERE id = $1 AND x = $12"),
            "SELECT t1.c2 FROM t1 WHERE id = $1 AND x = $12"
        );
        assert_eq!(
            my("SELECT `t1`.* FROM t1 WHERE a = ?"),
            "SELECT `t1`.* FROM t1 WHERE a = ?"
        );
        assert_eq!(pg("SELECT a$b FROM x"), "SELECT a$b FROM x");
    }

    #[test]
    fn postgres_plain_strings_have_no_backslash_escapes() {
        // Under standard_conforming_strings 'C:\' is a complete string; a lexer that took
        // the backslash as an escape would show the e-mail as code.
        let sql = format!("SELECT 'C:\\' || '{EMAIL}' || 'x'");
        let out = pg(&sql);
        assert_eq!(out, "SELECT ? || ? || ?");
    }

    #[test]
    fn escape_strings_honour_backslashes() {
        let sql = format!("SELECT E'it\\'s {EMAIL}', e'\\\\', 'x'");
        assert_eq!(pg(&sql), "SELECT ?, ?, ?");
        let sql = format!("SELECT U&'d\\0061t\\+000061 {EMAIL}', B'0101', X'1F', N'{EMAIL}'");
        assert_eq!(pg(&sql), "SELECT ?, ?, ?, ?");
    }

    #[test]
    fn dollar_quoted_strings() {
        let sql =
            format!("DO $$ BEGIN PERFORM '{EMAIL}'; END $$; SELECT $tag$ {CARD} $not$ $tag$, $1");
        assert_eq!(pg(&sql), "DO ?; SELECT ?, $1");
        // Unterminated (text cut off by track_activity_query_size): literal to the end.
        assert_eq!(pg(&format!("SELECT $q$ {EMAIL}")), "SELECT ?");
    }

    #[test]
    fn comments_are_dropped_and_postgres_nests_them() {
        let sql =
            format!("SELECT /* user={EMAIL} /* nested {CARD} */ still */ 1 -- {EMAIL}\nFROM t");
        assert_eq!(pg(&sql), "SELECT ? FROM t");
        let sql = format!("SELECT 1 # {EMAIL}\nFROM t /* {CARD} */");
        assert_eq!(my(&sql), "SELECT ? FROM t");
    }

    #[test]
    fn quoted_identifiers_are_kept_in_postgres_and_strings_in_mysql() {
        assert_eq!(
            pg("SELECT \"Email\" FROM \"Users\""),
            "SELECT \"Email\" FROM \"Users\""
        );
        assert_eq!(my(&format!("SELECT \"{EMAIL}\"")), "SELECT ?");
    }

    #[test]
    fn mysql_strings_take_backslash_escapes_and_introducers() {
        let sql = format!("SELECT 'it\\'s {EMAIL}', _utf8mb4'{CARD}', X'0F', 'a''b'");
        assert_eq!(my(&sql), "SELECT ?, ?, ?, ?");
    }

    #[test]
    fn unterminated_strings_hide_everything_after_the_quote() {
        let out = pg(&format!(
            "UPDATE t SET note = 'call {EMAIL} about card {CARD}"
        ));
        assert_eq!(out, "UPDATE t SET note = ?");
        let out = pg(&format!("SELECT 1 /* {EMAIL}"));
        assert_eq!(out, "SELECT ?");
    }

    #[test]
    fn multibyte_text_is_safe() {
        assert_eq!(
            pg("SELECT 'Zürich', größe FROM städte WHERE x → 1"),
            "SELECT ?, größe FROM städte WHERE x → ?"
        );
    }

    #[test]
    fn redaction_is_idempotent_on_normalised_text() {
        let normalised = "SELECT id FROM orders WHERE customer_id = $1 AND status IN ($2, $3)";
        assert_eq!(pg(normalised), normalised);
        let digest = "SELECT `id` FROM `orders` WHERE `customer_id` = ?";
        assert_eq!(my(digest), digest);
    }

    #[test]
    fn classification() {
        use StatementKind::*;
        let cases = [
            ("SELECT 1", Read),
            ("  (SELECT 1) UNION (SELECT 2)", Read),
            ("/* app */ select * from t for update", Read),
            ("WITH x AS (SELECT 1) SELECT * FROM x", Read),
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                Write,
            ),
            ("insert into t values ($1)", Write),
            ("UPDATE t SET a = 1", Write),
            ("DELETE FROM t", Write),
            ("COPY t FROM STDIN", Write),
            ("COPY t TO STDOUT", Read),
            ("COMMIT", Write),
            ("BEGIN", Other),
            ("SET search_path = x", Other),
            ("CREATE INDEX i ON t (a)", Other),
            ("", Other),
            ("REPLACE INTO t VALUES (?)", Write),
        ];
        for (sql, kind) in cases {
            assert_eq!(classify(sql, Dialect::Postgres), kind, "{sql}");
        }
    }

    #[test]
    fn leads_classify_like_whole_statements() {
        use StatementKind::*;
        assert_eq!(classify_lead("select c", false), Read);
        assert_eq!(classify_lead("insert i", false), Write);
        assert_eq!(classify_lead("with d a", true), Write);
        assert_eq!(classify_lead("with d a", false), Read);
        assert_eq!(classify_lead("truncate", false), Write);
        assert_eq!(classify_lead("begin", false), Other);
        assert_eq!(classify_lead("", false), Other);
    }

    #[test]
    fn statement_keys_ignore_what_a_reader_ignores() {
        let key = |s: &str| statement_key(s, Dialect::Postgres);
        let base = key("SELECT id, amount FROM orders WHERE customer_id = $1");
        for same in [
            "SELECT id, amount FROM orders WHERE customer_id = $1",
            "select  id,amount\n  from ORDERS where customer_id = $2;",
            "/* controller:orders */ SELECT id, amount FROM orders -- by customer\n WHERE customer_id = 42",
            "SELECT id, amount FROM orders WHERE customer_id = :customer",
        ] {
            assert_eq!(key(same), base, "{same}");
        }
        for different in [
            "SELECT id FROM orders WHERE customer_id = $1",
            "SELECT id, amount FROM orders WHERE customer_id = $1::int2",
            "SELECT id, amount FROM \"Orders\" WHERE customer_id = $1",
            "SELECT id, amount FROM orders WHERE customer_id > $1",
        ] {
            assert_ne!(key(different), base, "{different}");
        }
        // Lists of ids of any length are one statement; other lists are not folded.
        assert_eq!(
            key("SELECT * FROM t WHERE id IN ($1, $2, $3)"),
            key("SELECT * FROM t WHERE id IN ($1)")
        );
        assert_ne!(
            key("INSERT INTO t VALUES ($1, $2)"),
            key("INSERT INTO t VALUES ($1)")
        );
        // A MySQL digest text and the same statement as PostgreSQL shows it.
        assert_eq!(
            statement_key(
                "SELECT `id` , `amount` FROM `orders` WHERE `customer_id` = ?",
                Dialect::MySql
            ),
            statement_key(
                "SELECT `id`, `amount` FROM `orders` WHERE `customer_id` = 7",
                Dialect::MySql
            )
        );
    }

    #[test]
    fn scan_targets_come_from_the_outer_statement() {
        let pg = |s: &str| scan_target(s, Dialect::Postgres);
        let target = |table: &str, cols: &[&str]| {
            Some(ScanTarget {
                table: table.into(),
                filter_columns: cols.iter().map(|c| c.to_string()).collect(),
            })
        };
        assert_eq!(
            pg("SELECT id, amount FROM orders WHERE customer_id = $1"),
            target("orders", &["customer_id"])
        );
        assert_eq!(
            pg(
                "select o.id from public.orders o where o.status = $1 and o.created_at >= $2 and o.customer_id in ($3, $4) order by o.id limit $5"
            ),
            target("public.orders", &["status", "customer_id", "created_at"])
        );
        assert_eq!(
            pg("SELECT customer_id, count(*) FROM orders GROUP BY customer_id"),
            target("orders", &[])
        );
        assert_eq!(
            pg("UPDATE orders SET note = $1, amount = amount + $2 WHERE customer_id = $3"),
            target("orders", &["customer_id"])
        );
        assert_eq!(
            pg("DELETE FROM audit WHERE at < $1"),
            target("audit", &["at"])
        );
        // Joins: only columns qualified with the first table's name or alias.
        assert_eq!(
            pg(
                "SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.email = $1 AND o.status = $2 AND note = $3"
            ),
            target("orders", &["status"])
        );
        // Expressions, join conditions, inequalities and subqueries are no index columns.
        assert_eq!(
            pg(
                "SELECT * FROM users WHERE lower(email) = $1 AND id <> $2 AND a = b AND id IN (SELECT user_id FROM bans WHERE reason = $3)"
            ),
            target("users", &["id"])
        );
        assert_eq!(
            pg("SELECT extract(year FROM at) FROM ONLY events WHERE kind = 'x'"),
            target("events", &["kind"])
        );
        assert_eq!(pg("SELECT pg_sleep($1)"), None);
        assert_eq!(pg("SELECT * FROM (SELECT 1) s WHERE x = $1"), None);
        assert_eq!(pg("WITH x AS (SELECT 1) SELECT * FROM x"), None);
        assert_eq!(pg("INSERT INTO t VALUES ($1)"), None);
        assert_eq!(
            scan_target(
                "SELECT `id` , `amount` FROM `shop` . `orders` WHERE `customer_id` = ?",
                Dialect::MySql
            ),
            target("shop.orders", &["customer_id"])
        );
        assert_eq!(
            pg("SELECT * FROM \"Orders\" WHERE \"CustomerId\" = $1"),
            target("\"Orders\"", &["\"CustomerId\""])
        );
    }

    #[test]
    fn no_panic_on_odd_input() {
        for sql in [
            "'", "$", "$$", "$a", "/*", "--", "E'", "U&", "0x", "1e", "1e+", "\"", "`", "\\", "é'",
            ":",
        ] {
            let _ = pg(sql);
            let _ = my(sql);
            for d in [Dialect::Postgres, Dialect::MySql] {
                let _ = statement_key(sql, d);
                let _ = scan_target(sql, d);
                let _ = scan_target(&format!("SELECT * FROM t WHERE {sql}"), d);
                let _ = scan_target(&format!("UPDATE {sql}"), d);
            }
        }
        for sql in [
            "SELECT * FROM",
            "SELECT * FROM t WHERE",
            "SELECT * FROM t WHERE a =",
            "SELECT * FROM t WHERE t.",
            "SELECT * FROM t WHERE (a = 1))",
            "DELETE FROM",
            "UPDATE",
            "SELECT * FROM s. WHERE a = 1",
        ] {
            let _ = scan_target(sql, Dialect::Postgres);
        }
    }
}
