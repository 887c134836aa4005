//! The order statements are listed in: the ranking asked for (with `io_time` falling back
//! when IO is not measured), the `min_mean_ms` filter, ties broken by id so that the same
//! statistics always list the same statements, and [`top_ids`], which tells an adapter that
//! reads counters without text which statements will be listed.

use super::input::{OrderBy, Request};
use super::matching::Wanted;
use super::merge::{Merged, merge_by_id, merge_by_text, text_key};
use super::snapshot::StatementRow;
use crate::diagnosis::FastMap;
use crate::diagnosis::sql::Dialect;

/// The ranking actually used: `io_time` falls back to shared blocks read when IO time is
/// not measured, and to total time when blocks are not counted either.
pub(super) fn effective_order<'a>(
    order: OrderBy,
    io_timing: Option<bool>,
    mut rows: impl Iterator<Item = &'a StatementRow>,
) -> OrderBy {
    if order == OrderBy::IoTime
        && io_timing != Some(true)
        && !rows.any(|r| r.shared_blks_read.is_some())
    {
        OrderBy::TotalTime
    } else {
        order
    }
}

/// Whether a statement may be listed: it ran, and its mean passes `min_mean_ms`.
pub(super) fn listable(r: &StatementRow, req: &Request) -> bool {
    r.calls > 0.0 && mean(r) >= req.min_mean_ms
}

/// Highest first in `order`, ties by id, so that the same statistics always list the same
/// statements in the same order.
pub(super) fn rank_cmp(
    order: OrderBy,
    io_timing: Option<bool>,
    a: &StatementRow,
    b: &StatementRow,
) -> std::cmp::Ordering {
    let key = |r: &StatementRow| -> f64 {
        match order {
            OrderBy::MeanTime => mean(r),
            OrderBy::TotalTime => r.total_ms,
            OrderBy::Calls => r.calls,
            OrderBy::IoTime if io_timing == Some(true) => r.io_ms.unwrap_or(0.0),
            OrderBy::IoTime => r.shared_blks_read.unwrap_or(0.0),
        }
    };
    key(b).total_cmp(&key(a)).then_with(|| a.id.cmp(&b.id))
}

/// The statements [`super::analyze`] will list for `req`, in order, each as the ids that stand
/// behind it: an adapter that reads counters without text fetches text (and details) for
/// these alone. `rows` may hold several rows per id (one per role) and several ids per text
/// (see `super::merge`); rows whose text is not at hand merge on their [`StatementRow::text_key`].
/// With a `query_text`, only its statements are listed, as [`super::analyze`] lists them.
pub fn top_ids<'a>(
    rows: impl Iterator<Item = &'a StatementRow>,
    req: &Request,
    io_timing: Option<bool>,
    dialect: Dialect,
) -> Vec<Vec<String>> {
    let mut merged = Vec::new();
    let by_id = merge_by_id(rows, &mut merged);
    let mut merged_text = Vec::new();
    let statements = merge_by_text(by_id.clone(), dialect, &mut merged_text);
    let order = effective_order(req.order_by, io_timing, statements.iter().map(|m| m.row));
    let mut listed: Vec<Merged> = statements
        .into_iter()
        .filter(|m| listable(m.row, req))
        .collect();
    if let Some(wanted) = Wanted::new(req, dialect) {
        wanted.keep(&mut listed, |m| *m);
    }
    top_first(&mut listed, req.limit, |a, b| {
        rank_cmp(order, io_timing, a.row, b.row)
    });
    // The ids of the statements of several ids, found by their key.
    let mut at: FastMap<u64, usize> = FastMap::default();
    let mut out: Vec<Vec<String>> = Vec::with_capacity(listed.len());
    for (i, m) in listed.iter().enumerate() {
        match m.key.filter(|_| m.members > 1) {
            Some(k) => {
                at.insert(k, i);
                out.push(Vec::with_capacity(m.members as usize));
            }
            None => out.push(vec![m.row.id.clone()]),
        }
    }
    if !at.is_empty() {
        for r in by_id {
            if let Some(&i) = text_key(r, dialect).and_then(|k| at.get(&k)) {
                out[i].push(r.id.clone());
            }
        }
    }
    out
}

/// Keeps the first `limit` items of `items` in `cmp` order, sorted; says whether any were
/// dropped. Selecting before sorting keeps this linear in the number of statements.
pub(super) fn top_first<T>(
    items: &mut Vec<T>,
    limit: usize,
    mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) -> bool {
    let cut = items.len() > limit;
    if cut {
        if limit == 0 {
            items.clear();
            return true;
        }
        items.select_nth_unstable_by(limit - 1, &mut cmp);
        items.truncate(limit);
    }
    items.sort_by(cmp);
    cut
}

/// Mean time per call, ms (0 for a statement that has not run).
pub(super) fn mean(r: &StatementRow) -> f64 {
    if r.calls > 0.0 {
        r.total_ms / r.calls
    } else {
        0.0
    }
}
