//! `endpoint`: the one route the caller asks about — a Sentry transaction name such as
//! `GET /api/orders/{id}`, or a Flask/Django route (`/api/orders/<int:pk>/`) — found among
//! every route measured (listed or not), so the answer can lead with it.
//!
//! Routes are compared as templates: the method when both sides have one, the path without
//! its query and trailing slash, case-insensitively, with every parameter (`{id}`, `<id>`,
//! `<int:pk>`, `:id`, `{*path}`) the same. A Django view name (`orders.views.detail`) names
//! code, not a path, and cannot be matched against what a log or the caller measured.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::report::EndpointStats;

/// What the report says about the endpoint the caller asked about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Focus {
    /// The endpoint as the caller named it.
    pub requested: String,
    /// The measured route it matched, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// That route's figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<EndpointStats>,
    /// How it was matched, or why nothing matched.
    pub note: String,
}

const METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

/// A route reduced to what two spellings of it share.
#[derive(Debug, PartialEq)]
struct Shape {
    method: Option<String>,
    path: Vec<String>,
}

fn shape(name: &str) -> Option<Shape> {
    let name = name.trim();
    let (method, rest) = match name.split_once(char::is_whitespace) {
        Some((m, rest)) if METHODS.contains(&m.to_ascii_uppercase().as_str()) => {
            (Some(m.to_ascii_uppercase()), rest.trim())
        }
        _ => (None, name),
    };
    if !rest.starts_with('/') {
        return None;
    }
    let path = rest.split(['?', '#']).next().unwrap_or("");
    let path = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|segment| {
            let is_param = (segment.starts_with('{') && segment.ends_with('}'))
                || (segment.starts_with('<') && segment.ends_with('>'))
                || segment.starts_with(':');
            if is_param {
                "{}".to_owned()
            } else {
                segment.to_ascii_lowercase()
            }
        })
        .collect();
    Some(Shape { method, path })
}

fn matches(wanted: &Shape, route: &Shape) -> bool {
    wanted.path == route.path
        && match (&wanted.method, &route.method) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

/// Finds `requested` among `all` (every measured route, busiest first or slowest first).
pub(super) fn find(requested: &str, all: &[EndpointStats]) -> Focus {
    let focus = |route: Option<&EndpointStats>, note: String| Focus {
        requested: requested.to_owned(),
        route: route.map(|e| e.endpoint.clone()),
        stats: route.cloned(),
        note,
    };
    let Some(wanted) = shape(requested) else {
        return focus(
            None,
            "not a route: a view name names code, not a path; pass the route as Sentry shows it with transaction_style=\"url\" (e.g. `GET /api/orders/{id}`)".to_owned(),
        );
    };
    let found: Vec<&EndpointStats> = all
        .iter()
        .filter(|e| shape(&e.endpoint).is_some_and(|r| matches(&wanted, &r)))
        .collect();
    match found.as_slice() {
        [] => focus(
            None,
            format!(
                "no measured route matches among {} routes; check the method and path, or add a route_patterns entry so the log's paths fold to it",
                all.len()
            ),
        ),
        [one] => focus(Some(one), "matched as a route template".to_owned()),
        [first, ..] => {
            let busiest = found
                .iter()
                .max_by_key(|e| e.requests)
                .copied()
                .unwrap_or(first);
            focus(
                Some(busiest),
                format!(
                    "{} routes match without a method; the busiest is shown: name the method to choose",
                    found.len()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(endpoint: &str, requests: u64) -> EndpointStats {
        EndpointStats {
            endpoint: endpoint.into(),
            requests,
            p50_ms: 10.0,
            p95_ms: None,
            p99_ms: 20.0,
            max_ms: None,
            worker_seconds: None,
            mean_upstream_ms: None,
            service_ms: None,
            share_of_worker_time_percent: None,
            error_percent: None,
            slow: false,
            share_of_requests_percent: 0.0,
        }
    }

    #[test]
    fn sentry_flask_and_django_spellings_find_the_same_route() {
        let all = [
            stats("GET /api/orders/{id}", 100),
            stats("POST /api/orders/{id}", 5),
            stats("GET /health", 50),
        ];
        for name in [
            "GET /api/orders/{id}",
            "get /api/orders/<int:pk>/",
            "GET /API/Orders/:order_id?expand=1",
        ] {
            let f = find(name, &all);
            assert_eq!(
                f.route.as_deref(),
                Some("GET /api/orders/{id}"),
                "{name}: {f:?}"
            );
            assert_eq!(f.stats.as_ref().map(|s| s.requests), Some(100));
        }
        let any_method = find("/api/orders/<id>", &all);
        assert_eq!(any_method.route.as_deref(), Some("GET /api/orders/{id}"));
        assert!(any_method.note.contains("2 routes match"), "{any_method:?}");
        let view = find("orders.views.detail", &all);
        assert!(
            view.route.is_none() && view.note.contains("view name"),
            "{view:?}"
        );
        let missing = find("GET /api/payments/{id}", &all);
        assert!(
            missing.route.is_none() && missing.note.contains("among 3 routes"),
            "{missing:?}"
        );
    }
}
