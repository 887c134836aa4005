//! Human-readable text for each report: the MCP text content for clients that read only
//! text, and the CLI's output. Structured data stays in the report; this only presents it.

use std::fmt::Write;

use crate::diagnosis::capacity::CapacityReport;
use crate::diagnosis::latency::LatencyReport;
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
        if let Some(w) = &self.workers {
            let _ = writeln!(
                out,
                "Workers [{}]: busy {} mean / {} max, idle {} mean over {} samples (peak utilisation {}%)",
                w.source,
                fmt_num(w.busy_mean),
                fmt_num(w.busy_max),
                fmt_num(w.idle_mean),
                w.busy_samples.len(),
                fmt_num(w.utilization_max_percent)
            );
        }
        if let Some(q) = &self.accept_queue {
            let _ = writeln!(
                out,
                "Accept queue [{}]: max {}, mean {}, above zero in {} of {} samples",
                q.source,
                fmt_num(q.max),
                fmt_num(q.mean),
                q.nonzero_samples,
                q.samples.len()
            );
        }
        if let Some(a) = &self.access_log {
            let window = match (&a.first_request_at, &a.last_request_at) {
                (Some(f), Some(l)) => format!(", {f} → {l}"),
                _ => String::new(),
            };
            let rps = a
                .arrival_rps
                .map(|r| format!(", {} rps", fmt_num(r)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "Access log: {} lines in {} file(s), {} matched, {} not matched, {} outside the window{window}{rps}",
                a.lines,
                a.files.len(),
                a.parsed_lines,
                a.unparsed_lines,
                a.outside_window_lines
            );
            if let Some(e) = &a.first_unparsed {
                let _ = writeln!(out, "  first line not matched: {e}");
            }
        }
        if !self.endpoints.is_empty() {
            let from_log = self.endpoints.iter().any(|e| e.p95_ms.is_some());
            if from_log {
                out.push_str("Endpoints (largest worker time first):\n");
                let _ = writeln!(
                    out,
                    "  {:<44} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7} {:>6}",
                    "endpoint",
                    "requests",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "max ms",
                    "worker s",
                    "worker%",
                    "err%"
                );
                for e in &self.endpoints {
                    let opt = |v: Option<f64>| v.map(fmt_num).unwrap_or_else(|| "-".to_owned());
                    let _ = writeln!(
                        out,
                        "  {:<44} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10} {:>7} {:>6}{}",
                        e.endpoint,
                        e.requests,
                        fmt_num(e.p50_ms),
                        opt(e.p95_ms),
                        fmt_num(e.p99_ms),
                        opt(e.max_ms),
                        opt(e.worker_seconds),
                        opt(e.share_of_worker_time_percent),
                        opt(e.error_percent),
                        if e.slow { "  SLOW" } else { "" }
                    );
                }
                if let Some(a) = self
                    .access_log
                    .as_ref()
                    .filter(|a| a.endpoints_not_listed > 0)
                {
                    let _ = writeln!(
                        out,
                        "  … {} more routes with {} requests not listed",
                        a.endpoints_not_listed, a.requests_not_listed
                    );
                }
            } else {
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
        }
        conclusion_tail(&mut out, &self.conclusion);
        out
    }
}
