//! The databases a tool may name: [`Target`] with its engine and TLS settings, built from a
//! connection URL ([`parse_url`]) or from libpq's environment variables ([`PgDefaults`]).
//! Error messages describe a bad URL without echoing it, since it may hold a password.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{PasswordSource, Secret};

/// Which database engine a target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    #[serde(alias = "postgresql")]
    Postgres,
    #[serde(alias = "mariadb")]
    Mysql,
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
    pub(super) fn parse(value: &str) -> Self {
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
    pub(super) any_set: bool,
}

impl PgDefaults {
    pub(super) fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Self {
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

    pub(super) fn target(&self, name: &str) -> Target {
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
pub(super) fn parse_sslmode(value: Option<&str>) -> Result<SslMode, String> {
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
