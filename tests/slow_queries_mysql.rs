//! slow_queries against a real MariaDB with performance_schema on, started with its workload
//! by `scripts/db.sh` (which runs these tests): digests ranking, the read/write split,
//! InnoDB lock waits, redaction of PROCESSLIST text, sampled mode, wrong password, timeouts.

mod common;

use std::time::{Duration, Instant};

use common::servers::MARIADB;
use common::*;
use mysql_async::prelude::Queryable;
use python_web_troubleshooter::diagnosis::queries::{Engine, SlowQueriesReport};
use python_web_troubleshooter::render::Summary;
use serde_json::json;

fn queries(r: &SlowQueriesReport) -> Vec<&str> {
    r.statements.iter().map(|s| s.query.as_str()).collect()
}

fn target(extra: serde_json::Value) -> serde_json::Value {
    let mut v = json!({"target": "myshop"});
    if let (Some(a), Some(b)) = (v.as_object_mut(), extra.as_object()) {
        a.extend(b.clone());
    }
    v
}

#[tokio::test]
async fn digests_are_ranked() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(&config, target(json!({"limit": 50}))).await;
    assert_eq!(r.engine, Engine::Mariadb);
    assert!(r.server_version.contains("MariaDB"), "{}", r.server_version);
    assert_eq!(
        r.statements_source,
        "mysql:performance_schema.events_statements_summary_by_digest"
    );
    assert!(
        r.statements[0].query.contains("SLEEP"),
        "slowest per call: {:?}",
        queries(&r)
    );
    assert!(
        r.statements[0].mean_ms >= 390.0,
        "{}",
        r.statements[0].mean_ms
    );
    assert!(r.io_timing_enabled.is_none(), "no IO time per digest");
    assert!(
        queries(&r)
            .iter()
            .all(|q| !q.contains("performance_schema") && !q.contains("PROCESSLIST")),
        "our own statements are left out: {:?}",
        queries(&r)
    );
    let r = report(&config, target(json!({"order_by": "calls", "limit": 3}))).await;
    assert!(
        r.statements[0].query.contains("`customers`"),
        "most frequent: {:?}",
        queries(&r)
    );
    assert!(r.statements[0].calls >= 1000);
    assert!(r.truncated);
}

#[tokio::test]
async fn read_write_split_and_kinds() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(
        &config,
        target(json!({"order_by": "calls", "limit": 100, "include_running": false})),
    )
    .await;
    let kind = |prefix: &str| {
        r.statements
            .iter()
            .find(|s| s.query.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` statement in {:?}", queries(&r)))
            .kind
            .clone()
    };
    assert_eq!(kind("INSERT INTO `orders`"), "write");
    assert_eq!(kind("UPDATE `orders`"), "write");
    assert_eq!(kind("SELECT `email`"), "read");
    let read = r.workload.read_percent.unwrap();
    let write = r.workload.write_percent.unwrap();
    assert!(write > 0.0 && read > 50.0, "read {read} write {write}");
}

#[tokio::test]
async fn innodb_lock_waits_are_detected() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(&config, target(json!({}))).await;
    let blocked = r
        .running
        .iter()
        .find(|s| !s.blocked_by.is_empty())
        .unwrap_or_else(|| panic!("no blocked session: {}", r.summary()));
    assert_eq!(blocked.wait_event_type.as_deref(), Some("Lock"));
    assert!(
        blocked.query.starts_with("UPDATE accounts"),
        "{}",
        blocked.query
    );
    let holder = blocked.blocked_by[0];
    assert!(
        r.running.iter().any(|s| s.pid == holder),
        "blocker {holder} not listed: {}",
        r.summary()
    );
    assert!(r.blocked_sessions >= 1);
    assert_eq!(r.observations.lock_contention, Some(true));
    assert!(r.hints.iter().any(|h| h.symptom == "D"));
}

#[tokio::test]
async fn processlist_text_is_redacted() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(&config, target(json!({}))).await;
    assert_no_customer_data("report", &serde_json::to_string(&r).unwrap());
    assert_no_customer_data("summary", &r.summary());
    let sleeper = r
        .running
        .iter()
        .find(|s| s.query.contains("AS email"))
        .unwrap_or_else(|| panic!("the planted long statement is not listed: {}", r.summary()));
    assert_eq!(sleeper.query, "SELECT SLEEP(?), ? AS email, ? AS card");
    assert!(sleeper.seconds >= 1.0);
    let (ok, out, err) = cli(&["--target", "myshop", "--json"]);
    assert!(ok, "{err}");
    assert_no_customer_data("CLI stdout", &out);
    assert_no_customer_data("CLI stderr", &err);
    assert_no_secret("CLI stdout", &out);
    assert_no_secret("CLI stderr", &err);
}

#[tokio::test]
async fn sampled_mode_ranks_what_runs_now() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let url = env("PWT_TEST_MY_APP_URL");
    let workload = tokio::spawn(async move {
        let mut conn = mysql_async::Conn::from_url(url)
            .await
            .expect("app connects");
        tokio::time::sleep(Duration::from_millis(400)).await;
        for _ in 0..3 {
            conn.query_drop("SELECT SLEEP(0.25), 'sampled' AS regression")
                .await
                .unwrap();
        }
        let _ = conn.disconnect().await;
    });
    let r = report(
        &config,
        target(json!({"sample_seconds": 2, "order_by": "total_time"})),
    )
    .await;
    workload.await.unwrap();
    assert_eq!(r.mode, "sampled");
    let top = &r.statements[0];
    assert!(
        top.query
            .starts_with("SELECT SLEEP (?) , ? AS `regression`")
            || top.query.contains("regression"),
        "{}",
        r.summary()
    );
    assert_eq!(top.calls, 3, "{}", r.summary());
    assert!(!queries(&r).iter().any(|q| q.contains("`customers`")));
}

#[tokio::test]
async fn wrong_password_names_the_target_and_hides_the_password() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let started = Instant::now();
    let err = error(&config, json!({"target": "mywrongpw"})).await;
    assert!(started.elapsed() < BOUND);
    assert!(
        err.contains("target `mywrongpw`") && err.contains("Access denied"),
        "{err}"
    );
    let (ok, out, stderr) = cli(&["--target", "mywrongpw"]);
    assert!(!ok);
    assert_no_secret("CLI stdout", &out);
    assert_no_secret("CLI stderr", &stderr);
}

#[tokio::test]
async fn hung_and_refused_servers() {
    if !MARIADB.ready() {
        return;
    }
    let (port, _server) = hung_server().await;
    let pw = env("PWT_TEST_MONITOR_PASSWORD");
    let config = config_with(
        &format!("url = \"mysql://monitor:{pw}@127.0.0.1:{port}/shop\""),
        1.0,
    );
    let started = Instant::now();
    let err = error(&config, json!({})).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(err.contains("did not answer within 1 s"), "{err}");

    let port = closed_port();
    let config = config_with(
        &format!("url = \"mysql://monitor:{pw}@127.0.0.1:{port}/shop\""),
        5.0,
    );
    let started = Instant::now();
    let err = error(&config, json!({})).await;
    assert!(started.elapsed() < BOUND);
    assert!(
        err.contains("target `t`") && err.to_lowercase().contains("refused"),
        "{err}"
    );
}

/// A statement that examines the whole table without an index is flagged on the digest
/// itself, with the index its WHERE clause calls for.
#[tokio::test]
async fn full_scans_without_an_index_are_flagged() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(
        &config,
        target(json!({"limit": 50, "include_running": false})),
    )
    .await;
    let scan = r
        .statements
        .iter()
        .find(|s| {
            s.query
                .starts_with("SELECT ID , `amount` FROM `orders` WHERE `customer_id`")
        })
        .unwrap_or_else(|| panic!("the scan is listed: {:?}", queries(&r)));
    let full = scan.full_scan.as_ref().expect("flagged");
    assert_eq!(full.table.as_deref(), Some("orders"));
    assert_eq!(full.filter_columns, ["customer_id"]);
    assert!(full.rows_examined_per_row.unwrap() >= 100.0, "{full:?}");
    assert!(full.blocks_per_row.is_none());
    assert!(
        r.conclusion.next_steps.iter().any(|s| s
            .action
            .starts_with("Run `ANALYZE FORMAT=JSON SELECT ID , `amount` FROM `orders`")),
        "{}",
        r.summary()
    );
    assert!(
        r.conclusion.next_steps.iter().any(|s| s
            .action
            .contains("ALTER TABLE orders ADD INDEX (customer_id)")),
        "{}",
        r.summary()
    );
    // Primary-key lookups are no full scans.
    let lookup = r
        .statements
        .iter()
        .find(|s| s.query.contains("`customers`"))
        .unwrap();
    assert!(lookup.full_scan.is_none());
}

/// A target with no schema reads every schema, including the statements run with no
/// default schema (SCHEMA_NAME NULL), and still leaves this tool's own statements out.
#[tokio::test]
async fn statements_with_no_default_schema_count_when_no_schema_is_asked() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let unscoped = "SELECT `note` FROM `shop` . `orders` WHERE `customer_id` = ?";
    let all = report(
        &config,
        json!({"target": "myall", "limit": 100, "order_by": "calls", "include_running": false}),
    )
    .await;
    let row = all
        .statements
        .iter()
        .find(|s| s.query == unscoped)
        .unwrap_or_else(|| panic!("no `{unscoped}` in {:?}", queries(&all)));
    // 3 calls from schema shop and 4 with no default schema: one statement.
    assert_eq!(row.calls, 7, "{}", all.summary());
    // (scripts/db.sh's own TRUNCATE of the digests, as root with no default schema, is counted.)
    let ours = [
        "CURRENT_USER",
        "PROCESSLIST",
        "COUNT_STAR",
        "FIRST_SEEN",
        "READ ONLY",
        "max_statement_time",
        "lock_wait_timeout",
    ];
    assert!(
        queries(&all)
            .iter()
            .all(|q| !ours.iter().any(|o| q.contains(o))),
        "our own statements are left out: {:?}",
        queries(&all)
    );
    assert!(all.statements.iter().any(|s| s.query.contains("SLEEP")));
    let shop = report(
        &config,
        target(json!({"limit": 100, "order_by": "calls", "include_running": false})),
    )
    .await;
    let row = shop
        .statements
        .iter()
        .find(|s| s.query == unscoped)
        .expect("listed in schema shop too");
    assert_eq!(row.calls, 3, "only schema shop's calls: {}", shop.summary());
}

/// A target whose schema has no digests says which schema it filtered on and where the
/// digests are, instead of an empty report.
#[tokio::test]
async fn an_empty_schema_says_where_the_digests_are() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    let r = report(
        &config,
        json!({"target": "myempty", "include_running": false}),
    )
    .await;
    assert!(r.statements.is_empty());
    assert_eq!(
        r.conclusion.verdict,
        "No statement statistics recorded for schema `empty`.",
        "{}",
        r.summary()
    );
    let note = r
        .conclusion
        .warnings
        .iter()
        .find(|w| w.contains("No statement digests for schema `empty`"))
        .unwrap_or_else(|| panic!("{}", r.summary()));
    assert!(
        note.contains("exist in other schemas")
            && note.contains("`shop`")
            && note.contains("no default schema"),
        "{note}"
    );
    assert!(
        r.conclusion
            .next_steps
            .iter()
            .any(|s| s.action.contains("Point the target's `database`")),
        "{}",
        r.summary()
    );
}

#[tokio::test]
async fn every_failure_says_its_kind() {
    if !MARIADB.ready() {
        return;
    }
    use python_web_troubleshooter::flows::ErrorKind;
    assert_eq!(
        failure_kind(&config(), json!({"target": "mywrongpw"})).await,
        ErrorKind::Denied
    );
    assert_eq!(
        refused_and_hung_kinds("mysql").await,
        (ErrorKind::Unreachable, ErrorKind::TimedOut)
    );
}

/// The digest MariaDB recorded for the workload's 30 Django lookups.
const LOOKUP_DIGEST: &str = "SELECT `customers` . `id` , `customers` . `email` FROM `customers` WHERE `customers` . `id` = ? LIMIT ?";

/// `query_text`: the SQL of a Sentry span, in every spelling a Python driver or ORM gives
/// it, finds the digest of the statement mysqlclient sent with its values in the text.
#[tokio::test]
async fn query_text_finds_the_digest_in_every_spelling() {
    if !MARIADB.ready() {
        return;
    }
    let config = config();
    for (form, text) in [
        (
            "Django, mysqlclient %s",
            "SELECT `customers`.`id`, `customers`.`email` FROM `customers` WHERE `customers`.`id` = %s LIMIT 21",
        ),
        (
            "PyMySQL %(name)s",
            "SELECT `customers`.`id`, `customers`.`email` FROM `customers` WHERE `customers`.`id` = %(id)s LIMIT %(limit)s",
        ),
        (
            "SQLAlchemy, mysqlclient dialect",
            "SELECT customers.id, customers.email \nFROM customers \nWHERE customers.id = %(id_1)s \n LIMIT %(param_1)s",
        ),
        (
            "qmark",
            "SELECT customers.id, customers.email FROM customers WHERE customers.id = ? LIMIT ?",
        ),
        (
            "inlined literals, case, comments",
            "/* controller=customers */ select CUSTOMERS.ID, customers.email # who\nfrom customers where customers.id = 17 limit 21;",
        ),
        ("the digest itself", LOOKUP_DIGEST),
    ] {
        let r = report(
            &config,
            target(json!({"query_text": text, "include_running": false})),
        )
        .await;
        let q = r
            .query_match
            .as_ref()
            .unwrap_or_else(|| panic!("{form}: no query_match"));
        assert_eq!(
            (q.matched, q.matched_on_prefix),
            (1, 0),
            "{form}: {}",
            r.summary()
        );
        assert_eq!(r.statements.len(), 1, "{form}");
        assert_eq!(r.statements[0].query, LOOKUP_DIGEST, "{form}");
        assert_eq!(r.statements[0].calls, 30, "{form}");
        assert!(
            r.conclusion
                .verdict
                .contains("matches the given query text"),
            "{form}: {}",
            r.conclusion.verdict
        );
    }
    // `id__in`: the workload's lists of 3 and 5 ids are one digest, `IN (...)`.
    let r = report(
        &config,
        target(json!({
            "query_text": "SELECT `customers`.`id`, `customers`.`email` FROM `customers` WHERE `customers`.`id` IN (%s, %s)",
            "include_running": false
        })),
    )
    .await;
    assert_eq!(
        r.query_match.as_ref().map(|q| q.matched),
        Some(1),
        "{}",
        r.summary()
    );
    assert_eq!(
        r.statements[0].query,
        "SELECT `customers` . `id` , `customers` . `email` FROM `customers` WHERE `customers` . `id` IN (...)"
    );
    assert_eq!(r.statements[0].calls, 2);
}

/// A statement longer than the digest keeps: MariaDB cuts its text, with no mark, and the
/// span's whole SQL matches as far as the digest goes.
#[tokio::test]
async fn query_text_matches_a_cut_digest_as_far_as_it_goes() {
    if !MARIADB.ready() {
        return;
    }
    let columns: String = (1..=80)
        .map(|i| format!("`customers`.`email` AS `e{i}`, "))
        .collect();
    let text =
        format!("SELECT {columns}`customers`.`id` FROM `customers` WHERE `customers`.`id` = %s");
    let r = report(
        &config(),
        target(json!({"query_text": text, "include_running": false})),
    )
    .await;
    let q = r.query_match.as_ref().unwrap();
    assert_eq!((q.matched, q.matched_on_prefix), (1, 1), "{}", r.summary());
    assert!(
        r.statements[0]
            .query
            .starts_with("SELECT `customers` . `email` AS `e1` ,"),
        "{}",
        r.statements[0].query
    );
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("performance_schema_max_digest_length")),
        "{}",
        r.summary()
    );
}

#[tokio::test]
async fn query_text_that_matches_no_digest_says_what_to_check() {
    if !MARIADB.ready() {
        return;
    }
    let r = report(
        &config(),
        target(json!({
            "query_text": "SELECT `customers`.`id` FROM `customers` WHERE `customers`.`email` = 'alice@example.com'"
        })),
    )
    .await;
    assert!(r.statements.is_empty(), "{}", r.summary());
    assert_eq!(r.query_match.as_ref().map(|q| q.matched), Some(0));
    assert!(
        r.conclusion.verdict.starts_with(
            "No statement in the statement digests (performance_schema) matches the given query text"
        ),
        "{}",
        r.conclusion.verdict
    );
    let steps: Vec<&str> = r
        .conclusion
        .next_steps
        .iter()
        .map(|s| s.action.as_str())
        .collect();
    assert!(steps[0].contains("DIGEST IS NULL"), "{steps:?}");
    assert!(steps[1].contains("the target's schema"), "{steps:?}");
    assert!(steps[2].contains("whole SQL"), "{steps:?}");
    assert_no_customer_data("report", &serde_json::to_string(&r).unwrap());
    assert_no_customer_data("summary", &r.summary());
}
