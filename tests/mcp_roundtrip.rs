//! In-process MCP round trip: a real rmcp client talks to the server over an in-memory
//! duplex pipe, and the tool and prompt schemas are compared with the snapshots in
//! `tests/snapshots/` so that a dependency upgrade that changes them shows up in review.
//!
//! To accept an intended schema change: `UPDATE_SNAPSHOTS=1 cargo test --test mcp_roundtrip`.

mod mcp_client;

use mcp_client::{Client, connect, text};
use std::path::PathBuf;

use rmcp::{
    RoleClient,
    model::{CallToolRequestParams, CallToolResult, GetPromptRequestParams, JsonObject},
    service::RunningService,
};
use serde_json::{Value, json};

fn args(v: Value) -> JsonObject {
    v.as_object().expect("object").clone()
}

async fn call(
    client: &RunningService<RoleClient, Client>,
    tool: &'static str,
    arguments: Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error where a tool result was expected: {e}"))
}

#[tokio::test]
async fn initialize_announces_our_name_and_the_order() {
    let client = connect().await;
    let info = client.peer_info().expect("server info");
    let implementation = info.server_info.as_ref().expect("serverInfo");
    assert_eq!(implementation.name, "python-web-troubleshooter");
    assert_eq!(implementation.version, env!("CARGO_PKG_VERSION"));
    let instructions = info.instructions.as_deref().unwrap_or_default();
    assert!(instructions.contains("latency is what actually determines capacity"));
    assert!(instructions.contains("break_down_latency"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn every_tool_is_read_only_with_both_schemas() {
    let client = connect().await;
    let tools = client.list_all_tools().await.unwrap();
    let mut names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "break_down_latency",
            "capacity_math",
            "check_rds_iops",
            "match_symptom",
            "slow_queries"
        ]
    );
    for tool in &tools {
        let annotations = tool.annotations.as_ref().expect("annotations");
        assert_eq!(annotations.read_only_hint, Some(true), "{}", tool.name);
        assert_eq!(annotations.destructive_hint, Some(false), "{}", tool.name);
        // Tools that reach a database or AWS say so; the pure ones do not.
        let reaches_out = matches!(
            tool.name.as_ref(),
            "check_rds_iops" | "break_down_latency" | "slow_queries"
        );
        assert_eq!(
            annotations.open_world_hint,
            Some(reaches_out),
            "{} openWorldHint",
            tool.name
        );
        assert!(
            tool.output_schema.is_some(),
            "{} has no outputSchema",
            tool.name
        );
        assert!(
            tool.description.as_deref().unwrap_or_default().len() > 200,
            "{} description too thin",
            tool.name
        );
    }
    client.cancel().await.unwrap();
}

/// The formats JSON Schema 2020-12 defines. schemars' `uint64`, `int64`, `double`… are not
/// among them: the TypeScript SDK's validator warns about each on every tools/list, and strict
/// model APIs (Gemini) refuse them.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

fn non_standard_formats(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(format)) = map.get("format")
                && !STANDARD_FORMATS.contains(&format.as_str())
            {
                found.push(format!("{path}: {format}"));
            }
            for (key, v) in map {
                non_standard_formats(v, &format!("{path}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                non_standard_formats(v, &format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_uses_standard_formats_and_bounds_unsigned_integers() {
    let client = connect().await;
    let tools = client.list_all_tools().await.unwrap();
    let mut found = Vec::new();
    for tool in &tools {
        let input = Value::Object((*tool.input_schema).clone());
        non_standard_formats(&input, &format!("{} inputSchema#", tool.name), &mut found);
        let output = Value::Object((**tool.output_schema.as_ref().expect("outputSchema")).clone());
        non_standard_formats(&output, &format!("{} outputSchema#", tool.name), &mut found);
    }
    assert!(
        found.is_empty(),
        "{} non-standard formats:\n{}",
        found.len(),
        found.join("\n")
    );

    // What the formats said is now said with bounds: u16, u32, u64/usize, and a declared range.
    let schema = |name: &str| {
        let tool = tools.iter().find(|t| t.name == name).expect(name);
        (
            Value::Object((*tool.input_schema).clone()),
            Value::Object((**tool.output_schema.as_ref().unwrap()).clone()),
        )
    };
    let (latency_in, latency_out) = schema("break_down_latency");
    let bounds = |v: &Value| {
        (
            v["type"].clone(),
            v["minimum"].clone(),
            v["maximum"].clone(),
        )
    };
    assert_eq!(
        bounds(&latency_in["properties"]["listen_port"]),
        (json!("integer"), json!(0), json!(65535))
    );
    assert_eq!(
        bounds(&latency_in["properties"]["samples"]),
        (json!("integer"), json!(0), json!(4294967295u32))
    );
    assert_eq!(
        bounds(&latency_out["$defs"]["QueueReport"]["properties"]["nonzero_samples"]),
        (json!("integer"), json!(0), Value::Null)
    );
    let (capacity_in, _) = schema("capacity_math");
    assert_eq!(
        bounds(&capacity_in["properties"]["replicas"]),
        (json!("integer"), json!(1), json!(100000))
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn capacity_math_seed_numbers_over_mcp() {
    let client = connect().await;
    let r = call(&client, "capacity_math", json!({"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000, "target_latency_ms": 1000, "cpu_cores": 4})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let s = r.structured_content.as_ref().expect("structured content");
    assert_eq!(s["total_workers"], 128);
    assert_eq!(s["throughput_ceiling_rps"], 32.0);
    assert_eq!(s["what_if"][0]["gain"], 4.0);
    assert_eq!(s["what_if"][1]["gain"], 2.0);
    assert_eq!(s["recommended_workers_per_replica"]["workers"], 9);
    assert!(s["verdict"].as_str().unwrap().contains("32 rps"));
    assert!(
        text(&r).contains("Little's law"),
        "text summary missing: {}",
        text(&r)
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn latency_observations_round_trip_into_match_symptom() {
    let client = connect().await;
    let r = call(
        &client,
        "break_down_latency",
        json!({
            "figures": {"nginx": {"request_time_ms": 2000, "upstream_response_time_ms": 1950},
                        "app": {"request_duration_ms": 1900}, "db": {"query_latency_ms": 1500, "cpu_percent": 30},
                        "gunicorn": {"busy_workers": 8, "idle_workers": 0}},
            "endpoints": [{"endpoint": "GET /a", "requests": 100, "p50_ms": 1500, "p99_ms": 4000}]
        }),
    )
    .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let s = r.structured_content.unwrap();
    assert_eq!(s["dominant_layer"], "db");
    let observations = s["observations"].clone();
    assert_eq!(observations["workers_busy_percent"], 100.0);
    let m = call(
        &client,
        "match_symptom",
        json!({"observations": observations}),
    )
    .await;
    assert_ne!(m.is_error, Some(true), "{}", text(&m));
    let ms = m.structured_content.unwrap();
    assert_eq!(ms["matches"][0]["symptom"], "F");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_and_the_session_survives() {
    let client = connect().await;
    let cases = [
        (
            "capacity_math",
            json!({"replicas": -1, "workers_per_replica": 4, "avg_latency_ms": 4000}),
            "replicas",
        ),
        (
            "capacity_math",
            json!({"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 0}),
            "avg_latency_ms",
        ),
        (
            "capacity_math",
            json!({"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": "NaN"}),
            "avg_latency_ms",
        ),
        (
            "capacity_math",
            json!({"replicas": "four", "workers_per_replica": 4, "avg_latency_ms": 1}),
            "replicas",
        ),
        (
            "capacity_math",
            json!({"replicas": 1e300, "workers_per_replica": 4, "avg_latency_ms": 1}),
            "replicas",
        ),
        (
            "capacity_math",
            json!({"replicas": 1, "workers_per_replica": 4, "avg_latency_ms": 1, "workload": "quantum"}),
            "workload",
        ),
        (
            "capacity_math",
            json!({"workers_per_replica": 4, "avg_latency_ms": 1}),
            "replicas",
        ),
        (
            "match_symptom",
            json!({"observations": {"latency_pattern": "sideways"}}),
            "latency_pattern",
        ),
        (
            "match_symptom",
            json!({"observations": {"workers_busy_percent": 250}}),
            "workers_busy_percent",
        ),
        (
            "match_symptom",
            json!({"observations": "busy"}),
            "observations",
        ),
        (
            "break_down_latency",
            json!({"figures": {"nginx": {"request_time_ms": -1}}}),
            "request_time_ms",
        ),
        (
            "break_down_latency",
            json!({"figures": {"nginx": {"request_time": 5}}}),
            "request_time",
        ),
        (
            "break_down_latency",
            json!({"rds_instance": {"db_instance_identifier": "db.with.dots"}}),
            "rds_instance.db_instance_identifier",
        ),
        ("check_rds_iops", json!({}), "db_instance_identifier"),
        (
            "check_rds_iops",
            json!({"db_instance_identifier": "arn:aws:rds:us-east-1:1:db:x"}),
            "db_instance_identifier",
        ),
        (
            "check_rds_iops",
            json!({"db_instance_identifier": "orders-db", "period_seconds": 90}),
            "period_seconds",
        ),
        (
            "check_rds_iops",
            json!({"db_instance_identifier": "orders-db", "window_minutes": -5}),
            "window_minutes",
        ),
        (
            "check_rds_iops",
            json!({"db_instance_identifier": "orders-db", "provisioned_iops": "NaN"}),
            "provisioned_iops",
        ),
    ];
    for (tool, arguments, field) in cases {
        let r = call(&client, tool, arguments.clone()).await;
        assert_eq!(
            r.is_error,
            Some(true),
            "{tool} {arguments}: expected a tool error, got {}",
            text(&r)
        );
        assert!(
            text(&r).contains(field),
            "{tool} {arguments}: message does not name `{field}`: {}",
            text(&r)
        );
        assert!(r.structured_content.is_none());
    }
    let ok = call(
        &client,
        "capacity_math",
        json!({"replicas": 1, "workers_per_replica": 1, "avg_latency_ms": 100}),
    )
    .await;
    assert_ne!(ok.is_error, Some(true));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn prompts_are_listed_and_rendered() {
    let client = connect().await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<_> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["troubleshoot", "incident_triage", "capacity_review"]
    );
    let r = client
        .get_prompt(
            GetPromptRequestParams::new("incident_triage").with_arguments(args(
                json!({"transaction": "GET /api/orders/{id}", "time_window": "09:00-09:40 UTC"}),
            )),
        )
        .await
        .unwrap();
    let body = serde_json::to_string(&r.messages).unwrap();
    assert!(
        body.contains("GET /api/orders/{id}") && body.contains("09:00-09:40 UTC"),
        "{body}"
    );
    assert!(!body.contains("{{"), "unreplaced placeholder: {body}");
    let missing = client
        .get_prompt(GetPromptRequestParams::new("capacity_review"))
        .await;
    assert!(
        missing.is_err(),
        "a prompt without its required arguments must be refused"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn schemas_match_the_snapshots() {
    let client = connect().await;
    let mut tools = client.list_all_tools().await.unwrap();
    tools.sort_by(|a, b| a.name.cmp(&b.name));
    let prompts = client.list_all_prompts().await.unwrap();
    let current =
        serde_json::to_string_pretty(&json!({"tools": tools, "prompts": prompts})).unwrap() + "\n";
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools_and_prompts.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
    }
    let saved = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    if saved != current {
        let first = saved
            .lines()
            .zip(current.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "tools/prompts schema changed (first difference at line {}):\n  saved:   {}\n  current: {}\nReview it, then run UPDATE_SNAPSHOTS=1 cargo test --test mcp_roundtrip",
            first + 1,
            saved.lines().nth(first).unwrap_or(""),
            current.lines().nth(first).unwrap_or("")
        );
    }
    client.cancel().await.unwrap();
}

/// What a model is shown of the tools (name, description, input schema) stays within about
/// 3,000 tokens for all of them together.
#[tokio::test]
async fn the_tool_list_the_model_reads_fits_its_budget() {
    const BUDGET: usize = 12_000;
    let client = connect().await;
    let tools = client.list_all_tools().await.unwrap();
    let mut sizes = Vec::new();
    for t in &tools {
        let shown =
            json!({"name": t.name, "description": t.description, "inputSchema": t.input_schema});
        sizes.push((
            t.name.to_string(),
            serde_json::to_string(&shown).unwrap().len(),
        ));
        // The output schema stays whole: clients validate structured content with it.
        let output = t.output_schema.as_ref().expect("an output schema");
        assert!(output.contains_key("properties"), "{}", t.name);
    }
    let total: usize = sizes.iter().map(|(_, n)| n).sum();
    assert!(
        total <= BUDGET,
        "the model-facing tool list is {total} characters (budget {BUDGET}): {sizes:?}"
    );
    client.cancel().await.unwrap();
}

/// A typical call's text is the summary, at most about 4,000 characters; the whole result
/// is in structuredContent, and `detail: full` adds it as JSON text.
#[tokio::test]
async fn typical_results_are_a_lean_summary_and_full_detail_adds_the_json() {
    const TEXT_BUDGET: usize = 4_000;
    let client = connect().await;
    let typical = [
        (
            "capacity_math",
            json!({"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000, "arrival_rps": 30, "cpu_cores": 2, "memory_limit_mb": 2048, "worker_rss_mb": 300, "db_max_connections": 500}),
        ),
        (
            "match_symptom",
            json!({"observations": {"latency_pattern": "system_wide", "workers_busy_percent": 97, "db_cpu_percent": 92, "db_read_percent": 85, "db_latency_rising": true, "recent_changes": ["added_workers"]}}),
        ),
        (
            "break_down_latency",
            json!({
                "figures": {
                    "nginx": {"request_time_ms": 4200, "upstream_response_time_ms": 4100},
                    "app": {"request_duration_ms": 3900, "queue_wait_ms": 150, "external_calls_ms": 200},
                    "db": {"query_latency_ms": 3300, "cpu_percent": 92},
                    "gunicorn": {"busy_workers": 126, "idle_workers": 2}
                },
                "endpoints": [
                    {"endpoint": "GET /api/orders/{id}", "requests": 52000, "p50_ms": 2400, "p99_ms": 9800},
                    {"endpoint": "GET /api/products", "requests": 31000, "p50_ms": 2100, "p99_ms": 8700},
                    {"endpoint": "POST /api/cart", "requests": 12000, "p50_ms": 2600, "p99_ms": 9900},
                    {"endpoint": "GET /health", "requests": 9000, "p50_ms": 3, "p99_ms": 12}
                ]
            }),
        ),
    ];
    for (tool, arguments) in typical {
        let r = call(&client, tool, arguments.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool}: {}", text(&r));
        assert_eq!(r.content.len(), 1, "{tool}: the text is the summary alone");
        let summary = text(&r);
        assert!(
            summary.len() <= TEXT_BUDGET,
            "{tool}: the summary is {} characters (budget {TEXT_BUDGET}):\n{summary}",
            summary.len()
        );
        let structured = r.structured_content.clone().expect("structured content");
        let mut full = arguments.as_object().unwrap().clone();
        full.insert("detail".into(), json!("full"));
        let f = call(&client, tool, Value::Object(full)).await;
        assert_eq!(f.content.len(), 2, "{tool}: detail full adds the JSON text");
        let json_text = f.content[1].as_text().expect("text").text.clone();
        let parsed: Value = serde_json::from_str(&json_text).expect("the second block is JSON");
        assert_eq!(
            parsed, structured,
            "{tool}: the JSON text is the structured content"
        );
    }
    let bad = call(&client, "capacity_math", json!({"replicas": 1, "workers_per_replica": 1, "avg_latency_ms": 10, "detail": "everything"})).await;
    assert_eq!(bad.is_error, Some(true));
    assert!(text(&bad).contains("`detail`"), "{}", text(&bad));
    client.cancel().await.unwrap();
}
