//! The counters of every statement of this database, as pg_stat_statements(false) sends
//! them (one row per role and queryid): read as they arrive into one row per queryid, with
//! the details (rows, IO, plan, blocks) only of the statements that were asked for.

use std::collections::HashSet;

use futures_util::TryStreamExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::diagnosis::FastMap;
use crate::diagnosis::queries::{StatementRow, delta};

/// The statements' counters as read, before what is known about them is applied.
#[derive(Default)]
pub(super) struct Counters {
    /// The queryids of `rows`, in the same order.
    pub ids: Vec<i64>,
    /// The counters of the statements this role may see, one per queryid.
    pub rows: Vec<StatementRow>,
    /// Statements whose details (rows, IO, plan, blocks) were read; all when `None`.
    pub detailed: Option<HashSet<i64>>,
    /// Rows of other roles' statements (no queryid without pg_read_all_stats).
    pub hidden: u64,
}

impl Counters {
    /// Whether the details of `id` were read.
    pub(super) fn has_details(&self, id: i64) -> bool {
        self.detailed.as_ref().is_none_or(|d| d.contains(&id))
    }
}

/// Reads the counters, one row per queryid (a statement run by several roles is one
/// statement), turning rows into counters as they arrive rather than collecting thousands
/// of driver rows first. `all_details`: the details of every statement were asked for.
pub(super) async fn read_counters(
    client: &Client,
    statement: &Statement,
    params: &[&(dyn ToSql + Sync)],
    all_details: bool,
) -> Result<Counters, tokio_postgres::Error> {
    let rows = client
        .query_raw(statement, params.iter().map(|p| *p as &dyn ToSql))
        .await?;
    let mut rows = std::pin::pin!(rows);
    // Room for pg_stat_statements.max's default (5,000) without regrowing.
    const TYPICAL: usize = 8192;
    let mut out = Counters {
        ids: Vec::with_capacity(TYPICAL),
        rows: Vec::with_capacity(TYPICAL),
        detailed: (!all_details).then(HashSet::new),
        hidden: 0,
    };
    let mut at: FastMap<i64, usize> =
        FastMap::with_capacity_and_hasher(TYPICAL, Default::default());
    while let Some(r) = rows.try_next().await? {
        let Some(id) = r.try_get::<_, Option<i64>>(0).ok().flatten() else {
            out.hidden += 1;
            continue;
        };
        let f = |i: usize| r.try_get::<_, Option<f64>>(i).ok().flatten();
        let details: Option<Vec<Option<f64>>> = r.try_get(3).ok().flatten();
        let d = |i: usize| details.as_ref().and_then(|v| v.get(i).copied().flatten());
        let row = StatementRow {
            calls: f(1).unwrap_or(0.0),
            total_ms: f(2).unwrap_or(0.0),
            rows: d(0).unwrap_or(0.0),
            io_ms: d(1),
            plan_ms: d(2),
            shared_blks_hit: d(3),
            shared_blks_read: d(4),
            ..Default::default()
        };
        if let (Some(set), true) = (&mut out.detailed, details.is_some()) {
            set.insert(id);
        }
        match at.get(&id) {
            Some(&i) => out.rows[i].absorb(&row),
            None => {
                at.insert(id, out.rows.len());
                out.ids.push(id);
                out.rows.push(StatementRow {
                    id: id.to_string(),
                    ..row
                });
            }
        }
    }
    Ok(out)
}

/// What ran between the two reads of a sampled call (both with every statement's details).
pub(super) fn sampled_delta(before: Counters, after: Counters) -> Counters {
    let (ids, rows) = delta(&before.rows, &after.rows)
        .into_iter()
        .filter_map(|r| r.id.parse::<i64>().ok().map(|id| (id, r)))
        .unzip();
    Counters {
        ids,
        rows,
        detailed: None,
        hidden: after.hidden,
    }
}
