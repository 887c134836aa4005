//! What to do next after a match, in decision order: stop a spiral first; with too little
//! evidence, measure (Step 1); else the top symptom's action — or, for head-of-line blocking
//! and while capacity is blocked, what to fix instead — then what would confirm it.

use crate::diagnosis::{NextStep, fmt_num};

use super::matrix::MATRIX;
use super::observations::Observations;
use super::ranking::adds_capacity;
use super::report::{AntiPattern, SymptomMatch};

/// The steps, first item first.
pub(super) fn next_steps(
    thin: bool,
    matches: &[SymptomMatch],
    anti: &[AntiPattern],
    o: &Observations,
    blockers: &[String],
) -> Vec<NextStep> {
    let mut steps = Vec::new();
    if anti.iter().any(|a| a.severity == "active") {
        steps.push(NextStep::new(
            "Stop the spiral first: no more workers or restarts; relieve the database (kill runaway queries, shed load).",
            "A death spiral feeds itself; every added worker or restart makes the next turn worse.",
        ));
    }
    if thin || matches.is_empty() {
        steps.push(
            NextStep::new(
                "Break latency down by layer and collect worker utilisation, then call match_symptom again with its observations.",
                "Step 1 of the order: without knowing where the time goes, any change is a guess.",
            )
            .with_tool("break_down_latency"),
        );
        steps.push(NextStep::new(
            "Collect app CPU (container metrics) and DB CPU (CloudWatch CPUUtilization).",
            "CPU on each side separates A (app-bound) from B (storage) and C/D (database-bound).",
        ));
        return steps;
    }
    let top = &matches[0];
    steps.push(top_step(top, o, blockers));
    for m in &top.missing {
        steps.push(NextStep {
            action: format!(
                "Measure {} to confirm or refute symptom {}.",
                m.observation, top.symptom
            ),
            tool: m.tool.clone(),
            why: format!("The criterion \"{}\" is still unknown.", m.signal),
        });
    }
    if let Some(second) = matches.get(1).filter(|s| s.confidence >= 0.5) {
        steps.push(NextStep::new(
            format!(
                "Also consider symptom {} ({}).",
                second.symptom, second.title
            ),
            format!("It fits with confidence {}.", fmt_num(second.confidence)),
        ));
    }
    if matches!(top.symptom.as_str(), "B" | "C" | "D" | "F") {
        steps.push(NextStep::new(
            "Keep workers and replicas as they are while the database is the bottleneck.",
            "More app concurrency only adds DB load (death spiral #1).",
        ));
    }
    steps
}

/// The step for the top match: its action — or, for head-of-line blocking, the route to
/// make fast, and while capacity is blocked, what to fix instead of adding replicas.
fn top_step(top: &SymptomMatch, o: &Observations, blockers: &[String]) -> NextStep {
    let row = MATRIX
        .iter()
        .find(|r| r.id == top.symptom)
        .expect("matches come from the matrix");
    match (&o.head_of_line_endpoint, top.symptom.as_str()) {
        (Some(route), "E") => NextStep {
            action: format!(
                "Make {route} fast: find what it waits on (its queries first) and fix that — an index, a cache, a background job. Do not add workers or replicas meanwhile."
            ),
            tool: Some("slow_queries".to_owned()),
            why: format!(
                "Symptom E (head-of-line blocking): {route} holds the workers{} and every other route waits behind it; making it fast frees them all.",
                o.head_of_line_share_percent
                    .map(|s| format!(" ({}% of service time)", fmt_num(s)))
                    .unwrap_or_default()
            ),
        },
        (_, id) if adds_capacity(id) && !blockers.is_empty() => NextStep {
            action: format!(
                "Do not add replicas yet: {}. Find and fix what holds the time first.",
                blockers.join("; ")
            ),
            tool: Some(
                if o.dominant_layer.as_deref() == Some("db") || o.head_of_line_endpoint.is_some() {
                    "slow_queries"
                } else {
                    "break_down_latency"
                }
                .to_owned(),
            ),
            why: "Scaling out multiplies what is slow; Step 2 (fix latency) comes before Step 5 (replicas).".to_owned(),
        },
        _ => NextStep {
            action: top.action.to_owned(),
            tool: row.follow_up.map(str::to_owned),
            why: format!("Symptom {}: {}", top.symptom, top.root_cause),
        },
    }
}
