//! What to ask a Prometheus engine: the metric families we know (verified against the
//! exporters' own source), how one is picked from the metric names the selector matches,
//! which labels name the route, method, status and replica, and the PromQL sent. Every
//! query aggregates on the engine (`sum by` the route or the replica), so what comes back
//! grows with routes and replicas, never with requests.

use super::selector::{Matcher, Selector};

/// A request-duration histogram family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Family {
    /// The exporter, as reported.
    pub name: &'static str,
    /// The histogram's base name (`_bucket`, `_sum`, `_count` follow it).
    pub histogram: &'static str,
    /// Milliseconds per unit of the histogram.
    pub ms_per_unit: f64,
    /// The route label this exporter writes.
    pub route_label: &'static str,
}

/// Known families, first match wins. `ingress-nginx` comes last: an app histogram, when
/// present, is nearer the workers.
pub const FAMILIES: [Family; 6] = [
    Family {
        name: "opentelemetry",
        histogram: "http_server_request_duration_seconds",
        ms_per_unit: 1000.0,
        route_label: "http_route",
    },
    Family {
        name: "opentelemetry",
        histogram: "http_server_duration_milliseconds",
        ms_per_unit: 1.0,
        route_label: "http_route",
    },
    Family {
        name: "prometheus-flask-exporter",
        histogram: "flask_http_request_duration_seconds",
        ms_per_unit: 1000.0,
        route_label: "path",
    },
    Family {
        name: "django-prometheus",
        histogram: "django_http_requests_latency_seconds_by_view_method",
        ms_per_unit: 1000.0,
        route_label: "view",
    },
    Family {
        name: "starlette_exporter",
        histogram: "starlette_request_duration_seconds",
        ms_per_unit: 1000.0,
        route_label: "path",
    },
    Family {
        name: "ingress-nginx",
        histogram: "nginx_ingress_controller_request_duration_seconds",
        ms_per_unit: 1000.0,
        route_label: "path",
    },
];

/// ingress-nginx's upstream-only histogram, beside its whole-request one: the two give the
/// nginx / upstream split.
pub const INGRESS_UPSTREAM: &str = "nginx_ingress_controller_response_duration_seconds";

/// Route labels tried after the family's own.
const ROUTE_LABELS: [&str; 8] = [
    "http_route",
    "url_rule",
    "route",
    "view",
    "handler",
    "endpoint",
    "path",
    "http_target",
];
const METHOD_LABELS: [&str; 3] = ["method", "http_request_method", "http_method"];
const STATUS_LABELS: [&str; 5] = [
    "status",
    "status_code",
    "http_response_status_code",
    "http_status_code",
    "code",
];

/// Gauge states counted as busy and idle.
pub const BUSY_STATES: [&str; 2] = ["busy", "working"];
pub const IDLE_STATES: [&str; 1] = ["idle"];

/// What the operator set for an engine, over the detection.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overrides {
    /// Histogram base name (without `_bucket`).
    pub histogram: Option<String>,
    pub route_label: Option<String>,
    /// Worker gauge name (default `gunicorn_workers`).
    pub workers: Option<String>,
    /// The gauge's state label (default `state`).
    pub state_label: Option<String>,
    /// The label telling replicas apart (default `instance`).
    pub replica_label: Option<String>,
}

impl Overrides {
    pub fn workers(&self) -> &str {
        self.workers.as_deref().unwrap_or("gunicorn_workers")
    }
    pub fn state_label(&self) -> &str {
        self.state_label.as_deref().unwrap_or("state")
    }
    pub fn replica_label(&self) -> &str {
        self.replica_label.as_deref().unwrap_or("instance")
    }
}

/// The histogram chosen for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The exporter (`configured` for an operator's own name).
    pub family: &'static str,
    pub metric: String,
    pub ms_per_unit: f64,
    pub route_label: &'static str,
}

impl From<&Family> for Histogram {
    fn from(f: &Family) -> Self {
        Self {
            family: f.name,
            metric: f.histogram.to_owned(),
            ms_per_unit: f.ms_per_unit,
            route_label: f.route_label,
        }
    }
}

/// The histogram chosen: from the operator's override, else the first known family whose
/// `_bucket` series the selector matches.
pub fn pick_histogram(names: &[String], o: &Overrides) -> Option<Histogram> {
    let has = |n: &str| names.iter().any(|m| m == &format!("{n}_bucket"));
    if let Some(h) = &o.histogram {
        let base = h.trim_end_matches("_bucket");
        if !has(base) {
            return None;
        }
        return Some(match FAMILIES.iter().find(|f| f.histogram == base) {
            Some(f) => f.into(),
            None => Histogram {
                family: "configured",
                metric: base.to_owned(),
                ms_per_unit: unit_of(base),
                route_label: "",
            },
        });
    }
    FAMILIES
        .iter()
        .find(|f| has(f.histogram))
        .map(Histogram::from)
}

/// Milliseconds per unit, from a metric name's unit suffix (seconds unless it says ms).
fn unit_of(name: &str) -> f64 {
    if name.ends_with("_milliseconds") || name.ends_with("_ms") {
        1.0
    } else {
        1000.0
    }
}

/// The labels a histogram's series carry, resolved to roles.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Labels {
    pub route: Option<String>,
    pub method: Option<String>,
    pub status: Option<String>,
    pub replica: Option<String>,
}

/// Picks the route, method, status and replica labels among those present.
pub fn pick_labels(present: &[String], h: &Histogram, o: &Overrides) -> Labels {
    fn first<'a>(present: &[String], mut cands: impl Iterator<Item = &'a str>) -> Option<String> {
        cands
            .find(|c| !c.is_empty() && present.iter().any(|p| p == c))
            .map(str::to_owned)
    }
    Labels {
        route: first(
            present,
            o.route_label
                .as_deref()
                .into_iter()
                .chain([h.route_label])
                .chain(ROUTE_LABELS),
        ),
        method: first(present, METHOD_LABELS.into_iter()),
        status: first(present, STATUS_LABELS.into_iter()),
        replica: first(present, std::iter::once(o.replica_label())),
    }
}

/// A range in PromQL's duration form, whole seconds.
pub fn range(window_secs: i64) -> String {
    format!("{}s", window_secs.max(1))
}

/// The PromQL of one family over one window.
#[derive(Debug, Clone)]
pub struct HistogramQueries {
    pub rate: String,
    pub sum: String,
    /// (quantile, query) for p50, p95, p99.
    pub quantiles: Vec<(f64, String)>,
    pub errors: Option<String>,
    pub by_replica: Option<String>,
}

/// The queries for the routes of `h` under `sel`.
pub fn histogram_queries(
    sel: &Selector,
    h: &str,
    labels: &Labels,
    window_secs: i64,
) -> HistogramQueries {
    let r = range(window_secs);
    let by: Vec<&str> = [labels.route.as_deref(), labels.method.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let by_list = by.join(", ");
    let s = sel.render();
    let rate = format!("sum by ({by_list}) (rate({h}_count{s}[{r}]))");
    let sum = format!("sum by ({by_list}) (rate({h}_sum{s}[{r}]))");
    let le_by = if by.is_empty() {
        "le".to_owned()
    } else {
        format!("le, {by_list}")
    };
    let quantiles = [0.5, 0.95, 0.99]
        .into_iter()
        .map(|q| {
            (
                q,
                format!("histogram_quantile({q}, sum by ({le_by}) (rate({h}_bucket{s}[{r}])))"),
            )
        })
        .collect();
    let errors = labels.status.as_ref().map(|st| {
        let five = Matcher {
            label: st.clone(),
            op: "=~",
            value: "5..".into(),
        };
        format!(
            "sum by ({by_list}) (rate({h}_count{}[{r}]))",
            sel.with(&[five])
        )
    });
    let by_replica = labels
        .replica
        .as_ref()
        .map(|rep| format!("sum by ({rep}) (rate({h}_count{s}[{r}]))"));
    HistogramQueries {
        rate,
        sum,
        quantiles,
        errors,
        by_replica,
    }
}

/// Mean of the worker gauge over the window, by replica and state.
pub fn workers_query(sel: &Selector, o: &Overrides, window_secs: i64) -> String {
    format!(
        "sum by ({}, {}) (avg_over_time({}{}[{}]))",
        o.replica_label(),
        o.state_label(),
        o.workers(),
        sel.render(),
        range(window_secs)
    )
}

/// Mean whole-request and upstream time of ingress-nginx over the window, seconds.
pub fn ingress_split_queries(sel: &Selector, window_secs: i64) -> [String; 2] {
    let r = range(window_secs);
    let s = sel.render();
    [FAMILIES[5].histogram, INGRESS_UPSTREAM]
        .map(|h| format!("sum(rate({h}_sum{s}[{r}])) / sum(rate({h}_count{s}[{r}]))"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_family_is_found_by_its_bucket_series_and_the_override_wins() {
        let n = names(&[
            "up",
            "flask_http_request_duration_seconds_bucket",
            "http_server_duration_milliseconds_bucket",
        ]);
        let f = pick_histogram(&n, &Overrides::default()).unwrap();
        assert_eq!(f.metric, "http_server_duration_milliseconds");
        assert_eq!(f.ms_per_unit, 1.0);
        let o = Overrides {
            histogram: Some("flask_http_request_duration_seconds".into()),
            ..Default::default()
        };
        let f = pick_histogram(&n, &o).unwrap();
        assert_eq!(f.family, "prometheus-flask-exporter");
        let o = Overrides {
            histogram: Some("myapp_latency_ms".into()),
            ..Default::default()
        };
        assert!(pick_histogram(&n, &o).is_none());
        let n2 = names(&["myapp_latency_ms_bucket"]);
        let f = pick_histogram(&n2, &o).unwrap();
        assert_eq!((f.family, f.ms_per_unit), ("configured", 1.0));
        assert!(pick_histogram(&names(&["up"]), &Overrides::default()).is_none());
    }

    #[test]
    fn labels_are_picked_among_those_present_and_queries_aggregate_on_the_engine() {
        let f = Histogram::from(&FAMILIES[2]);
        let l = pick_labels(
            &names(&[
                "__name__", "instance", "job", "le", "method", "path", "status",
            ]),
            &f,
            &Overrides::default(),
        );
        assert_eq!(l.route.as_deref(), Some("path"));
        assert_eq!(l.status.as_deref(), Some("status"));
        let sel = Selector::parse("s", r#"{job="shop"}"#).unwrap();
        let q = histogram_queries(&sel, &f.metric, &l, 900);
        assert_eq!(
            q.quantiles[2].1,
            r#"histogram_quantile(0.99, sum by (le, path, method) (rate(flask_http_request_duration_seconds_bucket{job="shop"}[900s])))"#
        );
        assert_eq!(
            q.errors.unwrap(),
            r#"sum by (path, method) (rate(flask_http_request_duration_seconds_count{job="shop",status=~"5.."}[900s]))"#
        );
        assert_eq!(
            workers_query(&sel, &Overrides::default(), 60),
            r#"sum by (instance, state) (avg_over_time(gunicorn_workers{job="shop"}[60s]))"#
        );
    }
}
