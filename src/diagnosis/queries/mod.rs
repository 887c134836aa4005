//! Step 1 (the DB layer) and Step 2 (C vs D): which statements take the database's time, what
//! runs right now and what it waits on.
//!
//! The adapters (`sources::postgres`, `sources::mysql`) turn a server's statistics views into
//! a [`Snapshot`] of plain rows; everything that decides something happens here:
//! - [`validate`] checks the arguments once into a [`Request`] (`input`);
//! - [`top_ids`] tells an adapter that reads counters without text which statements will be
//!   listed, so that it fetches text for those alone (`ranking`);
//! - [`delta`] turns two snapshots into "what ran in between" (what is slow *now*)
//!   (`snapshot`);
//! - [`analyze`] merges the ids of one statement (`merge`), ranks, classifies reads and
//!   writes, computes shares of database time, counts waits (`sessions`), detects lock
//!   contention and full scans, redacts and bounds query text (`text`), and concludes
//!   (`advice`, `verdict`): EXPLAIN and index steps for the statements slow against the
//!   service's own normal, and hints for symptoms C (read-heavy on a saturated primary) and
//!   D (write-heavy or locks). The report is `report`'s.
//! - with a `query_text`, only the statements it names are listed (`matching`), and the
//!   report says how many matched or what to check when none did.

mod advice;
mod analysis;
mod input;
mod matching;
mod merge;
mod ranking;
mod report;
mod sessions;
mod snapshot;
mod text;
mod verdict;

pub use advice::{FullScan, RdsEndpoint, rds_endpoint};
pub use analysis::analyze;
pub use input::{
    MAX_LIMIT, MAX_QUERY_TEXT_BYTES, MAX_SAMPLE_SECONDS, OrderBy, Request, SlowQueriesInput,
    check_target_name, validate,
};
pub use ranking::top_ids;
pub use report::{
    Hint, QueryMatch, RunningQuery, SlowQueriesReport, StatementReport, WaitCount, Workload,
};
pub use sessions::{MAX_RUNNING, mysql_wait_class, wait_class};
pub use snapshot::{
    Engine, RowKind, RowMatch, Session, Snapshot, StatementRow, StatementStats, Statements, delta,
};
pub use text::{MAX_QUERY_CHARS, Presentation, bound_text};

#[cfg(test)]
mod tests;
