//! Human-readable text for each report: the MCP text content for clients that read only
//! text, and the CLI's output. Structured data stays in the report; this only presents it.

use std::fmt::Write;

use crate::diagnosis::capacity::CapacityReport;
use crate::diagnosis::latency::LatencyReport;
use crate::diagnosis::load_balancer::LoadBalancerReport;
use crate::diagnosis::queries::SlowQueriesReport;
use crate::diagnosis::storage::{StorageReport, Utilization};
use crate::diagnosis::symptoms::MatchReport;
use crate::diagnosis::{Conclusion, EvidenceValue, fmt_num};

/// A report that can be shown to a person.
pub trait Summary {
    /// The verdict, the key figures, the next steps and the warnings, as plain text.
    fn summary(&self) -> String;
}

/// How many evidence lines, next steps and warnings the summary shows; the rest are in the
/// structured result, which the summary says.
const EVIDENCE_SHOWN: usize = 8;
const STEPS_SHOWN: usize = 3;
const WARNINGS_SHOWN: usize = 3;
/// How many live sessions slow_queries' summary lists.
const RUNNING_SHOWN: usize = 5;

fn conclusion_tail(out: &mut String, c: &Conclusion) {
    conclusion_tail_except(out, c, &[]);
}

/// The conclusion, without the evidence lines whose metric the summary already showed.
fn conclusion_tail_except(out: &mut String, c: &Conclusion, shown_above: &[&str]) {
    let evidence: Vec<_> = c
        .evidence
        .iter()
        .filter(|e| !shown_above.contains(&e.metric.as_str()))
        .collect();
    if !evidence.is_empty() {
        out.push_str("\nEvidence:\n");
        for e in evidence.iter().take(EVIDENCE_SHOWN) {
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
        more(out, evidence.len(), EVIDENCE_SHOWN, "evidence lines");
    }
    if !c.next_steps.is_empty() {
        out.push_str("\nNext steps:\n");
        for (i, s) in c.next_steps.iter().take(STEPS_SHOWN).enumerate() {
            let tool = s
                .tool
                .as_deref()
                .map(|t| format!(" [{t}]"))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}. {}{tool}\n     why: {}", i + 1, s.action, s.why);
        }
        more(out, c.next_steps.len(), STEPS_SHOWN, "next steps");
    }
    if !c.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in c.warnings.iter().take(WARNINGS_SHOWN) {
            let _ = writeln!(out, "  ! {w}");
        }
        more(out, c.warnings.len(), WARNINGS_SHOWN, "warnings");
    }
}

/// Says how many items of a list the summary left out, and where they are.
fn more(out: &mut String, total: usize, shown: usize, what: &str) {
    if total > shown {
        let _ = writeln!(
            out,
            "  … {} more {what} in the structured result (structuredContent, `detail: full`, or --json)",
            total - shown
        );
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
        if let Some(f) = &self.focus {
            match &f.stats {
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "Focus {} → {}: {} requests, p50 {} / p99 {} ms{}{}{}",
                        f.requested,
                        e.endpoint,
                        e.requests,
                        fmt_num(e.p50_ms),
                        fmt_num(e.p99_ms),
                        e.service_ms
                            .map(|s| format!(", service {} ms", fmt_num(s)))
                            .unwrap_or_default(),
                        e.share_of_worker_time_percent
                            .map(|s| format!(", {}% of worker time", fmt_num(s)))
                            .unwrap_or_default(),
                        if e.slow { ", slow" } else { "" }
                    );
                }
                None => {
                    let _ = writeln!(out, "Focus {}: {}", f.requested, f.note);
                }
            }
        }
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
        if let Some(lb) = &self.load_balancer {
            load_balancer_lines(&mut out, lb);
        }
        if let Some(f) = &self.fleet {
            let _ = writeln!(
                out,
                "Fleet [prometheus:{}] {} {} → {}: {}{}{} replicas",
                f.engine,
                f.selector,
                f.since,
                f.until,
                f.requests_per_second
                    .map(|r| format!("{} rps, ", fmt_num(r)))
                    .unwrap_or_default(),
                f.utilization_percent
                    .map(|u| format!("workers {}% busy, ", fmt_num(u)))
                    .unwrap_or_default(),
                self.lists
                    .get("fleet.replicas")
                    .map_or(f.replicas.len(), |b| b.total)
            );
            for r in f.replicas.iter().take(5) {
                let _ = writeln!(
                    out,
                    "  {:<28} {:>6}% busy ({} busy / {} idle){}",
                    r.replica,
                    fmt_num(r.utilization_percent),
                    fmt_num(r.busy_workers),
                    fmt_num(r.idle_workers),
                    r.requests_per_second
                        .map(|v| format!(", {} rps", fmt_num(v)))
                        .unwrap_or_default()
                );
            }
            if let Some(h) = &f.hot_replica {
                let _ = writeln!(
                    out,
                    "  Hot replica {}: {}% busy against {}% for the others: {}",
                    h.replica,
                    fmt_num(h.utilization_percent),
                    fmt_num(h.others_median_percent),
                    h.why
                );
            }
            let _ = writeln!(
                out,
                "  Families: {}; {} PromQL queries in the JSON (`fleet.queries`)",
                f.families.join(", "),
                f.queries.len()
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

impl Summary for StorageReport {
    fn summary(&self) -> String {
        let mut out = format!("{}\n\n", self.conclusion.verdict);
        let _ = writeln!(
            out,
            "Instance {} in {} (account {}), {} → {}, period {} s: status {}",
            self.db_instance_identifier,
            self.region,
            self.account,
            self.window_start,
            self.window_end,
            self.period_seconds,
            self.status.as_str()
        );
        let s = &self.storage;
        let opt = |v: Option<f64>, unit: &str| {
            v.map(|v| format!("{} {unit}", fmt_num(v)))
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let _ = writeln!(
            out,
            "Storage: {} {} GiB, class {}, engine {} [{}]",
            s.storage_type.as_deref().unwrap_or("unknown type"),
            s.allocated_storage_gib
                .map(fmt_num)
                .unwrap_or_else(|| "?".into()),
            s.instance_class.as_deref().unwrap_or("?"),
            s.engine.as_deref().unwrap_or("?"),
            s.source
        );
        if let Some(rule) = &s.rule {
            let _ = writeln!(out, "  rule: {rule}");
        }
        let _ = writeln!(
            out,
            "  effective limits: {} ({}), {} ({})",
            opt(s.effective_iops_limit, "IOPS"),
            s.iops_limited_by.as_deref().unwrap_or("-"),
            opt(s.effective_throughput_limit_mibps, "MiB/s"),
            s.throughput_limited_by.as_deref().unwrap_or("-")
        );
        if let (Some(avg), Some(peak)) = (self.total_iops_avg, self.total_iops_peak) {
            let util = of_the_limit(self.iops_utilization_percent.as_ref());
            let _ = writeln!(
                out,
                "IOPS (read + write): avg {}, peak {}{util}",
                fmt_num(avg),
                fmt_num(peak)
            );
        }
        if let Some(t) = &self.throughput {
            let util = of_the_limit(t.utilization_percent.as_ref());
            let _ = writeln!(
                out,
                "Throughput: avg {} MiB/s, peak {} MiB/s{util}",
                fmt_num(t.avg_mibps),
                fmt_num(t.peak_mibps)
            );
        }
        if let Some(q) = &self.disk_queue_depth {
            let _ = writeln!(
                out,
                "DiskQueueDepth: median {}, max {}, above 1 in {}% of periods{}",
                fmt_num(q.median),
                fmt_num(q.max),
                fmt_num(q.periods_above_1_percent),
                if q.sustained_above_1 {
                    " (sustained)"
                } else {
                    ""
                }
            );
        }
        if self.latency.read_avg_ms.is_some() || self.latency.write_avg_ms.is_some() {
            let _ = writeln!(
                out,
                "Latency: read {}, write {}",
                opt(self.latency.read_avg_ms, "ms"),
                opt(self.latency.write_avg_ms, "ms")
            );
        }
        if let Some(b) = self.burst.burst_balance_min_percent {
            let _ = writeln!(
                out,
                "gp2 BurstBalance: min {}%{}",
                fmt_num(b),
                if self.burst.burst_exhausted {
                    " (exhausted)"
                } else {
                    ""
                }
            );
        }
        if let Some(b) = &self.binding_limit {
            let _ = writeln!(out, "Binding limit: {b}");
        }
        if !self.recommendations.is_empty() {
            out.push_str("\nRecommendations:\n");
            for (i, r) in self.recommendations.iter().enumerate() {
                let _ = writeln!(out, "  {}. {}", i + 1, r.action);
                // The reason is given once: under the next step that repeats this action.
                if !self
                    .conclusion
                    .next_steps
                    .iter()
                    .any(|s| s.action == r.action)
                {
                    let _ = writeln!(out, "     why: {}", r.why);
                }
                if let Some(c) = &r.command {
                    let _ = writeln!(out, "     command: {c}");
                }
            }
        }
        if !self.cli_commands.is_empty() {
            out.push_str("\nRerun the reads:\n");
            for c in self.cli_commands.iter().take(1) {
                let _ = writeln!(out, "  {c}");
            }
            more(&mut out, self.cli_commands.len(), 1, "aws CLI commands");
        }
        // The lines above already give these figures.
        conclusion_tail_except(
            &mut out,
            &self.conclusion,
            &[
                "total_iops_avg",
                "total_iops_peak",
                "effective_iops_limit",
                "iops_utilization_peak_percent",
                "iops_utilization_avg_percent",
                "throughput_peak_mibps",
                "throughput_utilization_peak_percent",
                "disk_queue_depth_median",
                "disk_queue_depth_periods_above_1_percent",
            ],
        );
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
        if let Some(q) = &self.query_match {
            let _ = writeln!(
                out,
                "query_text: {} matching statement(s), {} query id(s), {}% of DB time; compared as: {}",
                q.matched,
                q.query_ids,
                fmt_num(q.percent_of_db_time),
                crate::diagnosis::queries::bound_text(&q.compared_as, 200).0
            );
        }
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
                let mut notes = Vec::new();
                if s.query_ids > 1 {
                    notes.push(format!("{} query ids, one text", s.query_ids));
                }
                if let Some(f) = &s.full_scan {
                    let of = f
                        .table
                        .as_deref()
                        .map_or(String::new(), |t| format!(" of {t}"));
                    let figures = match (f.blocks_per_call, f.rows_examined_per_call) {
                        (Some(b), _) => format!(
                            "{} blocks per call, {} per row",
                            fmt_num(b),
                            fmt_num(f.blocks_per_row.unwrap_or(0.0))
                        ),
                        (None, Some(e)) => format!(
                            "{} rows examined per call, {} per row",
                            fmt_num(e),
                            fmt_num(f.rows_examined_per_row.unwrap_or(0.0))
                        ),
                        _ => String::new(),
                    };
                    notes.push(format!("full scan{of}: {figures}"));
                }
                if !notes.is_empty() {
                    let _ = writeln!(out, "  {:>57}↳ {}", "", notes.join("; "));
                }
            }
        }
        if let (Some(r), Some(w)) = (self.workload.read_percent, self.workload.write_percent) {
            let _ = write!(
                out,
                "Workload: reads {}% / writes {}% / other {}% of statement time",
                fmt_num(r),
                fmt_num(w),
                fmt_num(self.workload.other_percent.unwrap_or(0.0))
            );
            match self.workload.classified_percent {
                Some(c) if c < 100.0 => {
                    let _ = writeln!(
                        out,
                        " ({} of {} statements, {}% of the time, classified)",
                        self.workload.statements_classified,
                        self.statements_considered,
                        fmt_num(c)
                    );
                }
                _ => out.push('\n'),
            }
        }
        if !self.running.is_empty() {
            out.push_str("\nRunning now (oldest first):\n");
            for r in self.running.iter().take(RUNNING_SHOWN) {
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
            more(&mut out, self.running.len(), RUNNING_SHOWN, "sessions");
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
        // The table and the workload line above already give these.
        conclusion_tail_except(
            &mut out,
            &self.conclusion,
            &[
                "db_time_ms",
                "statements_considered",
                "read_percent",
                "write_percent",
                "top_mean_ms",
                "top_percent_of_db_time",
            ],
        );
        out
    }
}

/// The load balancer's lines of a latency summary: what it read, the figures, and what the
/// notable signals after the first mean (the verdict, with the first, is among the warnings).
/// ` = A% avg, P% peak of the limit`, or nothing when the limit is unknown.
fn of_the_limit(u: Option<&Utilization>) -> String {
    u.map(|u| {
        format!(
            " = {}% avg, {}% peak of the limit",
            fmt_num(u.avg),
            fmt_num(u.peak)
        )
    })
    .unwrap_or_default()
}

fn load_balancer_lines(out: &mut String, lb: &LoadBalancerReport) {
    let tg = lb
        .target_group
        .as_ref()
        .map(|t| format!(" / {t}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Load balancer {} {}{tg} [{}, {} → {}, {} s periods]{}",
        lb.kind.as_str(),
        lb.name,
        lb.region,
        lb.start,
        lb.end,
        lb.period_seconds,
        lb.requests
            .map(|r| format!(": {} requests", fmt_num(r)))
            .unwrap_or_default()
    );
    if let Some(rt) = &lb.response_time {
        let part = |label: &str, v: Option<f64>| v.map(|v| format!("{label} {} ms", fmt_num(v)));
        let parts: Vec<String> = [
            part("p50", rt.p50_ms),
            part("p90", rt.p90_ms),
            part("p99", rt.p99_ms),
            part("worst-period p99", rt.p99_max_ms),
            part("mean", rt.avg_ms),
        ]
        .into_iter()
        .flatten()
        .collect();
        let _ = writeln!(out, "  response time: {}", parts.join(", "));
    }
    let e = &lb.errors;
    let count = |label: &str, v: Option<f64>| v.map(|v| format!("{label} {}", fmt_num(v)));
    let parts: Vec<String> = [
        count("app 5xx", e.target_5xx),
        count("LB 5xx", e.lb_5xx),
        count("502", e.lb_502),
        count("503", e.lb_503),
        count("504", e.lb_504),
        count("connection errors", lb.target_connection_errors),
        count("rejected connections", lb.rejected_connections),
        lb.surge_queue
            .as_ref()
            .map(|q| format!("surge queue max {}", fmt_num(q.max))),
        count("spillover", lb.spillover),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !parts.is_empty() {
        let _ = writeln!(out, "  {}", parts.join(", "));
    }
    for f in lb.findings.iter().skip(1).take(3) {
        let _ = writeln!(out, "  {} {}: {}", f.signal, fmt_num(f.value), f.meaning);
    }
    for n in lb.notes.iter().take(2) {
        let _ = writeln!(out, "  note: {n}");
    }
}
