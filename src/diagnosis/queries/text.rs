//! What query text a report may show: literals redacted (unless the operator turned that
//! off), whitespace folded, and at most [`MAX_QUERY_CHARS`] characters, with `…` where the
//! text was cut.

use crate::diagnosis::sql::{self, Dialect};

/// Query text longer than this (in characters) is cut, with `…` at the end.
pub const MAX_QUERY_CHARS: usize = 1000;

/// Output bounds and text handling the operator controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presentation {
    /// Replace literals in query text with `?` (on unless the operator turns it off).
    pub redact_literals: bool,
}

/// Turns statement and session texts into what the report shows, remembering whether any
/// was cut.
pub(super) struct Shown {
    dialect: Dialect,
    presentation: Presentation,
    /// Some text was cut to [`MAX_QUERY_CHARS`].
    pub truncated: bool,
}

impl Shown {
    pub(super) fn new(dialect: Dialect, presentation: Presentation) -> Self {
        Self {
            dialect,
            presentation,
            truncated: false,
        }
    }

    /// `text` as the report shows it.
    pub(super) fn show(&mut self, text: &str) -> String {
        let text = if self.presentation.redact_literals {
            sql::redact(text, self.dialect)
        } else {
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let (text, cut) = bound_text(&text, MAX_QUERY_CHARS);
        self.truncated |= cut;
        text
    }
}

/// Cuts `text` at `max` characters (on a character boundary) and marks the cut with `…`.
pub fn bound_text(text: &str, max: usize) -> (String, bool) {
    match text.char_indices().nth(max) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

/// `text` cut to `max` characters, for a sentence.
pub(super) fn shorten(text: &str, max: usize) -> String {
    bound_text(text, max).0
}
