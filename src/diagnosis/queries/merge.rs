//! Statements as a person reads them, and the one place where rows are added together.
//!
//! The statistics views count one statement in several rows. PostgreSQL keeps a row per
//! role (and nesting level) of one queryid: those are merged first ([`merge_by_id`]). It
//! also gives a statement one queryid per combination of parameter types (psycopg binds a
//! small Python int as int2 and a larger one as int4, so `WHERE customer_id = $1` becomes
//! two entries with the same text), per IN-list length, and a utility statement one per
//! literal; MySQL keeps one digest per schema. Listed apart, each half shows half the time,
//! and the statement that takes nearly all of the database's time reads as one of several.
//! Rows whose texts key alike ([`sql::statement_key`]) are therefore merged next
//! ([`merge_by_text`]), and the report says how many ids stand behind each. Either way the
//! counters are added by [`StatementRow::absorb`].

use std::collections::HashSet;

use super::snapshot::{RowKind, RowMatch, StatementRow};
use crate::diagnosis::FastMap;
use crate::diagnosis::sql::{self, Dialect};

impl StatementRow {
    /// Adds `r`'s counters to these: the same statement counted under another role or id.
    pub fn absorb(&mut self, r: &StatementRow) {
        self.calls += r.calls;
        self.total_ms += r.total_ms;
        self.rows += r.rows;
        self.io_ms = add(self.io_ms, r.io_ms);
        self.plan_ms = add(self.plan_ms, r.plan_ms);
        self.shared_blks_hit = add(self.shared_blks_hit, r.shared_blks_hit);
        self.shared_blks_read = add(self.shared_blks_read, r.shared_blks_read);
        self.rows_examined = add(self.rows_examined, r.rows_examined);
        self.no_index_used = add(self.no_index_used, r.no_index_used);
    }
}

/// A figure summed over rows: absent only when absent from both.
fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// What the rows of one statement id share: the id, or the text of a row without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum IdKey<'a> {
    Id(&'a str),
    Text(&'a str),
}

fn id_key(r: &StatementRow) -> IdKey<'_> {
    if r.id.is_empty() {
        IdKey::Text(&r.query)
    } else {
        IdKey::Id(&r.id)
    }
}

/// One row per statement id: the same statement run by several roles (or at several
/// nesting levels) is one statement to the person reading the report. The rows that need no
/// merging (almost all of them, often all) are borrowed; the few merged rows are built in
/// `merged`. Order: each id where its first row was.
pub(super) fn merge_by_id<'o, 'r: 'o>(
    rows: impl Iterator<Item = &'r StatementRow>,
    merged: &'o mut Vec<StatementRow>,
) -> Vec<&'o StatementRow> {
    let rows: Vec<&'o StatementRow> = rows.map(|r| r as &'o StatementRow).collect();
    let mut first: FastMap<IdKey<'o>, usize> =
        FastMap::with_capacity_and_hasher(rows.len(), Default::default());
    // (index of the id's first row, index of a later row of the same id)
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, &r) in rows.iter().enumerate() {
        match first.get(&id_key(r)) {
            Some(&f) => repeats.push((f, i)),
            None => {
                first.insert(id_key(r), i);
            }
        }
    }
    if repeats.is_empty() {
        return rows;
    }
    // Merge each repeated id into one owned row.
    let mut merged_at: FastMap<usize, usize> = FastMap::default();
    for &(f, i) in &repeats {
        let m = *merged_at.entry(f).or_insert_with(|| {
            merged.push(rows[f].clone());
            merged.len() - 1
        });
        merged[m].absorb(rows[i]);
    }
    let later: HashSet<usize> = repeats.iter().map(|&(_, i)| i).collect();
    let merged: &'o Vec<StatementRow> = merged;
    rows.iter()
        .enumerate()
        .filter(|(i, _)| !later.contains(i))
        .map(|(i, r)| merged_at.get(&i).map_or(*r, |&m| &merged[m]))
        .collect()
}

/// [`merge_by_id`] as owned rows, each row without an id given `text:<its text>` as one,
/// so that two snapshots can be matched row by row ([`super::delta`]).
pub(super) fn aggregate(rows: &[StatementRow]) -> Vec<StatementRow> {
    let mut merged = Vec::new();
    merge_by_id(rows.iter(), &mut merged)
        .into_iter()
        .map(|r| StatementRow {
            id: if r.id.is_empty() {
                format!("text:{}", r.query)
            } else {
                r.id.clone()
            },
            ..r.clone()
        })
        .collect()
}

/// The key a row merges on: the adapter's (computed from the whole text when only part of
/// it is at hand), else its text's; `None` when neither is known, and the row stays alone.
pub(super) fn text_key(r: &StatementRow, dialect: Dialect) -> Option<u64> {
    r.text_key
        .or_else(|| (!r.query.is_empty()).then(|| sql::statement_key(&r.query, dialect)))
}

/// One statement after merging.
#[derive(Debug, Clone, Copy)]
pub(super) struct Merged<'a> {
    /// Its counters (summed over its ids), text and kind.
    pub row: &'a StatementRow,
    /// How many ids (queryids, digests) that ran stand behind it (at least 1). An id with
    /// no call (PostgreSQL makes an entry when it plans a statement that is still running)
    /// is merged but not counted.
    pub query_ids: u32,
    /// How many rows were merged into it, whether they ran or not.
    pub members: u32,
    /// Its text key.
    pub key: Option<u64>,
}

/// Merges rows (one per id) whose texts key alike. Rows that need no merging — nearly all
/// of them — are borrowed; the merged ones are built in `merged`. A merged statement shows
/// the counters of all its ids and the id, text and kind of the one with the most time
/// (ties: the smallest id), so that the same statistics always give the same statement
/// whichever of its ids happen to have their text at hand. Order: where each statement's
/// first row was.
pub(super) fn merge_by_text<'o, 'r: 'o>(
    rows: Vec<&'r StatementRow>,
    dialect: Dialect,
    merged: &'o mut Vec<StatementRow>,
) -> Vec<Merged<'o>> {
    let keys: Vec<Option<u64>> = rows.iter().map(|r| text_key(r, dialect)).collect();
    // (first row, rows, rows that ran) per statement, in order of first appearance.
    let mut groups: Vec<(usize, u32, u32)> = Vec::with_capacity(rows.len());
    let mut group_of: FastMap<u64, usize> =
        FastMap::with_capacity_and_hasher(rows.len(), Default::default());
    let mut any_repeat = false;
    for (i, key) in keys.iter().enumerate() {
        let ran = u32::from(rows[i].calls > 0.0);
        match key.and_then(|k| group_of.get(&k).copied()) {
            Some(g) => {
                groups[g].1 += 1;
                groups[g].2 += ran;
                any_repeat = true;
            }
            None => {
                if let Some(k) = key {
                    group_of.insert(*k, groups.len());
                }
                groups.push((i, 1, ran));
            }
        }
    }
    if !any_repeat {
        return rows
            .into_iter()
            .zip(keys)
            .map(|(row, key)| Merged {
                row,
                query_ids: 1,
                members: 1,
                key,
            })
            .collect();
    }
    // The members of each statement of several ids.
    let mut members: FastMap<usize, Vec<usize>> = FastMap::default();
    for (i, key) in keys.iter().enumerate() {
        if let Some(&g) = key.as_ref().and_then(|k| group_of.get(k))
            && groups[g].1 > 1
        {
            members.entry(g).or_default().push(i);
        }
    }
    let mut built: FastMap<usize, usize> = FastMap::default();
    let mut multi: Vec<usize> = members.keys().copied().collect();
    multi.sort_unstable();
    for g in multi {
        let ids = &members[&g];
        let lead = ids
            .iter()
            .copied()
            .max_by(|&a, &b| {
                rows[a]
                    .total_ms
                    .total_cmp(&rows[b].total_ms)
                    .then_with(|| rows[b].id.cmp(&rows[a].id))
            })
            .unwrap_or(ids[0]);
        let mut m = rows[lead].clone();
        for &i in ids.iter().filter(|&&i| i != lead) {
            let r = rows[i];
            m.absorb(r);
            if m.query.is_empty() && !r.query.is_empty() {
                m.query = r.query.clone();
            }
            if m.kind == RowKind::Unknown && r.kind != RowKind::Unknown {
                m.kind = r.kind;
            }
            if m.match_key == RowMatch::Unknown {
                m.match_key = r.match_key;
            }
        }
        built.insert(g, merged.len());
        merged.push(m);
    }
    let merged: &'o Vec<StatementRow> = merged;
    groups
        .iter()
        .enumerate()
        .map(|(g, &(first, count, ran))| Merged {
            row: built.get(&g).map_or(rows[first], |&m| &merged[m]),
            query_ids: ran.max(1),
            members: count,
            key: keys[first],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::snapshot::test_row;
    use super::*;

    fn row(id: &str, query: &str, calls: f64, total_ms: f64) -> StatementRow {
        StatementRow {
            shared_blks_hit: Some(10.0 * calls),
            io_ms: Some(1.0),
            ..test_row(id, query, calls, total_ms)
        }
    }

    #[test]
    fn same_text_of_several_ids_is_one_statement() {
        // psycopg's int2 and int4 binds: two queryids, one text.
        let q = "SELECT id, amount FROM orders WHERE customer_id = $1";
        let rows = [
            row("11", q, 3000.0, 750_000.0),
            row("12", "SELECT 1", 10.0, 1.0),
            row("13", q, 2000.0, 500_000.0),
            row(
                "14",
                "select id,  amount from orders where customer_id = $1;",
                1.0,
                250.0,
            ),
        ];
        let mut buf = Vec::new();
        let out = merge_by_text(rows.iter().collect(), Dialect::Postgres, &mut buf);
        assert_eq!(out.len(), 2);
        let m = out[0];
        assert_eq!(m.query_ids, 3);
        assert_eq!(m.row.id, "11", "the id with the most time leads");
        assert_eq!(m.row.query, q);
        assert_eq!(m.row.calls, 5001.0);
        assert_eq!(m.row.total_ms, 1_250_250.0);
        assert_eq!(m.row.rows, 5001.0);
        assert_eq!(m.row.shared_blks_hit, Some(50_010.0));
        assert_eq!(m.row.shared_blks_read, Some(5001.0));
        assert_eq!(m.row.io_ms, Some(3.0));
        assert_eq!((out[1].row.id.as_str(), out[1].query_ids), ("12", 1));
    }

    #[test]
    fn rows_without_text_or_key_stay_apart_and_keys_stand_for_text() {
        let mut a = row("1", "", 1.0, 10.0);
        a.text_key = Some(7);
        let mut b = row("2", "", 1.0, 30.0);
        b.text_key = Some(7);
        b.kind = RowKind::Known(crate::diagnosis::sql::StatementKind::Read);
        let c = row("3", "", 1.0, 5.0);
        let d = row("4", "", 1.0, 5.0);
        let rows = [a, b, c, d];
        let mut buf = Vec::new();
        let out = merge_by_text(rows.iter().collect(), Dialect::Postgres, &mut buf);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].query_ids, 2);
        assert_eq!(out[0].row.id, "2");
        assert_eq!(out[0].row.total_ms, 40.0);
        assert_eq!(out[1].row.id, "3");
        assert_eq!(out[2].row.id, "4");
    }

    #[test]
    fn an_id_that_has_not_run_is_merged_but_not_counted() {
        // A statement still running has an entry with no call yet (made when it was
        // planned) under another queryid: its text is the same, its figures are zero.
        let rows = [
            row("1", "SELECT pg_sleep($1)", 3.0, 1200.0),
            row("2", "SELECT pg_sleep($1)", 0.0, 0.0),
        ];
        let mut buf = Vec::new();
        let out = merge_by_text(rows.iter().collect(), Dialect::Postgres, &mut buf);
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].query_ids, out[0].members), (1, 2));
        assert_eq!(out[0].row.calls, 3.0);
    }

    #[test]
    fn nothing_to_merge_borrows_every_row() {
        let rows = [
            row("1", "SELECT a", 1.0, 1.0),
            row("2", "SELECT b", 1.0, 1.0),
        ];
        let mut buf = Vec::new();
        let out = merge_by_text(rows.iter().collect(), Dialect::Postgres, &mut buf);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|m| m.query_ids == 1));
        assert!(buf.is_empty());
    }
}
