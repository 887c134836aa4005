//! slow_queries against a real PostgreSQL with pg_stat_statements preloaded, started with
//! its workload by `scripts/db.sh` (which runs these tests): ranking, the read/write split,
//! lock detection, redaction, sampled mode, permission and missing-extension messages,
//! timeouts, and that no password reaches any output; finding a span's statement by its
//! SQL (`query_text`) in its own file.

mod common;
#[path = "slow_queries_pg/query_text.rs"]
mod query_text;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::servers::POSTGRES;
use common::*;
use python_web_troubleshooter::diagnosis::queries::Engine;
use python_web_troubleshooter::progress::Progress;
use python_web_troubleshooter::render::Summary;
use python_web_troubleshooter::server::Troubleshooter;
use rmcp::model::{
    CallToolRequestParams, ClientConfig, NumberOrString, ProgressNotificationParam, ProgressToken,
    RequestMetaObject,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

fn queries(r: &python_web_troubleshooter::diagnosis::queries::SlowQueriesReport) -> Vec<&str> {
    r.statements.iter().map(|s| s.query.as_str()).collect()
}

#[tokio::test]
async fn ranking_follows_order_by() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(&config, json!({"limit": 50})).await;
    assert_eq!(r.engine, Engine::Postgresql);
    assert!(
        r.server_version.starts_with(char::is_numeric),
        "{}",
        r.server_version
    );
    assert_eq!(r.statements_source, "postgres:pg_stat_statements");
    assert_eq!(r.io_timing_enabled, Some(true));
    assert!(
        r.stats_since.is_some(),
        "pg_stat_statements_info.stats_reset"
    );
    assert_eq!(
        r.statements[0].query,
        "SELECT pg_sleep($1)",
        "slowest per call: {:?}",
        queries(&r)
    );
    assert!(
        r.statements[0].mean_ms >= 390.0,
        "{}",
        r.statements[0].mean_ms
    );
    let means: Vec<f64> = r.statements.iter().map(|s| s.mean_ms).collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "{means:?}");
    let shares: f64 = r.statements.iter().map(|s| s.percent_of_db_time).sum();
    assert!(shares <= 100.1, "{shares}");
    assert!(
        queries(&r).iter().all(|q| !q.contains("pwt:monitor")
            && !q.contains("pg_blocking_pids")
            && !q.contains("set_config")
            && !q.contains("FROM pg_stat_statements")),
        "our own monitoring queries are left out: {:?}",
        queries(&r)
    );

    let r = report(&config, json!({"order_by": "calls", "limit": 3})).await;
    assert_eq!(
        r.statements[0].query,
        "SELECT email FROM customers WHERE id = $1"
    );
    assert!(r.statements[0].calls >= 2000);
    assert_eq!(r.statements.len(), 3);
    assert!(r.truncated, "more statements exist than the limit");

    let r = report(&config, json!({"order_by": "total_time", "limit": 5})).await;
    assert_eq!(r.statements[0].query, "SELECT pg_sleep($1)");

    let r = report(&config, json!({"order_by": "io_time", "limit": 5})).await;
    assert!(r.statements[0].io_time_ms.is_some());
    assert!(
        r.statements[0].shared_blks_read.is_some() && r.statements[0].shared_blks_hit.is_some()
    );

    let r = report(&config, json!({"min_mean_ms": 300, "limit": 50})).await;
    assert!(
        r.statements.iter().all(|s| s.mean_ms >= 300.0),
        "{:?}",
        queries(&r)
    );
}

#[tokio::test]
async fn read_write_split_and_kinds() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(
        &config,
        json!({"order_by": "calls", "limit": 100, "include_running": false}),
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
    assert_eq!(kind("INSERT INTO orders"), "write");
    assert_eq!(kind("UPDATE orders SET amount"), "write");
    // The leading comment is dropped from the text, and the statement still counts as a write.
    assert_eq!(kind("UPDATE orders SET note"), "write");
    assert_eq!(kind("SELECT email FROM customers"), "read");
    let read = r.workload.read_percent.unwrap();
    let write = r.workload.write_percent.unwrap();
    assert!(write > 0.0 && read > 70.0, "read {read} write {write}");
    assert!(read + write <= 100.01);
    // Read-heavy alone is no symptom C: a replica helps only a saturated primary.
    assert!(!r.hints.iter().any(|h| h.symptom == "C"), "{:?}", r.hints);
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("a read replica would not help until")),
        "{}",
        r.summary()
    );
    assert_eq!(r.observations.db_read_percent, Some(read));
    let busy = report(
        &config,
        json!({"order_by": "calls", "limit": 100, "include_running": false, "db_cpu_percent": 85}),
    )
    .await;
    assert!(
        busy.hints.iter().any(|h| h.symptom == "C"),
        "{:?}",
        busy.hints
    );
    assert_eq!(busy.observations.db_cpu_percent, Some(85.0));
    assert!(
        r.running.is_empty() && r.waits.is_empty(),
        "include_running false"
    );
}

#[tokio::test]
async fn lock_waits_are_detected_with_the_blocker() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(&config, json!({})).await;
    assert!(r.blocked_sessions >= 1, "{}", r.summary());
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
    let holder = r
        .running
        .iter()
        .find(|s| s.pid == holder)
        .unwrap_or_else(|| panic!("blocker {holder} not listed: {}", r.summary()));
    assert!(holder.query.contains("UPDATE accounts") || holder.query.contains("pg_sleep"));
    assert!(
        r.waits
            .iter()
            .any(|w| w.wait_event_type == "Lock" && w.sessions >= 1)
    );
    assert_eq!(r.observations.lock_contention, Some(true));
    assert!(
        r.hints
            .iter()
            .any(|h| h.symptom == "D" && h.reason.contains("lock"))
    );
    assert!(
        r.conclusion.verdict.contains("blocked"),
        "{}",
        r.conclusion.verdict
    );
    assert!(
        r.running
            .iter()
            .all(|s| s.seconds >= 1.0 || !s.blocked_by.is_empty())
    );
}

#[tokio::test]
async fn customer_data_never_reaches_the_output() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(&config, json!({"order_by": "calls", "limit": 100})).await;
    let json = serde_json::to_string(&r).unwrap();
    assert_no_customer_data("report", &json);
    assert_no_customer_data("summary", &r.summary());
    let sleeper = r
        .running
        .iter()
        .find(|s| s.query.contains("AS email"))
        .unwrap_or_else(|| panic!("the planted long statement is not listed: {}", r.summary()));
    assert_eq!(sleeper.query, "SELECT pg_sleep(?), ? AS email, ? AS card;");
    let utility = r
        .statements
        .iter()
        .find(|s| s.query.starts_with("SET application_name"))
        .unwrap_or_else(|| panic!("utility statement missing: {:?}", queries(&r)));
    assert_eq!(utility.query, "SET application_name TO ?");
    // The CLI's text and JSON, and its debug log, too.
    for extra in [&["--limit", "100"][..], &["--json", "--limit", "100"][..]] {
        let (ok, out, err) = cli(extra);
        assert!(ok, "{err}");
        assert_no_customer_data("CLI stdout", &out);
        assert_no_customer_data("CLI stderr", &err);
    }
}

#[tokio::test]
async fn sampled_mode_ranks_what_runs_now() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let admin_url = env("PWT_TEST_PG_ADMIN_URL");
    let workload = tokio::spawn(async move {
        let (client, conn) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("admin connects");
        tokio::spawn(conn);
        tokio::time::sleep(Duration::from_millis(400)).await;
        for _ in 0..3 {
            client
                .batch_execute("SELECT pg_sleep(0.25), 'sampled' AS regression")
                .await
                .unwrap();
        }
    });
    let started = Instant::now();
    let r = report(
        &config,
        json!({"sample_seconds": 2, "order_by": "total_time"}),
    )
    .await;
    workload.await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert_eq!(r.mode, "sampled");
    assert_eq!(r.sample_seconds, Some(2.0));
    let top = &r.statements[0];
    assert_eq!(
        top.query,
        "SELECT pg_sleep($1), $2 AS regression",
        "{}",
        r.summary()
    );
    assert_eq!(top.calls, 3);
    assert!(
        !queries(&r).contains(&"SELECT email FROM customers WHERE id = $1"),
        "statements that did not run in the sample are left out: {:?}",
        queries(&r)
    );
}

/// The progress notifications a client hears: percent and message.
#[derive(Clone, Default)]
struct Listening(Arc<Mutex<Vec<(f64, String)>>>);

impl ClientHandler for Listening {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let message = params.message.unwrap_or_default();
        self.0.lock().unwrap().push((params.progress, message));
    }
}

/// A sample of a few seconds tells a client that sent a progress token how far it has got,
/// over MCP: rising percentages that end at 100, each saying it is sampling.
#[tokio::test]
async fn a_sample_reports_its_progress_to_the_client() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = Troubleshooter::with_config(config)
            .serve(server_io)
            .await
            .unwrap();
        let _ = running.waiting().await;
    });
    let heard = Listening::default();
    let client = heard.clone().serve(client_io).await.unwrap();
    let mut params = CallToolRequestParams::new("slow_queries").with_arguments(
        json!({"sample_seconds": 3, "include_running": false})
            .as_object()
            .unwrap()
            .clone(),
    );
    params.meta = Some(RequestMetaObject::with_progress_token(ProgressToken(
        NumberOrString::Number(7),
    )));
    let r = client.call_tool(params).await.unwrap();
    assert_ne!(r.is_error, Some(true), "{r:?}");
    // rmcp's client may hand the last notification to its handler just after the result.
    let deadline = Instant::now() + Duration::from_secs(2);
    while heard
        .0
        .lock()
        .unwrap()
        .last()
        .is_none_or(|(p, _)| *p < 100.0)
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let heard = heard.0.lock().unwrap().clone();
    let percents: Vec<f64> = heard.iter().map(|(p, _)| *p).collect();
    assert!(
        percents.len() >= 3,
        "one a second over 3 s, then done: {heard:?}"
    );
    assert!(percents.windows(2).all(|w| w[0] < w[1]), "{heard:?}");
    assert_eq!(percents.last(), Some(&100.0), "{heard:?}");
    assert!(
        heard
            .iter()
            .all(|(_, m)| m.starts_with("slow_queries: sampl")),
        "{heard:?}"
    );
    assert!(heard[0].1.contains("of 3 s"), "{heard:?}");
    client.cancel().await.ok();
}

#[tokio::test]
async fn role_without_pg_read_all_stats_is_told_what_to_grant() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(&config, json!({"target": "nostats"})).await;
    let text = r.summary();
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("pg_read_all_stats") && w.contains("nostats")),
        "{text}"
    );
    assert!(
        r.conclusion
            .next_steps
            .iter()
            .any(|s| s.action.contains("GRANT pg_read_all_stats TO nostats")),
        "{text}"
    );
    assert!(
        r.conclusion
            .warnings
            .iter()
            .any(|w| w.contains("<insufficient privilege>")),
        "the superuser's statements are hidden from this role: {text}"
    );
    assert!(!queries(&r).iter().any(|q| q.contains("insufficient")));
}

#[tokio::test]
async fn missing_extension_says_what_to_run() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let r = report(&config, json!({"target": "plain"})).await;
    assert_eq!(r.statements_source, "unavailable");
    assert!(r.statements.is_empty());
    assert!(
        r.conclusion
            .verdict
            .contains("not installed in database plain"),
        "{}",
        r.conclusion.verdict
    );
    assert!(
        r.conclusion.next_steps.iter().any(|s| s
            .action
            .contains("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")),
        "{}",
        r.summary()
    );
}

#[tokio::test]
async fn wrong_password_names_the_target_and_hides_the_password() {
    if !POSTGRES.ready() {
        return;
    }
    let config = config();
    let started = Instant::now();
    let err = error(&config, json!({"target": "wrongpw"})).await;
    assert!(started.elapsed() < BOUND);
    assert!(err.contains("target `wrongpw`"), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        err.contains("password_env"),
        "says where the password comes from: {err}"
    );
    let (ok, out, stderr) = cli(&["--target", "wrongpw"]);
    assert!(!ok);
    assert_no_secret("CLI stdout", &out);
    assert_no_secret("CLI stderr", &stderr);
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
}

#[tokio::test]
async fn refused_connection_and_unknown_target() {
    if !POSTGRES.ready() {
        return;
    }
    let port = closed_port();
    let config = config_with(
        &format!(
            "url = \"postgresql://monitor:{}@127.0.0.1:{port}/shop\"",
            env("PWT_TEST_MONITOR_PASSWORD")
        ),
        5.0,
    );
    let started = Instant::now();
    let err = error(&config, json!({})).await;
    assert!(started.elapsed() < BOUND);
    assert!(
        err.contains("target `t`") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(err.to_lowercase().contains("refused"), "{err}");
    let err = error(&config, json!({"target": "prod"})).await;
    assert!(
        err.contains("unknown database target `prod`") && err.contains("configured targets: t"),
        "{err}"
    );
}

#[tokio::test]
async fn hung_server_errors_within_the_bound() {
    if !POSTGRES.ready() {
        return;
    }
    let (port, _server) = hung_server().await;
    let config = config_with(
        &format!(
            "url = \"postgresql://monitor:{}@127.0.0.1:{port}/shop\"",
            env("PWT_TEST_MONITOR_PASSWORD")
        ),
        1.0,
    );
    let started = Instant::now();
    let err = error(&config, json!({})).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        err.contains("did not answer within 1 s") && err.contains("target `t`"),
        "{err}"
    );
}

#[derive(Debug, Clone, Default)]
struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default()
    }
}

#[tokio::test]
async fn the_server_keeps_serving_while_a_database_hangs() {
    if !POSTGRES.ready() {
        return;
    }
    let (port, _server) = hung_server().await;
    let config = config_with(
        &format!(
            "url = \"postgresql://monitor@127.0.0.1:{port}/shop\"\npassword_env = \"PWT_TEST_PG_MONITOR_PW\""
        ),
        2.0,
    );
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        let running = Troubleshooter::with_config(config)
            .serve(server_io)
            .await
            .unwrap();
        let _ = running.waiting().await;
    });
    let client = Client.serve(client_io).await.unwrap();
    let peer = client.peer().clone();
    let started = Instant::now();
    let hung = tokio::spawn(async move {
        peer.call_tool(CallToolRequestParams::new("slow_queries"))
            .await
            .expect("a tool result")
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let quick = client
        .call_tool(
            CallToolRequestParams::new("capacity_math").with_arguments(
                json!({"replicas": 2, "workers_per_replica": 4, "avg_latency_ms": 100})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_ne!(quick.is_error, Some(true));
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "capacity_math waited for the hung call"
    );
    let hung = hung.await.unwrap();
    assert_eq!(hung.is_error, Some(true));
    let text = serde_json::to_string(&hung.content).unwrap();
    assert!(text.contains("did not answer within 2 s"), "{text}");
    assert_no_secret("tool error", &text);
    assert!(started.elapsed() < Duration::from_secs(4));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn kept_connection_is_reused_and_replaced_when_it_dies() {
    if !POSTGRES.ready() {
        return;
    }
    use python_web_troubleshooter::flows;
    use python_web_troubleshooter::sources::Connections;
    let port = env("PWT_TEST_PG_ADMIN_URL")
        .rsplit(':')
        .next()
        .and_then(|p| p.split('/').next())
        .unwrap()
        .to_owned();
    let config = config_with(
        &format!(
            "url = \"postgresql://monitor@127.0.0.1:{port}/shop?application_name=pwt-reuse-test\"\npassword_env = \"PWT_TEST_PG_MONITOR_PW\""
        ),
        5.0,
    );
    let connections = Connections::default();
    let input = args(json!({"limit": 1, "include_running": false}));
    let first = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    assert_eq!(first.statements.len(), 1);
    // The kept connection is idle in pg_stat_activity, as the monitor role.
    let (admin, conn) =
        tokio_postgres::connect(&env("PWT_TEST_PG_ADMIN_URL"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(conn);
    let idle = "SELECT pid FROM pg_stat_activity WHERE usename = 'monitor' AND application_name = 'pwt-reuse-test' AND state = 'idle'";
    let pids: Vec<i32> = admin
        .query(idle, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pids.len(), 1, "one kept connection: {pids:?}");
    let second = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    assert_eq!(second.statements[0].query, first.statements[0].query);
    let again: Vec<i32> = admin
        .query(idle, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(again, pids, "the second call used the same backend");
    // A server restart or an administrator ends it: the next call reconnects by itself.
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pids[0]])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    assert_eq!(third.statements.len(), 1);
    let fresh: Vec<i32> = admin
        .query(idle, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(fresh.len(), 1);
    assert_ne!(fresh, pids);
}

/// The counters-only read with remembered kinds and texts must not change any result: a
/// second call on the same statistics equals the first (which classified every statement
/// afresh), and equals a call by a fresh server. Database `stable` is touched by nothing
/// but this test while the suite runs, and this tool's own statements are left out.
#[tokio::test]
async fn remembered_kinds_give_the_same_report() {
    if !POSTGRES.ready() {
        return;
    }
    use python_web_troubleshooter::flows;
    use python_web_troubleshooter::sources::Connections;
    let config = config();
    let input = args(json!({"target": "stable", "limit": 50, "include_running": false}));
    let connections = Connections::default();
    let first = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    let second = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    // By now every statement of ours is known too: the next call reads no text at all.
    let texts_read = || async {
        let (admin, conn) =
            tokio_postgres::connect(&env("PWT_TEST_PG_ADMIN_URL"), tokio_postgres::NoTls)
                .await
                .unwrap();
        tokio::spawn(conn);
        let n: Option<i64> = admin
            .query_one(
                "SELECT sum(calls)::int8 FROM pg_stat_statements WHERE dbid = \
                 (SELECT oid FROM pg_database WHERE datname = 'stable') \
                 AND query LIKE '%pwt:monitor%' AND query LIKE '%AS keyword%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n.unwrap_or(0)
    };
    let before = texts_read().await;
    assert!(before >= 1, "the first call read texts");
    let third = flows::slow_queries::run(&config, &connections, &input, &Progress::none())
        .await
        .unwrap();
    assert_eq!(texts_read().await, before, "the third call read no text");
    let fresh =
        flows::slow_queries::run(&config, &Connections::default(), &input, &Progress::none())
            .await
            .unwrap();
    for (name, other) in [("second", &second), ("third", &third), ("fresh", &fresh)] {
        assert_eq!(other.statements, first.statements, "{name}");
        assert_eq!(other.workload, first.workload, "{name}");
        assert_eq!(
            other.statements_considered, first.statements_considered,
            "{name}"
        );
        assert_eq!(other.db_time_ms, first.db_time_ms, "{name}");
        assert_eq!(other.hints, first.hints, "{name}");
        assert_eq!(other.conclusion.verdict, first.conclusion.verdict, "{name}");
    }
    // Every kind the split distinguishes, classified.
    let kind = |prefix: &str| {
        first
            .statements
            .iter()
            .find(|s| s.query.starts_with(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` in {:?}", queries(&first)))
            .kind
            .clone()
    };
    assert_eq!(kind("SELECT name FROM items"), "read");
    assert_eq!(kind("UPDATE items SET qty = qty"), "write");
    assert_eq!(kind("WITH moved AS"), "write");
    assert_eq!(kind("DELETE FROM audit"), "write");
    assert_eq!(kind("CREATE INDEX"), "other");
    assert_eq!(
        first.workload.statements_classified,
        first.statements_considered
    );
    assert_eq!(first.workload.classified_percent, Some(100.0));
    assert!(
        queries(&first).iter().all(|q| !q.contains("pwt:monitor")),
        "{:?}",
        queries(&first)
    );

    // Another ranking lists statements whose details a call did not ask for (it asks only
    // for those listed lately): they are read again, and the report equals a fresh
    // server's. The most frequent statement is far down the ranking by mean time.
    let by_mean = queries(&first);
    let frequent = by_mean
        .iter()
        .position(|q| q.starts_with("SELECT name FROM items"))
        .expect("listed");
    assert!(
        frequent >= 11,
        "precondition: the most frequent statement ranks below the first 11 by mean: {by_mean:?}"
    );
    let kept = Connections::default();
    let narrow = args(json!({"target": "stable", "limit": 1, "include_running": false}));
    flows::slow_queries::run(&config, &kept, &narrow, &Progress::none())
        .await
        .unwrap();
    for order in ["calls", "total_time", "mean_time"] {
        let input = args(
            json!({"target": "stable", "limit": 4, "order_by": order, "include_running": false}),
        );
        let again = flows::slow_queries::run(&config, &kept, &input, &Progress::none())
            .await
            .unwrap();
        let fresh =
            flows::slow_queries::run(&config, &Connections::default(), &input, &Progress::none())
                .await
                .unwrap();
        assert_eq!(again.statements, fresh.statements, "{order}");
        assert_eq!(again.workload, fresh.workload, "{order}");
        assert!(
            again
                .statements
                .iter()
                .all(|s| s.shared_blks_hit.is_some() && s.io_time_ms.is_some()),
            "{order}: every listed statement has its details: {:?}",
            again.statements
        );
    }
}

/// A live incident where the tools steered toward adding replicas: one statement
/// missing an index, bound by psycopg 3 as int2 for small ids and int4 for larger ones, so
/// pg_stat_statements holds two queryids with the same text. The report must show one
/// statement with its whole share of database time, flag it as a full scan of `orders`,
/// lead with it, and make EXPLAIN then the index the first steps — and suggest no read
/// replica on the read share alone. Database `scan` (tests/db/workload-pg-scan.sql) is
/// touched by nothing else.
#[tokio::test]
async fn one_statement_bound_as_int2_and_int4_is_one_full_scan() {
    if !POSTGRES.ready() {
        return;
    }
    use tokio_postgres::types::Type;
    const SLOW: &str = "SELECT id, amount FROM orders WHERE customer_id = $1";
    let config = config();
    let admin_url = env("PWT_TEST_PG_ADMIN_URL");
    let (app, conn) =
        tokio_postgres::connect(&admin_url.replace("/shop", "/scan"), tokio_postgres::NoTls)
            .await
            .expect("connects to database scan");
    tokio::spawn(conn);
    // As psycopg 3 sends them: the parameter's type in the Parse message, the smallest that
    // fits the Python int.
    let small = app.prepare_typed(SLOW, &[Type::INT2]).await.unwrap();
    let large = app.prepare_typed(SLOW, &[Type::INT4]).await.unwrap();
    for id in [17i16, 230, 4711, 9000, 21000, 30001] {
        assert_eq!(app.query(&small, &[&id]).await.unwrap().len(), 10);
    }
    for id in [32768i32, 40000, 45000, 49999] {
        assert_eq!(app.query(&large, &[&id]).await.unwrap().len(), 10);
    }
    let r = report(&config, json!({"target": "scan", "order_by": "total_time"})).await;
    eprintln!("{}", r.summary());
    let top = &r.statements[0];
    assert_eq!(top.query, SLOW, "{}", r.summary());
    assert_eq!(top.query_ids, 2);
    assert_eq!(top.calls, 10);
    assert_eq!(top.rows, 100);
    assert!(top.percent_of_db_time >= 95.0, "{}", r.summary());
    assert_eq!(
        r.statements.iter().filter(|s| s.query == SLOW).count(),
        1,
        "listed once: {:?}",
        queries(&r)
    );
    let full = top.full_scan.as_ref().expect("flagged as a full scan");
    assert_eq!(full.table.as_deref(), Some("orders"));
    assert_eq!(full.filter_columns, ["customer_id"]);
    assert!(full.blocks_per_row.unwrap() >= 100.0, "{full:?}");
    assert!(full.blocks_per_call.unwrap() >= 1000.0, "{full:?}");
    let verdict = &r.conclusion.verdict;
    assert!(
        verdict.starts_with(&format!("`{SLOW}` takes "))
            && verdict.contains("a full scan of orders"),
        "{verdict}"
    );
    let steps = &r.conclusion.next_steps;
    assert!(
        steps[0]
            .action
            .starts_with(&format!("Run `EXPLAIN (ANALYZE, BUFFERS) {SLOW}`")),
        "{}",
        steps[0].action
    );
    assert!(
        steps[1]
            .action
            .contains("add an index on orders(customer_id)"),
        "{}",
        steps[1].action
    );
    // The sub-millisecond lookups are the normal here: no EXPLAIN for them.
    assert_eq!(
        steps
            .iter()
            .filter(|s| s.action.contains("EXPLAIN"))
            .count(),
        1,
        "{steps:?}"
    );
    let lookup = r
        .statements
        .iter()
        .find(|s| s.query.starts_with("SELECT email FROM customers"))
        .expect("the fast lookups are listed");
    assert!(lookup.full_scan.is_none() && lookup.query_ids == 1);
    // No replica on the read share alone; the CPU comes from the host (not an RDS endpoint).
    assert!(r.hints.is_empty(), "{:?}", r.hints);
    let cpu = steps
        .iter()
        .find(|s| s.action.contains("db_cpu_percent"))
        .expect("says how to get the primary's CPU");
    assert_eq!(cpu.tool.as_deref(), Some("slow_queries"));

    // Ranked per call, the same: one row, the full scan first.
    let r = report(&config, json!({"target": "scan"})).await;
    assert_eq!(r.statements[0].query, SLOW);
    assert_eq!(r.statements[0].query_ids, 2);
    assert!(r.conclusion.next_steps[0].action.contains("EXPLAIN"));
    // What the server recorded: two queryids, and their texts are identical. (Asked last,
    // from database scan itself, so that no other test's database sees this statement and
    // the reports above hold only the workload.)
    let recorded = app
        .query(
            "SELECT queryid, query, calls FROM pg_stat_statements \
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'scan') \
             AND query LIKE '%customer_id%' AND query NOT LIKE '%pg_stat_statements%' \
             ORDER BY queryid",
            &[],
        )
        .await
        .unwrap();
    let texts: Vec<String> = recorded.iter().map(|r| r.get(1)).collect();
    assert_eq!(texts, [SLOW, SLOW], "two queryids, one text: {texts:?}");
    let ids: Vec<i64> = recorded.iter().map(|r| r.get(0)).collect();
    assert_ne!(ids[0], ids[1]);
    let calls: Vec<i64> = recorded.iter().map(|r| r.get(2)).collect();
    assert_eq!(calls.iter().sum::<i64>(), 10, "{calls:?}");
}

#[tokio::test]
async fn every_failure_says_its_kind() {
    if !POSTGRES.ready() {
        return;
    }
    use python_web_troubleshooter::flows::ErrorKind;
    let config = config();
    assert_eq!(
        failure_kind(&config, json!({"target": "wrongpw"})).await,
        ErrorKind::Denied
    );
    assert_eq!(
        failure_kind(&config, json!({"target": "no-such-target"})).await,
        ErrorKind::NotConfigured
    );
    assert_eq!(
        failure_kind(&config, json!({"limit": 0})).await,
        ErrorKind::BadInput
    );
    assert_eq!(
        refused_and_hung_kinds("postgresql").await,
        (ErrorKind::Unreachable, ErrorKind::TimedOut)
    );
}

/// A typical call over MCP: the text is the summary a person reads first (within about
/// 4,000 characters), the whole report is the structured content, `detail: full` adds it as
/// JSON text, and the statements listed say how they were bounded.
#[tokio::test]
async fn a_typical_result_is_a_lean_summary_with_its_lists_bounded() {
    if !POSTGRES.ready() {
        return;
    }
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = Troubleshooter::with_config(config())
            .serve(server_io)
            .await
            .unwrap();
        let _ = running.waiting().await;
    });
    let client = Client.serve(client_io).await.unwrap();
    let call = |args: serde_json::Value| {
        client.call_tool(
            CallToolRequestParams::new("slow_queries")
                .with_arguments(args.as_object().unwrap().clone()),
        )
    };
    let r = call(json!({"order_by": "total_time", "limit": 3}))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    assert_eq!(r.content.len(), 1, "the text is the summary alone");
    let summary = r.content[0].as_text().expect("text").text.clone();
    assert!(
        summary.len() <= 4_000,
        "the summary is {} characters:\n{summary}",
        summary.len()
    );
    assert!(
        summary.contains("ms"),
        "the summary carries figures:\n{summary}"
    );
    let structured = r.structured_content.clone().expect("structured content");
    let listed = structured["statements"]
        .as_array()
        .expect("statements")
        .len();
    let bound = &structured["lists"]["statements"];
    assert_eq!(bound["returned"], json!(listed), "{bound}");
    assert_eq!(listed, 3, "the workload runs more than 3 statements");
    assert!(bound["total"].as_u64().unwrap() > 3, "{bound}");
    assert_eq!(bound["truncated"], json!(true));
    assert_eq!(structured["truncated"], json!(true));

    let full = call(json!({"order_by": "total_time", "limit": 3, "detail": "full"}))
        .await
        .unwrap();
    assert_eq!(full.content.len(), 2, "detail full adds the JSON text");
    let json_text = full.content[1].as_text().expect("text").text.clone();
    let parsed: serde_json::Value = serde_json::from_str(&json_text).expect("JSON");
    assert_eq!(parsed["lists"]["statements"]["returned"], json!(3));
    assert_no_secret("summary", &summary);
    client.cancel().await.unwrap();
}
