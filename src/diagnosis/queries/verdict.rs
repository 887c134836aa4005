//! The one sentence a slow_queries report concludes with: the statement that matters (a
//! full scan taking most of the database's time first, or the one a `query_text` names),
//! the read/write split, and the sessions blocked on locks.

use super::advice::FullScan;
use super::input::{OrderBy, Request};
use super::report::{QueryMatch, StatementReport, Workload};
use super::sessions::join_pids;
use super::text::shorten;
use crate::diagnosis::fmt_num;

/// What the verdict is made of.
pub(super) struct VerdictParts<'a> {
    pub statements: &'a [StatementReport],
    /// A full scan taking most of the database's time: named first.
    pub dominant: Option<&'a StatementReport>,
    pub unavailable: Option<&'a str>,
    /// Where the statistics were looked for, when they hold nothing there.
    pub scope: Option<&'a str>,
    pub order: OrderBy,
    pub blocked: u64,
    pub blockers: &'a [i64],
    pub workload: &'a Workload,
    pub req: &'a Request,
    /// How a `query_text` matched, when one was given.
    pub query_match: Option<&'a QueryMatch>,
    /// Where the statements were looked for (`pg_stat_statements`, ...).
    pub statistics: &'a str,
}

/// The sentence: what takes the time, the read/write split, the blocked sessions.
pub(super) fn verdict(v: VerdictParts<'_>) -> String {
    let mut parts = Vec::new();
    let window = match v.req.sample_seconds {
        Some(s) => format!(" in the last {} s", fmt_num(s)),
        None => String::new(),
    };
    parts.push(match (v.query_match, v.unavailable) {
        (Some(q), None) => matched_phrase(&v, q, &window),
        _ => lead_phrase(&v, &window),
    });
    if let (Some(r), Some(w)) = (v.workload.read_percent, v.workload.write_percent) {
        parts.push(format!(
            "reads {}% / writes {}% of time",
            fmt_num(r),
            fmt_num(w)
        ));
    }
    if v.blocked > 0 {
        let by = if v.blockers.is_empty() {
            String::new()
        } else {
            format!(" behind pid {}", join_pids(v.blockers))
        };
        parts.push(format!("{} session(s) blocked on locks{by}", v.blocked));
    }
    format!("{}.", parts.join("; "))
}

/// What leads the verdict without a `query_text`: the dominant full scan, else the first
/// statement, else why there is none.
fn lead_phrase(v: &VerdictParts<'_>, window: &str) -> String {
    match (v.dominant, v.statements.first(), v.unavailable) {
        (Some(top), _, _) => {
            let ids = ids_phrase(top);
            format!(
                "`{}` takes {}% of database time{window} ({} ms mean over {} calls{ids}) and {}",
                shorten(&top.query, 80),
                fmt_num(top.percent_of_db_time),
                fmt_num(top.mean_ms),
                top.calls,
                top.full_scan.as_ref().map_or(String::new(), scan_phrase)
            )
        }
        (None, Some(top), _) => {
            let what = order_phrase(v.order);
            let scan = and_scan_phrase(top);
            format!(
                "The {what}{window} is `{}` at {} ms mean over {} calls ({}% of database time){scan}",
                shorten(&top.query, 80),
                fmt_num(top.mean_ms),
                top.calls,
                fmt_num(top.percent_of_db_time)
            )
        }
        (None, None, Some(why)) => {
            format!("Statement statistics are unavailable ({why})")
        }
        (None, None, None) => match (v.req.sample_seconds, v.scope) {
            (Some(s), _) => format!("No statement ran in the {} s sample", fmt_num(s)),
            (None, Some(scope)) => format!("No statement statistics recorded for {scope}"),
            (None, None) => "No statement matches the filter".to_owned(),
        },
    }
}

/// What leads the verdict with a `query_text`: the statement it names and its figures, or
/// that none matches.
fn matched_phrase(v: &VerdictParts<'_>, q: &QueryMatch, window: &str) -> String {
    let Some(top) = v.dominant.or(v.statements.first()) else {
        return if q.matched == 0 {
            format!(
                "No statement in {}{window} matches the given query text",
                v.statistics
            )
        } else {
            format!(
                "{} statement(s) match the given query text{window}, none with a mean of at least {} ms",
                q.matched,
                fmt_num(v.req.min_mean_ms)
            )
        };
    };
    let among = if q.matched > 1 {
        format!(
            " (the {} of {} matching statements)",
            order_phrase(v.order),
            q.matched
        )
    } else {
        String::new()
    };
    let ids = ids_phrase(top);
    let scan = and_scan_phrase(top);
    format!(
        "`{}` matches the given query text{among}: {} ms mean over {} calls{window} ({}% of database time{ids}){scan}",
        shorten(&top.query, 80),
        fmt_num(top.mean_ms),
        top.calls,
        fmt_num(top.percent_of_db_time)
    )
}

/// ", 2 query ids" for a statement of several ids.
fn ids_phrase(s: &StatementReport) -> String {
    if s.query_ids > 1 {
        format!(", {} query ids", s.query_ids)
    } else {
        String::new()
    }
}

/// ", and reads … : a full scan of orders" for a full scan.
fn and_scan_phrase(s: &StatementReport) -> String {
    s.full_scan
        .as_ref()
        .map_or(String::new(), |f| format!(", and {}", scan_phrase(f)))
}

/// The statement a ranking puts first.
fn order_phrase(order: OrderBy) -> &'static str {
    match order {
        OrderBy::MeanTime => "slowest statement per call",
        OrderBy::TotalTime => "statement taking the most database time",
        OrderBy::Calls => "most frequent statement",
        OrderBy::IoTime => "statement with the most IO",
    }
}

/// "reads 11,020 blocks per call (2,204 per row returned): a full scan of orders"
fn scan_phrase(scan: &FullScan) -> String {
    let read = scan.reads();
    match &scan.table {
        Some(t) => format!("{read}: a full scan of {t}"),
        None => format!("{read}: a full scan"),
    }
}
