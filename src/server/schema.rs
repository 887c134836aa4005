//! The schemas every tool advertises: one function for inputs, one for outputs, and the
//! rewrites both apply so that every MCP client and model API accepts them.
//!
//! schemars describes Rust's numeric types with `format` values that are not JSON Schema
//! formats: `uint`, `uint16`, `uint64`, `int64`, `double`, `float`. JSON Schema 2020-12
//! defines a fixed set of formats, all for strings; validators warn on the others (the
//! TypeScript MCP SDK's Ajv logs `unknown format "uint64" ignored` for each one, on every
//! `tools/list`), and strict model APIs refuse them (Gemini's function calling accepts only
//! `int32`/`int64` for integers). [`StandardFormats`] drops every format outside the standard
//! set and says what an integer format meant with `minimum`/`maximum` instead: `u16` becomes
//! `{"type": "integer", "minimum": 0, "maximum": 65535}`. Because it runs on the whole schema,
//! a field added later cannot bring a non-standard format back.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::diagnosis::InputError;
use rmcp::{
    handler::server::common::{schema_for_input, schema_for_output},
    model::JsonObject,
};
use schemars::{
    JsonSchema, Schema,
    transform::{Transform, transform_subschemas},
};
use serde_json::{Number, Value};

/// The formats JSON Schema 2020-12 defines (Validation, section 7.3). Anything else is
/// dropped from the advertised schemas.
pub const STANDARD_FORMATS: &[&str] = &[
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

/// The advertised input schema of `T`: optional fields written as their plain type, and
/// standard formats only.
///
/// schemars writes an `Option<f64>` as `"type": ["number", "null"], "default": null`; some
/// clients reject type arrays, and "optional" is already said by leaving the field out of
/// `required`. The parser still accepts an explicit `null` as "not given".
pub fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    let schema = schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("input schema of {}: {e}", std::any::type_name::<T>()));
    let mut schema = Value::Object(schema.as_ref().clone());
    strip_nullable(&mut schema);
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        properties.insert("detail".into(), Detail::schema());
    }
    lean(&mut schema);
    inline_single_use(&mut schema);
    standard_formats(schema)
}

/// Writes each `$defs` type that is used once in place of its `$ref`: the same schema
/// without the indirection, since a name and a reference cost more than they save when the
/// type is used once. Types used more than once, or by themselves, stay in `$defs`.
fn inline_single_use(schema: &mut Value) {
    const PREFIX: &str = "#/$defs/";
    fn count(v: &Value, uses: &mut BTreeMap<String, usize>) {
        match v {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix(PREFIX))
                {
                    *uses.entry(name.to_owned()).or_default() += 1;
                }
                map.values().for_each(|c| count(c, uses));
            }
            Value::Array(items) => items.iter().for_each(|c| count(c, uses)),
            _ => {}
        }
    }
    fn replace(v: &mut Value, inlined: &BTreeMap<String, Value>) {
        match v {
            Value::Object(map) => {
                let target = map
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix(PREFIX))
                    .and_then(|name| inlined.get(name));
                if let Some(Value::Object(def)) = target {
                    map.remove("$ref");
                    for (k, d) in def {
                        map.entry(k.clone()).or_insert_with(|| d.clone());
                    }
                }
                map.values_mut().for_each(|c| replace(c, inlined));
            }
            Value::Array(items) => items.iter_mut().for_each(|c| replace(c, inlined)),
            _ => {}
        }
    }
    loop {
        let mut uses = BTreeMap::new();
        count(schema, &mut uses);
        let Some(Value::Object(defs)) = schema.get_mut("$defs") else {
            return;
        };
        let once: Vec<String> = defs
            .iter()
            .filter(|(name, def)| {
                let mut own = BTreeMap::new();
                count(def, &mut own);
                uses.get(*name) == Some(&1) && !own.contains_key(*name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        if once.is_empty() {
            break;
        }
        let inlined: BTreeMap<String, Value> = once
            .iter()
            .filter_map(|name| defs.remove(name).map(|d| (name.clone(), d)))
            .collect();
        replace(schema, &inlined);
    }
    if let Value::Object(map) = schema
        && map
            .get("$defs")
            .and_then(Value::as_object)
            .is_some_and(|d| d.is_empty())
    {
        map.remove("$defs");
    }
}

/// The input schema as the model reads it, within the tool list's budget: a field's
/// description is kept (cut to its first sentence) only where its name and type do not say
/// what to pass ([`DESCRIBED`]); an enumeration is a plain `enum` of its values; a type in
/// `$defs` carries no description of its own (the field that uses it has one); and no
/// `title`, `$schema` or list-valued `default`. What a value may be — types, ranges,
/// required fields, scalar defaults, unknown fields refused — is left whole, so a client
/// validates exactly as before. Output schemas are not touched.
fn lean(schema: &mut Value) {
    let Value::Object(map) = schema else {
        return;
    };
    map.remove("$schema");
    map.remove("title");
    if map
        .get("default")
        .is_some_and(|d| d.is_array() || d.is_object())
    {
        map.remove("default");
    }
    if let Some(values) = map
        .get("oneOf")
        .and_then(Value::as_array)
        .and_then(|variants| {
            variants
                .iter()
                .map(|v| v.get("const").filter(|c| c.is_string()).cloned())
                .collect::<Option<Vec<Value>>>()
        })
    {
        map.remove("oneOf");
        map.insert("type".into(), Value::String("string".into()));
        map.insert("enum".into(), Value::Array(values));
    }
    if let Some(Value::Object(fields)) = map.get_mut("properties") {
        for (name, field) in fields.iter_mut() {
            if let Value::Object(f) = field {
                match f.get_mut("description") {
                    Some(Value::String(text)) if DESCRIBED.contains(&name.as_str()) => {
                        *text = first_sentence(text);
                    }
                    _ => {
                        f.remove("description");
                    }
                }
            }
            lean(field);
        }
    }
    if let Some(Value::Object(types)) = map.get_mut("$defs") {
        for t in types.values_mut() {
            if let Value::Object(t) = t {
                t.remove("description");
            }
            lean(t);
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum") {
        // An optional field is left out, not null.
        values.retain(|v| !v.is_null());
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(children)) = map.get_mut(key) {
            children.iter_mut().for_each(lean_nested);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = map.get_mut(key) {
            lean_nested(child);
        }
    }
}

/// A schema inside another (a list's items, a variant): its field says what it is.
fn lean_nested(schema: &mut Value) {
    if let Value::Object(map) = schema {
        map.remove("description");
    }
    lean(schema);
}

/// The input fields whose description the model is shown: where the name and type leave
/// open what to pass (a format, a unit that is not in the name, where the figure comes
/// from). Every other field's name says it.
pub const DESCRIBED: &[&str] = &[
    // break_down_latency
    "log_format",
    "since",
    "gunicorn_metrics_url",
    "uwsgi_stats",
    "listen_port",
    "endpoint",
    "selector",
    "source",
    "name",
    // capacity_math
    "avg_latency_ms",
    "arrival_rps",
    "cpu_cores",
    "db_time_percent",
    // check_rds_iops
    "period_seconds",
    "storage_type",
    // match_symptom
    // slow_queries
    "target",
    "sample_seconds",
    "query_text",
];

/// The text up to the end of its first sentence, on one line.
fn first_sentence(text: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let bytes = flat.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| {
            matches!(bytes[i], b'.' | b';')
                && bytes.get(i + 1).is_none_or(|b| *b == b' ')
                // `e.g.` and `i.e.` do not end a sentence.
                && !flat[..=i].ends_with("e.g.")
                && !flat[..=i].ends_with("i.e.")
        })
        .map_or(flat.len(), |i| i + 1);
    flat[..end].trim_end_matches(';').to_owned()
}

/// How much of a result goes into its text content, an argument every tool takes.
///
/// The text is the summary a person or a model reads first; the whole result is always in
/// `structuredContent`. `full` adds the result as JSON text too, for clients that read only
/// text content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    #[default]
    Summary,
    Full,
}

impl Detail {
    /// Takes `detail` out of the arguments (the tool's own input does not know it).
    pub fn take(args: &mut JsonObject) -> Result<Self, InputError> {
        match args.remove("detail") {
            None => Ok(Self::Summary),
            Some(Value::String(s)) if s == "summary" => Ok(Self::Summary),
            Some(Value::String(s)) if s == "full" => Ok(Self::Full),
            Some(_) => Err(InputError::new(
                "detail",
                "use \"summary\" (the default: the readable summary as text) or \"full\" (the summary and the whole result as JSON text)",
            )),
        }
    }

    fn schema() -> Value {
        serde_json::json!({
            "type": "string",
            "enum": ["summary", "full"],
            "default": "summary",
            "description": "full: also the whole result as JSON text (it is always in structuredContent)"
        })
    }
}

/// The advertised output schema of `T` (what the result serialises to), with standard
/// formats only.
pub fn output_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    standard_formats(Value::Object(schema_for_output::<T>().as_ref().clone()))
}

fn standard_formats(mut schema: Value) -> Arc<JsonObject> {
    let root: &mut Schema = (&mut schema)
        .try_into()
        .expect("a generated schema is an object");
    StandardFormats.transform(root);
    match schema {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("an object stays an object"),
    }
}

/// Drops every `format` outside [`STANDARD_FORMATS`], in the schema and all its subschemas
/// (`properties`, `$defs`, `items`, `anyOf`, …). An integer format's range becomes
/// `minimum`/`maximum`, kept where the schema already says something tighter (a
/// `#[schemars(range(...))]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardFormats;

impl Transform for StandardFormats {
    fn transform(&mut self, schema: &mut Schema) {
        let format = schema
            .get("format")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(format) = format
            && !STANDARD_FORMATS.contains(&format.as_str())
        {
            schema.remove("format");
            let (min, max) = integer_range(&format);
            if let Some(min) = min {
                tighten(schema, "minimum", min, |new, old| new > old);
            }
            if let Some(max) = max {
                tighten(schema, "maximum", max, |new, old| new < old);
            }
        }
        transform_subschemas(self, schema);
    }
}

/// The range schemars means by an integer format, as (minimum, maximum); nothing for other
/// formats. 64-bit and pointer-sized integers get no bound beyond the sign: their limits are
/// past what a JSON number holds exactly, and "at most 18446744073709551615" helps no one.
fn integer_range(format: &str) -> (Option<i64>, Option<i64>) {
    match format {
        "uint8" => (Some(0), Some(i64::from(u8::MAX))),
        "uint16" => (Some(0), Some(i64::from(u16::MAX))),
        "uint32" => (Some(0), Some(i64::from(u32::MAX))),
        "uint64" | "uint128" | "uint" => (Some(0), None),
        "int8" => (Some(i64::from(i8::MIN)), Some(i64::from(i8::MAX))),
        "int16" => (Some(i64::from(i16::MIN)), Some(i64::from(i16::MAX))),
        "int32" => (Some(i64::from(i32::MIN)), Some(i64::from(i32::MAX))),
        _ => (None, None),
    }
}

/// Writes `bound` under `key` unless the schema already holds a value at least as tight
/// (`tighter(bound, existing)` false): a declared `range(min = 1)` stays 1.
fn tighten(schema: &mut Schema, key: &str, bound: i64, tighter: fn(f64, f64) -> bool) {
    let keep = schema
        .get(key)
        .and_then(Value::as_f64)
        .is_some_and(|existing| !tighter(bound as f64, existing));
    if !keep {
        schema.insert(key.to_owned(), Value::Number(Number::from(bound)));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::{capacity, latency, queries, storage, symptoms};
    use serde_json::json;

    fn rewrite(mut schema: Value) -> Value {
        let root: &mut Schema = (&mut schema).try_into().unwrap();
        StandardFormats.transform(root);
        schema
    }

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
    fn integer_formats_become_bounds() {
        let schema = rewrite(json!({
            "type": "object",
            "properties": {
                "port": {"type": "integer", "format": "uint16", "minimum": 0, "maximum": 65535},
                "byte": {"type": "integer", "format": "uint8"},
                "samples": {"type": "integer", "format": "uint32", "minimum": 0},
                "count": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
                "size": {"type": "integer", "format": "uint"},
                "delta": {"type": "integer", "format": "int32"},
                "pid": {"type": "integer", "format": "int64"},
                "ms": {"type": "number", "format": "double"},
                "ratio": {"type": "number", "format": "float"},
                "at": {"type": "string", "format": "date-time"},
                "made_up": {"type": "string", "format": "my-format"}
            }
        }));
        let p = &schema["properties"];
        assert_eq!(
            p["port"],
            json!({"type": "integer", "minimum": 0, "maximum": 65535})
        );
        assert_eq!(
            p["byte"],
            json!({"type": "integer", "minimum": 0, "maximum": 255})
        );
        assert_eq!(
            p["samples"],
            json!({"type": "integer", "minimum": 0, "maximum": 4294967295u32})
        );
        assert_eq!(
            p["count"],
            json!({"type": ["integer", "null"], "minimum": 0})
        );
        assert_eq!(p["size"], json!({"type": "integer", "minimum": 0}));
        assert_eq!(
            p["delta"],
            json!({"type": "integer", "minimum": -2147483648i64, "maximum": 2147483647})
        );
        assert_eq!(p["pid"], json!({"type": "integer"}));
        assert_eq!(p["ms"], json!({"type": "number"}));
        assert_eq!(p["ratio"], json!({"type": "number"}));
        assert_eq!(p["at"], json!({"type": "string", "format": "date-time"}));
        assert_eq!(p["made_up"], json!({"type": "string"}));
    }

    #[test]
    fn a_declared_range_is_kept_when_it_is_tighter() {
        let schema = rewrite(json!({
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "format": "uint32", "minimum": 1, "maximum": 100000},
                "wide": {"type": "integer", "format": "uint16", "minimum": -5, "maximum": 100000}
            }
        }));
        assert_eq!(
            schema["properties"]["replicas"],
            json!({"type": "integer", "minimum": 1, "maximum": 100000})
        );
        assert_eq!(
            schema["properties"]["wide"],
            json!({"type": "integer", "minimum": 0, "maximum": 65535})
        );
    }

    #[test]
    fn nested_subschemas_are_rewritten() {
        let schema = rewrite(json!({
            "type": "object",
            "properties": {
                "pids": {"type": "array", "items": {"type": "integer", "format": "int64"}},
                "either": {"anyOf": [{"type": "integer", "format": "uint16"}, {"type": "null"}]}
            },
            "$defs": {
                "Queue": {"type": "object", "properties": {
                    "nonzero_samples": {"type": "integer", "format": "uint", "minimum": 0}
                }}
            }
        }));
        assert!(!schema.to_string().contains("format"), "{schema}");
        assert_eq!(
            schema["properties"]["either"]["anyOf"][0]["maximum"],
            json!(65535)
        );
    }

    /// Every schema the tools advertise, by the functions the tool table calls.
    fn advertised() -> Vec<(&'static str, Arc<JsonObject>)> {
        vec![
            ("capacity input", input_schema::<capacity::CapacityInput>()),
            (
                "capacity output",
                output_schema::<capacity::CapacityReport>(),
            ),
            ("symptoms input", input_schema::<symptoms::MatchInput>()),
            ("symptoms output", output_schema::<symptoms::MatchReport>()),
            ("latency input", input_schema::<latency::LatencyInput>()),
            ("latency output", output_schema::<latency::LatencyReport>()),
            ("storage input", input_schema::<storage::RdsIopsInput>()),
            ("storage output", output_schema::<storage::StorageReport>()),
            ("queries input", input_schema::<queries::SlowQueriesInput>()),
            (
                "queries output",
                output_schema::<queries::SlowQueriesReport>(),
            ),
        ]
    }

    #[test]
    fn advertised_input_schemas_have_no_null_types() {
        for (name, schema) in advertised() {
            if name.ends_with("input") {
                let text = serde_json::to_string(&*schema).unwrap();
                assert!(!text.contains("\"null\""), "{name}: {text}");
            }
        }
    }

    #[test]
    fn advertised_schemas_use_standard_formats_only() {
        fn formats(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(f)) = map.get("format") {
                        out.push(f.clone());
                    }
                    map.values().for_each(|v| formats(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| formats(v, out)),
                _ => {}
            }
        }
        for (name, schema) in advertised() {
            let mut found = Vec::new();
            formats(&Value::Object((*schema).clone()), &mut found);
            found.retain(|f| !STANDARD_FORMATS.contains(&f.as_str()));
            assert!(found.is_empty(), "{name}: non-standard formats {found:?}");
        }
    }
}
