//! Prometheus-compatible engines (Prometheus, Thanos, Mimir, VictoriaMetrics, Grafana
//! Cloud, AMP) the operator lets break_down_latency query. The default engine comes from
//! `PWT_PROMETHEUS_URL` (with `PWT_PROMETHEUS_TOKEN` and `PWT_PROMETHEUS_CA_FILE`); named
//! ones from `[prometheus.NAME]` in the config file, whose credentials are the names of
//! environment variables read at call time. A caller names an engine, never a URL or a
//! credential.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Secret;
use crate::diagnosis::fleet::Overrides;

/// How a request to an engine is authenticated.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineAuth {
    None,
    /// A bearer token, as given (`PWT_PROMETHEUS_TOKEN`).
    Bearer(Secret),
    /// A bearer token in the named variable.
    BearerEnv(String),
    /// `user:password` in the named variable.
    BasicEnv(String),
}

/// One engine the operator configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Engine {
    pub name: String,
    /// The base URL, e.g. `https://prometheus.internal:9090` or a Mimir
    /// `https://mimir/prometheus`; `/api/v1/...` is appended.
    pub url: String,
    pub auth: EngineAuth,
    /// A PEM file of the CA that signs the engine's certificate (else the system store).
    pub ca_file: Option<PathBuf>,
    pub overrides: Overrides,
    /// The bound on reading a fleet from this engine, all requests together; each request
    /// gets at most half of it.
    pub timeout: Duration,
}

/// The default bound on reading a fleet from an engine.
pub const DEFAULT_ENGINE_TIMEOUT: Duration = Duration::from_secs(20);

/// An engine timeout in seconds, as the operator writes it: 1 to 600.
fn timeout_of(seconds: Option<f64>, key: &str) -> Result<Duration, String> {
    match seconds {
        None => Ok(DEFAULT_ENGINE_TIMEOUT),
        Some(s) if s.is_finite() && (1.0..=600.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        Some(_) => Err(format!("{key} must be a number of seconds from 1 to 600")),
    }
}

impl Engine {
    /// The credential, resolved now: the header value to send, if any. The message of an
    /// error names the variable, never its value.
    pub fn authorization(&self) -> Result<Option<Secret>, String> {
        let read = |var: &str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    format!(
                        "engine `{}`: the variable {var} that should hold its credential is not set",
                        self.name
                    )
                })
        };
        Ok(match &self.auth {
            EngineAuth::None => None,
            EngineAuth::Bearer(t) => Some(Secret::new(format!("Bearer {}", t.expose()))),
            EngineAuth::BearerEnv(var) => Some(Secret::new(format!("Bearer {}", read(var)?))),
            EngineAuth::BasicEnv(var) => {
                let pair = read(var)?;
                if !pair.contains(':') {
                    return Err(format!(
                        "engine `{}`: {var} must hold `user:password`",
                        self.name
                    ));
                }
                Some(Secret::new(format!("Basic {}", base64(pair.as_bytes()))))
            }
        })
    }
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The engines by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Engines(BTreeMap<String, Engine>);

impl Engines {
    /// The engine a call names.
    pub fn get(&self, name: &str) -> Option<&Engine> {
        self.0.get(name)
    }

    /// The configured names, for a message.
    pub fn names(&self) -> String {
        if self.0.is_empty() {
            "none".to_owned()
        } else {
            self.0.keys().cloned().collect::<Vec<_>>().join(", ")
        }
    }

    pub fn insert(&mut self, engine: Engine) {
        self.0.insert(engine.name.clone(), engine);
    }

    /// The default engine from `PWT_PROMETHEUS_URL`, `PWT_PROMETHEUS_TOKEN`,
    /// `PWT_PROMETHEUS_CA_FILE` and `PWT_PROMETHEUS_TIMEOUT` (seconds).
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let mut engines = Self::default();
        if let Some(url) = env("PWT_PROMETHEUS_URL") {
            check_url(&url).map_err(|m| format!("PWT_PROMETHEUS_URL {m}"))?;
            engines.insert(Engine {
                name: "default".into(),
                url: url.trim_end_matches('/').to_owned(),
                auth: env("PWT_PROMETHEUS_TOKEN")
                    .map_or(EngineAuth::None, |t| EngineAuth::Bearer(Secret::new(t))),
                ca_file: env("PWT_PROMETHEUS_CA_FILE").map(PathBuf::from),
                overrides: Overrides::default(),
                timeout: timeout_of(
                    env("PWT_PROMETHEUS_TIMEOUT")
                        .map(|s| s.trim().parse::<f64>().unwrap_or(f64::NAN)),
                    "PWT_PROMETHEUS_TIMEOUT",
                )?,
            });
        }
        Ok(engines)
    }
}

/// An engine URL: http(s), a host, no credentials in it.
fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http:// or https:// URL".into());
    }
    if parsed.host().is_none() {
        return Err("has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("carries credentials; put them in token_env or basic_auth_env".into());
    }
    if parsed.query().is_some() {
        return Err("must not have a query".into());
    }
    Ok(())
}

/// One `[prometheus.NAME]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEngine {
    url: String,
    token_env: Option<String>,
    basic_auth_env: Option<String>,
    ca_file: Option<String>,
    histogram: Option<String>,
    route_label: Option<String>,
    workers: Option<String>,
    state_label: Option<String>,
    replica_label: Option<String>,
    timeout_seconds: Option<f64>,
}

/// A metric or label name as PromQL takes it bare.
fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

impl FileEngine {
    pub(super) fn resolve(self, name: &str) -> Result<Engine, String> {
        check_url(&self.url).map_err(|m| format!("url {m}"))?;
        let auth = match (self.token_env, self.basic_auth_env) {
            (Some(_), Some(_)) => {
                return Err("has both token_env and basic_auth_env; keep one".into());
            }
            (Some(v), None) => EngineAuth::BearerEnv(v),
            (None, Some(v)) => EngineAuth::BasicEnv(v),
            (None, None) => EngineAuth::None,
        };
        for (key, v) in [
            ("histogram", &self.histogram),
            ("route_label", &self.route_label),
            ("workers", &self.workers),
            ("state_label", &self.state_label),
            ("replica_label", &self.replica_label),
        ] {
            if v.as_deref().is_some_and(|v| !is_name(v)) {
                return Err(format!(
                    "{key} must be a metric or label name (letters, digits, `_`)"
                ));
            }
        }
        Ok(Engine {
            name: name.to_owned(),
            url: self.url.trim_end_matches('/').to_owned(),
            auth,
            ca_file: self.ca_file.map(PathBuf::from),
            overrides: Overrides {
                histogram: self.histogram,
                route_label: self.route_label,
                workers: self.workers,
                state_label: self.state_label,
                replica_label: self.replica_label,
            },
            timeout: timeout_of(self.timeout_seconds, "timeout_seconds")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_base64_and_never_printed() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        let env = |k: &str| match k {
            "PWT_PROMETHEUS_URL" => Some("https://prom.internal:9090/".to_owned()),
            "PWT_PROMETHEUS_TOKEN" => Some("t0ken".to_owned()),
            _ => None,
        };
        let e = Engines::from_env(&env).unwrap();
        let d = e.get("default").unwrap();
        assert_eq!(d.url, "https://prom.internal:9090");
        assert!(!format!("{e:?}").contains("t0ken"));
        assert_eq!(d.authorization().unwrap().unwrap().expose(), "Bearer t0ken");
        let bad = |k: &str| (k == "PWT_PROMETHEUS_URL").then(|| "http://u:pw@h/".to_owned());
        let m = Engines::from_env(&bad).unwrap_err();
        assert!(m.contains("credentials") && !m.contains("pw@"), "{m}");
    }
}
