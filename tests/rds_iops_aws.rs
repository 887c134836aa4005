//! check_rds_iops against local AWS-compatible endpoints: LocalStack core for CloudWatch
//! (Smithy RPC v2 CBOR) and moto_server for RDS and STS, reached only through the SDK's
//! standard per-service variables (`AWS_ENDPOINT_URL_CLOUDWATCH`, `AWS_ENDPOINT_URL_RDS`,
//! `AWS_ENDPOINT_URL_STS`).
//!
//! `scripts/aws.sh` starts both servers, exports the variables and runs this file; without
//! them each test returns at once and one line on stderr says how to run the suite (with
//! `PWT_REQUIRE_SERVERS=1`, as the runners set, each fails instead). Each test seeds its own
//! DB instance (moto CreateDBInstance) and metric series (PutMetricData, timestamps inside
//! the window), then calls the tool the way a client does: over MCP in-process, or the CLI
//! binary when the environment must differ.

mod common;
mod mcp_client;

use common::output_text;
use common::servers::AWS;
use mcp_client::{call_once as call, text};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_types::DateTime;
use python_web_troubleshooter::sources::aws;
use serde_json::{Value, json};

const PERIOD: i64 = 300;
const MIB: f64 = 1024.0 * 1024.0;

fn require_servers() {
    for var in [
        "AWS_ENDPOINT_URL_CLOUDWATCH",
        "AWS_ENDPOINT_URL_RDS",
        "AWS_ENDPOINT_URL_STS",
    ] {
        let value = std::env::var(var).unwrap_or_default();
        assert!(
            value.starts_with("http://127.0.0.1:"),
            "{var} is not set to a loopback server ({value:?}): run `bash scripts/aws.sh`, which starts LocalStack and moto_server"
        );
    }
}

fn secret() -> String {
    std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY set by scripts/aws.sh")
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

struct Clients {
    cw: aws_sdk_cloudwatch::Client,
    rds: aws_sdk_rds::Client,
}

async fn clients() -> Clients {
    require_servers();
    let config = aws::load(None, None).await.expect("AWS config from env");
    // Seeding is set-up, not the code under test: on a loaded machine LocalStack can take
    // longer than the tool's own deadlines to store a batch, so the seeding clients wait
    // longer than the tool does.
    let patient = aws_smithy_types::timeout::TimeoutConfig::builder()
        .operation_timeout(Duration::from_secs(120))
        .operation_attempt_timeout(Duration::from_secs(60))
        .build();
    Clients {
        cw: aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&config)
                .timeout_config(patient.clone())
                .build(),
        ),
        rds: aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::from(&config)
                .timeout_config(patient)
                .build(),
        ),
    }
}

/// Creates the instance in moto (the storage the limits are computed from).
async fn create_instance(
    c: &Clients,
    id: &str,
    storage: &str,
    gib: i32,
    iops: Option<i32>,
    throughput: Option<i32>,
) {
    c.rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.m7g.large")
        .engine("postgres")
        .engine_version("16.4")
        .allocated_storage(gib)
        .storage_type(storage)
        .set_iops(iops)
        .set_storage_throughput(throughput)
        .master_username("pwt")
        .master_user_password("moto-test-password-1")
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto CreateDBInstance {id}: {e:?}"));
}

/// One seeded metric: CloudWatch name, unit, and its value in period `i` (0 = oldest).
type Seeded = (&'static str, StandardUnit, Box<dyn Fn(usize) -> f64>);

/// Seeds 12 five-minute periods ending at the current period boundary, one datapoint in
/// the middle of each, for every metric given.
async fn seed(c: &Clients, id: &str, metrics: &[Seeded]) {
    let end = now() - now().rem_euclid(PERIOD);
    let mut data = Vec::new();
    for (name, unit, f) in metrics {
        for i in 0..12usize {
            let ts = end - PERIOD * (12 - i as i64) + 60;
            data.push(
                MetricDatum::builder()
                    .metric_name(*name)
                    .dimensions(
                        Dimension::builder()
                            .name("DBInstanceIdentifier")
                            .value(id)
                            .build(),
                    )
                    .timestamp(DateTime::from_secs(ts))
                    .value(f(i))
                    .unit(unit.clone())
                    .build(),
            );
        }
    }
    for chunk in data.chunks(500) {
        c.cw.put_metric_data()
            .namespace("AWS/RDS")
            .set_metric_data(Some(chunk.to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("LocalStack PutMetricData {id}: {e:?}"));
    }
}

fn io_metrics(read: f64, write: f64, queue: f64) -> Vec<Seeded> {
    vec![
        (
            "ReadIOPS",
            StandardUnit::CountSecond,
            Box::new(move |_| read),
        ),
        (
            "WriteIOPS",
            StandardUnit::CountSecond,
            Box::new(move |_| write),
        ),
        (
            "DiskQueueDepth",
            StandardUnit::Count,
            Box::new(move |_| queue),
        ),
        (
            "ReadThroughput",
            StandardUnit::BytesSecond,
            Box::new(|_| 12.0 * MIB),
        ),
        (
            "WriteThroughput",
            StandardUnit::BytesSecond,
            Box::new(|_| 6.0 * MIB),
        ),
        ("ReadLatency", StandardUnit::Seconds, Box::new(|_| 0.004)),
        ("WriteLatency", StandardUnit::Seconds, Box::new(|_| 0.008)),
        ("CPUUtilization", StandardUnit::Percent, Box::new(|_| 18.0)),
    ]
}

// ------------------------------------------------------------------ MCP client

fn assert_no_secret(what: &str, s: &str) {
    assert!(
        !s.contains(&secret()),
        "{what} contains the secret key: {s}"
    );
    let key_id = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    if !key_id.is_empty() {
        assert!(
            !s.contains(&key_id),
            "{what} contains the access key id: {s}"
        );
    }
}

async fn check(id: &str) -> (Value, String) {
    check_window(
        id,
        json!({"db_instance_identifier": id, "window_minutes": 60, "period_seconds": 300}),
    )
    .await
}

/// One check_rds_iops call; its text is the lean summary alone (within about 4,000
/// characters), the report being the structured content.
async fn check_window(id: &str, arguments: Value) -> (Value, String) {
    let r = call("check_rds_iops", arguments).await;
    let t = text(&r);
    assert_ne!(r.is_error, Some(true), "check_rds_iops {id}: {t}");
    assert_no_secret("check_rds_iops result", &t);
    assert_eq!(r.content.len(), 1, "the text is the summary alone: {t}");
    assert!(
        t.len() <= 4_000,
        "the summary is {} characters:\n{t}",
        t.len()
    );
    (r.structured_content.expect("structured content"), t)
}

fn datapoints(s: &Value, metric: &str) -> u64 {
    s["metrics"][metric]["datapoints"].as_u64().unwrap_or(0)
}

// ------------------------------------------------------------------ scenarios

#[tokio::test]
async fn gp3_saturated_on_iops_with_a_sustained_queue() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("gp3-saturated");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    seed(&c, &id, &io_metrics(1_950.0, 1_000.0, 7.5)).await;
    let (s, t) = check(&id).await;
    assert_eq!(s["status"], "saturated", "{t}");
    assert_eq!(s["region"], "us-east-1");
    assert_eq!(s["account"], "123456789012", "moto's STS account");
    assert_eq!(s["storage"]["source"], "rds:DescribeDBInstances");
    assert_eq!(s["storage"]["storage_type"], "gp3");
    assert_eq!(s["storage"]["effective_iops_limit"], 3000.0);
    let n = datapoints(&s, "ReadIOPS");
    assert!((11..=12).contains(&n), "ReadIOPS datapoints {n}: {s}");
    assert_eq!(s["total_iops_peak"], 2950.0, "{s}");
    assert_eq!(s["iops_utilization_percent"]["peak"], 98.33);
    assert_eq!(s["disk_queue_depth"]["sustained_above_1"], true);
    assert_eq!(s["disk_queue_depth"]["median"], 7.5);
    assert_eq!(s["binding_limit"], "iops");
    assert_eq!(s["latency"]["read_avg_ms"], 4.0);
    assert_eq!(s["latency"]["write_avg_ms"], 8.0);
    assert_eq!(s["metrics"]["ReadThroughput"]["avg"], 12.0);
    let rec = &s["recommendations"][0];
    assert_eq!(rec["kind"], "grow_storage", "{rec}");
    assert_eq!(rec["allocated_storage_gib"], 400.0);
    assert_eq!(rec["provisioned_iops"], 12000.0);
    assert_eq!(s["observations"]["db_io_saturated"], true);
    let cmds = s["cli_commands"].as_array().unwrap();
    assert_eq!(cmds.len(), 3);
    assert!(cmds[0].as_str().unwrap().contains(&format!("Value={id}")));
    assert!(t.contains("aws cloudwatch get-metric-statistics"), "{t}");
    assert!(t.contains("SATURATED"), "{t}");
}

#[tokio::test]
async fn healthy_gp3_sends_back_to_step_1_and_2() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("gp3-healthy");
    create_instance(&c, &id, "gp3", 500, Some(12000), Some(500)).await;
    seed(&c, &id, &io_metrics(800.0, 400.0, 0.3)).await;
    let (s, t) = check(&id).await;
    assert_eq!(s["status"], "healthy", "{t}");
    assert_eq!(s["storage"]["effective_iops_limit"], 12000.0);
    assert_eq!(s["iops_utilization_percent"]["peak"], 10.0);
    assert_eq!(s["recommendations"][0]["kind"], "storage_healthy");
    assert_eq!(s["observations"]["db_io_saturated"], false);
    assert!(t.contains("go back to Step 1/2"), "{t}");
}

#[tokio::test]
async fn gp2_with_exhausted_burst_balance() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("gp2-burst");
    create_instance(&c, &id, "gp2", 100, None, None).await;
    let mut m = io_metrics(240.0, 60.0, 3.0);
    m.push((
        "BurstBalance",
        StandardUnit::Percent,
        Box::new(|i| (55.0 - 10.0 * i as f64).max(0.0)),
    ));
    seed(&c, &id, &m).await;
    let (s, t) = check(&id).await;
    assert_eq!(s["status"], "saturated", "{t}");
    assert_eq!(s["burst"]["burst_exhausted"], true);
    assert_eq!(s["burst"]["burst_balance_min_percent"], 0.0);
    assert_eq!(s["storage"]["volume_iops_limit"], 300.0);
    assert_eq!(s["storage"]["volume_burst_iops"], 3000.0);
    assert_eq!(s["storage"]["effective_iops_limit"], 300.0);
    assert_eq!(s["storage"]["iops_limited_by"], "gp2_baseline");
    assert_eq!(s["recommendations"][0]["kind"], "gp2_to_gp3");
    assert_eq!(s["recommendations"][0]["storage_type"], "gp3");
}

#[tokio::test]
async fn throughput_bound_gp3() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("gp3-throughput");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    let mut m = io_metrics(900.0, 300.0, 0.6);
    m[3] = (
        "ReadThroughput",
        StandardUnit::BytesSecond,
        Box::new(|_| 95.0 * MIB),
    );
    m[4] = (
        "WriteThroughput",
        StandardUnit::BytesSecond,
        Box::new(|_| 25.0 * MIB),
    );
    seed(&c, &id, &m).await;
    let (s, t) = check(&id).await;
    assert_eq!(s["status"], "saturated", "{t}");
    assert_eq!(s["binding_limit"], "throughput");
    assert_eq!(s["throughput"]["peak_mibps"], 120.0);
    assert_eq!(s["throughput"]["limit_mibps"], 125.0);
    assert_eq!(s["throughput"]["utilization_percent"]["peak"], 96.0);
    assert_eq!(s["recommendations"][0]["kind"], "raise_throughput");
}

/// The window as Sentry gives it (`2h`), or as two timestamps: the seeded hour is inside the
/// first and outside an earlier window.
#[tokio::test]
async fn the_window_takes_a_period_or_timestamps() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("gp3-window");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    seed(&c, &id, &io_metrics(1_950.0, 1_000.0, 7.5)).await;
    let (s, t) = check_window(
        &id,
        json!({"db_instance_identifier": id, "since": "2h", "period_seconds": 300}),
    )
    .await;
    assert_eq!(s["status"], "saturated", "{t}");
    let n = datapoints(&s, "ReadIOPS");
    assert!((11..=12).contains(&n), "ReadIOPS datapoints {n}: {s}");
    let rfc3339 = |t: i64| {
        DateTime::from_secs(t)
            .fmt(aws_smithy_types::date_time::Format::DateTime)
            .unwrap()
    };
    let (s, t) = check_window(
        &id,
        json!({"db_instance_identifier": id, "since": rfc3339(now() - 6 * 3600), "until": rfc3339(now() - 3 * 3600)}),
    )
    .await;
    assert_eq!(s["status"], "unknown", "nothing was seeded then: {t}");
    let r = call(
        "check_rds_iops",
        json!({"db_instance_identifier": id, "since": "2h", "window_minutes": 60}),
    )
    .await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).contains("since"), "{}", text(&r));
}

#[tokio::test]
async fn missing_datapoints_is_unknown() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("no-data");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    let (s, t) = check(&id).await;
    assert_eq!(s["status"], "unknown", "{t}");
    assert!(
        s["verdict"]
            .as_str()
            .unwrap()
            .contains("no ReadIOPS/WriteIOPS datapoints"),
        "{t}"
    );
    assert!(s["observations"].get("db_io_saturated").is_none());
    assert_eq!(s["recommendations"][0]["kind"], "collect_more");
}

#[tokio::test]
async fn unknown_instance_is_a_tool_error_that_says_what_to_check() {
    if !AWS.ready() {
        return;
    }
    require_servers();
    let id = unique("no-such-db");
    let r = call("check_rds_iops", json!({"db_instance_identifier": id})).await;
    let t = text(&r);
    assert_eq!(r.is_error, Some(true), "{t}");
    assert!(t.contains("not found") && t.contains(&id), "{t}");
    assert!(t.contains("describe-db-instances"), "{t}");
    assert_no_secret("unknown-instance error", &t);
}

#[tokio::test]
async fn break_down_latency_folds_storage_into_match_symptom() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("latency-fold");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    seed(&c, &id, &io_metrics(1_950.0, 1_000.0, 7.5)).await;
    let r = call(
        "break_down_latency",
        json!({
            "figures": {"nginx": {"request_time_ms": 2400, "upstream_response_time_ms": 2350},
                        "app": {"request_duration_ms": 2300},
                        "db": {"query_latency_ms": 2000},
                        "gunicorn": {"busy_workers": 16, "idle_workers": 0}},
            "rds_instance": {"db_instance_identifier": id}
        }),
    )
    .await;
    let t = text(&r);
    assert_ne!(r.is_error, Some(true), "{t}");
    let s = r.structured_content.unwrap();
    let o = &s["observations"];
    assert_eq!(o["db_io_saturated"], true, "{s}");
    assert_eq!(o["disk_queue_depth"], 7.5);
    assert_eq!(o["db_cpu_percent"], 18.0);
    let sources: Vec<&str> = s["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    assert!(
        sources.contains(&"cloudwatch:AWS/RDS/DiskQueueDepth"),
        "{sources:?}"
    );
    assert!(
        sources.contains(&"cloudwatch:AWS/RDS/CPUUtilization"),
        "{sources:?}"
    );
    let m = call("match_symptom", json!({"observations": o})).await;
    assert_ne!(m.is_error, Some(true), "{}", text(&m));
    let ms = m.structured_content.unwrap();
    assert_eq!(ms["matches"][0]["symptom"], "B", "{ms}");
}

// ------------------------------------------------------------------ the CLI and failures

fn cli(args: &[&str], env: &[(&str, String)], remove: &[&str]) -> Output {
    require_servers();
    common::run_binary(args, env, remove)
}

#[tokio::test]
async fn cli_rds_iops_json_and_text() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("cli-gp3");
    create_instance(&c, &id, "gp3", 100, Some(3000), Some(125)).await;
    seed(&c, &id, &io_metrics(1_950.0, 1_000.0, 7.5)).await;
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id, "--json"],
        &[],
        &[],
    );
    let all = output_text(&o);
    assert!(o.status.success(), "{all}");
    assert_no_secret("CLI output with RUST_LOG=debug", &all);
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["status"], "saturated");
    let o = cli(&["rds-iops", "--db-instance-identifier", &id], &[], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Rerun the reads:")
            && out.contains("--metric-name ReadIOPS")
            && out.contains("2 more aws CLI commands"),
        "{out}"
    );
}

#[test]
fn no_credentials_and_no_region_are_clear_errors() {
    if !AWS.ready() {
        return;
    }
    let id = unique("any");
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id],
        &[],
        &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"],
    );
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("no AWS credentials found"), "{all}");
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id],
        &[],
        &["AWS_REGION"],
    );
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("no AWS region"), "{all}");
    assert_no_secret("no-region error", &all);
}

/// A loopback HTTP server that answers every request with one canned response, counting them.
fn canned(
    status: &'static str,
    content_type: &'static str,
    body: String,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(50) {
            let Ok(mut s) = stream else { continue };
            counter.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 65536];
            let _ = s.read(&mut buf);
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(response.as_bytes());
        }
    });
    (format!("http://{addr}"), hits)
}

fn rds_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>pwt-test</RequestId></ErrorResponse>"
    )
}

#[tokio::test]
async fn describe_denied_falls_back_to_the_callers_overrides() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("denied");
    seed(&c, &id, &io_metrics(1_950.0, 1_000.0, 0.4)).await;
    let (rds, hits) = canned(
        "403 Forbidden",
        "text/xml",
        rds_error(
            "AccessDenied",
            "User is not authorized to perform: rds:DescribeDBInstances",
        ),
    );
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id, "--json"],
        &[("AWS_ENDPOINT_URL_RDS", rds.clone())],
        &[],
    );
    let all = output_text(&o);
    assert!(o.status.success(), "{all}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "unknown", "{v}");
    assert!(
        v["verdict"].as_str().unwrap().contains("provisioned_iops"),
        "{v}"
    );
    assert!(hits.load(Ordering::SeqCst) >= 1);
    let o = cli(
        &[
            "rds-iops",
            "--db-instance-identifier",
            &id,
            "--json",
            "--provisioned-iops",
            "3000",
            "--storage-type",
            "gp3",
            "--allocated-storage-gib",
            "100",
        ],
        &[("AWS_ENDPOINT_URL_RDS", rds)],
        &[],
    );
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", output_text(&o)));
    assert_eq!(v["status"], "saturated", "{v}");
    assert_eq!(v["storage"]["source"], "caller");
    assert!(
        v["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("DescribeDBInstances was not allowed")),
        "{v}"
    );
}

#[test]
fn throttling_and_expired_credentials_are_actionable_errors() {
    if !AWS.ready() {
        return;
    }
    let id = unique("throttled");
    let (rds, hits) = canned(
        "400 Bad Request",
        "text/xml",
        rds_error("Throttling", "Rate exceeded"),
    );
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id],
        &[("AWS_ENDPOINT_URL_RDS", rds)],
        &[],
    );
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("throttled") && all.contains("retry"), "{all}");
    let n = hits.load(Ordering::SeqCst);
    assert!((2..=3).contains(&n), "bounded retries: {n} attempts");
    assert_no_secret("throttling error", &all);

    let (rds, _) = canned(
        "400 Bad Request",
        "text/xml",
        rds_error(
            "ExpiredToken",
            "The security token included in the request is expired",
        ),
    );
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id],
        &[("AWS_ENDPOINT_URL_RDS", rds)],
        &[],
    );
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(
        all.contains("expired") && all.contains("aws sso login"),
        "{all}"
    );
    assert_no_secret("expired-token error", &all);
}

#[tokio::test]
async fn a_silent_endpoint_times_out_instead_of_hanging() {
    if !AWS.ready() {
        return;
    }
    let c = clients().await;
    let id = unique("silent");
    create_instance(&c, &id, "gp3", 100, None, None).await;
    // Accepts connections and never answers.
    static HELD: OnceLock<std::sync::Mutex<Vec<std::net::TcpStream>>> = OnceLock::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().take(20).flatten() {
            HELD.get_or_init(Default::default).lock().unwrap().push(s);
        }
    });
    let started = Instant::now();
    let o = cli(
        &["rds-iops", "--db-instance-identifier", &id],
        &[("AWS_ENDPOINT_URL_CLOUDWATCH", format!("http://{addr}"))],
        &[],
    );
    let elapsed = started.elapsed();
    let all = output_text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("did not answer in time"), "{all}");
    assert!(elapsed < Duration::from_secs(65), "took {elapsed:?}");
}
