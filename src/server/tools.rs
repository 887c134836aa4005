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

use super::{Troubleshooter, invalid, success};
use crate::diagnosis::{InputError, capacity, latency, symptoms};
use crate::input;
use crate::render::Summary;

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
latency pattern (long_tail vs system_wide vs healthy) from per-endpoint p50/p99. Pass the \
figures you already have (nginx $request_time/$upstream_response_time, APM or Sentry \
durations, Gunicorn worker counts, DB time per request); inconsistent figures are flagged in \
warnings. Use it first, before any change to workers or replicas. Its `observations` output \
can be passed to match_symptom unchanged.";

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
    // Timing and outcome are logged once per call by `call::run`, for every transport.
    match input::parse::<I>(args).and_then(|input| analyze(&input)) {
        Ok(report) => success(&report),
        Err(err) => invalid(tool, &err),
    }
}

impl Troubleshooter {
    pub fn new() -> Self {
        Self {
            tool_router: Arc::new(Self::tool_router()),
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
        annotations(title = "Break latency down by layer", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn break_down_latency(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        run("break_down_latency", args, latency::analyze)
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
