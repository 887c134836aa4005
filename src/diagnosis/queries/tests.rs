//! Unit tests of the analysis: ranking, the read/write split, hints, EXPLAIN advice, live
//! sessions, redaction and bounds, snapshots and their difference.

use super::snapshot::test_row as row;
use super::*;
use crate::diagnosis::NextStep;
use crate::diagnosis::sql::{Dialect, StatementKind};
use serde_json::json;

fn input(v: serde_json::Value) -> SlowQueriesInput {
    crate::input::parse_value(v).unwrap()
}

fn snapshot(rows: Vec<StatementRow>, sessions: Vec<Session>) -> Snapshot {
    Snapshot {
        engine: Engine::Postgresql,
        server_version: "15.4".into(),
        statements: Statements::Available(StatementStats {
            source: "postgres:pg_stat_statements".into(),
            rows,
            stats_since: Some("2026-01-01 00:00:00+00".into()),
            stats_age_seconds: Some(3.0 * 86_400.0),
            io_timing: Some(true),
            hidden_rows: 0,
            scope: None,
        }),
        sessions: Ok(sessions),
        notes: vec![],
        fixes: vec![],
        rds: None,
    }
}

fn req(v: serde_json::Value) -> Request {
    validate(&input(v)).unwrap()
}

const REDACT: Presentation = Presentation {
    redact_literals: true,
};

#[test]
fn defaults_follow_the_spec() {
    let r = req(json!({}));
    assert_eq!(r.limit, 20);
    assert_eq!(r.order_by, OrderBy::MeanTime);
    assert!(r.include_running);
    assert_eq!(r.running_min_seconds, 1.0);
    assert_eq!(r.sample_seconds, None);
}

#[test]
fn bad_arguments_name_the_field() {
    let cases = [
        (json!({"limit": 0}), "limit"),
        (json!({"limit": -3}), "limit"),
        (json!({"min_mean_ms": -1}), "min_mean_ms"),
        (json!({"running_min_seconds": 1e9}), "running_min_seconds"),
        (json!({"sample_seconds": 0.5}), "sample_seconds"),
        (json!({"sample_seconds": 600}), "sample_seconds"),
        (json!({"order_by": "slowness"}), "order_by"),
        (json!({"target": "postgres://u:secret@h/db"}), "target"),
        (json!({"target": ""}), "target"),
    ];
    for (v, field) in cases {
        let err = crate::input::parse_value::<SlowQueriesInput>(v.clone())
            .and_then(|i| validate(&i))
            .unwrap_err();
        assert_eq!(err.field, field, "{v}: {err}");
    }
    let err = validate(&input(json!({"target": "postgres://u:secret@h/db"}))).unwrap_err();
    assert!(!err.message.contains("secret"));
    let r = req(json!({"limit": 5000}));
    assert_eq!(r.limit, 100);
    assert!(r.limit_capped);
}

#[test]
fn ranking_by_each_order() {
    let rows = vec![
        row("1", "SELECT * FROM a WHERE id = $1", 1000.0, 500.0), // 0.5 ms mean, 500 total
        row("2", "SELECT pg_sleep($1)", 2.0, 4000.0),             // 2000 ms mean
        row("3", "UPDATE b SET x = $1", 100.0, 1500.0),           // 15 ms mean
    ];
    let s = snapshot(rows, vec![]);
    let top = |order: &str| {
        let r = analyze("t", &req(json!({"order_by": order})), &s, REDACT);
        r.statements
            .iter()
            .map(|s| s.query.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(top("mean_time")[0], "SELECT pg_sleep($1)");
    assert_eq!(top("total_time")[0], "SELECT pg_sleep($1)");
    assert_eq!(top("calls")[0], "SELECT * FROM a WHERE id = $1");
    assert_eq!(top("io_time")[0], "SELECT pg_sleep($1)");
    assert_eq!(top("mean_time")[2], "SELECT * FROM a WHERE id = $1");
    let r = analyze(
        "t",
        &req(json!({"min_mean_ms": 10, "limit": 1})),
        &s,
        REDACT,
    );
    assert_eq!(r.statements.len(), 1);
    assert!(r.truncated);
    assert_eq!(r.statements_considered, 3);
    // Shares are of all statements, not just the ones shown.
    assert_eq!(r.db_time_ms, 6000.0);
    assert_eq!(r.statements[0].percent_of_db_time, 66.67);
}

#[test]
fn read_write_split_and_hints() {
    let reads = snapshot(
        vec![
            row("1", "SELECT * FROM a", 10.0, 900.0),
            row("2", "UPDATE b SET x = $1", 10.0, 100.0),
        ],
        vec![],
    );
    // Symptom C needs the primary's CPU high as well as reads dominating.
    let r = analyze("t", &req(json!({"db_cpu_percent": 85})), &reads, REDACT);
    assert_eq!(r.workload.read_percent, Some(90.0));
    assert_eq!(r.workload.write_percent, Some(10.0));
    assert_eq!(r.hints.len(), 1);
    assert_eq!(r.hints[0].symptom, "C");
    assert_eq!(r.observations.db_read_percent, Some(90.0));
    assert_eq!(r.observations.db_cpu_percent, Some(85.0));
    assert_eq!(r.observations.lock_contention, Some(false));

    let writes = snapshot(
        vec![
            row("1", "SELECT * FROM a", 10.0, 200.0),
            row("2", "INSERT INTO b VALUES ($1)", 10.0, 700.0),
            row("3", "COMMIT", 10.0, 100.0),
        ],
        vec![],
    );
    // D for a write-heavy split needs the primary's CPU high (or lock waits).
    let r = analyze("t", &req(json!({"db_cpu_percent": 85})), &writes, REDACT);
    assert_eq!(r.workload.write_percent, Some(80.0));
    assert_eq!(r.hints[0].symptom, "D");
    assert!(r.hints[0].reason.contains("write-heavy"));
    let r = analyze("t", &req(json!({})), &writes, REDACT);
    assert!(r.hints.is_empty(), "{:?}", r.hints);
}

#[test]
fn no_replica_hint_without_a_saturated_primary() {
    let reads = snapshot(
        vec![
            row("1", "SELECT * FROM a", 10.0, 999.0),
            row("2", "UPDATE b SET x = $1", 10.0, 1.0),
        ],
        vec![],
    );
    // CPU unknown: no C, a warning saying why, and a step that gets the CPU — from the
    // host when the database is not on RDS…
    let r = analyze("t", &req(json!({})), &reads, REDACT);
    assert!(r.hints.is_empty(), "{:?}", r.hints);
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("a read replica would not help until")),
        "{:?}",
        r.conclusion.warnings
    );
    let cpu = r
        .conclusion
        .next_steps
        .iter()
        .find(|n| n.action.contains("db_cpu_percent"))
        .expect("a step for the CPU");
    assert_eq!(cpu.tool.as_deref(), Some("slow_queries"));
    assert!(cpu.action.contains("database host's CPU"));
    // …from CloudWatch when it is.
    let mut on_rds = reads.clone();
    on_rds.rds = rds_endpoint("shop.c9akciq32.eu-west-1.rds.amazonaws.com");
    let r = analyze("t", &req(json!({})), &on_rds, REDACT);
    let cpu = r
        .conclusion
        .next_steps
        .iter()
        .find(|n| n.action.contains("db_cpu_percent"))
        .expect("a step for the CPU");
    assert_eq!(cpu.tool.as_deref(), Some("check_rds_iops"));
    assert!(cpu.action.contains("`shop`"), "{}", cpu.action);
    // CPU low: no C, no question left.
    let r = analyze("t", &req(json!({"db_cpu_percent": 30})), &reads, REDACT);
    assert!(r.hints.is_empty());
    assert!(
        !r.conclusion
            .next_steps
            .iter()
            .any(|n| n.action.contains("db_cpu_percent"))
    );
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("not saturated"))
    );
    assert!(
        r.conclusion
            .evidence
            .iter()
            .any(|e| e.metric == "db_cpu_percent" && e.source == "caller")
    );
    // An impossible CPU figure is refused.
    for bad in [
        json!({"db_cpu_percent": 120}),
        json!({"db_cpu_percent": -1}),
    ] {
        let err = validate(&input(bad)).unwrap_err();
        assert_eq!(err.field, "db_cpu_percent");
    }
}

/// The missing-index incident: one statement missing an index, bound by psycopg as int2
/// and as int4 (two queryids, one text), 99.9% of database time, next to fast ones.
#[test]
fn one_statement_of_two_queryids_is_named_with_its_full_scan_first() {
    let scan = |id: &str, calls: f64| StatementRow {
        rows: calls * 5.0,
        shared_blks_hit: Some(calls * 11_000.0),
        shared_blks_read: Some(calls * 20.0),
        ..row(
            id,
            "SELECT id, amount, note FROM orders WHERE customer_id = $1",
            calls,
            calls * 250.0,
        )
    };
    let mut rows = vec![scan("-501", 828.0), scan("7311", 4000.0)];
    for (i, q) in [
        "SELECT email FROM customers WHERE id = $1",
        "INSERT INTO audit (item) VALUES ($1)",
        "SELECT name FROM items WHERE id = $1",
    ]
    .iter()
    .enumerate()
    {
        rows.push(StatementRow {
            rows: 300.0,
            shared_blks_hit: Some(1200.0),
            shared_blks_read: Some(0.0),
            ..row(&i.to_string(), q, 300.0, 300.0 * 0.15)
        });
    }
    let r = analyze(
        "t",
        &req(json!({"order_by": "total_time"})),
        &snapshot(rows, vec![]),
        REDACT,
    );
    let top = &r.statements[0];
    assert_eq!(top.query_ids, 2);
    assert_eq!(top.calls, 4828);
    assert_eq!(top.mean_ms, 250.0);
    assert_eq!(top.percent_of_db_time, 99.99);
    assert_eq!(r.statements_considered, 4);
    assert!(r.statements[1..].iter().all(|s| s.query_ids == 1));
    let full = top.full_scan.as_ref().expect("flagged as a full scan");
    assert_eq!(full.blocks_per_row, Some(2204.0));
    assert_eq!(full.blocks_per_call, Some(11_020.0));
    assert_eq!(full.table.as_deref(), Some("orders"));
    assert!(r.statements[1..].iter().all(|s| s.full_scan.is_none()));
    let v = &r.conclusion.verdict;
    assert!(
            v.starts_with(
                "`SELECT id, amount, note FROM orders WHERE customer_id = $1` takes 99.99% of database time"
            ) && v.contains("2 query ids")
                && v.contains("a full scan of orders"),
            "{v}"
        );
    let steps = &r.conclusion.next_steps;
    assert_eq!(
        steps[0].action,
        "Run `EXPLAIN (ANALYZE, BUFFERS) SELECT id, amount, note FROM orders WHERE customer_id = $1` yourself, with a real value for $1, on a replica or inside a transaction you roll back (BEGIN; … ROLLBACK;): it executes the statement. This tool never runs it."
    );
    assert!(
            steps[1]
                .action
                .contains("add an index on orders(customer_id): CREATE INDEX CONCURRENTLY ON orders (customer_id);"),
            "{}",
            steps[1].action
        );
    // The 0.15 ms statements get no EXPLAIN advice.
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.action.contains("EXPLAIN"))
            .count(),
        1,
        "{steps:?}"
    );
    // No replica on the read share alone.
    assert!(r.hints.is_empty(), "{:?}", r.hints);
    // The same figures, ranked per call: the merged statement is still one row.
    let r = analyze(
        "t",
        &req(json!({})),
        &snapshot(vec![scan("-501", 828.0), scan("7311", 4000.0)], vec![]),
        REDACT,
    );
    assert_eq!(r.statements.len(), 1);
    assert_eq!(r.statements_considered, 1);
}

#[test]
fn fast_statements_get_no_explain_advice() {
    // The slowest statement is 0.15 ms: nothing here is slow against its normal.
    let rows = vec![
        row(
            "1",
            "SELECT email FROM customers WHERE id = $1",
            1000.0,
            150.0,
        ),
        row("2", "SELECT name FROM items WHERE id = $1", 1000.0, 50.0),
        row("3", "UPDATE items SET qty = $1 WHERE id = $2", 100.0, 10.0),
    ];
    let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
    assert!(
        !r.conclusion
            .next_steps
            .iter()
            .any(|s| s.action.contains("EXPLAIN")),
        "{:?}",
        r.conclusion.next_steps
    );
    let look = r
        .conclusion
        .next_steps
        .iter()
        .find(|s| s.tool.as_deref() == Some("break_down_latency"))
        .expect("says where to look instead");
    assert!(look.why.contains("slowest 0.15 ms"), "{}", look.why);
    // 10× the median and ≥ 5 ms: that one gets it, the others not.
    let rows = vec![
        row(
            "1",
            "SELECT email FROM customers WHERE id = $1",
            1000.0,
            150.0,
        ),
        row("2", "SELECT name FROM items WHERE id = $1", 1000.0, 50.0),
        row("3", "SELECT * FROM report WHERE day = $1", 10.0, 80.0),
    ];
    let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
    let explains: Vec<&NextStep> = r
        .conclusion
        .next_steps
        .iter()
        .filter(|s| s.action.contains("EXPLAIN"))
        .collect();
    assert_eq!(explains.len(), 1, "{explains:?}");
    assert!(explains[0].action.contains("FROM report"));
    assert!(
        explains[0].why.contains("× the median"),
        "{}",
        explains[0].why
    );
}

#[test]
fn an_empty_schema_says_where_it_looked() {
    let mut s = snapshot(vec![], vec![]);
    s.engine = Engine::Mariadb;
    if let Statements::Available(st) = &mut s.statements {
        st.scope = Some("schema `empty`".into());
    }
    s.notes.push("No statement digests for schema `empty` (the target's database); 12 digest(s) exist in other schemas: `shop` 12.".into());
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert_eq!(
        r.conclusion.verdict,
        "No statement statistics recorded for schema `empty`."
    );
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("`shop` 12"))
    );
}

#[test]
fn mysql_digests_of_one_text_merge_and_full_scans_are_flagged() {
    let digest = |id: &str, calls: f64| StatementRow {
        rows: calls * 10.0,
        rows_examined: Some(calls * 200_000.0),
        no_index_used: Some(calls),
        shared_blks_hit: None,
        shared_blks_read: None,
        io_ms: None,
        ..row(
            id,
            "SELECT `id` , `amount` FROM `orders` WHERE `customer_id` = ?",
            calls,
            calls * 60.0,
        )
    };
    let mut s = snapshot(vec![digest("d1", 10.0), digest("d2", 5.0)], vec![]);
    s.engine = Engine::Mariadb;
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert_eq!(r.statements.len(), 1);
    assert_eq!(r.statements[0].query_ids, 2);
    assert_eq!(r.statements[0].calls, 15);
    let full = r.statements[0].full_scan.as_ref().unwrap();
    assert_eq!(full.rows_examined_per_row, Some(20_000.0));
    assert_eq!(full.table.as_deref(), Some("orders"));
    let first = &r.conclusion.next_steps[0];
    assert!(
        first
            .action
            .starts_with("Run `ANALYZE FORMAT=JSON SELECT `id` , `amount` FROM `orders`"),
        "{}",
        first.action
    );
    assert!(
        r.conclusion.next_steps[1]
            .action
            .contains("ALTER TABLE orders ADD INDEX (customer_id)")
    );
}

#[test]
fn lock_waits_point_at_d_and_name_the_blocker() {
    let sessions = vec![
        Session {
            pid: 10,
            seconds: 30.0,
            state: "idle in transaction".into(),
            query: "UPDATE accounts SET balance = 0 WHERE id = 7".into(),
            ..Default::default()
        },
        Session {
            pid: 11,
            seconds: 12.0,
            state: "active".into(),
            wait_event_type: Some("Lock".into()),
            wait_event: Some("transactionid".into()),
            query: "UPDATE accounts SET balance = 1 WHERE id = 7".into(),
            blocked_by: vec![10],
        },
        Session {
            pid: 12,
            seconds: 0.1,
            state: "active".into(),
            query: "SELECT 1".into(),
            ..Default::default()
        },
    ];
    let s = snapshot(vec![row("1", "SELECT * FROM a", 10.0, 900.0)], sessions);
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert_eq!(r.blocked_sessions, 1);
    assert_eq!(r.observations.lock_contention, Some(true));
    assert!(
        r.hints
            .iter()
            .any(|h| h.symptom == "D" && h.reason.contains("pid 10"))
    );
    assert_eq!(
        r.running.len(),
        2,
        "the 0.1 s session is below the threshold"
    );
    assert_eq!(r.running[0].pid, 10);
    assert_eq!(
        r.running[1].query,
        "UPDATE accounts SET balance = ? WHERE id = ?"
    );
    assert!(r.verdict_contains("blocked"));
    let waits: Vec<_> = r
        .waits
        .iter()
        .map(|w| (w.wait_event_type.as_str(), w.sessions))
        .collect();
    assert!(
        waits.contains(&("Lock", 1))
            && waits.contains(&("CPU", 1))
            && waits.contains(&("Client", 1))
    );
    assert!(r.conclusion.next_steps[0].action.contains("pid 10"));
}

impl SlowQueriesReport {
    fn verdict_contains(&self, s: &str) -> bool {
        self.conclusion.verdict.contains(s)
    }
}

#[test]
fn customer_data_never_reaches_the_report() {
    let sessions = vec![Session {
        pid: 5,
        seconds: 9.0,
        state: "active".into(),
        query: "SELECT pg_sleep(30), 'alice@example.com', 4111111111111111 /* alice@example.com */"
            .into(),
        ..Default::default()
    }];
    let s = snapshot(
        vec![row("1", "SET app.user = 'alice@example.com'", 1.0, 1.0)],
        sessions,
    );
    let r = analyze("t", &req(json!({})), &s, REDACT);
    let out = serde_json::to_string(&r).unwrap();
    assert!(!out.contains("alice@example.com"), "{out}");
    assert!(!out.contains("4111111111111111"), "{out}");
    assert_eq!(r.running[0].query, "SELECT pg_sleep(?), ?, ?");
    let plain = analyze(
        "t",
        &req(json!({})),
        &s,
        Presentation {
            redact_literals: false,
        },
    );
    assert!(
        serde_json::to_string(&plain)
            .unwrap()
            .contains("alice@example.com")
    );
    assert!(
        plain
            .conclusion
            .warnings
            .iter()
            .any(|w| w.contains("redaction is turned off"))
    );
}

#[test]
fn long_text_and_many_sessions_are_bounded() {
    let long = format!("SELECT {} FROM t", vec!["c"; 2000].join(", "));
    let sessions: Vec<Session> = (0..80)
        .map(|i| Session {
            pid: i,
            seconds: 5.0,
            state: "active".into(),
            query: long.clone(),
            ..Default::default()
        })
        .collect();
    let s = snapshot(vec![row("1", &long, 1.0, 1.0)], sessions);
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert!(r.truncated);
    assert_eq!(r.running.len(), MAX_RUNNING);
    assert_eq!(r.statements[0].query.chars().count(), MAX_QUERY_CHARS + 1);
    assert!(r.statements[0].query.ends_with('…'));
    let (cut, was) = bound_text("ééé", 2);
    assert_eq!((cut.as_str(), was), ("éé…", true));
}

#[test]
fn delta_ranks_what_ran_between_snapshots() {
    let before = vec![
        row("1", "SELECT old_heavy", 1000.0, 100_000.0),
        row("2", "SELECT steady", 100.0, 100.0),
    ];
    let after = vec![
        row("1", "SELECT old_heavy", 1000.0, 100_000.0), // did not run
        row("2", "SELECT steady", 110.0, 110.0),
        row("3", "SELECT new_regression", 5.0, 5000.0),
    ];
    let d = delta(&before, &after);
    assert_eq!(d.len(), 2);
    let steady = d.iter().find(|r| r.id == "2").unwrap();
    assert_eq!((steady.calls, steady.total_ms), (10.0, 10.0));
    let s = snapshot(d, vec![]);
    let r = analyze(
        "t",
        &req(json!({"sample_seconds": 5, "order_by": "total_time"})),
        &s,
        REDACT,
    );
    assert_eq!(r.mode, "sampled");
    assert_eq!(r.statements[0].query, "SELECT new_regression");
    assert!(r.conclusion.verdict.contains("in the last 5 s"));
    // A reset between snapshots: counters went down, so `after` counts whole.
    let reset = delta(&[row("1", "q", 50.0, 50.0)], &[row("1", "q", 3.0, 9.0)]);
    assert_eq!((reset[0].calls, reset[0].total_ms), (3.0, 9.0));
}

#[test]
fn known_kinds_give_the_split_without_text() {
    // As an adapter that reads counters only: every statement's kind is known, only
    // the listed one has its text.
    let known = |id: &str, kind, calls, total_ms| StatementRow {
        query: String::new(),
        kind: RowKind::Known(kind),
        ..row(id, "", calls, total_ms)
    };
    let rows = vec![
        StatementRow {
            kind: RowKind::Known(StatementKind::Read),
            ..row("1", "SELECT pg_sleep($1)", 2.0, 800.0)
        },
        known("2", StatementKind::Read, 4000.0, 100.0),
        known("3", StatementKind::Write, 990.0, 50.0),
        known("4", StatementKind::Other, 10.0, 50.0),
    ];
    let r = analyze(
        "t",
        &req(json!({"limit": 1})),
        &snapshot(rows, vec![]),
        REDACT,
    );
    assert_eq!(r.statements_considered, 4);
    assert_eq!(r.db_time_ms, 1000.0);
    assert_eq!(r.workload.read_percent, Some(90.0));
    assert_eq!(r.workload.write_percent, Some(5.0));
    assert_eq!(r.workload.other_percent, Some(5.0));
    assert_eq!(r.workload.statements_classified, 4);
    assert_eq!(r.workload.classified_percent, Some(100.0));
    assert_eq!(r.statements[0].query, "SELECT pg_sleep($1)");
    assert_eq!(r.statements[0].percent_of_db_time, 80.0);
    assert_eq!(r.statements[0].kind, "read");
}

#[test]
fn unknown_kinds_are_counted_and_said() {
    let mut rows = vec![
        row("1", "SELECT 1", 10.0, 600.0),
        row("2", "UPDATE t SET a = 1", 10.0, 300.0),
    ];
    rows.push(StatementRow {
        query: String::new(),
        kind: RowKind::Unknown,
        ..row("3", "", 5.0, 100.0)
    });
    let r = analyze("t", &req(json!({})), &snapshot(rows, vec![]), REDACT);
    assert_eq!(r.statements_considered, 3);
    assert_eq!(r.workload.statements_classified, 2);
    assert_eq!(r.workload.classified_percent, Some(90.0));
    assert_eq!(r.workload.read_percent, Some(60.0));
    assert_eq!(r.workload.write_percent, Some(30.0));
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("1 statement(s) taking 10% of database time")),
        "{:?}",
        r.conclusion.warnings
    );
    assert!(r.statements.iter().any(|s| s.kind == "unknown"));
}

#[test]
fn top_ids_are_the_listed_statements() {
    // (Texts that differ in more than a literal: literals alone now make one statement.)
    let rows = vec![
        row("a", "SELECT a FROM t", 10.0, 10.0),
        row("b", "SELECT b FROM t", 1.0, 50.0),
        row("c", "SELECT c FROM t", 100.0, 20.0),
        // The same statement as `a`, run by another role: one statement.
        row("a", "SELECT a FROM t", 10.0, 990.0),
    ];
    let snap = snapshot(rows.clone(), vec![]);
    let flat = |groups: Vec<Vec<String>>| -> Vec<String> {
        groups
            .into_iter()
            .map(|g| {
                assert_eq!(g.len(), 1, "{g:?}");
                g[0].clone()
            })
            .collect()
    };
    for order in ["mean_time", "total_time", "calls", "io_time"] {
        for limit in [1, 2, 3] {
            let req = req(json!({"order_by": order, "limit": limit}));
            let ids = flat(top_ids(rows.iter(), &req, Some(true), Dialect::Postgres));
            let report = analyze("t", &req, &snap, REDACT);
            let listed: Vec<String> = report
                .statements
                .iter()
                .map(|s| s.query[7..8].to_owned())
                .collect();
            assert_eq!(ids, listed, "{order} {limit}");
        }
    }
    assert_eq!(
        flat(top_ids(
            rows.iter(),
            &req(json!({"limit": 3})),
            Some(true),
            Dialect::Postgres
        )),
        ["a", "b", "c"]
    );
    assert_eq!(
        flat(top_ids(
            rows.iter(),
            &req(json!({"min_mean_ms": 40})),
            Some(true),
            Dialect::Postgres
        )),
        ["a", "b"]
    );
}

#[test]
fn top_ids_list_every_id_of_a_merged_statement() {
    // As the PostgreSQL adapter ranks: no text at hand, keys known. Statement k has two
    // queryids (int2 and int4 binds) that are small apart and the largest together.
    let keyed = |id: &str, key: u64, calls: f64, total_ms: f64| StatementRow {
        query: String::new(),
        kind: RowKind::Known(StatementKind::Read),
        text_key: Some(key),
        ..row(id, "", calls, total_ms)
    };
    let rows = [
        keyed("k2", 1, 10.0, 300.0),
        keyed("x", 2, 10.0, 500.0),
        keyed("k4", 1, 10.0, 400.0),
        keyed("y", 3, 10.0, 100.0),
    ];
    let top = top_ids(
        rows.iter(),
        &req(json!({"order_by": "total_time", "limit": 2})),
        Some(true),
        Dialect::Postgres,
    );
    assert_eq!(
        top,
        vec![vec!["k2".to_owned(), "k4".to_owned()], vec!["x".to_owned()]]
    );
}

#[test]
fn same_statement_of_several_roles_is_one_row() {
    let s = snapshot(
        vec![
            row("7", "SELECT x", 1.0, 10.0),
            row("7", "SELECT x", 3.0, 30.0),
        ],
        vec![],
    );
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert_eq!(r.statements.len(), 1);
    assert_eq!(r.statements[0].calls, 4);
    assert_eq!(r.statements[0].mean_ms, 10.0);
}

#[test]
fn unavailable_statistics_say_why_and_keep_live_sessions() {
    let mut s = snapshot(
        vec![],
        vec![Session {
            pid: 3,
            seconds: 4.0,
            state: "active".into(),
            query: "SELECT pg_sleep(10)".into(),
            ..Default::default()
        }],
    );
    s.statements =
        Statements::Unavailable("pg_stat_statements is not installed in database shop".into());
    s.fixes.push(NextStep::new(
        "CREATE EXTENSION pg_stat_statements;",
        "it records statement statistics",
    ));
    let r = analyze("t", &req(json!({})), &s, REDACT);
    assert!(r.conclusion.verdict.contains("not installed"));
    assert_eq!(r.statements_source, "unavailable");
    assert_eq!(r.running.len(), 1);
    assert!(
        r.conclusion
            .next_steps
            .iter()
            .any(|n| n.action.contains("CREATE EXTENSION"))
    );
    assert_eq!(r.workload.read_percent, None);
}

#[test]
fn io_order_without_io_timing_falls_back_to_blocks_read() {
    let mut s = snapshot(
        vec![
            row("1", "SELECT a", 1.0, 100.0),
            row("2", "SELECT b", 50.0, 10.0),
        ],
        vec![],
    );
    if let Statements::Available(st) = &mut s.statements {
        st.io_timing = Some(false);
    }
    let r = analyze("t", &req(json!({"order_by": "io_time"})), &s, REDACT);
    assert_eq!(r.statements[0].query, "SELECT b");
    assert!(r.statements[0].io_time_ms.is_none());
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("track_io_timing is off"))
    );
}

#[test]
fn mysql_states_map_to_wait_types() {
    assert_eq!(mysql_wait_class("Waiting for table metadata lock"), "Lock");
    assert_eq!(mysql_wait_class("User sleep"), "Timeout");
    assert_eq!(mysql_wait_class("Sending data"), "CPU");
    assert_eq!(mysql_wait_class("Waiting for commit lock"), "Lock");
    assert_eq!(mysql_wait_class("Creating tmp table"), "IO");
}
