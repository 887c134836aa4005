//! Passwords: the [`Secret`] that never prints, where a target's password comes from, and
//! finding it at call time in libpq's order (explicit, `PGPASSWORD`, the password file).
//! Nothing here echoes a password, so messages built from these types are safe to return.

use std::fmt;

use super::{Config, EngineKind, Target};

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
    use super::super::{RootCerts, SslMode};
    use super::*;

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
