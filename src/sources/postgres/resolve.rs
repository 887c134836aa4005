//! What is known about each statement of the counters, applied: this tool's own statements
//! left out, every other one with its kind, and the listed ones with their text — read from
//! the server only for what the [`KnownStatements`] of the target do not hold yet, and
//! remembered there.

use std::collections::HashSet;
use std::sync::Arc;

use tokio_postgres::types::{ToSql, Type};

use super::counters::Counters;
use super::known::{Known, KnownStatements};
use super::statements::PgssColumns;
use super::{BEGIN, COMMIT, Reader};
use crate::diagnosis::FastMap;
use crate::diagnosis::queries::{Request, RowKind, RowMatch, StatementRow, top_ids};
use crate::diagnosis::sql::{Dialect, classify_lead, match_key, statement_key};
use crate::sources::DbError;

/// What is known about each statement of the counters: this tool's own statements left
/// out, every other one with its kind (or unknown), and which statements the report will
/// list (with a margin).
pub(super) struct Applied {
    /// Per row of the counters: its kind, or `None` for this tool's own statements.
    pub kinds: Vec<Option<RowKind>>,
    /// The statements to be listed, in order, and a few more after them: each as the
    /// queryids behind it (several when one text has several, see `queries::merge`).
    pub listed: Vec<Vec<i64>>,
    /// Statements never met before.
    pub unknown: Vec<i64>,
    /// Listed statements whose text is not known.
    pub missing_text: Vec<i64>,
}

/// How many statements beyond `limit` get their text read and count as listed, so that a
/// statement moving up a few places next time is already at hand.
const LIST_MARGIN: usize = 10;

/// What is known applied to the counters: kinds, text keys, and the statements to list.
fn apply(
    known: &KnownStatements,
    counters: &mut Counters,
    req: &Request,
    io_timing: Option<bool>,
) -> Applied {
    // The text key of every known statement, so that the ids of one text rank as one, and
    // its match key, so that a `query_text` finds it whether listed or not.
    for (row, id) in counters.rows.iter_mut().zip(&counters.ids) {
        row.text_key = known.key(*id);
        row.match_key = known
            .match_key(*id)
            .map_or(RowMatch::Unknown, RowMatch::Key);
    }
    let mut unknown = Vec::new();
    let kinds: Vec<Option<RowKind>> = counters
        .ids
        .iter()
        .map(|id| match known.known(*id) {
            Some(Known::Monitor) => None,
            Some(Known::Statement(k)) => Some(RowKind::Known(k)),
            None => {
                unknown.push(*id);
                Some(RowKind::Unknown)
            }
        })
        .collect();
    // While some statements are unknown, a few of them may turn out to be ours and drop
    // out: take a wider margin then.
    let margin = LIST_MARGIN + if unknown.is_empty() { 0 } else { 20 };
    let wide = Request {
        limit: req.limit + margin,
        ..req.clone()
    };
    let candidates = counters
        .rows
        .iter()
        .zip(&kinds)
        .filter(|(_, k)| k.is_some())
        .map(|(r, _)| r);
    let listed: Vec<Vec<i64>> = top_ids(candidates, &wide, io_timing, Dialect::Postgres)
        .iter()
        .map(|ids| ids.iter().filter_map(|id| id.parse().ok()).collect())
        .collect();
    let mut missing_text: Vec<i64> = listed
        .iter()
        .flatten()
        .copied()
        .filter(|id| known.text(*id).is_none())
        .collect();
    unknown.sort_unstable();
    missing_text.sort_unstable();
    Applied {
        kinds,
        listed,
        unknown,
        missing_text,
    }
}

/// The rows for the report: kinds applied, this tool's statements left out, the listed
/// statements with their text. Works in place on the rows read.
pub(super) fn finish_rows(
    counters: Counters,
    applied: Applied,
    known: &KnownStatements,
) -> Vec<StatementRow> {
    let texts: FastMap<i64, Arc<str>> = applied
        .listed
        .iter()
        .flatten()
        .filter_map(|id| known.text(*id).map(|t| (*id, t)))
        .collect();
    let mut rows = counters.rows;
    for ((row, id), kind) in rows.iter_mut().zip(&counters.ids).zip(&applied.kinds) {
        if let Some(kind) = kind {
            row.kind = *kind;
            if let Some(t) = texts.get(id) {
                row.query = t.to_string();
            }
        }
    }
    let mut kinds = applied.kinds.iter();
    rows.retain(|_| kinds.next().is_some_and(Option::is_some));
    rows
}

/// Gives every statement its kind and the listed ones their text, from what is known about
/// the target's statements; reads what is not known yet and remembers it. One round trip
/// when anything is new (a second one when a new statement turns out to be ours and another
/// moves up into the list); none once everything is known. A statement that left the
/// statistics before its text was read stays of unknown kind.
pub(super) async fn resolve(
    r: &Reader<'_>,
    columns: &PgssColumns,
    req: &Request,
    io_timing: Option<bool>,
    counters: &mut Counters,
) -> Result<Applied, DbError> {
    let (pool, client, target) = (r.pool, r.client, r.target);
    // Statements whose text was read, and those whose text was kept: a statement read for
    // its kind alone may turn out to be listed once its keys are known (it matches a
    // `query_text`), and is read again for its text.
    let mut asked: HashSet<i64> = HashSet::new();
    let mut asked_text: HashSet<i64> = HashSet::new();
    let mut texts_sql = None;
    loop {
        let applied = pool.with_known(&target.name, |known| apply(known, counters, req, io_timing));
        // The text is kept only for the statements to be listed; the others' text is read
        // once, for its kind and keys, and dropped.
        let with_text: HashSet<i64> = applied
            .missing_text
            .iter()
            .copied()
            .filter(|id| !asked_text.contains(id))
            .collect();
        let wanted: Vec<i64> = applied
            .unknown
            .iter()
            .copied()
            .filter(|id| !asked.contains(id))
            .chain(with_text.iter().copied())
            .collect::<HashSet<i64>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(applied);
        }
        asked.extend(&wanted);
        asked_text.extend(&with_text);
        let sql: &str = texts_sql.get_or_insert_with(|| columns.texts_sql());
        let params: [(&(dyn ToSql + Sync), Type); 1] = [(&wanted, Type::INT8_ARRAY)];
        let (begin, found, _) = tokio::join!(
            client.batch_execute(BEGIN),
            client.query_typed(sql, &params),
            client.batch_execute(COMMIT),
        );
        begin.map_err(|e| r.failed("BEGIN READ ONLY", e))?;
        let found = found.map_err(|e| r.failed("reading the text of new statements", e))?;
        tracing::debug!(
            asked = wanted.len(),
            found = found.len(),
            "postgres: statement kinds and texts"
        );
        // Kinds and keys are worked out before taking the lock: tokenizing thousands of
        // texts must not hold up another call to the same target.
        let learnt: Vec<Learnt> = found
            .into_iter()
            .filter_map(|r| {
                let id = r.try_get::<_, Option<i64>>(0).ok().flatten()?;
                let keyword: String = r.try_get(1).unwrap_or_default();
                let modifies = r
                    .try_get::<_, Option<bool>>(2)
                    .ok()
                    .flatten()
                    .unwrap_or(false);
                let ours = r
                    .try_get::<_, Option<bool>>(3)
                    .ok()
                    .flatten()
                    .unwrap_or(false);
                let text: Option<String> = r.try_get(4).ok().flatten();
                let tail: Option<i32> = r.try_get(5).ok().flatten();
                let folded: Option<String> = r.try_get(6).ok().flatten();
                if ours {
                    return Some(Learnt {
                        id,
                        known: Known::Monitor,
                        text: None,
                        key: None,
                        match_key: None,
                    });
                }
                let whole = text.as_deref().filter(|t| !t.is_empty());
                let key = whole.map(|t| text_key(t, tail));
                let match_key = whole_match_key(whole, tail, folded.as_deref());
                Some(Learnt {
                    id,
                    known: Known::Statement(classify_lead(&keyword, modifies)),
                    text: text.filter(|_| with_text.contains(&id)),
                    key,
                    match_key,
                })
            })
            .collect();
        pool.with_known(&target.name, |known| {
            for l in learnt {
                known.learn(l.id, l.known, l.text.as_deref(), l.key, l.match_key);
            }
        });
    }
}

/// What one read of the text query tells about a statement.
struct Learnt {
    id: i64,
    known: Known,
    /// Its text, when it is to be listed.
    text: Option<String>,
    key: Option<u64>,
    match_key: Option<u64>,
}

/// The match key of a statement's whole text: from the text when the first 4 KiB are all of
/// it (no `tail`), else from the text with its lists of parameters folded when that fits in
/// 4 KiB (see `PgssColumns::texts_sql`); `None` when neither holds the whole statement.
fn whole_match_key(text: Option<&str>, tail: Option<i32>, folded: Option<&str>) -> Option<u64> {
    match tail {
        None => text.map(|t| match_key(t, Dialect::Postgres)),
        Some(_) => folded
            .filter(|f| f.chars().count() <= 4096)
            .map(|f| match_key(f, Dialect::Postgres)),
    }
}

/// The key of a statement as a person reads it, from the first 4 KiB of its text (what the
/// text query sends) and a hash of the rest, so that two long statements alike only in
/// their first 4 KiB do not merge.
fn text_key(text: &str, tail: Option<i32>) -> u64 {
    use std::hash::{Hash, Hasher};
    let key = statement_key(text, Dialect::Postgres);
    match tail {
        None => key,
        Some(tail) => {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (key, tail).hash(&mut h);
            h.finish()
        }
    }
}
