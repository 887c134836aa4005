//! A Prometheus-compatible engine over its HTTP API (`/api/v1/query`,
//! `/api/v1/label/__name__/values`, `/api/v1/labels`): GET only, no proxy, no redirects,
//! bounded in time and size, https with the system's roots or the operator's CA file, the
//! operator's credential in `Authorization`. Replies are described by status, size and
//! content type, never quoted.
//!
//! [`read_fleet`] finds the metric families the selector matches, then sends the PromQL
//! planned in [`crate::diagnosis::fleet::plan`] concurrently and fills a [`FleetData`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use crate::config::{Engine, Engines, Secret};
use crate::diagnosis::fleet::{self, FleetData, HistogramData, ReplicaWorkers, RouteSeries, plan};
use crate::diagnosis::latency::FleetPlan;
use crate::error::{ErrorKind, ToolError};
use crate::sources::fetch;

const FIELD: &str = "prometheus.source";
/// Largest reply read from an engine.
const MAX_BODY: u64 = 32 << 20;

/// One labelled value of an instant vector.
pub type Sample = (BTreeMap<String, String>, f64);

/// A connection to one engine.
pub struct Client {
    agent: ureq::Agent,
    engine: Engine,
    authorization: Option<Secret>,
    deadline: Instant,
}

impl Client {
    /// A client for `engine` whose requests all end before `deadline`.
    pub fn new(engine: &Engine, deadline: Instant) -> Result<Self, ToolError> {
        let authorization = engine
            .authorization()
            .map_err(|m| ToolError::new(ErrorKind::NotConfigured, m).on(FIELD))?;
        let mut tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()));
        let roots: Vec<ureq::tls::Certificate<'static>> = match &engine.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    ToolError::new(
                        ErrorKind::NotConfigured,
                        format!(
                            "engine `{}`: its CA file {} cannot be read ({e}); fix ca_file / PWT_PROMETHEUS_CA_FILE",
                            engine.name,
                            path.display()
                        ),
                    )
                    .on(FIELD)
                })?;
                let certs: Vec<_> = ureq::tls::parse_pem(&pem)
                    .filter_map(|item| match item {
                        Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                        _ => None,
                    })
                    .collect();
                if certs.is_empty() {
                    return Err(ToolError::new(
                        ErrorKind::NotConfigured,
                        format!(
                            "engine `{}`: its CA file {} holds no PEM certificate",
                            engine.name,
                            path.display()
                        ),
                    )
                    .on(FIELD));
                }
                certs
            }
            // The system's store is loaded only for https: reading it costs tens of ms.
            None if engine.url.starts_with("https://") => super::tls::system_roots_der()
                .iter()
                .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
                .collect(),
            None => Vec::new(),
        };
        if !roots.is_empty() {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)));
        }
        let agent: ureq::Agent = fetch::agent_config().tls_config(tls.build()).build().into();
        Ok(Self {
            agent,
            engine: engine.clone(),
            authorization,
            deadline,
        })
    }

    fn name(&self) -> &str {
        &self.engine.name
    }

    /// GETs `path` with `params` and returns the reply's `data`.
    fn get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, ToolError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.error(
                ErrorKind::TimedOut,
                "did not answer within the call's deadline",
            ));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let url = format!("{}{path}?{query}", self.engine.url);
        let mut request = self
            .agent
            .get(&url)
            .config()
            .timeout_global(Some(left.min(self.engine.timeout / 2)))
            .build();
        if let Some(a) = &self.authorization {
            request = request.header("Authorization", a.expose());
        }
        let mut response = request.call().map_err(|e| {
            let (kind, why) = describe(&e);
            self.error(kind, why)
        })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            });
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|_| {
                self.error(
                    ErrorKind::Unreachable,
                    "sent a reply that is not UTF-8 text, was cut short or is larger than 32 MiB",
                )
            })?;
        let described = || {
            format!(
                "{} bytes of {}",
                body.len(),
                match content_type.as_deref() {
                    Some(t @ ("application/json" | "text/plain" | "text/html")) => t,
                    Some(_) => "another content type",
                    None => "an unnamed content type",
                }
            )
        };
        match status {
            401 | 403 => {
                return Err(ToolError::new(
                    ErrorKind::Denied,
                    format!(
                        "engine `{}` refused the credential (HTTP {status}); check the token the operator set (PWT_PROMETHEUS_TOKEN, or token_env / basic_auth_env in [prometheus.{}])",
                        self.name(),
                        self.name()
                    ),
                )
                .on(FIELD));
            }
            404 => {
                return Err(self.error(
                    ErrorKind::NotConfigured,
                    "has no Prometheus API at its URL (HTTP 404); the URL should be the base the /api/v1/ paths follow (for Mimir, e.g. https://mimir/prometheus)",
                ));
            }
            _ => {}
        }
        let parsed: Value = serde_json::from_str(&body).map_err(|_| {
            self.error(
                ErrorKind::Unreachable,
                &format!(
                    "answered HTTP {status} with {} that is not the Prometheus API's JSON",
                    described()
                ),
            )
        })?;
        if parsed.get("status").and_then(Value::as_str) != Some("success") {
            let kind = parsed
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("");
            // errorType is one word from a fixed list; the error text is the engine's and
            // is not repeated.
            let known = [
                "timeout",
                "canceled",
                "execution",
                "bad_data",
                "internal",
                "unavailable",
                "not_found",
            ];
            let shown = if known.contains(&kind) {
                kind
            } else {
                "unnamed"
            };
            let error_kind = if kind == "timeout" {
                ErrorKind::TimedOut
            } else {
                ErrorKind::Unreachable
            };
            return Err(self.error(
                error_kind,
                &format!(
                    "answered HTTP {status} with an error of type {shown} ({})",
                    described()
                ),
            ));
        }
        Ok(parsed.get("data").cloned().unwrap_or(Value::Null))
    }

    fn error(&self, kind: ErrorKind, why: &str) -> ToolError {
        ToolError::new(
            kind,
            format!(
                "engine `{}` ({}) {why}; check that it runs and that the operator's URL for it is right",
                self.engine.name, self.engine.url
            ),
        )
        .on(FIELD)
    }

    /// Metric names of the series matching `selector` in the window.
    pub fn names(&self, selector: &str, start: i64, end: i64) -> Result<Vec<String>, ToolError> {
        let (s, e) = (start.to_string(), end.to_string());
        strings(self.get(
            "/api/v1/label/__name__/values",
            &[("match[]", selector), ("start", &s), ("end", &e)],
        )?)
    }

    /// Label names of the series matching `selector` in the window.
    pub fn labels(&self, selector: &str, start: i64, end: i64) -> Result<Vec<String>, ToolError> {
        let (s, e) = (start.to_string(), end.to_string());
        strings(self.get(
            "/api/v1/labels",
            &[("match[]", selector), ("start", &s), ("end", &e)],
        )?)
    }

    /// An instant query at `at`.
    pub fn query(&self, promql: &str, at: i64) -> Result<Vec<Sample>, ToolError> {
        let t = at.to_string();
        let data = self.get("/api/v1/query", &[("query", promql), ("time", &t)])?;
        let mut out = Vec::new();
        match data.get("resultType").and_then(Value::as_str) {
            Some("vector") => {
                for item in data
                    .get("result")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let labels = item
                        .get("metric")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                                .collect()
                        })
                        .unwrap_or_default();
                    let value = item
                        .get("value")
                        .and_then(|v| v.get(1))
                        .and_then(Value::as_str)
                        .and_then(|s| s.parse::<f64>().ok());
                    if let Some(v) = value {
                        out.push((labels, v));
                    }
                }
            }
            Some("scalar") => {
                if let Some(v) = data
                    .get("result")
                    .and_then(|v| v.get(1))
                    .and_then(Value::as_str)
                    .and_then(|s| s.parse::<f64>().ok())
                {
                    out.push((BTreeMap::new(), v));
                }
            }
            _ => {
                return Err(self.error(
                    ErrorKind::Unreachable,
                    "answered a query with a result that is not an instant vector",
                ));
            }
        }
        Ok(out)
    }
}

fn strings(data: Value) -> Result<Vec<String>, ToolError> {
    Ok(data
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect())
}

/// Why a request failed, in our words.
fn describe(e: &ureq::Error) -> (ErrorKind, &'static str) {
    match e {
        ureq::Error::Timeout(_) => (ErrorKind::TimedOut, "did not answer in time"),
        ureq::Error::Io(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some()) =>
        {
            (
                ErrorKind::Unreachable,
                "failed the TLS handshake (a certificate not signed by the system's roots or the CA file, or a name that does not match)",
            )
        }
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                (ErrorKind::Unreachable, "refused the connection")
            }
            std::io::ErrorKind::TimedOut => (ErrorKind::TimedOut, "did not answer in time"),
            _ => (
                ErrorKind::Unreachable,
                "cannot be reached (a network error)",
            ),
        },
        ureq::Error::ConnectionFailed => (ErrorKind::Unreachable, "cannot be reached"),
        ureq::Error::HostNotFound => (
            ErrorKind::Unreachable,
            "has a host name that does not resolve",
        ),
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => (
            ErrorKind::Unreachable,
            "failed the TLS handshake (a certificate not signed by the system's roots or the CA file, or a name that does not match)",
        ),
        _ => (ErrorKind::Unreachable, "did not answer with valid HTTP"),
    }
}

/// The engine a call names.
pub fn engine<'a>(engines: &'a Engines, name: &str) -> Result<&'a Engine, ToolError> {
    engines.get(name).ok_or_else(|| {
        ToolError::new(
            ErrorKind::NotConfigured,
            format!(
                "no Prometheus engine `{name}` is configured (configured: {}); the operator sets PWT_PROMETHEUS_URL for `default`, or [prometheus.NAME] in the config file",
                engines.names()
            ),
        )
        .on(FIELD)
    })
}

/// Reads the fleet `plan` names from `engine`, within `deadline`.
pub fn read_fleet(
    engine: &Engine,
    plan: &FleetPlan,
    deadline: Instant,
) -> Result<FleetData, ToolError> {
    let client = Client::new(engine, deadline)?;
    let o = &engine.overrides;
    let sel = plan.selector.render();
    let window = plan.until - plan.since;
    let names = client.names(&sel, plan.since, plan.until)?;
    if names.is_empty() {
        return Err(ToolError::bad_input(
            "prometheus.selector",
            format!(
                "{sel} matches no series in engine `{}` in the window; check the labels (e.g. `count by (job) (up)` in the engine's UI) and the window",
                engine.name
            ),
        ));
    }
    let histogram = plan::pick_histogram(&names, o);
    let has_workers = names.iter().any(|n| n == o.workers());
    if histogram.is_none() && !has_workers {
        return Err(ToolError::bad_input(
            "prometheus.selector",
            format!(
                "the series {sel} matches hold no request-duration histogram this server knows ({}) and no worker gauge `{}`; the operator can name others with `histogram` and `workers` in [prometheus.{}]",
                plan::FAMILIES.map(|f| f.histogram).join(", "),
                o.workers(),
                engine.name
            ),
        ));
    }
    let mut data = FleetData {
        engine: engine.name.clone(),
        selector: sel.clone(),
        since: plan.since,
        until: plan.until,
        ..Default::default()
    };
    let labels = match &histogram {
        Some(h) => {
            let present =
                client.labels(&format!("{}_count{sel}", h.metric), plan.since, plan.until)?;
            Some(plan::pick_labels(&present, h, o))
        }
        None => {
            data.unknown.push(format!(
                "No request-duration histogram among the series {sel} matches, so per-route figures are unknown; known families: {}.",
                plan::FAMILIES.map(|f| f.histogram).join(", ")
            ));
            None
        }
    };
    if !has_workers {
        data.unknown.push(format!(
            "No worker gauge `{}` among the series {sel} matches, so fleet utilisation is unknown; export busy/idle worker gauges or name yours with `workers` in [prometheus.{}].",
            o.workers(),
            engine.name
        ));
    }
    let hq = histogram
        .as_ref()
        .zip(labels.as_ref())
        .map(|(h, l)| plan::histogram_queries(&plan.selector, &h.metric, l, window));
    let wq = has_workers.then(|| plan::workers_query(&plan.selector, o, window));
    let ingress = (names
        .iter()
        .any(|n| n == &format!("{}_sum", plan::INGRESS_UPSTREAM))
        && names
            .iter()
            .any(|n| n == &format!("{}_sum", plan::FAMILIES[5].histogram)))
    .then(|| plan::ingress_split_queries(&plan.selector, window));

    let mut queries: Vec<String> = Vec::new();
    if let Some(q) = &hq {
        queries.push(q.rate.clone());
        queries.push(q.sum.clone());
        queries.extend(q.quantiles.iter().map(|(_, s)| s.clone()));
        queries.extend(q.errors.clone());
        queries.extend(q.by_replica.clone());
    }
    queries.extend(wq.clone());
    if let Some(i) = &ingress {
        queries.extend(i.iter().cloned());
    }
    let results: Vec<Result<Vec<Sample>, ToolError>> = std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .iter()
            .map(|q| s.spawn(|| client.query(q, plan.until)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(
                        ToolError::new(ErrorKind::Unreachable, "a query failed unexpectedly")
                            .on(FIELD),
                    )
                })
            })
            .collect()
    });
    let mut results = results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    data.queries = queries;

    if let (Some(h), Some(l), Some(q)) = (histogram, labels, hq) {
        let key = |m: &BTreeMap<String, String>| {
            (
                l.route
                    .as_ref()
                    .and_then(|r| m.get(r).cloned())
                    .unwrap_or_else(|| "(all routes)".to_owned()),
                l.method.as_ref().and_then(|r| m.get(r).cloned()),
            )
        };
        let mut routes: BTreeMap<(String, Option<String>), RouteSeries> = BTreeMap::new();
        for (m, v) in results.next().unwrap_or_default() {
            let (route, method) = key(&m);
            routes.insert(
                (route.clone(), method.clone()),
                RouteSeries {
                    route,
                    method,
                    rps: v,
                    ..Default::default()
                },
            );
        }
        let scale = h.ms_per_unit;
        for (m, v) in results.next().unwrap_or_default() {
            if let Some(r) = routes.get_mut(&key(&m)) {
                r.busy_ms_per_s = Some(v * scale);
            }
        }
        for (i, _) in q.quantiles.iter().enumerate() {
            for (m, v) in results.next().unwrap_or_default() {
                if let Some(r) = routes.get_mut(&key(&m)).filter(|_| v.is_finite()) {
                    let slot = match i {
                        0 => &mut r.p50_ms,
                        1 => &mut r.p95_ms,
                        _ => &mut r.p99_ms,
                    };
                    *slot = Some(v * scale);
                }
            }
        }
        if q.errors.is_some() {
            for r in routes.values_mut() {
                r.error_rps = Some(0.0);
            }
            for (m, v) in results.next().unwrap_or_default() {
                if let Some(r) = routes.get_mut(&key(&m)) {
                    r.error_rps = Some(v);
                }
            }
        }
        if let (Some(rep), Some(_)) = (&l.replica, &q.by_replica) {
            data.replica_rps = results
                .next()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(m, v)| Some((m.get(rep)?.clone(), v)))
                .collect();
        }
        if l.route.is_none() {
            data.unknown.push(format!(
                "The histogram {} has no route label this server knows, so all routes are one; the operator can name it with `route_label` in [prometheus.{}].",
                h.metric, engine.name
            ));
        }
        data.histogram = Some(HistogramData {
            histogram: h,
            labels: l,
            routes: routes.into_values().collect(),
        });
    }
    if wq.is_some() {
        let (rep, st) = (o.replica_label(), o.state_label());
        let mut by_replica: BTreeMap<String, ReplicaWorkers> = BTreeMap::new();
        for (m, v) in results.next().unwrap_or_default() {
            let replica = m
                .get(rep)
                .cloned()
                .unwrap_or_else(|| "(no replica label)".to_owned());
            let entry = by_replica
                .entry(replica.clone())
                .or_insert_with(|| ReplicaWorkers {
                    replica,
                    ..Default::default()
                });
            if let Some(state) = m.get(st) {
                fleet::busy_idle(state, v, entry);
            }
        }
        data.workers = Some((o.workers().to_owned(), by_replica.into_values().collect()));
    }
    if ingress.is_some() {
        let whole = results.next().unwrap_or_default();
        let upstream = results.next().unwrap_or_default();
        if let (Some((_, w)), Some((_, u))) = (whole.first(), upstream.first())
            && w.is_finite()
            && u.is_finite()
        {
            data.ingress_split_ms = Some((w * 1000.0, u * 1000.0));
        }
    }
    Ok(data)
}
