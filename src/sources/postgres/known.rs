//! What the PostgreSQL adapter remembers about statements between calls to one target.
//!
//! A pg_stat_statements queryid stands for one normalised statement for as long as the
//! server runs: its text, and so its kind, never change. Remembering the kind of every
//! queryid seen (and the text of those that were listed) lets a call read only the counters
//! — the cheap part of the view — and fetch text for the statements it has not met before.
//! The first call against a target pays for classifying everything; later calls pay for
//! what is new. Results are the same either way: the kind comes from the same text.
//!
//! With the kind goes the statement's key as a person reads it (a hash of its normalised
//! text, see [`crate::diagnosis::sql::statement_key`]), so that the queryids of one text (one per
//! parameter type) are counted as one statement on every call without reading text again,
//! and its match key ([`crate::diagnosis::sql::match_key`]), so that a `query_text` is
//! looked for among all of the target's statements, not only the listed ones.
//!
//! It also remembers which statements were listed lately, so that the next call can ask
//! the server for their details alone ([`KnownStatements::listed`]); a call whose list
//! turns out different reads the details of every statement again, so this only saves time
//! and never changes a figure.
//!
//! Memory is bounded: at most [`MAX_ENTRIES`] statements, [`MAX_TEXT_BYTES`] of text and
//! [`MAX_LISTED`] listed statements per target. When a bound is reached the oldest half of what is remembered is forgotten (it
//! will be read again when needed), so a server that churns through statements cannot grow
//! the cache without limit.

use std::sync::Arc;

use crate::diagnosis::FastMap;
use crate::diagnosis::sql::StatementKind;

/// At most this many statements are remembered per target.
pub const MAX_ENTRIES: usize = 100_000;
/// At most this much statement text (bytes) is remembered per target.
pub const MAX_TEXT_BYTES: usize = 8 << 20;
/// At most this many recently listed statements are remembered per target.
pub const MAX_LISTED: usize = 500;

/// What a statement is, as far as the report is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// One of the application's statements, of this kind.
    Statement(StatementKind),
    /// One of this tool's own monitoring statements: left out of every figure.
    Monitor,
}

#[derive(Debug, Clone)]
struct Entry {
    known: Known,
    text: Option<Arc<str>>,
    key: Option<u64>,
    match_key: Option<u64>,
    /// When it was learnt (a counter), to forget the oldest first.
    learnt: u64,
}

/// The statements of one target seen so far, by id.
#[derive(Debug, Clone, Default)]
pub struct KnownStatements {
    entries: FastMap<i64, Entry>,
    text_bytes: usize,
    clock: u64,
    /// Statements listed lately, with when.
    listed: FastMap<i64, u64>,
}

impl KnownStatements {
    /// What `id` is, when known.
    pub fn known(&self, id: i64) -> Option<Known> {
        self.entries.get(&id).map(|e| e.known)
    }

    /// The remembered text of `id`.
    pub fn text(&self, id: i64) -> Option<Arc<str>> {
        self.entries.get(&id).and_then(|e| e.text.clone())
    }

    /// The key of `id`'s text as a person reads it.
    pub fn key(&self, id: i64) -> Option<u64> {
        self.entries.get(&id).and_then(|e| e.key)
    }

    /// The match key of `id`'s whole text, when it could be worked out.
    pub fn match_key(&self, id: i64) -> Option<u64> {
        self.entries.get(&id).and_then(|e| e.match_key)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of text remembered.
    pub fn text_bytes(&self) -> usize {
        self.text_bytes
    }

    /// Remembers what `id` is, its text when given (a text already remembered is kept), its
    /// text's key and match key when given.
    pub fn learn(
        &mut self,
        id: i64,
        known: Known,
        text: Option<&str>,
        key: Option<u64>,
        match_key: Option<u64>,
    ) {
        self.clock += 1;
        let learnt = self.clock;
        // A text larger than the whole budget (never, with the adapters' 4 KiB cut) is not kept.
        let text = text.filter(|t| t.len() <= MAX_TEXT_BYTES);
        let text_len = text.map_or(0, str::len);
        let entry = self.entries.entry(id).or_insert(Entry {
            known,
            text: None,
            key: None,
            match_key: None,
            learnt,
        });
        entry.known = known;
        entry.learnt = learnt;
        if key.is_some() {
            entry.key = key;
        }
        if match_key.is_some() {
            entry.match_key = match_key;
        }
        if let (None, Some(t)) = (&entry.text, text) {
            entry.text = Some(Arc::from(t));
            self.text_bytes += text_len;
        }
        if self.entries.len() > MAX_ENTRIES || self.text_bytes > MAX_TEXT_BYTES {
            self.forget_oldest_half();
        }
    }

    /// The statements listed lately.
    pub fn listed(&self) -> Vec<i64> {
        self.listed.keys().copied().collect()
    }

    /// Notes that `ids` were listed now.
    pub fn mark_listed(&mut self, ids: &[i64]) {
        self.clock += 1;
        for id in ids {
            self.listed.insert(*id, self.clock);
        }
        if self.listed.len() > MAX_LISTED {
            let mut ages: Vec<u64> = self.listed.values().copied().collect();
            let mid = ages.len() / 2;
            let cut = *ages.select_nth_unstable(mid).1;
            self.listed.retain(|_, at| *at > cut);
        }
    }

    fn forget_oldest_half(&mut self) {
        let mut ages: Vec<u64> = self.entries.values().map(|e| e.learnt).collect();
        let mid = ages.len() / 2;
        let (_, cut, _) = ages.select_nth_unstable(mid);
        let cut = *cut;
        self.entries.retain(|_, e| e.learnt > cut);
        self.text_bytes = self
            .entries
            .values()
            .filter_map(|e| e.text.as_ref().map(|t| t.len()))
            .sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_kind_and_text() {
        let mut k = KnownStatements::default();
        assert_eq!(k.known(7), None);
        k.learn(
            7,
            Known::Statement(StatementKind::Write),
            None,
            Some(42),
            Some(43),
        );
        assert_eq!(k.known(7), Some(Known::Statement(StatementKind::Write)));
        assert_eq!(k.text(7), None);
        assert_eq!(k.key(7), Some(42));
        assert_eq!(k.match_key(7), Some(43));
        k.learn(
            7,
            Known::Statement(StatementKind::Write),
            Some("UPDATE t SET a = $1"),
            None,
            None,
        );
        assert_eq!(k.key(7), Some(42), "a key learnt is kept");
        assert_eq!(k.match_key(7), Some(43), "a match key learnt is kept");
        assert_eq!(k.text(7).as_deref(), Some("UPDATE t SET a = $1"));
        assert_eq!(k.text_bytes(), "UPDATE t SET a = $1".len());
        // A second text for the same id does not replace or double count the first.
        k.learn(
            7,
            Known::Statement(StatementKind::Write),
            Some("update t set a = $1"),
            Some(42),
            Some(43),
        );
        assert_eq!(k.text(7).as_deref(), Some("UPDATE t SET a = $1"));
        assert_eq!(k.text_bytes(), "UPDATE t SET a = $1".len());
        k.learn(-3, Known::Monitor, None, None, None);
        assert_eq!(k.key(-3), None);
        assert_eq!(k.match_key(-3), None);
        assert_eq!(k.known(-3), Some(Known::Monitor));
        assert_eq!(k.len(), 2);
    }

    #[test]
    fn remembers_what_was_listed_lately() {
        let mut k = KnownStatements::default();
        k.mark_listed(&[1, 2, 3]);
        k.mark_listed(&[3, 4]);
        let mut listed = k.listed();
        listed.sort_unstable();
        assert_eq!(listed, [1, 2, 3, 4]);
        for round in 0..(MAX_LISTED as i64) {
            k.mark_listed(&[1000 + round, 5000 + round]);
        }
        assert!(k.listed().len() <= MAX_LISTED);
        assert!(k.listed().contains(&(1000 + MAX_LISTED as i64 - 1)));
        assert!(!k.listed().contains(&1));
    }

    #[test]
    fn stays_within_its_bounds() {
        let mut k = KnownStatements::default();
        for id in 0..(MAX_ENTRIES as i64 + 10) {
            k.learn(
                id,
                Known::Statement(StatementKind::Read),
                None,
                Some(id as u64),
                None,
            );
        }
        assert!(k.len() <= MAX_ENTRIES, "{}", k.len());
        // The newest are kept, the oldest forgotten.
        assert!(k.known(MAX_ENTRIES as i64 + 9).is_some());
        assert!(k.known(0).is_none());

        let mut k = KnownStatements::default();
        let text = "x".repeat(4096);
        for id in 0..(MAX_TEXT_BYTES / 4096 + 5) as i64 {
            k.learn(
                id,
                Known::Statement(StatementKind::Read),
                Some(&text),
                None,
                None,
            );
            assert!(k.text_bytes() <= MAX_TEXT_BYTES);
        }
        assert!(k.text(((MAX_TEXT_BYTES / 4096) + 4) as i64).is_some());
    }
}
