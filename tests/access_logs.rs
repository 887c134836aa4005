//! Access logs end to end: real-world formats from `tests/data/` read through the adapter
//! and the core, and break_down_latency over MCP reading them (an in-process rmcp client).

mod mcp_client;

use mcp_client::{Client, connect, text};
use std::io::Write;
use std::path::{Path, PathBuf};

use python_web_troubleshooter::diagnosis::access_log::LogOptions;
use python_web_troubleshooter::diagnosis::latency::{self, LatencyInput, Measured};
use python_web_troubleshooter::diagnosis::nginx_format::LogFormat;
use python_web_troubleshooter::progress::Progress;
use python_web_troubleshooter::sources::nginx_log;
use python_web_troubleshooter::sources::reach::{Mode, Reach, ReachSettings};
use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, CallToolResult},
    service::RunningService,
};
use serde_json::{Value, json};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(
    files: &[PathBuf],
    format: &str,
) -> python_web_troubleshooter::diagnosis::access_log::AccessLogData {
    let format = LogFormat::compile(format).expect("format compiles");
    nginx_log::read(
        files,
        &format,
        &LogOptions::default(),
        2,
        "access_log.path",
        &Progress::none().lane(),
    )
    .expect("read")
}

fn endpoint<'a>(
    d: &'a python_web_troubleshooter::diagnosis::access_log::AccessLogData,
    name: &str,
) -> &'a python_web_troubleshooter::diagnosis::access_log::RouteFigures {
    d.endpoints
        .iter()
        .find(|e| e.endpoint == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", d.endpoints))
}

#[test]
fn combined_log_with_a_tls_probe_and_a_foreign_line() {
    let d = read(&[data("nginx-combined.log")], "combined");
    assert_eq!((d.lines, d.parsed, d.unparsed), (7, 6, 1));
    let (file, err) = d
        .first_error
        .as_ref()
        .expect("the foreign line is reported");
    assert!(file.ends_with("nginx-combined.log"));
    assert_eq!(err.line, 6);
    assert_eq!(endpoint(&d, "GET /api/orders/{id}").requests, 2);
    assert_eq!(endpoint(&d, "GET /api/orders/{id}").errors, 1);
    assert_eq!(endpoint(&d, "(invalid request line)").requests, 1);
    assert_eq!(endpoint(&d, "GET /api/users/{uuid}/cart").requests, 1);
    // combined has no timings: no latency, no worker time.
    assert!(!d.has_request_time && !d.has_upstream_time);
}

#[test]
fn timed_log_with_retries_redirects_and_dashes() {
    let d = read(&[data("nginx-timed.log")], "timed");
    assert_eq!(d.unparsed, 0);
    assert_eq!(d.sums.multi_upstream, 2);
    let items = endpoint(&d, "GET /api/items/{id}");
    assert_eq!(items.requests, 5);
    // 0.020 + (0.010 + 0.020) + (1.000 + -) + 0.022 + 0.017
    assert_eq!(items.worker_ms, Some(1089));
    assert_eq!(items.errors, 1);
    assert_eq!(items.max_ms, 1003.0);
    assert_eq!(endpoint(&d, "GET /static/app.{hash}.js").worker_ms, Some(0));
    assert_eq!(endpoint(&d, "GET /api/reports/{id}").p99_ms, 2510.0);
}

#[test]
fn json_log_with_escaped_quotes() {
    let format = r#"log_format json_analytics escape=json '{"time":"$time_iso8601","remote_addr":"$remote_addr","method":"$request_method","uri":"$uri","status":$status,"request_time":$request_time,"upstream_connect_time":"$upstream_connect_time","upstream_response_time":"$upstream_response_time","ua":"$http_user_agent"}';"#;
    let d = read(&[data("nginx-json.log")], format);
    assert_eq!((d.parsed, d.unparsed), (3, 0));
    let items = endpoint(&d, "GET /api/items/{id}");
    assert_eq!(
        (items.requests, items.errors, items.worker_ms),
        (2, 1, Some(140))
    );
    assert_eq!(endpoint(&d, "DELETE /api/carts/{hash}").requests, 1);
    assert_eq!(d.first_ts, Some(1_709_283_600));
}

#[test]
fn kubernetes_ingress_nginx_format_with_unquoted_lists() {
    let format = r#"log_format upstreaminfo '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id';"#;
    let d = read(&[data("nginx-ingress.log")], format);
    assert_eq!(d.unparsed, 0, "{:?}", d.first_error);
    let orders = endpoint(&d, "GET /api/v1/orders/{id}");
    assert_eq!(orders.worker_ms, Some(450));
    assert_eq!(orders.errors, 0, "the client got the last upstream's 200");
    assert_eq!(endpoint(&d, "POST /api/v1/checkout").errors, 1);
}

#[test]
fn gzip_rotations_are_read_with_the_live_file() {
    let dir = std::env::temp_dir().join(format!("pwt-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("nginx-timed.log"), dir.join("access.log")).unwrap();
    let text = std::fs::read(data("nginx-timed.log")).unwrap();
    for n in [1, 2] {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(dir.join(format!("access.log.{n}.gz"))).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&text).unwrap();
        gz.finish().unwrap();
    }
    let reach = Reach::new(
        Mode::Http,
        &ReachSettings {
            log_dirs: vec![dir.display().to_string()],
            ..Default::default()
        },
    )
    .unwrap();
    let files = nginx_log::expand(
        &[format!("{}/access.log*", dir.display())],
        "access_log.path",
        &reach,
    )
    .unwrap();
    assert_eq!(files.len(), 3);
    let d = read(&files, "timed");
    assert_eq!(d.parsed, 21);
    assert_eq!(d.files.iter().filter(|f| f.gzip).count(), 2);
    assert_eq!(endpoint(&d, "GET /api/items/{id}").requests, 15);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_wrong_format_is_an_error_through_the_core_with_the_line_and_byte() {
    // Every line fails: the report says so (the tool turns that into an error, below).
    let d = read(&[data("nginx-combined.log")], "timed");
    assert_eq!(d.parsed, 0);
    let (_, e) = d.first_error.clone().unwrap();
    assert_eq!(e.line, 1);
    let input = latency::check(LatencyInput::default(), 0).unwrap();
    let r = latency::analyze_measured(
        &input,
        &Measured {
            access_log: Some(("nginx:test".into(), d)),
            ..Default::default()
        },
    );
    let err = r.expect_err("no line matched");
    assert_eq!(err.field, "access_log.log_format");
    assert!(err.message.contains("line 1"), "{err}");
    assert!(err.message.contains("byte"), "{err}");
}

async fn call(client: &RunningService<RoleClient, Client>, arguments: Value) -> CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new("break_down_latency")
                .with_arguments(arguments.as_object().unwrap().clone()),
        )
        .await
        .expect("a tool result")
}

#[tokio::test]
async fn break_down_latency_reads_an_access_log_over_mcp() {
    let client = connect().await;
    let path = data("nginx-timed.log").display().to_string();
    let r = call(
        &client,
        json!({"access_log": {"path": path, "log_format": "timed"}, "slow_threshold_ms": 1500}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let s = r.structured_content.expect("structured content");
    assert_eq!(s["endpoints"][0]["endpoint"], "GET /api/reports/{id}");
    assert_eq!(s["endpoints"][0]["worker_seconds"], 2.5);
    assert_eq!(s["latency_pattern"], "long_tail");
    assert_eq!(s["access_log"]["parsed_lines"], 7);
    assert!(
        s["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"].as_str().unwrap().starts_with("nginx:")),
        "{s}"
    );
    let layers: Vec<&str> = s["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert!(
        layers.contains(&"nginx") && layers.contains(&"app_server"),
        "{layers:?}"
    );
    // The observations go to match_symptom unchanged.
    let m = client
        .call_tool(
            CallToolRequestParams::new("match_symptom").with_arguments(
                json!({"observations": s["observations"]})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap();
    assert_ne!(m.is_error, Some(true), "{}", text(&m));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn endpoint_focuses_the_answer_on_a_sentry_transaction() {
    let client = connect().await;
    let path = data("nginx-timed.log").display().to_string();
    let r = call(
        &client,
        json!({"access_log": {"path": path, "log_format": "timed"}, "endpoint": "GET /api/reports/<int:report_id>/"}),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let s = r.structured_content.clone().expect("structured content");
    assert_eq!(s["focus"]["route"], "GET /api/reports/{id}", "{s}");
    assert_eq!(s["focus"]["stats"]["worker_seconds"], 2.5, "{s}");
    assert!(
        text(&r).contains("Focus GET /api/reports/<int:report_id>/ → GET /api/reports/{id}"),
        "{}",
        text(&r)
    );
    // A typical log-based answer stays a lean summary.
    assert!(
        text(&r).len() <= 4_000,
        "{} characters:\n{}",
        text(&r).len(),
        text(&r)
    );
    let none = call(
        &client,
        json!({"access_log": {"path": path, "log_format": "timed"}, "endpoint": "GET /api/payments/{id}"}),
    )
    .await;
    let s = none.structured_content.clone().expect("structured content");
    assert!(s["focus"].get("route").is_none(), "{s}");
    assert!(
        s["focus"]["note"]
            .as_str()
            .unwrap()
            .contains("no measured route matches"),
        "{s}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_log_sources_are_tool_errors_and_the_session_survives() {
    let client = connect().await;
    let timed = data("nginx-timed.log").display().to_string();
    let combined = data("nginx-combined.log").display().to_string();
    for (args, field, needle) in [
        (
            json!({"access_log": {"path": timed, "log_format": "$request_time$status"}}),
            "access_log.log_format",
            "nothing between them",
        ),
        (
            json!({"access_log": {"path": combined, "log_format": "timed"}}),
            "access_log.log_format",
            "line 1",
        ),
        (
            json!({"access_log": {"path": "/nonexistent/access.log", "log_format": "timed"}}),
            "access_log.path",
            "PWT_LOG_DIRS",
        ),
        (
            json!({"access_log": {"path": timed, "log_format": "timed", "since": "yesterday"}}),
            "access_log.since",
            "RFC 3339",
        ),
        (
            json!({"access_log": {"path": timed, "log_format": "timed", "route_patterns": ["users/{id}"]}}),
            "route_patterns",
            "start with",
        ),
        (
            json!({"gunicorn_metrics_url": "https://127.0.0.1:1/metrics"}),
            "gunicorn_metrics_url",
            "https",
        ),
        (json!({"listen_port": 0}), "listen_port", "1–65535"),
        (json!({"listen_port": 70000}), "listen_port", ""),
        (
            json!({"samples": 100, "listen_port": 8000}),
            "samples",
            "between 1 and 30",
        ),
    ] {
        let r = call(&client, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{args}: {}", text(&r));
        assert!(
            text(&r).contains(field),
            "{args}: no `{field}` in {}",
            text(&r)
        );
        assert!(
            text(&r).contains(needle),
            "{args}: no `{needle}` in {}",
            text(&r)
        );
    }
    let ok = call(
        &client,
        json!({"access_log": {"path": timed, "log_format": "timed"}}),
    )
    .await;
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn break_down_latency_is_read_only_and_open_world() {
    // It reads files, URLs and /proc on the server's host: open world, still read-only.
    let client = connect().await;
    let tools = client.list_all_tools().await.unwrap();
    let tool = tools
        .iter()
        .find(|t| t.name == "break_down_latency")
        .expect("listed");
    let a = tool.annotations.as_ref().expect("annotations");
    assert_eq!(a.read_only_hint, Some(true));
    assert_eq!(a.destructive_hint, Some(false));
    assert_eq!(a.open_world_hint, Some(true));
    let schema = serde_json::to_string(&*tool.input_schema).unwrap();
    for field in [
        "access_log",
        "gunicorn_metrics_url",
        "uwsgi_stats",
        "listen_port",
        "log_format",
    ] {
        assert!(
            schema.contains(field),
            "{field} missing from the input schema"
        );
    }
    assert!(!schema.contains("\"null\""), "nullable types in {schema}");
    client.cancel().await.unwrap();
}
