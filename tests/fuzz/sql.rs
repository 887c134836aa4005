//! Target: the SQL tokenizer behind redaction and classification (`diagnosis::sql`), in
//! both dialects.
//!
//! Statements are built from keywords, identifiers, quoted identifiers, parameters,
//! operators and every kind of literal and comment each dialect has — standard strings with
//! doubled quotes, `E''` strings with backslash escapes, `U&''`, `B''` / `X''` / `N''`,
//! charset introducers, MySQL's `"..."` and backslash escapes, dollar quoting with tags,
//! nested block comments, `--` and `#` comments — each literal and comment holding a secret
//! with digits and an `@`, and optionally one unterminated literal or comment at the end
//! (query text cut off by the server). Redaction must leave none of the secrets, no digit
//! and no quote; classification must follow the statement's first keyword. Arbitrary text
//! must never panic, redaction must be idempotent, and the words a statement is classified
//! by must survive redaction.

use proptest::prelude::*;
use proptest::sample::select;
use python_web_troubleshooter::diagnosis::sql::{
    self, Dialect, StatementKind, Token, classify_keyword,
};

const KEYWORDS: [&str; 20] = [
    "SELECT", "select", "INSERT", "UPDATE", "DELETE", "WITH", "with", "COPY", "FROM", "WHERE",
    "VALUES", "SET", "BEGIN", "COMMIT", "MERGE", "TRUNCATE", "SHOW", "CREATE", "INTO", "AND",
];

/// Secret text for inside a literal or comment: always with a digit and an `@`, never a
/// quote, backslash, `$`, `*`, `/` or line break (the literal's own syntax adds those).
fn secret() -> impl Strategy<Value = String> {
    (
        "[a-z .,;:()=<>!%&|+?-]{0,10}",
        0u64..1_000_000_000,
        "[a-zA-Zé -]{0,6}",
    )
        .prop_map(|(a, n, b)| format!("{a}@{n}{b}"))
}

/// One piece of a statement: its text, and the secret it hides (if any).
#[derive(Debug, Clone)]
enum Piece {
    Keyword(&'static str),
    Ident(String),
    Secret { text: String, secret: String },
    Plain(String),
}

fn literal(dialect: Dialect) -> BoxedStrategy<Piece> {
    let wrap = |f: fn(&str) -> String| {
        secret().prop_map(move |secret| Piece::Secret {
            text: f(&secret),
            secret,
        })
    };
    let common = prop_oneof![
        wrap(|s| format!("'{s}'")),
        wrap(|s| format!("'{s}''{s}'")),
        wrap(|s| format!("X'{s}'")),
        wrap(|s| format!("N'{s}'")),
        wrap(|s| format!("/* {s} */")),
        wrap(|s| format!("-- {s}\n")),
        (0u64..u64::MAX).prop_map(|n| Piece::Secret {
            text: n.to_string(),
            secret: n.to_string(),
        }),
        select(&["1.5e-3", ".5", "0x1F", "1_000", "12e+7", "0b101", "42abc"][..]).prop_map(|n| {
            Piece::Secret {
                text: n.to_owned(),
                secret: n.to_owned(),
            }
        }),
    ];
    match dialect {
        Dialect::Postgres => prop_oneof![
            4 => common,
            1 => wrap(|s| format!("E'{s}\\'{s}\\\\'")),
            1 => wrap(|s| format!("e'\\\\{s}'")),
            1 => wrap(|s| format!("U&'{s}'")),
            1 => wrap(|s| format!("B'{s}'")),
            1 => wrap(|s| format!("'C:\\' || '{s}'")),
            1 => wrap(|s| format!("$${s}$$")),
            1 => ("[a-z_][a-z0-9_]{0,4}", secret()).prop_map(|(tag, secret)| Piece::Secret {
                text: format!("${tag}${secret} $not$ ${tag}$"),
                secret,
            }),
            1 => wrap(|s| format!("/* {s} /* nested {s} */ still {s} */")),
        ]
        .boxed(),
        Dialect::MySql => prop_oneof![
            4 => common,
            1 => wrap(|s| format!("'it\\'s {s}\\\\'")),
            1 => wrap(|s| format!("\"{s}\"")),
            1 => wrap(|s| format!("\"a\\\"{s}\"")),
            1 => wrap(|s| format!("_utf8mb4'{s}'")),
            1 => wrap(|s| format!("B'{s}'")),
            1 => wrap(|s| format!("# {s}\n")),
        ]
        .boxed(),
    }
}

/// An unterminated literal or comment: everything after its opening is secret.
fn unterminated(dialect: Dialect) -> BoxedStrategy<Piece> {
    let forms: &'static [&'static str] = match dialect {
        Dialect::Postgres => &["'", "E'\\'", "$q$", "$$", "/* ", "/* /* */ ", "-- ", "U&'"],
        Dialect::MySql => &["'", "'\\'", "\"", "/* ", "# ", "-- ", "_latin1'"],
    };
    (select(forms), secret())
        .prop_map(|(open, secret)| Piece::Secret {
            text: format!("{open}{secret}"),
            secret,
        })
        .boxed()
}

fn piece(dialect: Dialect) -> BoxedStrategy<Piece> {
    let ident = match dialect {
        Dialect::Postgres => prop_oneof![
            3 => "[a-z_][a-z_]{0,8}".prop_map(Piece::Ident),
            1 => "\"[A-Za-z_ ]{1,8}\"".prop_map(Piece::Ident),
            1 => "[a-z_]{1,4}\\$[a-z_]{0,3}".prop_map(Piece::Ident),
            // Bytes above 0x7f are identifier characters to PostgreSQL, arrows included.
            1 => select(&["größe", "→", "städte"][..]).prop_map(|w| Piece::Ident(w.into())),
        ]
        .boxed(),
        Dialect::MySql => prop_oneof![
            3 => "[a-z_][a-z_]{0,8}".prop_map(Piece::Ident),
            1 => "`[A-Za-z_ ]{1,8}`".prop_map(Piece::Ident),
        ]
        .boxed(),
    };
    prop_oneof![
        3 => select(&KEYWORDS[..]).prop_map(Piece::Keyword),
        3 => ident,
        4 => literal(dialect),
        2 => select(&["(", ")", ",", ";", "=", "<>", "||", "+", "*", "/", "-", ".", "?", ":name", "::"][..])
            .prop_map(|p| Piece::Plain(p.to_owned())),
    ]
    .boxed()
}

fn gap() -> impl Strategy<Value = &'static str> {
    select(&[" ", " ", "\n", "\t", "\r\n", "  ", "\x0b", "\x0c"][..])
}

#[derive(Debug, Clone)]
struct Statement {
    dialect: Dialect,
    pieces: Vec<Piece>,
    text: String,
}

fn statement() -> impl Strategy<Value = Statement> {
    select(&[Dialect::Postgres, Dialect::MySql][..]).prop_flat_map(|dialect| {
        (
            prop::collection::vec((piece(dialect), gap()), 0..14),
            prop::option::of(unterminated(dialect)),
            gap(),
        )
            .prop_map(move |(list, tail, lead)| {
                let mut pieces: Vec<Piece> = list.iter().map(|(p, _)| p.clone()).collect();
                let mut text = lead.to_owned();
                for (p, g) in &list {
                    text.push_str(piece_text(p));
                    text.push_str(g);
                }
                if let Some(t) = tail {
                    text.push_str(piece_text(&t));
                    pieces.push(t);
                }
                Statement {
                    dialect,
                    pieces,
                    text,
                }
            })
    })
}

fn piece_text(p: &Piece) -> &str {
    match p {
        Piece::Keyword(k) => k,
        Piece::Ident(s) | Piece::Plain(s) => s,
        Piece::Secret { text, .. } => text,
    }
}

/// What `classify` must say: the first keyword or identifier decides; for `WITH`, whether a
/// data-modifying keyword follows, for `COPY` whether `FROM` does.
fn expected_kind(pieces: &[Piece]) -> StatementKind {
    let words: Vec<String> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Keyword(k) => Some(k.to_ascii_lowercase()),
            Piece::Ident(i) if !i.starts_with(['"', '`']) => Some(i.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let Some(first) = words.first() else {
        return StatementKind::Other;
    };
    let rest = &words[1..];
    let modifies = match first.as_str() {
        "with" => rest
            .iter()
            .any(|w| ["insert", "update", "delete", "merge"].contains(&w.as_str())),
        "copy" => rest.iter().any(|w| w == "from"),
        _ => false,
    };
    classify_keyword(first, modifies)
}

#[derive(Debug, Clone)]
enum Case {
    Built(Statement),
    Noise(String, Dialect),
}

fn case() -> impl Strategy<Value = Case> {
    let dialect = select(&[Dialect::Postgres, Dialect::MySql][..]);
    let soup = prop::collection::vec(
        prop_oneof![
            select(
                &[
                    "'", "\"", "`", "$", "$$", "$a$", "E'", "e'", "U&'", "N'", "_utf8'", "\\",
                    "--", "#", "/*", "*/", "\n", " ", "0x", "1e", "1.", ".", ":", "?", "$1", "é",
                    "→", "select", "with", "copy", "from", "delete",
                ][..]
            )
            .prop_map(str::to_owned),
            any::<char>().prop_map(String::from),
        ],
        0..24,
    )
    .prop_map(|v| v.concat());
    prop_oneof![
        4 => statement().prop_map(Case::Built),
        2 => (soup, dialect.clone()).prop_map(|(s, d)| Case::Noise(s, d)),
        1 => (any::<String>(), dialect).prop_map(|(s, d)| Case::Noise(s, d)),
    ]
}

/// Arbitrary text: no panic, the same answer twice, tokens are pieces of the input,
/// redaction idempotent, classification unchanged by redaction.
fn check_any(text: &str, dialect: Dialect) -> Result<String, TestCaseError> {
    let tokens = sql::tokenize(text, dialect);
    prop_assert_eq!(&tokens, &sql::tokenize(text, dialect));
    for t in &tokens {
        if let Token::Word(s) | Token::QuotedIdent(s) | Token::Param(s) | Token::Punct(s) = t {
            prop_assert!(!s.is_empty() && text.contains(s), "token {:?}", t);
        }
    }
    let redacted = sql::redact(text, dialect);
    prop_assert_eq!(&redacted, &sql::redact(text, dialect));
    prop_assert_eq!(
        &sql::redact(&redacted, dialect),
        &redacted,
        "redaction is not idempotent"
    );
    let kind = sql::classify(text, dialect);
    prop_assert_eq!(
        sql::classify(&redacted, dialect),
        kind,
        "redaction changed the classification of {:?}",
        redacted
    );
    Ok(redacted)
}

#[test]
fn sql_tokenizer() {
    crate::fuzz("sql_tokenizer", case(), |case| match case {
        Case::Noise(text, dialect) => check_any(&text, dialect).map(|_| ()),
        Case::Built(st) => {
            let redacted = check_any(&st.text, st.dialect)?;
            for p in &st.pieces {
                if let Piece::Secret { secret, .. } = p {
                    prop_assert!(
                        !redacted.contains(secret.as_str()),
                        "{:?} shows {:?}: {:?}",
                        st.dialect,
                        secret,
                        redacted
                    );
                }
            }
            prop_assert!(
                !redacted.contains(|c: char| c.is_ascii_digit() || c == '@' || c == '\''),
                "{:?} leaves a literal in {:?} (from {:?})",
                st.dialect,
                redacted,
                st.text
            );
            if st.dialect == Dialect::MySql {
                prop_assert!(!redacted.contains('"'), "{:?}", redacted);
            }
            prop_assert_eq!(
                sql::classify(&st.text, st.dialect),
                expected_kind(&st.pieces)
            );
            Ok(())
        }
    });
}
