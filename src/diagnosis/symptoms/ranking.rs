//! Scoring the matrix and ranking what fits.
//!
//! For each row, with `w` the weight of a criterion:
//! - `support` = Σ w of criteria the observations confirm,
//! - `against` = Σ w of criteria the observations contradict,
//! - `total`   = Σ w of all the row's criteria,
//! - `confidence = max(0, support − against) / total`.
//!
//! Unknown criteria add nothing either way; each is listed in `missing` with the tool that
//! measures it. Then two rules settle the ranking: adding capacity (A) is never the first
//! answer while the evidence says the time goes elsewhere, and when A and F (opposite
//! advice) both fit, where the time goes decides between them.

use crate::diagnosis::{fmt_num, round};

use super::evidence::reading;
use super::matrix::{MATRIX, Symptom, thresholds};
use super::observations::{LatencyPattern, Observations};
use super::report::{AntiPattern, MissingObservation, SymptomMatch};

/// The rows with any support, best first, after the capacity and opposite-advice rules.
/// `blockers` are the reasons against adding capacity now ([`capacity_blockers`]).
pub(super) fn rank(
    o: &Observations,
    pattern: Option<LatencyPattern>,
    blockers: &[String],
) -> Vec<SymptomMatch> {
    let mut matches: Vec<SymptomMatch> = MATRIX
        .iter()
        .map(|row| score(row, o, pattern))
        .filter(|m| m.confidence > 0.0)
        .collect();
    matches.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.symptom.cmp(&b.symptom))
    });
    // Adding capacity (A) is never the first answer while the evidence says the time goes
    // elsewhere: it is demoted below every other match, its confidence capped, and the
    // reasons listed against it.
    if !blockers.is_empty() {
        for m in matches.iter_mut().filter(|m| adds_capacity(&m.symptom)) {
            m.evidence_against.extend(blockers.iter().cloned());
            m.confidence = m.confidence.min(CAPPED_CAPACITY_CONFIDENCE);
        }
        matches.sort_by(|a, b| {
            adds_capacity(&a.symptom)
                .cmp(&adds_capacity(&b.symptom))
                .then(b.confidence.total_cmp(&a.confidence))
                .then_with(|| a.symptom.cmp(&b.symptom))
        });
    }
    settle_opposites(&mut matches, o);
    matches
}

fn score(row: &Symptom, o: &Observations, pattern: Option<LatencyPattern>) -> SymptomMatch {
    let total: f64 = row.criteria.iter().map(|(_, w)| w).sum();
    let (mut support, mut against) = (0.0, 0.0);
    let (mut evidence_for, mut evidence_against, mut missing) =
        (Vec::new(), Vec::new(), Vec::new());
    for &(signal, weight) in row.criteria {
        match signal.read(o, pattern) {
            Some(true) => {
                support += weight;
                evidence_for.push(format!(
                    "{} ({})",
                    signal.describe(),
                    reading(signal, o, pattern)
                ));
            }
            Some(false) => {
                against += weight;
                evidence_against.push(format!(
                    "not {} ({})",
                    signal.describe(),
                    reading(signal, o, pattern)
                ));
            }
            None => {
                let (observation, tool) = signal.measured_by();
                missing.push(MissingObservation {
                    signal: signal.describe().to_owned(),
                    observation: observation.to_owned(),
                    tool: tool.map(str::to_owned),
                });
            }
        }
    }
    let confidence = round(((support - against) / total).max(0.0), 3);
    SymptomMatch {
        symptom: row.id.to_owned(),
        title: row.title.to_owned(),
        root_cause: row.root_cause.to_owned(),
        action: row.action.to_owned(),
        confidence,
        evidence_for,
        evidence_against,
        missing,
    }
}

/// A (add replicas) and F (do not add workers: fix latency) give opposite advice. When both
/// fit, where the time goes decides: app CPU high with the database neither dominant nor
/// busy means the requests are CPU in the app, which more cores (replicas) serve — A; else
/// the latency is systemic — F. The loser keeps a confidence below the winner's and says why.
fn settle_opposites(matches: &mut [SymptomMatch], o: &Observations) {
    let (Some(a), Some(f)) = (
        matches.iter().position(|m| m.symptom == "A"),
        matches.iter().position(|m| m.symptom == "F"),
    ) else {
        return;
    };
    if matches[a].confidence < 0.5 || matches[f].confidence < 0.5 {
        return;
    }
    let app_cpu_high = o
        .app_cpu_percent
        .is_some_and(|v| v >= thresholds::APP_CPU_HIGH_PERCENT);
    let db_busy = o.dominant_layer.as_deref() == Some("db")
        || o.db_cpu_percent
            .is_some_and(|v| v >= thresholds::DB_CPU_HIGH_PERCENT);
    let (winner, loser, why) = if app_cpu_high && !db_busy {
        (
            a,
            f,
            format!(
                "app CPU is high ({}%) and the database is not where the time goes: the requests are CPU in the app, which more cores (replicas) serve",
                fmt_num(o.app_cpu_percent.unwrap_or(0.0))
            ),
        )
    } else {
        (
            f,
            a,
            match (db_busy, o.app_cpu_percent) {
                (true, _) => {
                    "the database holds the time: more app capacity adds DB load".to_owned()
                }
                (false, Some(cpu)) => format!(
                    "app CPU is not high ({}%): the latency is not CPU in the app, so more replicas do not shorten it",
                    fmt_num(cpu)
                ),
                (false, None) => "app CPU is not known: without it the slowness reads as systemic latency, which more replicas do not shorten; pass app_cpu_percent (container CPU) to tell".to_owned(),
            },
        )
    };
    matches[loser].evidence_against.push(why);
    matches[loser].confidence = round(
        (matches[winner].confidence - 0.25)
            .min(matches[loser].confidence)
            .max(0.0),
        3,
    );
    matches.sort_by(|x, y| {
        y.confidence
            .total_cmp(&x.confidence)
            .then_with(|| x.symptom.cmp(&y.symptom))
    });
}

/// The confidence a capacity match keeps while evidence argues against it.
const CAPPED_CAPACITY_CONFIDENCE: f64 = 0.25;

/// Whether a symptom's action adds app capacity (replicas).
pub(super) fn adds_capacity(symptom: &str) -> bool {
    symptom == "A"
}

/// What argues against adding capacity now, in words.
pub(super) fn capacity_blockers(
    o: &Observations,
    pattern: Option<LatencyPattern>,
    anti: &[AntiPattern],
) -> Vec<String> {
    let mut out = Vec::new();
    if o.dominant_layer.as_deref() == Some("db") {
        out.push("the time is in the database (dominant layer db): more app concurrency only adds DB load".to_owned());
    }
    match (&o.head_of_line_endpoint, o.head_of_line_share_percent) {
        (Some(e), Some(share)) => out.push(format!(
            "one route, {e}, holds {}% of the workers' service time and the others wait behind it: make it fast first",
            fmt_num(share)
        )),
        (Some(e), None) => out.push(format!(
            "one route, {e}, holds the workers and the others wait behind it: make it fast first"
        )),
        (None, _) if pattern == Some(LatencyPattern::LongTail) => out.push(
            "a few endpoints are slow while the rest are fine (long tail): fix them first"
                .to_owned(),
        ),
        _ => {}
    }
    if o.db_cpu_percent
        .is_some_and(|v| v >= thresholds::DB_CPU_HIGH_PERCENT)
    {
        out.push(format!(
            "DB CPU is high ({}%): more app concurrency adds DB load",
            fmt_num(o.db_cpu_percent.unwrap_or(0.0))
        ));
    }
    for a in anti.iter().filter(|a| a.name.ends_with("_spiral")) {
        out.push(format!(
            "{} ({}) is a sign of trouble that more capacity feeds",
            a.title, a.severity
        ));
    }
    out
}
