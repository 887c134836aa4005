//! Turning JSON arguments into the core's typed inputs, with errors that name the field.
//!
//! Tool arguments arrive as a JSON object. They are deserialised here rather than by the MCP
//! layer so that a wrong type, an unknown enum value or a missing field becomes a tool
//! error (`isError: true`) that names the argument and how to fix it, instead of a
//! protocol error the model cannot act on.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::diagnosis::InputError;

/// Deserialises `args` into `T`, reporting the JSON path of the first bad field.
pub fn parse<T: DeserializeOwned>(args: Map<String, Value>) -> Result<T, InputError> {
    parse_value(Value::Object(args))
}

/// Like [`parse`], for any JSON value (e.g. a file's content).
pub fn parse_value<T: DeserializeOwned>(value: Value) -> Result<T, InputError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        // An unknown key that is empty or blank has a blank path; name the whole object
        // rather than report an error about ``.
        let field = if path == "." || path.trim().is_empty() {
            "arguments".to_owned()
        } else {
            path
        };
        let inner = err.into_inner().to_string();
        let hint = if inner.contains("unknown field") {
            "; remove it or check the spelling against the tool's inputSchema"
        } else if inner.contains("unknown variant") {
            "; use one of the listed values"
        } else if inner.contains("missing field") {
            "; this argument is required"
        } else {
            "; check the type against the tool's inputSchema (numbers as JSON numbers, not strings; no NaN or null for required figures)"
        };
        InputError::new(field, format!("{inner}{hint}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnosis::capacity::CapacityInput;
    use serde_json::json;

    fn err(v: Value) -> InputError {
        parse_value::<CapacityInput>(v).unwrap_err()
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(json!({"replicas": "four", "workers_per_replica": 4, "avg_latency_ms": 10}));
        assert_eq!(e.field, "replicas");
        let e = err(json!({"replicas": 1, "workers_per_replica": 4, "avg_latency_ms": "NaN"}));
        assert_eq!(e.field, "avg_latency_ms");
        let e = err(json!({"replicas": 1, "workers_per_replica": 4, "avg_latency_ms": null}));
        assert_eq!(e.field, "avg_latency_ms");
        let e = err(json!({"replicas": 1e300, "workers_per_replica": 4, "avg_latency_ms": 10}));
        assert_eq!(e.field, "replicas");
        let e = err(
            json!({"replicas": 1, "workers_per_replica": 4, "avg_latency_ms": 10, "workload": "quantum"}),
        );
        assert_eq!(e.field, "workload");
        assert!(e.message.contains("cpu_bound"), "{e}");
        let e = err(json!({"workers_per_replica": 4, "avg_latency_ms": 10}));
        assert!(e.message.contains("replicas"), "{e}");
    }

    #[test]
    fn blank_unknown_key_is_reported_on_the_arguments() {
        // Found by tests/fuzz: `{"": null}` gave an error whose field was empty.
        for key in ["", " ", "\t"] {
            let e = err(
                json!({key: null, "replicas": 1, "workers_per_replica": 4, "avg_latency_ms": 10}),
            );
            assert_eq!(e.field, "arguments", "{key:?}: {e}");
            assert!(e.message.contains("unknown field"), "{e}");
        }
    }
}
