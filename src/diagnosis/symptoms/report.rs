//! What match_symptom answers: the symptoms that fit with their evidence for and against,
//! what is still missing to decide, and the death spirals and worker-model traps found.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnosis::Conclusion;

use super::observations::LatencyPattern;

/// The symptoms that fit, best first, and any death spiral in progress.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MatchReport {
    /// Symptoms with any supporting evidence, ranked by confidence (highest first).
    pub matches: Vec<SymptomMatch>,
    /// Death spirals and worker-model traps detected, with their evidence.
    pub anti_patterns: Vec<AntiPattern>,
    /// `long_tail`, `system_wide` or `healthy`, as given or derived from `endpoints`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_pattern: Option<LatencyPattern>,
    /// How many of the matrix's signals the observations decided.
    pub known_signals: usize,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One row of the matrix and how well the observations fit it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct SymptomMatch {
    /// `A` to `F`, as in the decision matrix.
    pub symptom: String,
    pub title: String,
    pub root_cause: String,
    pub action: String,
    /// 0–1: supported weight minus contradicted weight, over the row's total weight.
    pub confidence: f64,
    /// Observations that support this symptom.
    pub evidence_for: Vec<String>,
    /// Observations that contradict it.
    pub evidence_against: Vec<String>,
    /// Observations that would confirm or refute it, and the tool that measures each.
    pub missing: Vec<MissingObservation>,
}

/// An observation that was not supplied.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct MissingObservation {
    /// The criterion it decides.
    pub signal: String,
    /// The observation field(s) to supply.
    pub observation: String,
    /// The tool of this server that measures it, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
}

/// A death spiral or a worker-model trap.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct AntiPattern {
    /// `worker_accumulation_spiral`, `restart_loop_spiral`, `thread_workers`, `gevent`,
    /// `forking_in_workers`.
    pub name: String,
    pub title: String,
    /// `active` (the loop is running) or `risk` (one turn away).
    pub severity: String,
    pub evidence: Vec<String>,
    /// What to do instead.
    pub action: String,
}
