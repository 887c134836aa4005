//! The matcher: observations in, the symptoms that fit out. It judges the endpoints with
//! the threshold break_down_latency used, counts the signals known, ranks the matrix's rows,
//! detects spirals, and writes the verdict, the warnings and the next steps. With fewer
//! than [`MIN_KNOWN_SIGNALS`] signals known, the verdict says the evidence is too thin and
//! asks for the Step 1 measurements instead of naming a cause.

use crate::diagnosis::queueing::SlowMetric;
use crate::diagnosis::{Conclusion, Evidence, InputError, fmt_num};

use super::evidence::evidence;
use super::matrix::Signal;
use super::next_steps::next_steps;
use super::observations::{LatencyPattern, MatchInput, Observations, validate};
use super::pattern::{DEFAULT_SLOW_MS, classify_pattern};
use super::ranking::{capacity_blockers, rank};
use super::report::{AntiPattern, MatchReport, SymptomMatch};
use super::spirals::anti_patterns;

/// Below this many known signals the matcher refuses to name a cause.
pub const MIN_KNOWN_SIGNALS: usize = 2;

/// Matches observations against the matrix.
pub fn analyze(input: &MatchInput) -> Result<MatchReport, InputError> {
    let o = &input.observations;
    validate(o, "observations.")?;
    let judged = Judged::of(o);
    let pattern = judged.pattern();
    let known_signals = known_signals(o, pattern);

    let anti_patterns = anti_patterns(o);
    let blockers = capacity_blockers(o, pattern, &anti_patterns);
    let matches = rank(o, pattern, &blockers);

    let mut conclusion = Conclusion {
        evidence: evidence(o, judged.derived),
        ..Conclusion::default()
    };
    if let Some((_, share)) = judged.derived {
        conclusion.evidence.push(Evidence::number(
            "slow_endpoint_request_share_percent",
            share * 100.0,
            "percent",
            "derived",
        ));
    }
    let thin = known_signals < MIN_KNOWN_SIGNALS;
    conclusion.verdict = verdict(thin, &matches, &anti_patterns, o);
    conclusion.next_steps = next_steps(thin, &matches, &anti_patterns, o, &blockers);
    conclusion.warnings = warnings(o, &anti_patterns, &judged);

    Ok(MatchReport {
        matches,
        anti_patterns,
        latency_pattern: pattern,
        known_signals,
        conclusion,
    })
}

/// How the endpoints are judged: with the threshold break_down_latency used, never another.
struct Judged {
    threshold: f64,
    metric: SlowMetric,
    /// The given pattern, if any.
    given: Option<LatencyPattern>,
    /// The pattern derived from the endpoints when none was given, with the slow ones'
    /// share of requests.
    derived: Option<(LatencyPattern, f64)>,
}

impl Judged {
    fn of(o: &Observations) -> Self {
        let threshold = o.slow_threshold_ms.unwrap_or(DEFAULT_SLOW_MS);
        let metric = o.slow_metric.unwrap_or(SlowMetric::P99Ms);
        let derived = if o.latency_pattern.is_none() {
            classify_pattern(&o.endpoints, threshold, metric)
        } else {
            None
        };
        Self {
            threshold,
            metric,
            given: o.latency_pattern,
            derived,
        }
    }

    /// The pattern the matrix reads: as given, or derived.
    fn pattern(&self) -> Option<LatencyPattern> {
        self.given.or(self.derived.map(|(p, _)| p))
    }
}

/// How many of the matrix's signals the observations decide.
fn known_signals(o: &Observations, pattern: Option<LatencyPattern>) -> usize {
    [
        Signal::WorkersSaturated,
        Signal::BacklogGrowing,
        Signal::AppCpuHigh,
        Signal::DbCpuHigh,
        Signal::ReadHeavy,
        Signal::WriteHeavyOrLocks,
        Signal::DbIoSaturated,
        Signal::DiskQueueHigh,
        Signal::DbLatencyRising,
        Signal::SystemWide,
    ]
    .iter()
    .filter(|s| s.read(o, pattern).is_some())
    .count()
}

/// The sentence to act on: the top match (or too little evidence), head-of-line blocking
/// named when it is the cause, and an active spiral before everything.
fn verdict(
    thin: bool,
    matches: &[SymptomMatch],
    anti_patterns: &[AntiPattern],
    o: &Observations,
) -> String {
    let mut verdict = match (thin, matches.first()) {
        (true, _) | (false, None) => {
            "Too little evidence to name a cause: break latency down first (nginx, queue, app, DB) and collect worker utilisation, app and DB CPU before changing workers or replicas.".to_owned()
        }
        (false, Some(top)) if top.confidence >= 0.5 => format!(
            "Symptom {} ({}) with confidence {}: {} {}",
            top.symptom,
            top.title,
            fmt_num(top.confidence),
            top.root_cause,
            top.action
        ),
        (false, Some(top)) => format!(
            "Leaning to symptom {} ({}) at confidence {} only; collect {} to confirm before acting.",
            top.symptom,
            top.title,
            fmt_num(top.confidence),
            top.missing.iter().map(|m| m.observation.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    if let (Some(route), Some(top)) = (&o.head_of_line_endpoint, matches.first())
        && top.symptom == "E"
        && !thin
    {
        verdict = format!(
            "Symptom E, head-of-line blocking (confidence {}): {route} holds the workers{} and every other route waits behind it. Make that route fast (Step 2); do not add workers or replicas.",
            fmt_num(top.confidence),
            o.head_of_line_share_percent
                .map(|s| format!(" ({}% of their service time)", fmt_num(s)))
                .unwrap_or_default()
        );
    }
    if let Some(spiral) = anti_patterns.iter().find(|a| a.severity == "active") {
        verdict = format!(
            "{} in progress — {} Then: {}",
            spiral.title, spiral.action, verdict
        );
    }
    verdict
}

/// The spirals and traps, a given pattern the endpoints contradict, and a threshold that
/// was not break_down_latency's.
fn warnings(o: &Observations, anti_patterns: &[AntiPattern], judged: &Judged) -> Vec<String> {
    let mut warnings: Vec<String> = anti_patterns
        .iter()
        .map(|a| format!("{}: {}", a.title, a.action))
        .collect();
    if o.latency_pattern.is_some() && !o.endpoints.is_empty() {
        let derived = classify_pattern(&o.endpoints, judged.threshold, judged.metric);
        if let Some((d, _)) = derived
            && Some(d) != o.latency_pattern
        {
            warnings.push(format!(
                "latency_pattern was given as {} but, judged as slow above {} ms of {}, the endpoints look {}; the given pattern was used.",
                o.latency_pattern.map(|p| p.as_str()).unwrap_or("?"),
                fmt_num(judged.threshold),
                match judged.metric {
                    SlowMetric::P99Ms => "p99",
                    SlowMetric::ServiceMs => "service time",
                },
                d.as_str(),
            ));
        }
    }
    if o.slow_threshold_ms.is_none() && judged.derived.is_some() {
        warnings.push(format!(
            "The endpoints were judged against the fixed default of {} ms p99: pass the `observations` of break_down_latency unchanged (they carry the threshold it judged with), or `slow_threshold_ms`.",
            fmt_num(DEFAULT_SLOW_MS)
        ));
    }
    warnings
}
