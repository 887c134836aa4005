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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::sources::reach::ReachSettings;

/// The default bound on one call against a database (connect + queries), in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 5.0;

/// A password. Never printed, serialised or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that hands it to a driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which database engine a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[serde(alias = "postgresql")]
    Postgres,
    #[serde(alias = "mariadb")]
    Mysql,
}

/// Where a target's password comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    /// Written in the URL or config file.
    Inline(Secret),
    /// The named environment variable, read at call time.
    Env(String),
    /// None given: PostgreSQL then tries `PGPASSWORD` and the password file.
    Default,
}

/// How to use TLS, with libpq's meaning of each `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never.
    Disable,
    /// Without TLS first; with TLS (not verified) if the server refuses that.
    Allow,
    /// With TLS (not verified) when the server offers it, else without; the default.
    Prefer,
    /// Always; the certificate is verified like `verify-ca` only when a root certificate
    /// file is configured or `~/.postgresql/root.crt` exists (PostgreSQL).
    Require,
    /// Always, and the server's certificate must chain to a trusted root.
    VerifyCa,
    /// As `verify-ca`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The libpq spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// MySQL's spelling (`allow` has none: it reads as `PREFERRED`).
    pub fn mysql_str(self) -> &'static str {
        match self {
            SslMode::Disable => "DISABLED",
            SslMode::Allow | SslMode::Prefer => "PREFERRED",
            SslMode::Require => "REQUIRED",
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyFull => "VERIFY_IDENTITY",
        }
    }
}

/// Which certificate authorities a TLS connection trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file the operator named (`sslrootcert`, `ssl-ca`, `PGSSLROOTCERT`).
    File(PathBuf),
    /// libpq's default `~/.postgresql/root.crt`: used when it exists, else [`RootCerts::System`].
    DefaultFile(PathBuf),
    /// The system's trust store (`sslrootcert=system`, or nothing configured).
    System,
}

impl RootCerts {
    fn parse(value: &str) -> Self {
        if value == "system" {
            RootCerts::System
        } else {
            RootCerts::File(PathBuf::from(value))
        }
    }
}

/// One database the operator configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub name: String,
    pub engine: EngineKind,
    /// Host name or IP, or for PostgreSQL a Unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: Option<String>,
    pub password: PasswordSource,
    pub sslmode: SslMode,
    /// The certificate authorities TLS trusts.
    pub sslrootcert: RootCerts,
    pub application_name: String,
}

impl Target {
    /// The target as it may appear in messages: name and address, never a password.
    pub fn describe(&self) -> String {
        let scheme = match self.engine {
            EngineKind::Postgres => "postgresql",
            EngineKind::Mysql => "mysql",
        };
        let db = self.database.as_deref().unwrap_or("");
        format!(
            "target `{}` ({scheme}://{}@{}:{}/{db})",
            self.name, self.user, self.host, self.port
        )
    }
}

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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    settings: FileSettings,
    #[serde(default)]
    targets: BTreeMap<String, FileTarget>,
    #[serde(default)]
    logs: FileLogs,
    #[serde(default)]
    metrics: FileMetrics,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLogs {
    #[serde(default)]
    dirs: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMetrics {
    #[serde(default)]
    hosts: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    timeout_seconds: Option<f64>,
    redact_literals: Option<bool>,
    default_target: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTarget {
    url: Option<String>,
    engine: Option<EngineKind>,
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    database: Option<String>,
    password_env: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Environment variables the configuration reads.
pub const ENV_VARS: [&str; 13] = [
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
            let file_error = |message: String| ConfigError::File {
                path: path.to_owned(),
                message,
            };
            let parsed: FileConfig = toml::from_str(text).map_err(|e| {
                // toml's message quotes the offending line, which may hold a password.
                file_error(format!(
                    "is not valid: {}",
                    e.message().lines().next().unwrap_or("syntax error")
                ))
            })?;
            if let Some(t) = parsed.settings.timeout_seconds {
                if !(t.is_finite() && (0.1..=300.0).contains(&t)) {
                    return Err(file_error(format!(
                        "settings.timeout_seconds must be between 0.1 and 300 (got {t})"
                    )));
                }
                config.db.timeout = Duration::from_secs_f64(t);
            }
            if let Some(r) = parsed.settings.redact_literals {
                config.db.redact_literals = r;
            }
            config.reach = ReachSettings {
                log_dirs: parsed.logs.dirs,
                metrics_hosts: parsed.metrics.hosts,
            };
            for (name, t) in parsed.targets {
                crate::diagnosis::queries::check_target_name(&name).map_err(|_| {
                    file_error(format!(
                        "target name `{name}` must use only letters, digits, `_`, `-`, `.`"
                    ))
                })?;
                let target = file_target(&name, t, &defaults)
                    .map_err(|m| file_error(format!("targets.{name}: {m}")))?;
                config.targets.insert(name, target);
            }
            if let Some(d) = parsed.settings.default_target {
                if !config.targets.contains_key(&d) {
                    return Err(file_error(format!(
                        "settings.default_target `{d}` is not a configured target"
                    )));
                }
                config.default = Some(d);
            }
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

/// libpq's environment defaults.
#[derive(Debug, Clone)]
pub struct PgDefaults {
    host: Option<String>,
    port: Option<u16>,
    user: Option<String>,
    database: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    home: Option<String>,
    appname: Option<String>,
    os_user: String,
    any_set: bool,
}

impl PgDefaults {
    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let host = env("PGHOST");
        let port = env("PGPORT").and_then(|p| p.parse().ok());
        let user = env("PGUSER");
        let database = env("PGDATABASE");
        Self {
            any_set: host.is_some() || port.is_some() || user.is_some() || database.is_some(),
            host,
            port,
            user,
            database,
            sslmode: env("PGSSLMODE"),
            sslrootcert: env("PGSSLROOTCERT"),
            home: env("HOME"),
            appname: env("PGAPPNAME"),
            os_user: env("USER")
                .or_else(|| env("LOGNAME"))
                .unwrap_or_else(|| "postgres".into()),
        }
    }

    fn target(&self, name: &str) -> Target {
        let user = self.user.clone().unwrap_or_else(|| self.os_user.clone());
        Target {
            name: name.to_owned(),
            engine: EngineKind::Postgres,
            host: self.host.clone().unwrap_or_else(|| "localhost".into()),
            port: self.port.unwrap_or(5432),
            database: Some(self.database.clone().unwrap_or_else(|| user.clone())),
            user,
            password: PasswordSource::Default,
            sslmode: parse_sslmode(self.sslmode.as_deref()).unwrap_or(SslMode::Prefer),
            sslrootcert: self.root_certs(),
            application_name: self
                .appname
                .clone()
                .unwrap_or_else(|| env!("CARGO_PKG_NAME").into()),
        }
    }
}

impl PgDefaults {
    /// `PGSSLROOTCERT`, else libpq's default file in the home directory.
    fn root_certs(&self) -> RootCerts {
        match (&self.sslrootcert, &self.home) {
            (Some(v), _) => RootCerts::parse(v),
            (None, Some(home)) => {
                RootCerts::DefaultFile(Path::new(home).join(".postgresql").join("root.crt"))
            }
            (None, None) => RootCerts::System,
        }
    }
}

/// Parses an `sslmode` (libpq) or `ssl-mode` (MySQL) value, in any case.
fn parse_sslmode(value: Option<&str>) -> Result<SslMode, String> {
    let Some(value) = value else {
        return Ok(SslMode::Prefer);
    };
    match value.to_ascii_lowercase().replace('_', "-").as_str() {
        "disable" | "disabled" => Ok(SslMode::Disable),
        "allow" => Ok(SslMode::Allow),
        "prefer" | "preferred" => Ok(SslMode::Prefer),
        "require" | "required" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" | "verify-identity" => Ok(SslMode::VerifyFull),
        _ => Err(format!(
            "sslmode `{value}` is not one of disable, allow, prefer, require, verify-ca, verify-full (MySQL: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)"
        )),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Parses a connection URL. Error messages describe the problem without echoing the URL,
/// which may hold a password.
pub fn parse_url(name: &str, url: &str, pg: &PgDefaults) -> Result<Target, String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("is not a valid connection URL ({e}); expected postgresql://user@host:port/db or mysql://user@host:port/db"))?;
    let engine = match parsed.scheme() {
        "postgres" | "postgresql" => EngineKind::Postgres,
        "mysql" | "mariadb" => EngineKind::Mysql,
        other => {
            return Err(format!(
                "has scheme `{other}`; use postgresql:// (or postgres://) or mysql:// (or mariadb://)"
            ));
        }
    };
    let mut host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .map(|h| decode(h.trim_start_matches('[').trim_end_matches(']')));
    let mut port = parsed.port();
    let mut user = Some(decode(parsed.username())).filter(|u| !u.is_empty());
    let mut password = parsed.password().map(|p| Secret::new(decode(p)));
    let mut database =
        Some(decode(parsed.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    let mut sslmode = None;
    let mut sslrootcert = None;
    let mut appname = None;
    for (k, v) in parsed.query_pairs() {
        match k.as_ref() {
            "host" => host = Some(v.into_owned()),
            "port" => {
                port =
                    Some(v.parse().map_err(|_| {
                        "has a `port` parameter that is not a port number".to_owned()
                    })?)
            }
            "user" => user = Some(v.into_owned()),
            "password" => password = Some(Secret::new(v.into_owned())),
            "dbname" => database = Some(v.into_owned()),
            "sslmode" | "ssl-mode" | "ssl_mode" => sslmode = Some(v.into_owned()),
            "sslrootcert" | "ssl-ca" | "ssl_ca" => sslrootcert = Some(v.into_owned()),
            "application_name" => appname = Some(v.into_owned()),
            _ => {}
        }
    }
    let password = password.map_or(PasswordSource::Default, PasswordSource::Inline);
    Ok(match engine {
        EngineKind::Postgres => {
            let base = pg.target(name);
            let user = user.unwrap_or(base.user);
            Target {
                host: host.unwrap_or(base.host),
                port: port.unwrap_or(base.port),
                database: database
                    .or(pg.database.clone())
                    .or_else(|| Some(user.clone())),
                user,
                password,
                sslmode: match sslmode {
                    Some(m) => parse_sslmode(Some(&m))?,
                    None => base.sslmode,
                },
                sslrootcert: sslrootcert.map_or(base.sslrootcert, |v| RootCerts::parse(&v)),
                application_name: appname.unwrap_or(base.application_name),
                ..base
            }
        }
        EngineKind::Mysql => Target {
            name: name.to_owned(),
            engine,
            host: host.unwrap_or_else(|| "localhost".into()),
            port: port.unwrap_or(3306),
            user: user.unwrap_or_else(|| pg.os_user.clone()),
            database,
            password,
            sslmode: mysql_sslmode(sslmode.as_deref(), sslrootcert.is_some())?,
            sslrootcert: sslrootcert.map_or(RootCerts::System, |v| RootCerts::parse(&v)),
            application_name: env!("CARGO_PKG_NAME").into(),
        },
    })
}

/// MySQL's rule: a CA given without a mode means `VERIFY_CA`; otherwise `PREFERRED`.
fn mysql_sslmode(mode: Option<&str>, has_ca: bool) -> Result<SslMode, String> {
    match mode {
        Some(m) => parse_sslmode(Some(m)),
        None if has_ca => Ok(SslMode::VerifyCa),
        None => Ok(SslMode::Prefer),
    }
}

fn file_target(name: &str, t: FileTarget, pg: &PgDefaults) -> Result<Target, String> {
    let mut target = match (&t.url, t.engine) {
        (Some(url), _) => parse_url(name, url, pg)?,
        (None, Some(engine)) => {
            let mut base = pg.target(name);
            if engine == EngineKind::Mysql {
                base.engine = EngineKind::Mysql;
                base.port = 3306;
                base.host = "localhost".into();
                base.database = None;
                base.sslmode = SslMode::Prefer;
                base.sslrootcert = RootCerts::System;
            }
            base
        }
        (None, None) => {
            return Err("needs either `url` or `engine` (postgres or mysql)".into());
        }
    };
    if t.engine
        .is_some_and(|e| t.url.is_some() && e != target.engine)
    {
        return Err("`engine` contradicts the scheme of `url`".into());
    }
    if let Some(h) = t.host {
        target.host = h;
    }
    if let Some(p) = t.port {
        target.port = p;
    }
    if let Some(u) = t.user {
        target.user = u;
    }
    if let Some(d) = t.database {
        target.database = Some(d);
    }
    if let Some(path) = t.sslrootcert {
        target.sslrootcert = RootCerts::parse(&path);
        if target.engine == EngineKind::Mysql
            && t.sslmode.is_none()
            && target.sslmode == SslMode::Prefer
        {
            target.sslmode = SslMode::VerifyCa;
        }
    }
    if let Some(m) = t.sslmode {
        target.sslmode = parse_sslmode(Some(&m))?;
    }
    if let Some(var) = t.password_env {
        if matches!(target.password, PasswordSource::Inline(_)) {
            return Err("has both a password in `url` and `password_env`; keep one".into());
        }
        target.password = PasswordSource::Env(var);
    }
    Ok(target)
}

/// Finds the password for `target` in a libpq password file's text
/// (`hostname:port:database:username:password`, `*` matches anything, `\` escapes `:`).
/// A Unix socket host matches `localhost`, as in libpq.
pub fn pgpass_lookup(text: &str, target: &Target) -> Option<Secret> {
    let host = if target.host.starts_with('/') {
        "localhost"
    } else {
        target.host.as_str()
    };
    let port = target.port.to_string();
    let db = target.database.as_deref().unwrap_or(&target.user);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() < 5 {
            continue;
        }
        let matches = |field: &str, value: &str| field == "*" || field == value;
        if matches(&fields[0], host)
            && matches(&fields[1], &port)
            && matches(&fields[2], db)
            && matches(&fields[3], &target.user)
        {
            return Some(Secret::new(fields[4..].join(":")));
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    fields
}

/// Resolves a target's password at call time: explicit (URL or `password_env`), then for
/// PostgreSQL `PGPASSWORD`, then the password file — libpq's order. The password file is
/// ignored, as libpq does, when group or others can read it.
pub fn resolve_password(config: &Config, target: &Target) -> Result<Option<Secret>, String> {
    match &target.password {
        PasswordSource::Inline(s) => Ok(Some(s.clone())),
        PasswordSource::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Some(Secret::new(v))),
            _ => Err(format!(
                "its password variable {var} is not set in the server's environment"
            )),
        },
        PasswordSource::Default if target.engine == EngineKind::Postgres => {
            if let Some(p) = &config.pgpassword {
                return Ok(Some(p.clone()));
            }
            let Some(path) = &config.pgpass else {
                return Ok(None);
            };
            let Ok(meta) = std::fs::metadata(path) else {
                return Ok(None);
            };
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(
                        file = %path.display(),
                        "password file has group or world access; ignored (chmod 0600 it)"
                    );
                    return Ok(None);
                }
            }
            let _ = meta;
            Ok(std::fs::read_to_string(path)
                .ok()
                .and_then(|text| pgpass_lookup(&text, target)))
        }
        PasswordSource::Default => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn database_url_is_the_default_and_its_scheme_picks_the_engine() {
        let c = Config::from_parts(
            None,
            &env_of(&[(
                "DATABASE_URL",
                "postgresql://app:s3cr%40t@db.internal:6432/shop?sslmode=disable",
            )]),
        )
        .unwrap();
        let t = c.target(None).unwrap();
        assert_eq!(t.engine, EngineKind::Postgres);
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("db.internal", 6432, "app")
        );
        assert_eq!(t.database.as_deref(), Some("shop"));
        assert_eq!(t.password, PasswordSource::Inline(Secret::new("s3cr@t")));
        assert_eq!(t.sslmode, SslMode::Disable);
        assert!(!format!("{t:?}").contains("s3cr"));
        assert!(!t.describe().contains("s3cr"));
        assert_eq!(
            t.describe(),
            "target `default` (postgresql://app@db.internal:6432/shop)"
        );

        let c = Config::from_parts(
            None,
            &env_of(&[("DATABASE_URL", "mariadb://root@127.0.0.1/orders")]),
        )
        .unwrap();
        let t = c.target(None).unwrap();
        assert_eq!((t.engine, t.port), (EngineKind::Mysql, 3306));
    }

    #[test]
    fn libpq_variables_fill_in_and_define_a_default() {
        let env = env_of(&[
            ("PGHOST", "/run/pg"),
            ("PGPORT", "5433"),
            ("PGUSER", "mon"),
            ("PGPASSWORD", "pw"),
        ]);
        let c = Config::from_parts(None, &env).unwrap();
        let t = c.target(None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.user.as_str()),
            ("/run/pg", 5433, "mon")
        );
        assert_eq!(t.database.as_deref(), Some("mon"));
        assert_eq!(c.pgpassword, Some(Secret::new("pw")));
        // A URL without a host takes PGHOST, as libpq does.
        let env = env_of(&[("PGHOST", "pg.local"), ("DATABASE_URL", "postgres:///shop")]);
        let c = Config::from_parts(None, &env).unwrap();
        assert_eq!(c.target(None).unwrap().host, "pg.local");
    }

    #[test]
    fn no_target_at_all_says_how_to_configure_one() {
        let c = Config::from_parts(None, &env_of(&[])).unwrap();
        let err = c.target(None).unwrap_err().to_string();
        assert!(
            err.contains("DATABASE_URL") && err.contains("PWT_CONFIG"),
            "{err}"
        );
        let err = c.target(Some("prod")).unwrap_err().to_string();
        assert!(
            err.contains("unknown database target `prod`") && err.contains("none"),
            "{err}"
        );
    }

    #[test]
    fn config_file_targets_and_settings() {
        let file = r#"
            [settings]
            timeout_seconds = 2.5
            redact_literals = false
            default_target = "orders"

            [targets.shop]
            url = "postgresql://monitor@10.0.0.5/shop"
            password_env = "SHOP_PW"

            [targets.orders]
            engine = "mariadb"
            host = "127.0.0.1"
            port = 3307
            user = "mon"
            database = "orders"
        "#;
        let c = Config::from_parts(Some(("pwt.toml", file)), &env_of(&[])).unwrap();
        assert_eq!(c.db.timeout, Duration::from_millis(2500));
        assert!(!c.db.redact_literals);
        assert_eq!(c.target(None).unwrap().name, "orders");
        assert_eq!(c.target(None).unwrap().port, 3307);
        let shop = c.target(Some("shop")).unwrap();
        assert_eq!(shop.password, PasswordSource::Env("SHOP_PW".into()));
        assert_eq!(c.target_names(), ["orders", "shop"]);
        let err = c.target(Some("nope")).unwrap_err().to_string();
        assert!(err.contains("orders, shop"), "{err}");
    }

    #[test]
    fn config_errors_never_echo_a_password() {
        let bad = "[targets.x]\nurl = \"postgresql://u:hunter2@h/db\"\npassword_env = \"X\"\n";
        let err = Config::from_parts(Some(("f", bad)), &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("targets.x") && !err.contains("hunter2"),
            "{err}"
        );
        let bad = "[targets.x]\nurl = \"postgresql://u:hunter2@h/db\nfoo";
        let err = Config::from_parts(Some(("f", bad)), &env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let err = Config::from_parts(None, &env_of(&[("DATABASE_URL", "redis://u:hunter2@h")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATABASE_URL") && !err.contains("hunter2"),
            "{err}"
        );
        let err = Config::from_parts(
            None,
            &env_of(&[("DATABASE_URL", "postgresql://u:hunter2@h:99999/x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        let bad = "[targets.\"a b\"]\nengine = \"postgres\"\n";
        assert!(Config::from_parts(Some(("f", bad)), &env_of(&[])).is_err());
        let bad = "[settings]\ntimeout_seconds = 0\n";
        assert!(Config::from_parts(Some(("f", bad)), &env_of(&[])).is_err());
    }

    #[test]
    fn tls_settings_follow_libpq_and_mysql() {
        let one = |url: &str, env: &[(&str, &str)]| {
            let mut pairs = vec![("DATABASE_URL", url)];
            pairs.extend_from_slice(env);
            Config::from_parts(None, &env_of(&pairs)).map(|c| c.target(None).unwrap().clone())
        };
        let t = one(
            "postgresql://u@db/x?sslmode=verify-full&sslrootcert=/etc/rds/global-bundle.pem",
            &[],
        )
        .unwrap();
        assert_eq!(t.sslmode, SslMode::VerifyFull);
        assert_eq!(
            t.sslrootcert,
            RootCerts::File("/etc/rds/global-bundle.pem".into())
        );
        // Defaults: prefer, PGSSLROOTCERT, else ~/.postgresql/root.crt when it exists.
        let t = one("postgresql://u@db/x", &[("HOME", "/home/mon")]).unwrap();
        assert_eq!(t.sslmode, SslMode::Prefer);
        assert_eq!(
            t.sslrootcert,
            RootCerts::DefaultFile("/home/mon/.postgresql/root.crt".into())
        );
        let t = one(
            "postgres://u@db/x",
            &[("PGSSLMODE", "verify-ca"), ("PGSSLROOTCERT", "/ca.pem")],
        )
        .unwrap();
        assert_eq!(
            (t.sslmode, t.sslrootcert),
            (SslMode::VerifyCa, RootCerts::File("/ca.pem".into()))
        );
        let t = one(
            "postgresql://u@db/x?sslmode=require&sslrootcert=system",
            &[],
        )
        .unwrap();
        assert_eq!(
            (t.sslmode, t.sslrootcert),
            (SslMode::Require, RootCerts::System)
        );
        assert_eq!(
            one("postgresql://u@db/x?sslmode=allow", &[])
                .unwrap()
                .sslmode,
            SslMode::Allow
        );
        // MySQL's names; a CA without a mode means VERIFY_CA, as in the mysql client.
        let t = one(
            "mysql://u@db/x?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem",
            &[],
        )
        .unwrap();
        assert_eq!(
            (t.sslmode, t.sslrootcert),
            (SslMode::VerifyFull, RootCerts::File("/ca.pem".into()))
        );
        assert_eq!(
            one("mariadb://u@db/x?ssl-ca=/ca.pem", &[]).unwrap().sslmode,
            SslMode::VerifyCa
        );
        assert_eq!(
            one("mysql://u@db/x?ssl-mode=required", &[])
                .unwrap()
                .sslmode,
            SslMode::Require
        );
        assert_eq!(one("mysql://u@db/x", &[]).unwrap().sslmode, SslMode::Prefer);
        let err = one("postgresql://u:hunter2@db/x?sslmode=on", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("verify-full") && !err.contains("hunter2"),
            "{err}"
        );
        // The config file's keys.
        let file = "[targets.pg]\nengine = \"postgres\"\nhost = \"db\"\nsslmode = \"verify-full\"\nsslrootcert = \"/b.pem\"\n\n[targets.my]\nengine = \"mysql\"\nsslrootcert = \"/c.pem\"\n";
        let c = Config::from_parts(Some(("f", file)), &env_of(&[])).unwrap();
        let pg = c.target(Some("pg")).unwrap();
        assert_eq!(
            (pg.sslmode, &pg.sslrootcert),
            (SslMode::VerifyFull, &RootCerts::File("/b.pem".into()))
        );
        assert_eq!(c.target(Some("my")).unwrap().sslmode, SslMode::VerifyCa);
    }

    #[test]
    fn pgpass_matching_follows_libpq() {
        let t = Target {
            name: "t".into(),
            engine: EngineKind::Postgres,
            host: "/var/run/postgresql".into(),
            port: 5432,
            user: "mon".into(),
            database: Some("shop".into()),
            password: PasswordSource::Default,
            sslmode: SslMode::Prefer,
            sslrootcert: RootCerts::System,
            application_name: "x".into(),
        };
        let text = "# comment\nother:5432:shop:mon:nope\nlocalhost:5432:*:mon:pa\\:ss\\\\word\n*:*:*:*:fallback\n";
        assert_eq!(pgpass_lookup(text, &t), Some(Secret::new("pa:ss\\word")));
        let tcp = Target {
            host: "db".into(),
            ..t.clone()
        };
        assert_eq!(pgpass_lookup(text, &tcp), Some(Secret::new("fallback")));
        assert_eq!(pgpass_lookup("db:5432:shop:other:x\n", &tcp), None);
    }
}
