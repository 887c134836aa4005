//! Target: uWSGI's stats JSON (`sources::uwsgi::parse`).
//!
//! Documents are built with the real structure (`listen_queue`, a `workers` array whose
//! entries have `id`, `status` busy / idle / cheap / pause / sig..., and the fields the
//! parser ignores), with each field sometimes missing, null or of the wrong type. A valid
//! document must give the busy and idle counts and the queue its definition says; a
//! document of the wrong shape must be refused as not uWSGI stats. Arbitrary text and
//! built documents with random edits must never panic.

use crate::finite;
use proptest::prelude::*;
use proptest::sample::select;
use python_web_troubleshooter::sources::uwsgi;
use serde_json::{Map, Value, json};

/// A field's value and whether the parser must accept it.
type Field = (Option<Value>, bool);

fn id() -> impl Strategy<Value = Field> {
    prop_oneof![
        6 => (-3i64..40).prop_map(|i| (Some(json!(i)), true)),
        1 => Just((None, true)),
        1 => any::<i64>().prop_map(|i| (Some(json!(i)), true)),
        1 => (i64::MAX as u64 + 1..=u64::MAX).prop_map(|u| (Some(json!(u)), false)),
        1 => select(vec![json!(1.5), json!(2.0), json!("1"), Value::Null, json!([1]), json!({})])
            .prop_map(|v| (Some(v), false)),
    ]
}

fn status() -> impl Strategy<Value = Field> {
    prop_oneof![
        8 => select(&["busy", "idle", "cheap", "pause", "sig", "sig255", "", "BUSY", "idle "][..])
            .prop_map(|s| (Some(json!(s)), true)),
        1 => any::<String>().prop_map(|s| (Some(json!(s)), true)),
        1 => Just((None, true)),
        1 => select(vec![Value::Null, json!(1), json!(true), json!(["busy"])])
            .prop_map(|v| (Some(v), false)),
    ]
}

fn ignored() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(|i| json!(i)),
        any::<String>().prop_map(Value::String),
        Just(Value::Null),
        Just(json!([{"id": 1, "requests": 3}])),
        Just(json!({"status": "busy"})),
    ]
}

fn worker() -> impl Strategy<Value = (Value, bool, i64, String)> {
    (
        id(),
        status(),
        prop::collection::vec(
            (
                select(
                    &[
                        "pid",
                        "requests",
                        "rss",
                        "cores",
                        "accepting",
                        "avg_rt",
                        "vsz",
                    ][..],
                ),
                ignored(),
            ),
            0..3,
        ),
    )
        .prop_map(|((id, id_ok), (status, status_ok), extra)| {
            let mut m = Map::new();
            for (k, v) in extra {
                m.insert(k.to_owned(), v);
            }
            let id_value = id.as_ref().and_then(Value::as_i64).unwrap_or(0);
            let status_value = status
                .as_ref()
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if let Some(v) = id {
                m.insert("id".into(), v);
            }
            if let Some(v) = status {
                m.insert("status".into(), v);
            }
            (Value::Object(m), id_ok && status_ok, id_value, status_value)
        })
}

/// A stats document, whether it is valid, and the expected (busy, idle, queue).
#[derive(Debug, Clone)]
struct Doc {
    value: Value,
    valid: bool,
    busy: f64,
    idle: f64,
    queue: Option<f64>,
}

fn doc() -> impl Strategy<Value = Doc> {
    let queue = prop_oneof![
        3 => (0u32..1000).prop_map(|q| (Some(json!(q)), true, Some(f64::from(q)))),
        1 => Just((None, true, None)),
        1 => Just((Some(Value::Null), true, None)),
        1 => finite()
            .prop_map(|x| (Some(json!(x)), true, Some(x))),
        1 => Just((Some(json!("3")), false, None)),
    ];
    let workers = prop_oneof![
        6 => prop::collection::vec(worker(), 0..8).prop_map(Some),
        1 => Just(None),
    ];
    let shape = prop_oneof![
        8 => Just(None),
        1 => select(vec![Value::Null, json!({}), json!(3), json!("x")]).prop_map(Some),
    ];
    (queue, workers, shape, "[a-z0-9.]{0,8}").prop_map(|(queue, workers, bad_workers, version)| {
        let (queue_value, queue_ok, queue_expect) = queue;
        let mut m = Map::new();
        m.insert("version".into(), json!(version));
        m.insert("load".into(), json!(3));
        if let Some(q) = queue_value {
            m.insert("listen_queue".into(), q);
        }
        let (mut busy, mut idle, mut valid) = (0.0, 0.0, queue_ok);
        match (bad_workers, workers) {
            (Some(bad), _) => {
                m.insert("workers".into(), bad);
                valid = false;
            }
            (None, Some(ws)) => {
                let mut list = Vec::new();
                for (w, ok, id, status) in ws {
                    valid &= ok;
                    if id != 0 {
                        match status.as_str() {
                            "busy" => busy += 1.0,
                            "idle" => idle += 1.0,
                            s if s.starts_with("sig") => busy += 1.0,
                            _ => {}
                        }
                    }
                    list.push(w);
                }
                m.insert("workers".into(), Value::Array(list));
            }
            (None, None) => {}
        }
        Doc {
            value: Value::Object(m),
            valid,
            busy,
            idle,
            queue: queue_expect.filter(|q| q.is_finite() && *q >= 0.0),
        }
    })
}

#[derive(Debug, Clone)]
enum Case {
    Built(Doc, bool),
    Noise(String),
}

fn case() -> impl Strategy<Value = Case> {
    let edited = (
        doc(),
        prop::collection::vec((any::<usize>(), any::<char>(), any::<bool>()), 1..4),
    )
        .prop_map(|(d, edits)| {
            let mut chars: Vec<char> = d.value.to_string().chars().collect();
            for (at, c, insert) in edits {
                let at = at % chars.len().max(1);
                if insert || chars.is_empty() {
                    chars.insert(at.min(chars.len()), c);
                } else {
                    chars.remove(at);
                }
            }
            Case::Noise(chars.into_iter().collect())
        });
    prop_oneof![
        4 => (doc(), any::<bool>()).prop_map(|(d, pretty)| Case::Built(d, pretty)),
        2 => edited,
        1 => any::<String>().prop_map(Case::Noise),
        1 => "[\\[\\]{}\",:0-9a-z \n.-]{0,60}".prop_map(Case::Noise),
    ]
}

#[test]
fn uwsgi_stats() {
    crate::fuzz("uwsgi_stats", case(), |case| {
        let (text, doc) = match case {
            Case::Noise(text) => (text, None),
            Case::Built(d, pretty) => {
                let text = if pretty {
                    serde_json::to_string_pretty(&d.value).unwrap()
                } else {
                    d.value.to_string()
                };
                (text, Some(d))
            }
        };
        let got = uwsgi::parse(&text);
        prop_assert_eq!(&got, &uwsgi::parse(&text), "parse is not deterministic");
        if let Err(m) = &got {
            prop_assert!(!m.is_empty());
        }
        if let Ok(w) = &got {
            prop_assert!(
                w.busy >= 0.0 && w.idle >= 0.0 && w.busy + w.idle > 0.0,
                "{:?}",
                w
            );
        }
        let Some(d) = doc else { return Ok(()) };
        match got {
            Ok(w) => {
                prop_assert!(d.valid, "a malformed document was accepted: {}", text);
                prop_assert_eq!((w.busy, w.idle), (d.busy, d.idle), "{}", text);
                // serde_json reads a float to within an ulp or so, not always exactly.
                let near = match (w.queue, d.queue) {
                    (Some(a), Some(b)) => (a - b).abs() <= b.abs() * 1e-12,
                    (a, b) => a == b,
                };
                prop_assert!(
                    near,
                    "queue {:?}, expected {:?}: {}",
                    w.queue,
                    d.queue,
                    text
                );
            }
            Err(m) if d.valid => {
                prop_assert!(
                    d.busy + d.idle == 0.0,
                    "a valid document was refused ({}): {}",
                    m,
                    text
                );
                prop_assert!(!m.contains("not uWSGI stats"), "{}", m);
            }
            Err(m) => prop_assert!(m.contains("not uWSGI stats"), "{}: {}", m, text),
        }
        Ok(())
    });
}
