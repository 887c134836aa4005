//! Human-readable text for each report: the MCP text content for clients that read only
//! text, and the CLI's output. Structured data stays in the report; this only presents it.

use std::fmt::Write;

use crate::diagnosis::capacity::CapacityReport;
use crate::diagnosis::latency::LatencyReport;
use crate::diagnosis::queries::SlowQueriesReport;
use crate::diagnosis::symptoms::MatchReport;
use crate::diagnosis::{Conclusion, EvidenceValue, fmt_num};

/// A report that can be shown to a person.
pub trait Summary {
    /// The verdict, the key figures, the next steps and the warnings, as plain text.
    fn summary(&self) -> String;
}

fn conclusion_tail(out: &mut String, c: &Conclusion) {
    if !c.evidence.is_empty() {
        out.push_str("\nEvidence:\n");
        for e in &c.evidence {
            let value = match &e.value {
                EvidenceValue::Number(n) => fmt_num(*n),
                EvidenceValue::Flag(b) => b.to_string(),
                EvidenceValue::Text(t) => t.clone(),
            };
            let _ = writeln!(
                out,
                "  {:<36} {:>12} {:<10} [{}]",
                e.metric, value, e.unit, e.source
            );
        }
    }
    if !c.next_steps.is_empty() {
        out.push_str("\nNext steps:\n");
        for (i, s) in c.next_steps.iter().enumerate() {
            let tool = s
                .tool
                .as_deref()
                .map(|t| format!(" [{t}]"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}. {}{tool}\n     why: {}", i + 1, s.action, s.why);
        }
    }
    if !c.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &c.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
    }
}

impl Summary for CapacityReport {
    fn summary(&self) -> String {
        let mut out = format!("{}\n\n", self.conclusion.verdict);
        let _ = writeln!(
            out,
            "Workers: {} total, {} concurrent slots",
            self.total_workers, self.concurrent_slots
        );
        let _ = writeln!(
            out,
            "Ceiling: {} rps fleet-wide, {} rps per replica",
            fmt_num(self.throughput_ceiling_rps),
            fmt_num(self.per_replica_ceiling_rps)
        );
        if let (Some(u), Some(p)) = (self.utilization, self.p_wait) {
            let wait = self
                .mean_queue_wait_ms
                .map(|w| format!("{} ms", fmt_num(w)))
                .unwrap_or_else(|| "unbounded".to_owned());
            let _ = writeln!(
                out,
                "Queue (M/M/c): utilisation {}%, P(wait) {}%, mean wait {wait}",
                fmt_num(u * 100.0),
                fmt_num(p * 100.0)
            );
        }
        out.push_str("What if:\n");
        for w in &self.what_if {
            let _ = writeln!(
                out,
                "  {:<15} {} → {} rps ({}×), {} new workers, DB concurrency ×{}",
                w.scenario,
                w.change,
                fmt_num(w.throughput_ceiling_rps),
                fmt_num(w.gain),
                w.new_workers,
                fmt_num(w.db_concurrency_factor)
            );
        }
        if let Some(r) = &self.recommended_workers_per_replica {
            let _ = writeln!(
                out,
                "Recommended workers per replica: {} ({})",
                r.workers, r.basis
            );
        }
        if let Some(db) = &self.db_connections {
            let max = db
                .db_max_connections
                .map(|m| format!(" of max_connections {m}"))
                .unwrap_or_default();
            let _ = writeln!(out, "DB connections: {}{max}", db.total_connections);
        }
        conclusion_tail(&mut out, &self.conclusion);
        out
    }
}

impl Summary for MatchReport {
    fn summary(&self) -> String {
        let mut out = format!("{}\n", self.conclusion.verdict);
        if !self.matches.is_empty() {
            out.push_str("\nMatches:\n");
            for m in &self.matches {
                let _ = writeln!(
                    out,
                    "  {} {:<50} confidence {}",
                    m.symptom,
                    m.title,
                    fmt_num(m.confidence)
                );
                for e in &m.evidence_for {
                    let _ = writeln!(out, "      + {e}");
                }
                for e in &m.evidence_against {
                    let _ = writeln!(out, "      - {e}");
                }
                for e in &m.missing {
                    let tool = e
                        .tool
                        .as_deref()
                        .map(|t| format!(" (measure with {t})"))
                        .unwrap_or_default();
                    let _ = writeln!(out, "      ? {}{tool}", e.observation);
                }
            }
        }
        for a in &self.anti_patterns {
            let _ = writeln!(
                out,
                "\n{} [{}]: {}\n  evidence: {}",
                a.title,
                a.severity,
                a.action,
                a.evidence.join("; ")
            );
        }
        conclusion_tail(&mut out, &self.conclusion);
        out
    }
}

impl Summary for LatencyReport {
    fn summary(&self) -> String {
        let mut out = format!("{}\n", self.conclusion.verdict);
        if !self.layers.is_empty() {
            out.push_str("\nLayers (mean ms per request):\n");
            for l in &self.layers {
                let pct = l
                    .percent_of_total
                    .map(|p| format!("{:>6}%", fmt_num(p)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<18} {:>10} ms {pct}  [{}]",
                    l.layer,
                    fmt_num(l.ms),
                    l.source
                );
            }
        }
        if let Some(u) = self.worker_utilization_percent {
            let _ = writeln!(out, "Worker utilisation: {}%", fmt_num(u));
        }
        if let Some(p) = self.latency_pattern {
            let _ = writeln!(out, "Latency pattern: {}", p.as_str());
        }
        if !self.endpoints.is_empty() {
            out.push_str("Endpoints (slowest p99 first):\n");
            for e in &self.endpoints {
                let _ = writeln!(
                    out,
                    "  {:<40} {:>8} req {:>5}% p50 {:>8} ms p99 {:>8} ms{}",
                    e.endpoint,
                    e.requests,
                    fmt_num(e.share_of_requests_percent),
                    fmt_num(e.p50_ms),
                    fmt_num(e.p99_ms),
                    if e.slow { "  SLOW" } else { "" }
                );
            }
        }
        conclusion_tail(&mut out, &self.conclusion);
        out
    }
}

impl Summary for SlowQueriesReport {
    fn summary(&self) -> String {
        let mut out = format!("{}\n\n", self.conclusion.verdict);
        let window = match self.sample_seconds {
            Some(s) => format!("sampled over {} s", fmt_num(s)),
            None => match &self.stats_since {
                Some(since) => format!("cumulative since {since}"),
                None => "cumulative".to_owned(),
            },
        };
        let _ = writeln!(
            out,
            "Target {}: {} {} — {}, ranked by {}, from {}",
            self.target,
            self.engine.as_str(),
            self.server_version,
            window,
            self.order_by.as_str(),
            self.statements_source
        );
        if !self.statements.is_empty() {
            let _ = writeln!(
                out,
                "\nTop statements ({} of {}, {} ms of DB time):",
                self.statements.len(),
                self.statements_considered,
                fmt_num(self.db_time_ms)
            );
            let _ = writeln!(
                out,
                "  {:>10} {:>12} {:>7} {:>10}  {:<5}  query",
                "mean ms", "total ms", "% db", "calls", "kind"
            );
            for s in &self.statements {
                let _ = writeln!(
                    out,
                    "  {:>10} {:>12} {:>7} {:>10}  {:<5}  {}",
                    fmt_num(s.mean_ms),
                    fmt_num(s.total_ms),
                    fmt_num(s.percent_of_db_time),
                    s.calls,
                    s.kind,
                    crate::diagnosis::queries::bound_text(&s.query, 120).0
                );
            }
        }
        if let (Some(r), Some(w)) = (self.workload.read_percent, self.workload.write_percent) {
            let _ = writeln!(
                out,
                "Workload: reads {}% / writes {}% / other {}% of statement time",
                fmt_num(r),
                fmt_num(w),
                fmt_num(self.workload.other_percent.unwrap_or(0.0))
            );
        }
        if !self.running.is_empty() {
            out.push_str("\nRunning now (oldest first):\n");
            for r in &self.running {
                let wait = match (&r.wait_event_type, &r.wait_event) {
                    (Some(t), Some(e)) => format!(" waits {t}:{e}"),
                    (Some(t), None) => format!(" waits {t}"),
                    _ => String::new(),
                };
                let blocked = if r.blocked_by.is_empty() {
                    String::new()
                } else {
                    format!(
                        " BLOCKED BY {}",
                        r.blocked_by
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let _ = writeln!(
                    out,
                    "  pid {:<8} {:>8} s  {}{wait}{blocked}\n      {}",
                    r.pid,
                    fmt_num(r.seconds),
                    r.state,
                    crate::diagnosis::queries::bound_text(&r.query, 120).0
                );
            }
        }
        if !self.waits.is_empty() {
            let waits: Vec<String> = self
                .waits
                .iter()
                .map(|w| format!("{} {}", w.wait_event_type, w.sessions))
                .collect();
            let _ = writeln!(out, "Sessions by wait: {}", waits.join(", "));
        }
        for h in &self.hints {
            let _ = writeln!(out, "Hint → symptom {}: {}", h.symptom, h.reason);
        }
        conclusion_tail(&mut out, &self.conclusion);
        out
    }
}
