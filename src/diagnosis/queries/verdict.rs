//! The one sentence a slow_queries report concludes with: the statement that matters (a
//! full scan taking most of the database's time first), the read/write split, and the
//! sessions blocked on locks.

use super::advice::FullScan;
use super::input::{OrderBy, Request};
use super::report::{StatementReport, Workload};
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
}

/// The sentence: what takes the time, the read/write split, the blocked sessions.
pub(super) fn verdict(v: VerdictParts<'_>) -> String {
    let mut parts = Vec::new();
    let window = match v.req.sample_seconds {
        Some(s) => format!(" in the last {} s", fmt_num(s)),
        None => String::new(),
    };
    match (v.dominant, v.statements.first(), v.unavailable) {
        (Some(top), _, _) => {
            let ids = if top.query_ids > 1 {
                format!(", {} query ids", top.query_ids)
            } else {
                String::new()
            };
            parts.push(format!(
                "`{}` takes {}% of database time{window} ({} ms mean over {} calls{ids}) and {}",
                shorten(&top.query, 80),
                fmt_num(top.percent_of_db_time),
                fmt_num(top.mean_ms),
                top.calls,
                top.full_scan.as_ref().map_or(String::new(), scan_phrase)
            ));
        }
        (None, Some(top), _) => {
            let what = match v.order {
                OrderBy::MeanTime => "slowest statement per call",
                OrderBy::TotalTime => "statement taking the most database time",
                OrderBy::Calls => "most frequent statement",
                OrderBy::IoTime => "statement with the most IO",
            };
            let scan = top
                .full_scan
                .as_ref()
                .map_or(String::new(), |f| format!(", and {}", scan_phrase(f)));
            parts.push(format!(
                "The {what}{window} is `{}` at {} ms mean over {} calls ({}% of database time){scan}",
                shorten(&top.query, 80),
                fmt_num(top.mean_ms),
                top.calls,
                fmt_num(top.percent_of_db_time)
            ));
        }
        (None, None, Some(why)) => {
            parts.push(format!("Statement statistics are unavailable ({why})"))
        }
        (None, None, None) => parts.push(match (v.req.sample_seconds, v.scope) {
            (Some(s), _) => format!("No statement ran in the {} s sample", fmt_num(s)),
            (None, Some(scope)) => format!("No statement statistics recorded for {scope}"),
            (None, None) => "No statement matches the filter".to_owned(),
        }),
    }
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

/// "reads 11,020 blocks per call (2,204 per row returned): a full scan of orders"
fn scan_phrase(scan: &FullScan) -> String {
    let read = scan.reads();
    match &scan.table {
        Some(t) => format!("{read}: a full scan of {t}"),
        None => format!("{read}: a full scan"),
    }
}
