//! The lexer: PostgreSQL's and MySQL's lexical rules, one token at a time, so a caller that
//! needs only the first few stops early. Anything unterminated is a literal to the end.

use super::{Dialect, Token};

/// The tokens of `sql` one at a time.
pub(super) fn lexer(sql: &str, dialect: Dialect) -> Lexer<'_> {
    Lexer {
        src: sql,
        bytes: sql.as_bytes(),
        pos: 0,
        dialect,
    }
}

pub(super) struct Lexer<'a> {
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
