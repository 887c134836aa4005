//! Every tool in one place: name, description for the model, schemas and annotations.
//!
//! Arguments are taken as a raw JSON object and parsed by [`crate::input`], so that a wrong
//! type or an unknown enum value becomes a tool error naming the field; the advertised
//! `inputSchema` is still generated from the typed input.

use std::sync::Arc;

use rmcp::{
    handler::server::{
        common::{schema_for_input, schema_for_output},
        wrapper::Parameters,
    },
    model::{CallToolResult, JsonObject},
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{Troubleshooter, failure, invalid, success};
use crate::diagnosis::{InputError, capacity, latency, symptoms};
use crate::input;
use crate::render::Summary;
use crate::sources;

const CAPACITY_MATH: &str = "\
Capacity arithmetic for a Gunicorn/uWSGI fleet (Steps 3–4 of the order): the throughput ceiling \
by Little's law (concurrent slots ÷ mean latency), and with arrival_rps the M/M/c (Erlang C) \
queue — utilisation, probability of waiting, mean queue wait — so 'how close to the cliff' is a \
number. Shows the what-if of cutting latency against doubling workers (gain and side effects), \
the recommended workers per replica ((2 × cores) + 1 adjusted for workload, capped by memory and \
DB connections) and the DB connection budget. Use it once you know the mean latency (from \
break_down_latency or nginx logs) and the worker layout; utilisation ≥ 1 is reported as \
'unstable', not as an error. Do not use it to decide WHY latency is high — that is \
break_down_latency and match_symptom.";

const MATCH_SYMPTOM: &str = "\
Matches what has been observed against the decision matrix (A: app concurrency exhausted → add \
replicas; B: queuing with low DB CPU → storage/IOPS; C: DB CPU high, read-heavy → read replica \
after query fixes; D: DB CPU high, write-heavy or locks → fix write path, replicas won't help; E: \
a few slow endpoints → async/buffer; F: everything slow → fix latency, do not add workers). \
Every observation is optional: pass what you know. Returns ranked matches with confidence, the \
evidence for and against, and what is missing (with the tool that measures it), plus death \
spirals (worker accumulation, restart loop) and worker-model traps (threads, gevent, forking). \
With too little evidence it says so and asks for Step 1 measurements. Call it after \
break_down_latency (pass its `observations` unchanged) and again as missing figures arrive.";

const BREAK_DOWN_LATENCY: &str = "\
Step 1 of the order: splits the mean request time into layers — nginx (request − upstream), \
upstream connect, queue wait for a worker, app code, database, external calls — with ms and \
percent of total, the dominant layer, worker utilisation from busy/idle counts, and the \
latency pattern (long_tail vs system_wide vs healthy) from per-endpoint percentiles. Pass the \
figures you already have (nginx $request_time/$upstream_response_time, APM or Sentry \
durations, Gunicorn worker counts, DB time per request), and/or let it read them on the \
server's host: `access_log` {path, log_format: the site's own nginx log_format text or a preset \
(combined, main, timed), since, until} gives per-endpoint requests, p50/p95/p99/max, error \
percent and worker-seconds (capacity consumed) with paths folded into routes like \
`GET /api/orders/{id}`; `gunicorn_metrics_url` (Prometheus gauges) or `uwsgi_stats` give \
busy/idle workers sampled over a few seconds; `listen_port` gives the app server's accept \
queue (requests waiting for a worker) from /proc/net/tcp. Lines that do not match the \
log_format are counted and the first is shown with where it diverged; a format that matches \
nothing is an error. Use it first, before any change to workers or replicas. Its \
`observations` output can be passed to match_symptom unchanged.";

/// The advertised input schema of `T`, with optional fields written as their plain type.
///
/// schemars writes an `Option<f64>` as `"type": ["number", "null"], "default": null`; some
/// clients reject type arrays, and "optional" is already said by leaving the field out of
/// `required`. The parser still accepts an explicit `null` as "not given".
fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("input schema of {}: {e}", std::any::type_name::<T>()));
    let mut schema = Value::Object(schema.as_ref().clone());
    strip_nullable(&mut schema);
    match schema {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("an object stays an object"),
    }
}

fn strip_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type") {
                let rest: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if rest.len() == 1 && rest.len() < types.len() {
                    map.insert("type".into(), rest[0].clone());
                }
            }
            if let Some(Value::Array(any_of)) = map.get("anyOf") {
                let rest: Vec<Value> = any_of
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                    .cloned()
                    .collect();
                if rest.len() == 1 && rest.len() < any_of.len() {
                    let only = rest[0].clone();
                    map.remove("anyOf");
                    if let Value::Object(inner) = only {
                        for (k, v) in inner {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
            }
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            for v in map.values_mut() {
                strip_nullable(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nullable),
        _ => {}
    }
}

/// Parses, runs the core, renders: the shape of every tool call.
fn run<I, R>(
    tool: &str,
    args: JsonObject,
    analyze: impl FnOnce(&I) -> Result<R, InputError>,
) -> CallToolResult
where
    I: DeserializeOwned,
    R: Serialize + Summary,
{
    let started = std::time::Instant::now();
    let result = input::parse::<I>(args).and_then(|input| analyze(&input));
    let out = match result {
        Ok(report) => success(&report),
        Err(err) => invalid(tool, &err),
    };
    tracing::debug!(
        tool,
        elapsed_us = started.elapsed().as_micros() as u64,
        is_error = out.is_error.unwrap_or(false),
        "tool call"
    );
    out
}

/// break_down_latency: reads the sources the arguments name (files, URLs, /proc) on a
/// blocking thread, then runs the core.
async fn run_latency(args: JsonObject) -> CallToolResult {
    const TOOL: &str = "break_down_latency";
    let started = std::time::Instant::now();
    let input = match input::parse::<latency::LatencyInput>(args)
        .and_then(|i| latency::check(&i).map(|_| i))
    {
        Ok(i) => i,
        Err(err) => return invalid(TOOL, &err),
    };
    let out = if sources::wants_sources(&input) {
        let result = tokio::task::spawn_blocking(move || {
            sources::gather_latency(&input).and_then(|m| latency::analyze_measured(&input, &m))
        })
        .await;
        match result {
            Ok(Ok(report)) => success(&report),
            Ok(Err(err)) => invalid(TOOL, &err),
            Err(err) => {
                tracing::error!(%err, "break_down_latency reader failed");
                failure("break_down_latency: internal error while reading the sources")
            }
        }
    } else {
        match latency::analyze(&input) {
            Ok(report) => success(&report),
            Err(err) => invalid(TOOL, &err),
        }
    };
    tracing::debug!(
        tool = TOOL,
        elapsed_us = started.elapsed().as_micros() as u64,
        is_error = out.is_error.unwrap_or(false),
        "tool call"
    );
    out
}

impl Troubleshooter {
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_router(router = tool_router)]
impl Troubleshooter {
    #[tool(
        name = "capacity_math",
        description = CAPACITY_MATH,
        input_schema = input_schema::<capacity::CapacityInput>(),
        output_schema = schema_for_output::<capacity::CapacityReport>(),
        annotations(title = "Capacity math (Little's law, Erlang C, what-if)", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn capacity_math(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        run("capacity_math", args, capacity::analyze)
    }

    #[tool(
        name = "match_symptom",
        description = MATCH_SYMPTOM,
        input_schema = input_schema::<symptoms::MatchInput>(),
        output_schema = schema_for_output::<symptoms::MatchReport>(),
        annotations(title = "Match the symptom (A–F) and death spirals", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn match_symptom(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        run("match_symptom", args, symptoms::analyze)
    }

    #[tool(
        name = "break_down_latency",
        description = BREAK_DOWN_LATENCY,
        input_schema = input_schema::<latency::LatencyInput>(),
        output_schema = schema_for_output::<latency::LatencyReport>(),
        annotations(title = "Break latency down by layer", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn break_down_latency(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        // Open world: with access_log, gunicorn_metrics_url, uwsgi_stats or listen_port it
        // reads files, URLs and /proc on the server's host, and the answer changes as they do.
        run_latency(args).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn optional_fields_lose_their_null_type() {
        let mut schema = json!({"properties": {
            "a": {"type": ["number", "null"], "default": null, "format": "double"},
            "b": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}], "description": "d"},
            "c": {"type": ["string", "number"]}
        }});
        strip_nullable(&mut schema);
        assert_eq!(
            schema["properties"]["a"],
            json!({"type": "number", "format": "double"})
        );
        assert_eq!(
            schema["properties"]["b"],
            json!({"$ref": "#/$defs/X", "description": "d"})
        );
        assert_eq!(
            schema["properties"]["c"]["type"],
            json!(["string", "number"])
        );
    }

    #[test]
    fn advertised_input_schemas_have_no_null_types() {
        let text =
            serde_json::to_string(&*input_schema::<crate::diagnosis::capacity::CapacityInput>())
                .unwrap();
        assert!(!text.contains("\"null\""), "{text}");
        let text =
            serde_json::to_string(&*input_schema::<crate::diagnosis::symptoms::MatchInput>())
                .unwrap();
        assert!(!text.contains("\"null\""), "{text}");
    }
}
