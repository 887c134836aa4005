//! The operator's configuration: named database targets and how to reach them.
//!
//! Targets come from the operator, never from the chat: a tool argument names a target, and
//! the connection details and the password are resolved here.
//! - `DATABASE_URL` is the default target; its scheme picks the engine (`postgres://`,
//!   `postgresql://`, `mysql://`, `mariadb://`).
//! - libpq's variables are honoured for PostgreSQL: `PGHOST`, `PGPORT`, `PGUSER`,
//!   `PGDATABASE`, `PGPASSWORD`, `PGPASSFILE` (else `~/.pgpass`), `PGSSLMODE`,
//!   `PGSSLROOTCERT` (else `~/.postgresql/root.crt` when it exists), `PGAPPNAME`. Without
//!   `DATABASE_URL` they alone define the default target.
//! - TLS follows libpq's `sslmode` (`disable`, `allow`, `prefer` — the default —, `require`,
//!   `verify-ca`, `verify-full`) and `sslrootcert`; MySQL's `ssl-mode` (`DISABLED`,
//!   `PREFERRED`, `REQUIRED`, `VERIFY_CA`, `VERIFY_IDENTITY`) and `ssl-ca` map onto them.
//! - A TOML config file (`--config FILE` or `PWT_CONFIG`) holds named targets, each either a
//!   `url` or `engine`/`host`/`port`/`user`/`database`, and optionally `password_env`, the
//!   variable that holds its password, `sslmode` and `sslrootcert`; plus `[settings]`.
//!
//! Loading is split in two, like ripgrep's arguments: [`Config::from_parts`] turns the raw
//! text and variables into resolved settings (pure, tested here); [`Config::load`] reads them
//! from the process. Passwords live in [`Secret`], which prints as `***`.
//!
//! The parts: [`targets`] (a database and its TLS settings, from a URL or libpq's
//! variables), [`secrets`] (passwords and where they come from), [`file`] (the config file's
//! format); this file holds the resolved [`Config`] and its loading.

mod engines;
mod file;
mod secrets;
mod targets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::sources::reach::ReachSettings;

pub use engines::{DEFAULT_ENGINE_TIMEOUT, Engine, EngineAuth, Engines};
pub use secrets::{PasswordSource, Secret, pgpass_lookup, resolve_password};
pub use targets::{EngineKind, PgDefaults, RootCerts, SslMode, Target, parse_url};

/// The default bound on one call against a database (connect + queries), in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 5.0;

/// Settings for every database call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DbSettings {
    /// Bound on one call (connect + queries), excluding a requested sampling interval.
    pub timeout: Duration,
    /// Replace literals in query text with `?`.
    pub redact_literals: bool,
}

impl Default for DbSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECONDS),
            redact_literals: true,
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    targets: BTreeMap<String, Target>,
    default: Option<String>,
    pub db: DbSettings,
    /// Where the password file is (`PGPASSFILE` or `~/.pgpass`).
    pub pgpass: Option<PathBuf>,
    /// `PGPASSWORD`, the libpq fallback password.
    pub pgpassword: Option<Secret>,
    /// `[logs] dirs` and `[metrics] hosts`: what tool callers may make the server read.
    pub reach: ReachSettings,
    /// Prometheus-compatible engines break_down_latency may query (`prometheus`).
    pub engines: Engines,
}

/// A configuration that cannot be used. Messages never contain a password.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    File { path: String, message: String },
    #[error("{source_name}: {message}")]
    Target {
        source_name: String,
        message: String,
    },
}

/// A target could not be chosen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error(
        "unknown database target `{name}`; configured targets: {known}. Targets are defined by the operator in the config file (--config / PWT_CONFIG) or DATABASE_URL"
    )]
    Unknown { name: String, known: String },
    #[error(
        "no database target given and no default configured: set DATABASE_URL (postgresql://… or mysql://…), the libpq PG* variables, or settings.default_target in the config file (--config / PWT_CONFIG){known}"
    )]
    NoDefault { known: String },
}

/// Environment variables the configuration reads.
pub const ENV_VARS: [&str; 17] = [
    "DATABASE_URL",
    "PWT_CONFIG",
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGDATABASE",
    "PGPASSWORD",
    "PGPASSFILE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGAPPNAME",
    "PWT_PROMETHEUS_URL",
    "PWT_PROMETHEUS_TOKEN",
    "PWT_PROMETHEUS_CA_FILE",
    "PWT_PROMETHEUS_TIMEOUT",
    "HOME",
    "USER",
];

impl Config {
    /// Reads the config file (explicit path, else `PWT_CONFIG`) and the environment.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| env("PWT_CONFIG").map(PathBuf::from));
        let file = match &path {
            Some(p) => Some((
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|e| ConfigError::File {
                    path: p.display().to_string(),
                    message: format!("cannot be read: {e}"),
                })?,
            )),
            None => None,
        };
        Self::from_parts(file.as_ref().map(|(p, t)| (p.as_str(), t.as_str())), &env)
    }

    /// Builds the configuration from a config file's text (with its path, for messages) and
    /// a lookup of environment variables.
    pub fn from_parts(
        file: Option<(&str, &str)>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut config = Config {
            pgpass: env("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env("HOME").map(|h| Path::new(&h).join(".pgpass"))),
            pgpassword: env("PGPASSWORD").map(Secret::new),
            ..Default::default()
        };
        let defaults = PgDefaults::from_env(env);
        config.engines = Engines::from_env(env).map_err(|message| ConfigError::Target {
            source_name: "PWT_PROMETHEUS_URL".into(),
            message,
        })?;

        if let Some(url) = env("DATABASE_URL") {
            let target =
                parse_url("default", &url, &defaults).map_err(|message| ConfigError::Target {
                    source_name: "DATABASE_URL".into(),
                    message,
                })?;
            config.targets.insert("default".into(), target);
            config.default = Some("default".into());
        } else if defaults.any_set {
            config
                .targets
                .insert("default".into(), defaults.target("default"));
            config.default = Some("default".into());
        }

        if let Some((path, text)) = file {
            file::apply(&mut config, path, text, &defaults)?;
        }
        Ok(config)
    }

    /// Picks the target a tool call names, or the default.
    pub fn target(&self, name: Option<&str>) -> Result<&Target, LookupError> {
        let known = || {
            if self.targets.is_empty() {
                "none".to_owned()
            } else {
                self.targets.keys().cloned().collect::<Vec<_>>().join(", ")
            }
        };
        match name {
            Some(n) => self.targets.get(n).ok_or_else(|| LookupError::Unknown {
                name: n.to_owned(),
                known: known(),
            }),
            None => self
                .default
                .as_ref()
                .and_then(|d| self.targets.get(d))
                .ok_or_else(|| LookupError::NoDefault {
                    known: if self.targets.is_empty() {
                        String::new()
                    } else {
                        format!("; or pass one of the configured targets: {}", known())
                    },
                }),
        }
    }

    /// The configured target names.
    pub fn target_names(&self) -> Vec<String> {
        self.targets.keys().cloned().collect()
    }

    /// Adds or replaces a target (for embedding and tests).
    pub fn with_target(mut self, target: Target, default: bool) -> Self {
        if default {
            self.default = Some(target.name.clone());
        }
        self.targets.insert(target.name.clone(), target);
        self
    }
}

#[cfg(test)]
mod tests;
