//! slow_queries against a real MariaDB with performance_schema on, started with its workload
//! by `tests/db/run.sh` (which runs these tests): digests ranking, the read/write split,
//! InnoDB lock waits, redaction of PROCESSLIST text, sampled mode, wrong password, timeouts.

mod common;

use std::time::{Duration, Instant};

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
