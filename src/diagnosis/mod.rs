//! The diagnosis core: numbers in, findings out.
//!
//! Nothing in here performs I/O, knows about MCP, PostgreSQL or AWS, or is async. Every
//! analysis takes a plain input value (already deserialised by a front end), validates it
//! with [`InputError`]s that name the offending field, and returns a report whose
//! [`Conclusion`] carries the verdict, the evidence behind it, the next steps in decision
//! order and any warnings. The MCP server and the CLI render the same reports. Long lists
//! are cut to a bound and say so in one shape, [`bound::Bound`].

pub mod access_log;
pub mod bound;
pub mod capacity;
pub mod fleet;
pub mod latency;
pub mod load_balancer;
pub mod nginx_format;
pub mod queries;
pub mod queueing;
pub mod sql;
pub mod storage;
pub mod symptoms;
pub mod window;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A hash map for the per-call work over thousands of statement ids (queryids, digests),
/// where SipHash showed up in profiles. The keys are statistics ids chosen by the database
/// server, not by whoever talks to this tool, so a multiplicative hash is enough.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// The hasher of [`FastMap`]: multiply-rotate over 8-byte words (as rustc's FxHasher).
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

impl FastHasher {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where a figure came from when the caller typed it in.
pub const SOURCE_CALLER: &str = "caller";

/// What every report ends with: the sentence to act on and what it rests on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Conclusion {
    /// One sentence a person can act on.
    pub verdict: String,
    /// The figures this conclusion used, each with where it came from.
    pub evidence: Vec<Evidence>,
    /// What to do next, in decision order (first item first).
    pub next_steps: Vec<NextStep>,
    /// Anti-pattern alerts and data-quality caveats. Empty when there is nothing to flag.
    pub warnings: Vec<String>,
}

/// One figure that a conclusion rests on.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Evidence {
    /// What was measured, e.g. `avg_latency_ms` or `workers_busy_percent`.
    pub metric: String,
    /// The value (a number, a flag or a short text).
    pub value: EvidenceValue,
    /// The unit of `value`: `ms`, `rps`, `percent`, `workers`, `bool`, ...
    pub unit: String,
    /// Where the value came from: `caller` (typed in by the user or agent), `derived`
    /// (computed here from other evidence), or a source such as
    /// `postgres:pg_stat_statements` or `nginx:<file>`.
    pub source: String,
}

/// A number, a yes/no or a short label.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(untagged)]
pub enum EvidenceValue {
    Number(f64),
    Flag(bool),
    Text(String),
}

impl Evidence {
    pub fn number(metric: &str, value: f64, unit: &str, source: &str) -> Self {
        Self {
            metric: metric.to_owned(),
            value: EvidenceValue::Number(round(value, 4)),
            unit: unit.to_owned(),
            source: source.to_owned(),
        }
    }

    pub fn flag(metric: &str, value: bool, source: &str) -> Self {
        Self {
            metric: metric.to_owned(),
            value: EvidenceValue::Flag(value),
            unit: "bool".to_owned(),
            source: source.to_owned(),
        }
    }

    pub fn text(metric: &str, value: &str, source: &str) -> Self {
        Self {
            metric: metric.to_owned(),
            value: EvidenceValue::Text(value.to_owned()),
            unit: "label".to_owned(),
            source: source.to_owned(),
        }
    }
}

/// One step of the procedure to take next.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct NextStep {
    /// What to do, in the imperative.
    pub action: String,
    /// The tool of this server that does it, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// Why this step, and why at this point of the order.
    pub why: String,
}

impl NextStep {
    pub fn new(action: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            tool: None,
            why: why.into(),
        }
    }

    pub fn with_tool(mut self, tool: &str) -> Self {
        self.tool = Some(tool.to_owned());
        self
    }
}

/// What one report adds to another's conclusion, as a value (a storage verdict folded into
/// a latency breakdown, for instance): the report that receives it is rebuilt with
/// [`Conclusion::with`], never edited by the one that gives it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Addendum {
    /// Evidence to append.
    pub evidence: Vec<Evidence>,
    /// Warnings to append.
    pub warnings: Vec<String>,
    /// A step that goes before every other.
    pub first_step: Option<NextStep>,
    /// A tool whose work is done: next steps that call it are dropped.
    pub done_tool: Option<&'static str>,
}

impl Conclusion {
    /// This conclusion with `a` added: its evidence and warnings appended, the steps that
    /// call `a.done_tool` dropped, and `a.first_step` put first.
    pub fn with(mut self, a: Addendum) -> Conclusion {
        self.evidence.extend(a.evidence);
        self.warnings.extend(a.warnings);
        if let Some(tool) = a.done_tool {
            self.next_steps.retain(|s| s.tool.as_deref() != Some(tool));
        }
        if let Some(step) = a.first_step {
            self.next_steps.insert(0, step);
        }
        self
    }
}

/// An input that a report cannot be computed from. The message says what is wrong and how
/// to fix it; `field` is the JSON path of the argument (e.g. `observations.db_cpu_percent`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid argument `{field}`: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks that a number is finite and inside `[min, max]`, with a message that says how to
/// express the figure correctly.
pub fn check_range(
    field: &str,
    value: f64,
    min: f64,
    max: f64,
    hint: &str,
) -> Result<f64, InputError> {
    if !value.is_finite() {
        return Err(InputError::new(
            field,
            format!("must be a finite number; {hint}"),
        ));
    }
    if value < min || value > max {
        return Err(InputError::new(
            field,
            format!("must be between {min} and {max} (got {value}); {hint}"),
        ));
    }
    Ok(value)
}

/// Like [`check_range`] but the lower bound is exclusive (for latencies, which cannot be 0).
pub fn check_positive(field: &str, value: f64, max: f64, hint: &str) -> Result<f64, InputError> {
    if !value.is_finite() {
        return Err(InputError::new(
            field,
            format!("must be a finite number; {hint}"),
        ));
    }
    if value <= 0.0 || value > max {
        return Err(InputError::new(
            field,
            format!("must be greater than 0 and at most {max} (got {value}); {hint}"),
        ));
    }
    Ok(value)
}

/// Validates an optional figure with [`check_range`].
pub fn check_opt_range(
    field: &str,
    value: Option<f64>,
    min: f64,
    max: f64,
    hint: &str,
) -> Result<Option<f64>, InputError> {
    value
        .map(|v| check_range(field, v, min, max, hint))
        .transpose()
}

/// Rounds for presentation so reports do not carry float noise such as 31.999999999.
pub fn round(value: f64, decimals: i32) -> f64 {
    if !value.is_finite() {
        return value;
    }
    let factor = 10f64.powi(decimals);
    let rounded = (value * factor).round() / factor;
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// Formats a figure for a sentence: no trailing `.0`, at most two decimals.
pub fn fmt_num(value: f64) -> String {
    let v = round(value, 2);
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_num_drops_float_noise() {
        assert_eq!(fmt_num(31.999_999_999), "32");
        assert_eq!(fmt_num(0.125), "0.13");
        assert_eq!(fmt_num(-0.0), "0");
    }

    #[test]
    fn range_checks_reject_nan_and_out_of_range() {
        assert!(check_range("x", f64::NAN, 0.0, 1.0, "hint").is_err());
        assert!(check_range("x", 2.0, 0.0, 1.0, "hint").is_err());
        assert!(check_positive("x", 0.0, 1.0, "hint").is_err());
        let err = check_positive("avg_latency_ms", -1.0, 10.0, "pass the mean").unwrap_err();
        assert_eq!(err.field, "avg_latency_ms");
        assert!(err.to_string().contains("pass the mean"));
    }
}
