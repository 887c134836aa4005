//! The config file (TOML): its format, and how it adds settings, what tool callers may
//! read and named targets to a [`Config`]. Errors name the file and the key, and never quote
//! a line, which may hold a password.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::targets::parse_sslmode;
use super::{
    Config, ConfigError, EngineKind, PasswordSource, PgDefaults, RootCerts, SslMode, Target,
    parse_url,
};
use crate::sources::reach::ReachSettings;

/// The whole file, as written.
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
    #[serde(default)]
    prometheus: BTreeMap<String, super::engines::FileEngine>,
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

/// Adds the config file at `path` (its `text`) to `config`.
pub(super) fn apply(
    config: &mut Config,
    path: &str,
    text: &str,
    defaults: &PgDefaults,
) -> Result<(), ConfigError> {
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
    for (name, e) in parsed.prometheus {
        crate::diagnosis::queries::check_target_name(&name).map_err(|_| {
            file_error(format!(
                "engine name `{name}` must use only letters, digits, `_`, `-`, `.`"
            ))
        })?;
        let engine = e
            .resolve(&name)
            .map_err(|m| file_error(format!("prometheus.{name}: {m}")))?;
        config.engines.insert(engine);
    }
    for (name, t) in parsed.targets {
        crate::diagnosis::queries::check_target_name(&name).map_err(|_| {
            file_error(format!(
                "target name `{name}` must use only letters, digits, `_`, `-`, `.`"
            ))
        })?;
        let target = file_target(&name, t, defaults)
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
    Ok(())
}

/// One `[targets.NAME]` table as a [`Target`]: its `url`, or its `engine` with libpq's
/// defaults, then each key given over them.
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
