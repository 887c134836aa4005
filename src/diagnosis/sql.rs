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
    fn no_panic_on_odd_input() {
        for sql in [
            "'", "$", "$$", "$a", "/*", "--", "E'", "U&", "0x", "1e", "1e+", "\"", "`", "\\", "é'",
            ":",
        ] {
            let _ = pg(sql);
            let _ = my(sql);
        }
    }
}
