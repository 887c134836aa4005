//! [`analyze`]: one snapshot (already a delta in sampled mode) ranked and explained, in named
//! steps — the statements ranked and listed ([`rank`]), their evidence and the caveats of
//! the statistics, the live sessions ([`super::sessions`]), the hints for the symptom
//! matrix, the statements worth an EXPLAIN, the next steps in decision order, and the
//! verdict ([`super::verdict`]).
//!
//! It takes a [`Request`] already checked by [`super::validate`]; nothing here validates
//! again.

use super::advice;
use super::input::{MAX_LIMIT, OrderBy, Request};
use super::matching::{Wanted, statistics_name};
use super::merge::{Merged, merge_by_id, merge_by_text};
use super::ranking::{effective_order, listable, mean, rank_cmp, top_first};
use super::report::{Hint, QueryMatch, SlowQueriesReport, StatementReport, Workload};
use super::sessions::{self, Live, MAX_RUNNING, join_pids};
use super::snapshot::{Engine, RowKind, Snapshot, StatementStats, Statements};
use super::text::{MAX_QUERY_CHARS, Presentation, Shown};
use super::verdict::{VerdictParts, verdict};
use crate::diagnosis::bound::{self, Bound};
use crate::diagnosis::sql::{self, StatementKind};
use crate::diagnosis::symptoms::Observations;
use crate::diagnosis::{Conclusion, Evidence, NextStep, SOURCE_CALLER, fmt_num, round};

/// Ranks and explains one snapshot (already a delta in sampled mode).
pub fn analyze(
    target: &str,
    req: &Request,
    snap: &Snapshot,
    presentation: Presentation,
) -> SlowQueriesReport {
    let mut text = Shown::new(snap.engine.dialect(), presentation);
    let mut warnings: Vec<String> = snap.notes.clone();
    let (stats, unavailable) = match &snap.statements {
        Statements::Available(s) => (Some(s), None),
        Statements::Unavailable(why) => (None, Some(why.as_str())),
    };
    let wanted = Wanted::new(req, snap.engine.dialect()).filter(|_| stats.is_some());
    let ranked = rank(
        req,
        snap.engine,
        stats,
        wanted.as_ref(),
        &mut text,
        &mut warnings,
    );
    let src = stats.map_or_else(
        || format!("{}:unavailable", snap.engine.prefix()),
        |s| s.source.clone(),
    );
    let mut evidence = match stats {
        Some(_) => statement_evidence(&ranked, &src),
        None => Vec::new(),
    };
    statistics_caveats(req, stats, ranked.io_timing, unavailable, &mut warnings);
    let live = sessions::live(req, snap, &mut text, &mut evidence, &mut warnings);
    let (hints, db_cpu_wanted) = hints(req, &ranked.workload, &live, &mut warnings);
    if let Some(cpu) = req.db_cpu_percent {
        evidence.push(Evidence::number(
            "db_cpu_percent",
            cpu,
            "percent",
            SOURCE_CALLER,
        ));
    }
    let observations = Observations {
        db_read_percent: ranked.workload.read_percent,
        db_cpu_percent: req.db_cpu_percent,
        lock_contention: live.lock_contention,
        ..Default::default()
    };
    let explains = choose_explains(&ranked.statements, ranked.normal_ms, snap.engine);
    let dominant = explains.dominant.map(|i| &ranked.statements[i]);
    if let Some(s) = dominant {
        full_scan_evidence(s, &src, &mut evidence);
    }
    let mut next_steps = next_steps(
        &Steps {
            req,
            snap,
            ranked: &ranked,
            live: &live,
            statistics: stats.is_some(),
            db_cpu_wanted: db_cpu_wanted.as_deref(),
            observations: &observations,
        },
        explains,
    );
    if let (Some(w), Some(q)) = (&wanted, &ranked.query_match) {
        w.caveats(snap.engine, q, &mut warnings);
        if q.matched == 0 {
            next_steps.splice(0..0, w.no_match_steps(snap.engine, req));
        }
        evidence.push(Evidence::number(
            "query_text_matched",
            q.matched as f64,
            "statements",
            &src,
        ));
    }
    output_caveats(req, presentation, &mut text, &mut warnings);
    let blocked = live.blocked.max(live.lock_waiting);
    let verdict = verdict(VerdictParts {
        statements: &ranked.statements,
        dominant,
        unavailable,
        scope: stats
            .filter(|s| s.rows.is_empty())
            .and_then(|s| s.scope.as_deref()),
        order: ranked.order,
        blocked,
        blockers: &live.blockers,
        workload: &ranked.workload,
        req,
        query_match: ranked.query_match.as_ref(),
        statistics: statistics_name(snap.engine),
    });

    SlowQueriesReport {
        target: target.to_owned(),
        engine: snap.engine,
        server_version: snap.server_version.clone(),
        mode: if req.sample_seconds.is_some() {
            "sampled".into()
        } else {
            "cumulative".into()
        },
        sample_seconds: req.sample_seconds,
        order_by: ranked.order,
        statements_source: stats.map_or_else(|| "unavailable".into(), |s| s.source.clone()),
        stats_since: stats.and_then(|s| s.stats_since.clone()),
        io_timing_enabled: ranked.io_timing,
        statements: ranked.statements,
        statements_considered: ranked.considered,
        db_time_ms: round(ranked.db_time, 3),
        running: live.running,
        lists: bound::lists([
            ("statements", ranked.bound),
            ("running", live.running_bound),
        ]),
        workload: ranked.workload,
        waits: live.waits,
        blocked_sessions: blocked,
        hints,
        observations,
        query_match: ranked.query_match,
        truncated: text.truncated,
        conclusion: Conclusion {
            verdict,
            evidence,
            next_steps,
            warnings,
        },
    }
}

/// The statements ranked and listed, and the figures over all of them.
struct Ranked {
    /// The listed statements, in order.
    statements: Vec<StatementReport>,
    /// How many statements passed the filter and how many are listed.
    bound: Bound,
    /// Statements that ran (ids of one text counted once), before the filter and the limit.
    considered: u64,
    /// Their time, ms.
    db_time: f64,
    workload: Workload,
    /// The ranking used (see [`effective_order`]).
    order: OrderBy,
    io_timing: Option<bool>,
    /// Block IO time and total time of the listed statements, ms.
    listed_io_ms: f64,
    listed_total_ms: f64,
    /// How a `query_text` matched, when one was given.
    query_match: Option<QueryMatch>,
    /// With a `query_text`, the median mean time of every statement that may be listed, ms:
    /// the database's normal, which the matching statements alone do not show.
    normal_ms: Option<f64>,
}

/// Step 1: one row per id (roles, nesting levels), then one per text (parameter types,
/// schemas); each classified read / write / other, kept when it is the `query_text`'s
/// statement, ranked and cut to the limit.
fn rank(
    req: &Request,
    engine: Engine,
    stats: Option<&StatementStats>,
    wanted: Option<&Wanted<'_>>,
    text: &mut Shown,
    warnings: &mut Vec<String>,
) -> Ranked {
    let dialect = engine.dialect();
    let mut merged = Vec::new();
    let mut merged_text = Vec::new();
    let rows: Vec<Merged> = match stats {
        Some(s) => merge_by_text(
            merge_by_id(s.rows.iter(), &mut merged),
            dialect,
            &mut merged_text,
        ),
        None => Vec::new(),
    };
    // Read / write / other, and the time of statements whose kind is unknown.
    let mut by_kind = [0.0f64; 3];
    let mut unclassified = (0u64, 0.0f64);
    let mut classified: Vec<(Merged, Option<StatementKind>)> = rows
        .into_iter()
        .map(|m| {
            let r = m.row;
            let kind = match r.kind {
                RowKind::FromText => Some(sql::classify(&r.query, dialect)),
                RowKind::Known(k) => Some(k),
                RowKind::Unknown => None,
            };
            match kind {
                Some(k) => by_kind[kind_index(k)] += r.total_ms.max(0.0),
                None => {
                    unclassified.0 += 1;
                    unclassified.1 += r.total_ms.max(0.0);
                }
            }
            (m, kind)
        })
        .collect();
    let considered = classified.len() as u64;
    let db_time: f64 = by_kind.iter().sum::<f64>() + unclassified.1;
    let io_timing = stats.and_then(|s| s.io_timing);
    let order = effective_order(
        req.order_by,
        io_timing,
        classified.iter().map(|(m, _)| m.row),
    );
    if req.order_by == OrderBy::IoTime && io_timing != Some(true) {
        warnings.push(if io_timing == Some(false) {
            "order_by io_time: track_io_timing is off, so IO time is not measured; ranked by shared blocks read instead (turn it on with ALTER SYSTEM SET track_io_timing = on; SELECT pg_reload_conf(); or the RDS parameter group).".to_owned()
        } else {
            "order_by io_time: this engine reports no IO time per statement; ranked by total time instead.".to_owned()
        });
    }
    let normal_ms = wanted.map(|_| {
        advice::median(
            classified
                .iter()
                .filter(|(m, _)| listable(m.row, req))
                .map(|(m, _)| mean(m.row)),
        )
    });
    let query_match = wanted.map(|w| {
        let tally = w.keep(&mut classified, |(m, _)| *m);
        w.report(&tally, db_time)
    });
    classified.retain(|(m, _)| listable(m.row, req));
    let listable = classified.len();
    text.truncated |= top_first(&mut classified, req.limit, |(a, _), (b, _)| {
        rank_cmp(order, io_timing, a.row, b.row)
    });
    let statements: Vec<StatementReport> = classified
        .iter()
        .map(|(m, kind)| {
            let r = m.row;
            StatementReport {
                query: text.show(&r.query),
                query_ids: u64::from(m.query_ids),
                calls: to_count(r.calls),
                mean_ms: round(mean(r), 3),
                total_ms: round(r.total_ms, 3),
                percent_of_db_time: if db_time > 0.0 {
                    round(r.total_ms / db_time * 100.0, 2)
                } else {
                    0.0
                },
                rows: to_count(r.rows),
                kind: kind.map_or("unknown", kind_name).to_owned(),
                io_time_ms: r
                    .io_ms
                    .filter(|_| io_timing == Some(true))
                    .map(|v| round(v, 3)),
                plan_ms: r.plan_ms.filter(|p| *p > 0.0).map(|v| round(v, 3)),
                shared_blks_hit: r.shared_blks_hit.map(to_count),
                shared_blks_read: r.shared_blks_read.map(to_count),
                full_scan: advice::full_scan(r, engine),
            }
        })
        .collect();
    let share = |ms: f64| (db_time > 0.0).then(|| round(ms / db_time * 100.0, 2));
    let workload = Workload {
        read_percent: share(by_kind[0]),
        write_percent: share(by_kind[1]),
        other_percent: share(by_kind[2]),
        statements_classified: considered - unclassified.0,
        classified_percent: share(db_time - unclassified.1),
    };
    if unclassified.0 > 0 {
        warnings.push(format!(
            "{} statement(s) taking {}% of database time left the statistics before their text could be read, so their kind is unknown; the read/write/other shares cover the other {}%.",
            unclassified.0,
            fmt_num(share(unclassified.1).unwrap_or(0.0)),
            fmt_num(workload.classified_percent.unwrap_or(0.0))
        ));
    }
    Ranked {
        bound: Bound::new(listable, statements.len()),
        statements,
        considered,
        db_time,
        workload,
        order,
        io_timing,
        listed_io_ms: classified.iter().filter_map(|(m, _)| m.row.io_ms).sum(),
        listed_total_ms: classified.iter().map(|(m, _)| m.row.total_ms).sum(),
        query_match,
        normal_ms,
    }
}

fn kind_index(kind: StatementKind) -> usize {
    match kind {
        StatementKind::Read => 0,
        StatementKind::Write => 1,
        StatementKind::Other => 2,
    }
}

fn kind_name(kind: StatementKind) -> &'static str {
    match kind {
        StatementKind::Read => "read",
        StatementKind::Write => "write",
        StatementKind::Other => "other",
    }
}

fn to_count(v: f64) -> u64 {
    if v.is_finite() && v > 0.0 {
        v.round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Step 2: the figures of the statements the conclusion rests on.
fn statement_evidence(ranked: &Ranked, src: &str) -> Vec<Evidence> {
    let mut evidence = vec![
        Evidence::number("db_time_ms", ranked.db_time, "ms", src),
        Evidence::number(
            "statements_considered",
            ranked.considered as f64,
            "statements",
            src,
        ),
    ];
    let workload = &ranked.workload;
    if let (Some(r), Some(w)) = (workload.read_percent, workload.write_percent) {
        evidence.push(Evidence::number("read_percent", r, "percent", src));
        evidence.push(Evidence::number("write_percent", w, "percent", src));
    }
    if let Some(top) = ranked.statements.first() {
        evidence.push(Evidence::number("top_mean_ms", top.mean_ms, "ms", src));
        evidence.push(Evidence::number(
            "top_percent_of_db_time",
            top.percent_of_db_time,
            "percent",
            src,
        ));
    }
    evidence
}

/// Step 3: what limits the statistics — hidden rows, old cumulative figures, IO not timed,
/// or no statistics at all.
fn statistics_caveats(
    req: &Request,
    stats: Option<&StatementStats>,
    io_timing: Option<bool>,
    unavailable: Option<&str>,
    warnings: &mut Vec<String>,
) {
    if let Some(s) = stats {
        if s.hidden_rows > 0 {
            warnings.push(format!(
                "{} statement(s) of other roles show as <insufficient privilege>: their text and time are left out; GRANT pg_read_all_stats (or pg_monitor) to this role to see them.",
                s.hidden_rows
            ));
        }
        if let (None, Some(age)) = (req.sample_seconds, s.stats_age_seconds) {
            let since = s.stats_since.as_deref().unwrap_or("the last reset");
            warnings.push(format!(
                "Cumulative statistics since {since} ({}): a recent regression can hide under older history; pass sample_seconds (e.g. 30) to rank what runs now.",
                human_age(age)
            ));
        }
        if io_timing == Some(false) {
            warnings.push("track_io_timing is off: io_time_ms is not measured (shared_blks_read still shows disk reads).".to_owned());
        }
    }
    if let Some(why) = unavailable {
        warnings.push(format!("Statement statistics unavailable: {why}"));
    }
}

fn human_age(seconds: f64) -> String {
    if seconds >= 2.0 * 86_400.0 {
        format!("{} days ago", fmt_num((seconds / 86_400.0).floor()))
    } else if seconds >= 2.0 * 3600.0 {
        format!("{} hours ago", fmt_num((seconds / 3600.0).floor()))
    } else {
        format!("{} minutes ago", fmt_num((seconds / 60.0).floor()))
    }
}

/// Step 4: pointers into the symptom matrix, each only with the evidence the matrix asks
/// for; and, when the read/write split needs the primary's CPU to decide, why.
fn hints(
    req: &Request,
    workload: &Workload,
    live: &Live,
    warnings: &mut Vec<String>,
) -> (Vec<Hint>, Option<String>) {
    let mut hints = Vec::new();
    if live.lock_contention == Some(true) {
        hints.push(Hint {
            symptom: "D".into(),
            reason: format!(
                "{} session(s) wait for locks{}: lock contention is a write-path problem a read replica will not fix.",
                live.blocked.max(live.lock_waiting),
                if live.blockers.is_empty() {
                    String::new()
                } else {
                    format!(" held by pid {}", join_pids(&live.blockers))
                }
            ),
        });
    }
    let mut db_cpu_wanted = None;
    if let (Some(r), Some(w)) = (workload.read_percent, workload.write_percent) {
        let a =
            advice::workload_advice(r, w, req.db_cpu_percent, live.lock_contention == Some(true));
        hints.extend(a.hint);
        if let Some(caveat) = a.caveat {
            if a.needs_db_cpu {
                db_cpu_wanted = Some(caveat.clone());
            }
            warnings.push(caveat);
        }
    }
    (hints, db_cpu_wanted)
}

/// The statements worth an EXPLAIN, and their steps.
struct Explains {
    /// Each chosen statement's steps, in order.
    steps: Vec<Vec<NextStep>>,
    /// The index (in the listed statements) of a full scan taking most of the database's
    /// time, which leads the verdict and the steps.
    dominant: Option<usize>,
    /// The median mean time of the listed statements, ms.
    median_ms: f64,
}

/// Step 5: which statements deserve an EXPLAIN (the rule is `advice::explain_reason`'s):
/// full scans by their share of database time, then the others in list order; at most two,
/// so the steps stay readable. The normal is the median of the listed statements unless
/// `normal_ms` gives it.
fn choose_explains(
    statements: &[StatementReport],
    normal_ms: Option<f64>,
    engine: Engine,
) -> Explains {
    let median_ms =
        normal_ms.unwrap_or_else(|| advice::median(statements.iter().map(|s| s.mean_ms)));
    let mut worth: Vec<(usize, String)> = statements
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            advice::explain_reason(s.mean_ms, s.full_scan.as_ref(), median_ms).map(|why| (i, why))
        })
        .collect();
    worth.sort_by(|(a, _), (b, _)| {
        let (a, b) = (&statements[*a], &statements[*b]);
        b.full_scan
            .is_some()
            .cmp(&a.full_scan.is_some())
            .then_with(|| match (&a.full_scan, &b.full_scan) {
                (Some(_), Some(_)) => b.percent_of_db_time.total_cmp(&a.percent_of_db_time),
                _ => std::cmp::Ordering::Equal,
            })
    });
    worth.truncate(2);
    let dominant = worth.first().map(|(i, _)| *i).filter(|&i| {
        let s = &statements[i];
        s.full_scan.is_some() && s.percent_of_db_time >= advice::DOMINANT_PERCENT
    });
    let steps = worth
        .iter()
        .map(|(i, why)| {
            let s = &statements[*i];
            advice::explain_steps(
                engine,
                &s.query,
                why,
                s.percent_of_db_time,
                s.full_scan.as_ref(),
            )
        })
        .collect();
    Explains {
        steps,
        dominant,
        median_ms,
    }
}

/// The figures of a full scan that takes most of the database's time.
fn full_scan_evidence(dominant: &StatementReport, src: &str, evidence: &mut Vec<Evidence>) {
    let Some(scan) = &dominant.full_scan else {
        return;
    };
    evidence.push(Evidence::number(
        "full_scan_percent_of_db_time",
        dominant.percent_of_db_time,
        "percent",
        src,
    ));
    if let Some(b) = scan.blocks_per_call {
        evidence.push(Evidence::number(
            "full_scan_blocks_per_call",
            b,
            "blocks",
            src,
        ));
    }
    if let Some(e) = scan.rows_examined_per_call {
        evidence.push(Evidence::number(
            "full_scan_rows_examined_per_call",
            e,
            "rows",
            src,
        ));
    }
}

/// What the next steps are decided from.
struct Steps<'a> {
    req: &'a Request,
    snap: &'a Snapshot,
    ranked: &'a Ranked,
    live: &'a Live,
    /// Statement statistics were read.
    statistics: bool,
    /// Why the primary's CPU is wanted, when it is.
    db_cpu_wanted: Option<&'a str>,
    observations: &'a Observations,
}

/// Step 6: the next steps, in decision order: the statement that takes the database's time,
/// unblock, fix the slowest, then classify.
fn next_steps(c: &Steps, mut explains: Explains) -> Vec<NextStep> {
    let mut next_steps = Vec::new();
    let none_worth = explains.steps.is_empty();
    if explains.dominant.is_some() && !explains.steps.is_empty() {
        next_steps.extend(explains.steps.remove(0));
    }
    next_steps.extend(unblock_step(c.snap.engine, &c.live.blockers));
    next_steps.extend(explains.steps.into_iter().flatten());
    let statements = &c.ranked.statements;
    if none_worth && !statements.is_empty() {
        next_steps.push(
            NextStep::new(
                "Look for the time outside these statements: how often each request runs them (order_by calls shows N+1 patterns) and the other layers (break_down_latency)",
                format!(
                    "No listed statement is slow against this database's own normal (median {} ms per call, slowest {} ms) or reads whole tables, so no EXPLAIN is called for.",
                    fmt_num(round(explains.median_ms, 3)),
                    fmt_num(statements.iter().map(|s| s.mean_ms).fold(0.0, f64::max))
                ),
            )
            .with_tool("break_down_latency"),
        );
    }
    next_steps.extend(c.snap.fixes.iter().cloned());
    let (io, total) = (c.ranked.listed_io_ms, c.ranked.listed_total_ms);
    if c.ranked.io_timing == Some(true) && total > 0.0 && io / total >= 0.3 {
        next_steps.push(
            NextStep::new(
                "Check the storage layer: IOPS and throughput against their limits, DiskQueueDepth",
                format!(
                    "{}% of the top statements' time is block IO.",
                    fmt_num(io / total * 100.0)
                ),
            )
            .with_tool("check_rds_iops"),
        );
    }
    if let Some(why) = c.db_cpu_wanted {
        next_steps.push(advice::db_cpu_step(c.snap.rds.as_ref(), why));
    }
    if c.observations.db_read_percent.is_some() || c.observations.lock_contention.is_some() {
        next_steps.push(
            NextStep::new(
                "Pass `observations` (with DB CPU and what else you know) to match_symptom",
                "Read-heavy with a busy primary is symptom C (read replica); write-heavy or locks is D (replicas won't help).",
            )
            .with_tool("match_symptom"),
        );
    }
    if c.req.sample_seconds.is_none() && c.statistics {
        next_steps.push(
            NextStep::new(
                "Call slow_queries again with sample_seconds (e.g. 30) during the slow period",
                "Cumulative statistics rank the whole history; a sample ranks what is slow now.",
            )
            .with_tool("slow_queries"),
        );
    }
    next_steps
}

/// The step that ends the transaction others queue behind, in the engine's own terms.
fn unblock_step(engine: Engine, blockers: &[i64]) -> Option<NextStep> {
    if blockers.is_empty() {
        return None;
    }
    let action = if engine == Engine::Postgresql {
        format!(
            "Look at what pid {} is doing (SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid IN (...)) and end that transaction in the application, or as a last resort with pg_terminate_backend",
            join_pids(blockers)
        )
    } else {
        format!(
            "Look at what connection {} is doing (SHOW FULL PROCESSLIST; information_schema.INNODB_TRX) and end that transaction in the application, or as a last resort with KILL",
            join_pids(blockers)
        )
    };
    Some(NextStep::new(
        action,
        "Sessions queue behind its lock; every one of them holds a web worker meanwhile.",
    ))
}

/// Step 7: what the bounds left out, and a report whose text is not redacted.
fn output_caveats(
    req: &Request,
    presentation: Presentation,
    text: &mut Shown,
    warnings: &mut Vec<String>,
) {
    if req.limit_capped {
        text.truncated = true;
        warnings.push(format!("limit was capped at {MAX_LIMIT}."));
    }
    if text.truncated {
        warnings.push(format!(
            "Output is bounded: at most {} statements, {MAX_RUNNING} sessions and {MAX_QUERY_CHARS} characters of query text; some was left out.",
            req.limit
        ));
    }
    if !presentation.redact_literals {
        warnings.push("Literal redaction is turned off in the configuration: query text may contain customer data.".to_owned());
    }
}
