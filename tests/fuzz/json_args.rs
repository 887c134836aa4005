//! Target: every tool's JSON arguments, through `input::parse` and the pure work behind each
//! tool (no file, URL, port, database or AWS is touched).
//!
//! Arguments are arbitrary JSON (nested objects and arrays, numbers from `-0` to `1e308`
//! and beyond `i64`, strings such as `"NaN"` and any Unicode, keys that are the tools' real
//! argument names or not), and objects generated from each input type's own JSON schema
//! (`schemars::schema_for!`): its real fields, nested ones included, with values mostly of
//! the declared type around the declared bounds, sometimes of another type, sometimes with
//! an unknown field. Every case is given to all five tools:
//! - capacity_math: parse, `capacity::analyze`;
//! - match_symptom: parse, `symptoms::analyze`;
//! - break_down_latency: parse, `latency::check`, the checks its flow runs before reading
//!   (log_format, since/until, route patterns, metrics URL and selectors, RDS instance), and
//!   `latency::analyze` on the same input with its sources removed;
//! - check_rds_iops: parse, `storage::validate`;
//! - slow_queries: parse, `queries::validate`.
//!
//! Each answer must be the same twice, an error must carry a field that names an argument
//! and a message, and a report must serialise, read back, and render a summary.

use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use python_web_troubleshooter::diagnosis::access_log::RouteTemplate;
use python_web_troubleshooter::diagnosis::latency::{LatencyInput, WorkerMetrics};
use python_web_troubleshooter::diagnosis::nginx_format::LogFormat;
use python_web_troubleshooter::diagnosis::{
    InputError, capacity, latency, queries, storage, symptoms, window,
};
use python_web_troubleshooter::error::ErrorKind;
use python_web_troubleshooter::flows;
use python_web_troubleshooter::input;
use python_web_troubleshooter::render::Summary;
use python_web_troubleshooter::sources::reach::Reach;
use python_web_troubleshooter::sources::{fetch, prometheus};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The five tools, by the name of their input type's schema.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tool {
    Capacity,
    Match,
    Latency,
    Storage,
    SlowQueries,
}

const TOOLS: [Tool; 5] = [
    Tool::Capacity,
    Tool::Match,
    Tool::Latency,
    Tool::Storage,
    Tool::SlowQueries,
];

struct Schemas {
    by_tool: Vec<(Tool, Value)>,
    /// Every property name in any of the schemas, nested ones included.
    names: Vec<String>,
}

static SCHEMAS: LazyLock<Schemas> = LazyLock::new(|| {
    let by_tool = vec![
        (
            Tool::Capacity,
            schemars::schema_for!(capacity::CapacityInput).to_value(),
        ),
        (
            Tool::Match,
            schemars::schema_for!(symptoms::MatchInput).to_value(),
        ),
        (
            Tool::Latency,
            schemars::schema_for!(latency::LatencyInput).to_value(),
        ),
        (
            Tool::Storage,
            schemars::schema_for!(storage::RdsIopsInput).to_value(),
        ),
        (
            Tool::SlowQueries,
            schemars::schema_for!(queries::SlowQueriesInput).to_value(),
        ),
    ];
    let mut names = Vec::new();
    for (_, s) in &by_tool {
        collect_names(s, &mut names);
    }
    names.sort();
    names.dedup();
    Schemas { by_tool, names }
});

fn collect_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(props)) = m.get("properties") {
                out.extend(props.keys().cloned());
            }
            m.values().for_each(|v| collect_names(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| collect_names(v, out)),
        _ => {}
    }
}

fn schema(tool: Tool) -> &'static Value {
    &SCHEMAS.by_tool.iter().find(|(t, _)| *t == tool).unwrap().1
}

/// The top-level argument names of `tool`.
fn arguments(tool: Tool) -> Vec<String> {
    schema(tool)["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

// ------------------------------------------------------------------ arbitrary JSON

/// `x` as a JSON value; NaN and the infinities, which JSON cannot hold, as their text.
fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
}

fn interesting_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        2 => any::<f64>(),
        1 => select(&[
            0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, f64::MAX, f64::MIN, 1e15, 1e300,
            9_007_199_254_740_993.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY,
        ][..]),
        2 => -1e6..1e6f64,
    ]
}

fn any_string() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<String>(),
        2 => "[ -~]{0,24}",
        1 => select(&[
            "", " ", "NaN", "nan", "Infinity", "-inf", "1e400", "-1", "0", "null", "true", "{}",
            "[]", "\u{0}", "\u{feff}", "é", "𝄞", "a\"b\\c", "http://", "/",
        ][..])
        .prop_map(str::to_owned),
        1 => "[0-9]{300,400}",
    ]
    .boxed()
}

fn any_key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(SCHEMAS.names.clone()),
        1 => any_string(),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        interesting_f64().prop_map(number),
        any_string().prop_map(Value::String),
    ]
    .boxed()
}

fn any_json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((any_key(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

// ------------------------------------------------------------------ schema-driven JSON

/// Plausible text for a string argument, by its name; arbitrary text for the rest.
fn string_for(name: &str) -> BoxedStrategy<String> {
    let specific: Option<BoxedStrategy<String>> = match name {
        "log_format" => Some(crate::log_format::spec()),
        "since" | "until" => Some(
            prop_oneof![
                "[0-9]{1,12} ?(s|sec|m|min|h|d|w|y)?( ago)?",
                select(&[
                    "2024-05-01T12:00:00Z",
                    "2024-05-01T12:00:00.123+02:00",
                    "2024-02-30T25:61:61Z",
                    "10/Oct/2023:13:55:36 +0000",
                    "99999999999999999999d",
                    "3650d",
                    "315360001s",
                ][..])
                .prop_map(str::to_owned),
            ]
            .boxed(),
        ),
        "path" => Some("(/var/log/nginx/)?[a-z.*/]{0,16}".boxed()),
        "route_patterns" => Some("(/([a-z]{1,6}|\\{[a-z]{0,4}\\}|\\{\\*[a-z]{0,4}\\}|[a-z{}*]{1,4})){0,4}/?".boxed()),
        "busy" | "idle" | "total" | "queue" => Some(
            prop_oneof![
                "(count:)?[a-z_]{1,12}(\\{[a-z]{1,6}=\"[a-z]{0,6}\"(,[a-z]{1,6}=\"[a-z]{0,6}\")?\\})?",
                "[a-z_{}=\",: ]{0,20}",
            ]
            .boxed(),
        ),
        "gunicorn_metrics_url" => Some(
            "(http|https)://([a-z]{1,5}(:[a-z0-9]{0,10})?@)?(127\\.0\\.0\\.1|[a-z]{1,8})?(:[0-9]{1,5})?(/[a-z@]{0,8})?".boxed(),
        ),
        "uwsgi_stats" => Some("(127\\.0\\.0\\.1:[0-9]{1,5}|/run/[a-z]{1,8}\\.sock)".boxed()),
        "db_instance_identifier" => Some("[a-zA-Z][a-zA-Z0-9-]{0,70}|[ -~]{0,8}".boxed()),
        "region" => Some("[a-z0-9-]{0,34}".boxed()),
        "profile" => Some("[a-zA-Z0-9_.@+-]{0,66}".boxed()),
        "target" => Some("[a-zA-Z0-9_.:/@-]{0,70}".boxed()),
        "storage_type" => Some(
            select(&["gp2", "gp3", "io1", "io2", "standard", "magnetic", "GP3", ""][..])
                .prop_map(str::to_owned)
                .boxed(),
        ),
        "endpoint" => Some(
            prop_oneof![
                8 => "(GET|POST|PUT) /[a-z{}/]{0,12}",
                1 => "[ \t]{0,3}",
            ]
            .boxed(),
        ),
        _ => None,
    };
    match specific {
        Some(s) => prop_oneof![4 => s, 1 => any_string()].boxed(),
        None => any_string(),
    }
}

/// How far generated values stray from the schema: `Mild` keeps to the declared types and
/// plausible ranges with an edge value now and then, so that cases reach the analyses;
/// `Wild` strays often (out of range, wrong type, unknown fields).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Mild,
    Wild,
}

/// Extreme integers: beyond `i64`, at the top of `u64`, past 2^53.
const HUGE: [u64; 5] = [
    u64::MAX,
    1 << 63,
    (1 << 63) + 1,
    u64::MAX / 3,
    (1 << 53) + 1,
];

fn integer_for(s: &Value, mode: Mode) -> BoxedStrategy<Value> {
    let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(0);
    let max = s
        .get("maximum")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX)
        .max(min);
    let edges = select(vec![
        min.saturating_sub(1),
        min,
        max,
        max.saturating_add(1),
        0,
        -1,
        1,
    ])
    .prop_map(Value::from);
    let huge = select(&HUGE[..]).prop_map(Value::from);
    match mode {
        Mode::Mild => {
            // Counts held in a u64 (requests) are where sums can overflow: try them high.
            let huge_weight = if s.get("format").and_then(Value::as_str) == Some("uint64") {
                3
            } else {
                1
            };
            prop_oneof![
                8 => (min..=max.min(min.saturating_add(64))).prop_map(Value::from),
                4 => (min..=max.min(100_000)).prop_map(Value::from),
                2 => select(&[20, 25, 60, 120, 300, 900, 1000, 3600, 86_400][..]).prop_map(Value::from),
                1 => edges,
                huge_weight => huge,
            ]
            .boxed()
        }
        Mode::Wild => prop_oneof![
            3 => (min..=max).prop_map(Value::from),
            2 => edges,
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<u64>().prop_map(Value::from),
            1 => huge,
            1 => interesting_f64().prop_map(number),
        ]
        .boxed(),
    }
}

fn number_for(name: &str, mode: Mode) -> BoxedStrategy<Value> {
    let edges = select(
        &[
            0.0,
            -0.0,
            -1.0,
            0.1,
            1.0,
            99.9,
            100.0,
            100.1,
            1e6,
            1e7,
            86_400_000.0,
            86_400_000.1,
            1e9,
            1e15,
            1e300,
        ][..],
    )
    .prop_map(number);
    match mode {
        Mode::Mild => {
            let (lo, hi) = if name.ends_with("percent") {
                (0.0, 100.0)
            } else if name == "cpu_cores" || name == "queries_per_request" {
                (0.1, 64.0)
            } else if name == "sample_seconds" {
                (1.0, 60.0)
            } else if name == "p50_ms" {
                // Below most p99s, so that endpoints pass their p99 ≥ p50 check.
                (0.0, 200.0)
            } else {
                (0.001, 5000.0)
            };
            prop_oneof![12 => (lo..=hi).prop_map(number), 1 => edges].boxed()
        }
        Mode::Wild => prop_oneof![
            2 => (0.0..100.0f64).prop_map(number),
            2 => (0.0..5000.0f64).prop_map(number),
            2 => edges,
            1 => interesting_f64().prop_map(number),
            1 => any::<i64>().prop_map(Value::from),
        ]
        .boxed(),
    }
}

fn object_for(s: &Value, root: &Value, depth: u32, mode: Mode) -> BoxedStrategy<Value> {
    let required: Vec<&str> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let (with_required, with_optional, with_unknown) = match mode {
        Mode::Mild => (1.0, 0.5, 0.0),
        Mode::Wild => (0.95, 0.5, 0.05),
    };
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = s
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(k, sub)| {
                    let weight = if required.contains(&k.as_str()) {
                        with_required
                    } else {
                        with_optional
                    };
                    let key = k.clone();
                    let value = from_schema(sub, root, k, depth + 1, mode)
                        .prop_map(move |v| (key.clone(), v));
                    if weight >= 1.0 {
                        value.prop_map(Some).boxed()
                    } else {
                        prop::option::weighted(weight, value).boxed()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let unknown = if with_unknown > 0.0 {
        prop::option::weighted(with_unknown, (any_key(), leaf())).boxed()
    } else {
        Just(None).boxed()
    };
    (fields, unknown)
        .prop_map(|(fields, unknown)| {
            let mut m: Map<String, Value> = fields.into_iter().flatten().collect();
            if let Some((k, v)) = unknown {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// Values for schema `s` (resolving `$ref` against `root`), named `name` in its parent.
fn from_schema(
    s: &Value,
    root: &Value,
    name: &str,
    depth: u32,
    mode: Mode,
) -> BoxedStrategy<Value> {
    if depth > 8 {
        return leaf();
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/$defs/")
            .and_then(|n| root.get("$defs")?.get(n));
        return match target {
            Some(t) => from_schema(t, root, name, depth + 1, mode),
            None => leaf(),
        };
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = s.get(key) {
            let alts: Vec<_> = alts
                .iter()
                .map(|a| from_schema(a, root, name, depth + 1, mode))
                .collect();
            return Union::new(alts).boxed();
        }
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        return match mode {
            Mode::Mild => select(values.clone()).boxed(),
            Mode::Wild => prop_oneof![
                9 => select(values.clone()),
                1 => string_for(name).prop_map(Value::String),
            ]
            .boxed(),
        };
    }
    if let Some(c) = s.get("const") {
        return Just(c.clone()).boxed();
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.is_empty() {
        return any_json();
    }
    let typed: Vec<BoxedStrategy<Value>> = types
        .iter()
        .map(|t| match *t {
            "object" => object_for(s, root, depth, mode),
            "array" => {
                let items = s
                    .get("items")
                    .map_or_else(leaf, |i| from_schema(i, root, name, depth + 1, mode));
                prop::collection::vec(items, 0..5)
                    .prop_map(Value::Array)
                    .boxed()
            }
            "string" => string_for(name).prop_map(Value::String).boxed(),
            "integer" => integer_for(s, mode),
            "number" => number_for(name, mode),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "null" => Just(Value::Null).boxed(),
            _ => leaf(),
        })
        .collect();
    match mode {
        Mode::Mild => Union::new(typed).boxed(),
        // One value in twelve is of a random type, where the schema says otherwise.
        Mode::Wild => prop_oneof![11 => Union::new(typed), 1 => leaf()].boxed(),
    }
}

fn case() -> impl Strategy<Value = Value> {
    let structured = |mode: Mode| -> Vec<BoxedStrategy<Value>> {
        TOOLS
            .iter()
            .map(|t| {
                let root = schema(*t);
                from_schema(root, root, "arguments", 0, mode)
            })
            .collect()
    };
    prop_oneof![
        4 => Union::new(structured(Mode::Mild)),
        3 => Union::new(structured(Mode::Wild)),
        2 => prop::collection::vec((any_key(), any_json()), 0..8)
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        1 => any_json(),
    ]
}

// ------------------------------------------------------------------ checks

fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, InputError> {
    match v {
        Value::Object(m) => input::parse::<T>(m.clone()),
        other => input::parse_value::<T>(other.clone()),
    }
}

/// An error must say something and name an argument: one of the tool's, one given, or
/// `arguments` for the whole object.
fn check_error(tool: Tool, err: &InputError, args: &Value) -> Result<(), TestCaseError> {
    prop_assert!(
        !err.field.trim().is_empty(),
        "{:?}: empty field: {}",
        tool,
        err
    );
    prop_assert!(
        !err.message.trim().is_empty(),
        "{:?}: empty message: {}",
        tool,
        err
    );
    // Tools are always called with an object; other values (a file's content) are only
    // checked for a field at all, since serde reads a struct from an array by position.
    let Some(given) = args.as_object() else {
        return Ok(());
    };
    let named = err.field == "arguments"
        || arguments(tool).iter().chain(given.keys()).any(|k| {
            err.field == *k
                || err.field.starts_with(&format!("{k}."))
                || err.field.starts_with(&format!("{k}["))
        });
    prop_assert!(
        named,
        "{:?}: the error names no argument: `{}`: {}",
        tool,
        err.field,
        err.message
    );
    Ok(())
}

/// A report must serialise to a JSON object that reads back as the same type (so no
/// number in it is NaN or infinite, which JSON would turn into null), carry a verdict, and
/// render a summary.
fn check_report<R: Serialize + DeserializeOwned + Summary>(
    tool: Tool,
    report: &R,
) -> Result<(), TestCaseError> {
    let value = serde_json::to_value(report);
    prop_assert!(value.is_ok(), "{:?}: report does not serialise", tool);
    let value = value.unwrap();
    prop_assert!(value.is_object());
    let back = serde_json::from_value::<R>(value.clone());
    prop_assert!(
        back.is_ok(),
        "{:?}: the report does not read back ({}): {}",
        tool,
        back.err().unwrap(),
        value
    );
    let verdict = value
        .get("verdict")
        .or_else(|| value.get("conclusion")?.get("verdict"));
    prop_assert!(
        verdict
            .and_then(Value::as_str)
            .is_some_and(|v| !v.trim().is_empty()),
        "{:?}: no verdict in {}",
        tool,
        value
    );
    prop_assert!(!report.summary().trim().is_empty());
    Ok(())
}

/// Parses `args` twice (the same answer both times) and hands the input on.
fn parsed<T: DeserializeOwned + std::fmt::Debug>(
    tool: Tool,
    args: &Value,
) -> Result<Option<T>, TestCaseError> {
    let first = parse::<T>(args);
    let again = parse::<T>(args);
    prop_assert_eq!(format!("{first:?}"), format!("{again:?}"), "{:?}", tool);
    match first {
        Ok(input) => Ok(Some(input)),
        Err(e) => check_error(tool, &e, args).map(|_| None),
    }
}

fn analysed<R: Serialize + DeserializeOwned + Summary>(
    tool: Tool,
    args: &Value,
    result: Result<R, InputError>,
) -> Result<bool, TestCaseError> {
    match result {
        Ok(report) => check_report(tool, &report).map(|_| true),
        Err(e) => check_error(tool, &e, args).map(|_| false),
    }
}

/// A fixed "now" for durations (`15m`) so the checks do not depend on the clock.
const NOW: i64 = 1_700_000_000;

/// The checks break_down_latency's flow makes before it reads anything.
fn latency_source_checks(input: &LatencyInput, args: &Value) -> Result<(), TestCaseError> {
    let tool = Tool::Latency;
    let err = |e: InputError| check_error(tool, &e, args);
    if let Some(a) = &input.access_log {
        if let Err(e) = LogFormat::compile(&a.log_format) {
            prop_assert!(!e.0.trim().is_empty());
        }
        for (field, t) in [
            ("access_log.since", &a.since),
            ("access_log.until", &a.until),
        ] {
            if let Some(t) = t {
                match window::resolve_time(field, t, NOW) {
                    Ok(_) => {}
                    Err(e) => {
                        prop_assert_eq!(&e.field, field);
                        err(e)?;
                    }
                }
            }
        }
        for p in &a.route_patterns {
            if let Err(m) = RouteTemplate::parse(p) {
                prop_assert!(!m.trim().is_empty());
            }
        }
    }
    if let Some(url) = &input.gunicorn_metrics_url {
        if let Err(e) = fetch::check_url("gunicorn_metrics_url", url) {
            // Credentials in the URL are never echoed back.
            let authority = url
                .split_once("://")
                .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""));
            if let Some((userinfo, _)) = authority.rsplit_once('@')
                && let Some((_, password)) = userinfo.split_once(':')
                && password.len() >= 6
            {
                prop_assert!(
                    !e.message.contains(password),
                    "the credentials of {:?} are shown: {}",
                    url,
                    e.message
                );
            }
            let field = e.field.clone().unwrap_or_default();
            prop_assert_eq!(field.as_str(), "gunicorn_metrics_url");
            err(InputError::new(field, e.message))?;
        }
        let metrics = input.worker_metrics.clone().unwrap_or_default();
        if let Err(e) = prometheus::compile(&metrics, "worker_metrics") {
            prop_assert!(e.field.starts_with("worker_metrics."), "{}", e);
            err(e)?;
        }
    }
    if let Some(r) = &input.rds_instance
        && let Err(e) = storage::validate(&r.to_input(), NOW)
    {
        err(InputError::new(
            format!("rds_instance.{}", e.field),
            e.message,
        ))?;
    }
    if let Some(r) = &input.aws_load_balancer
        && let Err(e) = r.check(NOW)
    {
        prop_assert!(e.field.starts_with("aws_load_balancer."), "{}", e);
        err(e)?;
    }
    Ok(())
}

fn check_tools(args: &Value) -> Result<(), TestCaseError> {
    if let Some(i) = parsed::<capacity::CapacityInput>(Tool::Capacity, args)? {
        analysed(Tool::Capacity, args, capacity::analyze(&i))?;
    }
    if let Some(i) = parsed::<symptoms::MatchInput>(Tool::Match, args)? {
        analysed(Tool::Match, args, symptoms::analyze(&i))?;
    }
    if let Some(i) = parsed::<LatencyInput>(Tool::Latency, args)? {
        let checked = latency::check(i.clone(), NOW);
        if let Err(e) = &checked {
            check_error(Tool::Latency, e, args)?;
        }
        latency_source_checks(&i, args)?;
        // The flow's own check: every failure is a ToolError with a kind, a message and,
        // for a bad argument, the field.
        if let Err(e) =
            flows::break_down_latency::check(i.clone(), &Reach::default(), &Default::default(), NOW)
        {
            prop_assert!(!e.message.trim().is_empty(), "{:?}", e);
            if e.kind == ErrorKind::BadInput {
                prop_assert!(
                    e.field.as_deref().is_some_and(|f| !f.trim().is_empty()),
                    "{:?}",
                    e
                );
            }
        }
        let plain = LatencyInput {
            access_log: None,
            gunicorn_metrics_url: None,
            worker_metrics: None::<WorkerMetrics>,
            uwsgi_stats: None,
            listen_port: None,
            rds_instance: None,
            aws_load_balancer: None,
            ..i.clone()
        };
        let ok = analysed(
            Tool::Latency,
            args,
            latency::check(plain, NOW).and_then(|c| latency::analyze(&c)),
        )?;
        prop_assert!(
            ok || checked.is_err(),
            "break_down_latency: the input passed its check but the analysis refused it"
        );
    }
    if let Some(i) = parsed::<storage::RdsIopsInput>(Tool::Storage, args)? {
        match storage::validate(&i, NOW) {
            Ok(q) => {
                prop_assert!((300..=43_200 * 60).contains(&(q.end - q.start)));
                prop_assert!(q.end <= NOW && q.end % i64::from(q.period_seconds) == 0);
                prop_assert!(q.period_seconds >= 60 && q.period_seconds % 60 == 0);
                prop_assert!(!q.db_instance_identifier.is_empty());
            }
            Err(e) => check_error(Tool::Storage, &e, args)?,
        }
    }
    if let Some(i) = parsed::<queries::SlowQueriesInput>(Tool::SlowQueries, args)? {
        match queries::validate(&i) {
            Ok(r) => {
                prop_assert!((1..=100).contains(&r.limit), "limit {}", r.limit);
                prop_assert!(r.min_mean_ms.is_finite() && r.running_min_seconds.is_finite());
            }
            Err(e) => check_error(Tool::SlowQueries, &e, args)?,
        }
    }
    Ok(())
}

#[test]
fn tool_arguments() {
    crate::fuzz("tool_arguments", case(), |args| check_tools(&args));
}
