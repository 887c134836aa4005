//! Connecting to PostgreSQL as the target's `sslmode` says, with libpq's semantics over
//! rustls, and turning the driver's failures into [`DbError`]s that name the target, say
//! what to do, carry the kind of failure, and never contain the password.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{Secret, SslMode, Target};
use crate::flows::ErrorKind;
use crate::sources::tls::{self, Verify};
use crate::sources::{AbortOnDrop, DbError};

/// Connects as the target's `sslmode` says (see [`crate::sources::tls`]): `prefer` tries TLS and,
/// when TLS was used and the attempt failed, once more without; `allow` the other way
/// round; `require` and stronger only with TLS. Never TLS over a Unix socket, as libpq.
pub(super) async fn connect(
    target: &Target,
    password: Option<&Secret>,
    timeout: Duration,
) -> Result<(Client, AbortOnDrop), DbError> {
    let mode = if target.host.starts_with('/') {
        SslMode::Disable
    } else {
        target.sslmode
    };
    // The target's TLS settings (its CA file) cannot be used.
    let fail = |message: String| {
        DbError::new(
            ErrorKind::NotConfigured,
            format!("cannot connect to {}: {message}", target.describe()),
            password,
        )
    };
    let (tls, roots) = if mode == SslMode::Disable {
        (None, String::new())
    } else {
        let verify = tls::verification(target, tls::root_file_configured(&target.sslrootcert));
        let roots = match verify {
            Verify::Nothing => None,
            _ => Some(tls::load_roots(&target.sslrootcert).map_err(|e| fail(e.to_string()))?),
        };
        let config = tls::client_config(verify, roots.as_ref()).map_err(|e| fail(e.to_string()))?;
        (
            Some(MakeRustlsConnect::new(config)),
            roots.map(|r| r.described).unwrap_or_default(),
        )
    };
    let plain = || attempt(target, password, timeout, None);
    let encrypted = |required: bool| {
        attempt(
            target,
            password,
            timeout,
            tls.clone().map(|t| (t, required)),
        )
    };
    let result = match mode {
        SslMode::Disable => plain().await,
        SslMode::Prefer => match encrypted(false).await {
            Err(first) if first.tls_used => match plain().await {
                Ok(c) => {
                    let why = crate::sources::scrub(describe(&first.error), password);
                    tracing::debug!(target = %target.name, error = %why, "TLS attempt failed; connected without TLS (sslmode=prefer)");
                    Ok(c)
                }
                Err(second) => Err(Failed::both("with TLS", first, "without TLS", second)),
            },
            other => other,
        },
        SslMode::Allow => match plain().await {
            Err(first) if first.error.as_db_error().is_some() => match encrypted(true).await {
                Ok(c) => Ok(c),
                Err(second) => Err(Failed::both("without TLS", first, "with TLS", second)),
            },
            other => other,
        },
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => encrypted(true).await,
    };
    result.map_err(|f| connect_error(target, password, &f, &roots))
}

/// A failed connection attempt (or two, for `prefer` and `allow`).
struct Failed {
    error: tokio_postgres::Error,
    /// The TLS handshake was started (the server accepted TLS).
    tls_used: bool,
    /// The first attempt's error, when a second one followed: (how, message).
    earlier: Option<(&'static str, &'static str, String)>,
}

impl Failed {
    fn both(
        how_first: &'static str,
        first: Failed,
        how_second: &'static str,
        second: Failed,
    ) -> Self {
        Failed {
            earlier: Some((how_first, how_second, describe(&first.error))),
            ..second
        }
    }
}

/// One connection attempt: plain, or with TLS (`required`: no plain fallback when the
/// server declines TLS). The connection runs in its own task, ended when the client is.
async fn attempt(
    target: &Target,
    password: Option<&Secret>,
    timeout: Duration,
    tls: Option<(MakeRustlsConnect, bool)>,
) -> Result<(Client, AbortOnDrop), Failed> {
    let mut config = tokio_postgres::Config::new();
    if target.host.starts_with('/') {
        config.host_path(&target.host);
    } else {
        config.host(&target.host);
    }
    config
        .port(target.port)
        .user(&target.user)
        .application_name(&target.application_name)
        .connect_timeout(timeout);
    if let Some(db) = &target.database {
        config.dbname(db);
    }
    if let Some(p) = password {
        config.password(p.expose());
    }
    let used = Arc::new(AtomicBool::new(false));
    let result = match tls {
        None => {
            config.ssl_mode(PgSslMode::Disable);
            start(&config, NoTls).await
        }
        Some((inner, required)) => {
            config.ssl_mode(if required {
                PgSslMode::Require
            } else {
                PgSslMode::Prefer
            });
            start(
                &config,
                Tracked {
                    inner,
                    used: used.clone(),
                },
            )
            .await
        }
    };
    result.map_err(|error| Failed {
        error,
        tls_used: used.load(Ordering::Relaxed),
        earlier: None,
    })
}

async fn start<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<(Client, AbortOnDrop), tokio_postgres::Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    let task = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "postgres connection ended");
        }
    });
    Ok((client, AbortOnDrop(task)))
}

/// The rustls connector, noting whether the server accepted TLS and the handshake began:
/// libpq's `prefer` retries without TLS only then.
struct Tracked {
    inner: MakeRustlsConnect,
    used: Arc<AtomicBool>,
}

impl<S> MakeTlsConnect<S> for Tracked
where
    MakeRustlsConnect: MakeTlsConnect<S>,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = TrackedConnect<<MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect>;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Self::TlsConnect, Self::Error> {
        Ok(TrackedConnect {
            inner: self.inner.make_tls_connect(domain)?,
            used: self.used.clone(),
        })
    }
}

struct TrackedConnect<T> {
    inner: T,
    used: Arc<AtomicBool>,
}

impl<S, T: TlsConnect<S>> TlsConnect<S> for TrackedConnect<T> {
    type Stream = T::Stream;
    type Error = T::Error;
    type Future = T::Future;

    fn connect(self, stream: S) -> T::Future {
        self.used.store(true, Ordering::Relaxed);
        self.inner.connect(stream)
    }
}

/// Why a connection failed, with what to do about it.
fn connect_error(target: &Target, password: Option<&Secret>, f: &Failed, roots: &str) -> DbError {
    let detail = describe(&f.error);
    let e = &f.error;
    let mut hint = match e.code() {
        Some(c) if *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && (detail.contains("no encryption") || detail.contains("SSL off")) =>
        {
            " The server accepts this role only over TLS (a hostssl line in pg_hba.conf, or rds.force_ssl = 1 on RDS): set sslmode=require for the target, or verify-full with sslrootcert to also check the server's certificate.".to_owned()
        }
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            " Check the user and the password source configured for this target (password_env, PGPASSWORD or the password file).".to_owned()
        }
        Some(c) if *c == SqlState::INVALID_CATALOG_NAME => {
            " Check the database name of the target.".to_owned()
        }
        Some(c) if *c == SqlState::TOO_MANY_CONNECTIONS => {
            " The server is out of connection slots: that is itself a finding (max_connections exhausted).".to_owned()
        }
        _ if detail.contains("refused") => {
            " Nothing listens there: check host and port, and that the server runs.".to_owned()
        }
        _ if detail.contains("password missing") => {
            " The server asks for a password and none is configured: set password_env for the target, PGPASSWORD, or a ~/.pgpass entry.".to_owned()
        }
        _ => tls::hint(&detail, target, roots),
    };
    let kind = match e.code() {
        Some(c)
            if *c == SqlState::INVALID_PASSWORD
                || *c == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
        {
            ErrorKind::Denied
        }
        _ if detail.contains("password missing") => ErrorKind::Denied,
        _ => failure_kind(e),
    };
    let message = match &f.earlier {
        Some((how_first, how_second, first)) => {
            if hint.is_empty() {
                hint = tls::hint(first, target, roots);
            }
            format!("{how_first}: {first}; then {how_second}: {detail}")
        }
        None => detail,
    };
    DbError::new(
        kind,
        format!(
            "cannot connect to {} with sslmode={}: {message}.{hint}",
            target.describe(),
            target.sslmode.as_str()
        ),
        password,
    )
}

/// Why a read failed, with what to do about it.
pub(super) fn query_error(
    target: &Target,
    password: Option<&Secret>,
    what: &str,
    e: tokio_postgres::Error,
) -> DbError {
    let hint = match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED => {
            " The statement timeout fired: the server is slow to answer even catalogue reads."
        }
        Some(c) if *c == SqlState::LOCK_NOT_AVAILABLE => {
            " The lock timeout fired: something holds a lock on a catalogue (DDL in progress?)."
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => {
            " The role lacks a privilege: GRANT pg_monitor (or pg_read_all_stats) to it."
        }
        _ => "",
    };
    let kind = match e.code() {
        Some(c) if *c == SqlState::QUERY_CANCELED || *c == SqlState::LOCK_NOT_AVAILABLE => {
            ErrorKind::TimedOut
        }
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => ErrorKind::Denied,
        _ => failure_kind(&e),
    };
    DbError::new(
        kind,
        format!(
            "{} failed while {what}: {}.{hint}",
            target.describe(),
            describe(&e)
        ),
        password,
    )
}

/// A failure the server did not explain: a timeout, or the server unreachable (refused,
/// unknown host, connection lost) or answering with an error.
fn failure_kind(e: &tokio_postgres::Error) -> ErrorKind {
    if crate::sources::db::timed_out(e) {
        ErrorKind::TimedOut
    } else {
        ErrorKind::Unreachable
    }
}

/// The driver's message with the server's own text and SQLSTATE when there is one.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let part = s.to_string();
                if !text.contains(&part) {
                    text.push_str(": ");
                    text.push_str(&part);
                }
                source = s.source();
            }
            text
        }
    }
}
