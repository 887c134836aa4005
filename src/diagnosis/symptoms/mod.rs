//! The symptom matrix (A–F), the matcher, and death-spiral detection.
//!
//! The matrix is one table, [`MATRIX`]: each row is a symptom with the signals that support
//! it and their weights. A signal is a yes/no reading of the observations (for instance
//! "DB CPU high" is `db_cpu_percent ≥ 70`); it is *unknown* when the observation that
//! decides it was not supplied. Adding a symptom or a criterion touches only the table.
//!
//! ## Scoring
//! For each row, with `w` the weight of a criterion:
//! - `support` = Σ w of criteria the observations confirm,
//! - `against` = Σ w of criteria the observations contradict,
//! - `total`   = Σ w of all the row's criteria,
//! - `confidence = max(0, support − against) / total`.
//!
//! Unknown criteria add nothing either way, so confidence only reaches 1 when every
//! criterion of the row was observed and confirmed; each unknown one is listed in
//! `missing` with the tool that measures it. A row is reported only when something supports
//! it. With fewer than [`MIN_KNOWN_SIGNALS`] signals known at all, the verdict says the
//! evidence is too thin and asks for the Step 1 measurements instead of naming a cause.
//!
//! ## Death spirals
//! Detected from `recent_changes` plus trends, independent of the matrix:
//! - #1 worker accumulation: workers were added, and the database got slower or busier
//!   (or memory ran out);
//! - #2 restart loop: the database's IO is saturated and containers restart or are OOM-killed.

//!
//! ## Where it lives
//! - [`Observations`]: what the caller has seen, and its validation;
//! - [`MATRIX`] and [`Signal`]: the table and the readings it is written in;
//! - [`classify_pattern`]: healthy, long tail or system-wide;
//! - [`analyze`]: the matcher — ranking, spirals, evidence, verdict and next steps, a file
//!   each;
//! - [`MatchReport`]: what match_symptom answers.

mod evidence;
mod matcher;
mod matrix;
mod next_steps;
mod observations;
mod pattern;
mod ranking;
mod report;
mod spirals;
#[cfg(test)]
mod tests;

pub use super::queueing::SlowMetric;
pub use matcher::{MIN_KNOWN_SIGNALS, analyze};
pub use matrix::{MATRIX, Signal, Symptom, thresholds};
pub use observations::{
    BacklogShape, EndpointLatency, LatencyPattern, MatchInput, Observations, RecentChange,
    WorkerClass, validate,
};
pub(crate) use pattern::total_requests;
pub use pattern::{DEFAULT_SLOW_MS, LONG_TAIL_MAX_SHARE, classify_pattern};
pub use report::{AntiPattern, MatchReport, MissingObservation, SymptomMatch};
