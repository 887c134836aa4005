//! `serve`: the MCP server on stdio (one local agent) or over streamable HTTP (a team). The
//! flags of the HTTP server become checked [`HttpSettings`]; starting either transport lives
//! here so `main` only picks one.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use rmcp::{ServiceExt, service::ServerInitializeError};

use super::{Threads, runtime};
use crate::config::Config;
use crate::server::Troubleshooter;
use crate::server::http::{self as http, HttpOptions, HttpSettings};
use crate::sources::reach::Reach;

/// `serve`: stdio unless `--http` is given. The bearer token is read from PWT_HTTP_TOKEN or a
/// file, never from a flag, where `ps` would show it.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve MCP over streamable HTTP on ADDR instead of stdio: PORT (listens on 127.0.0.1)
    /// or IP:PORT (an IPv6 address in brackets). MCP endpoint /mcp, health check /healthz.
    /// Any address other than loopback requires a bearer token (PWT_HTTP_TOKEN or
    /// --token-file).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Read the bearer token from FILE (its whole content, surrounding whitespace ignored;
    /// `chmod 600` it). The alternative is PWT_HTTP_TOKEN; never pass the token as a flag.
    #[arg(long, value_name = "FILE", env = "PWT_HTTP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Also answer requests whose Host header is NAME or NAME:PORT (the name clients or the
    /// load balancer use); loopback names are always allowed. Repeatable or comma-separated.
    #[arg(
        long = "allowed-host",
        value_name = "NAME",
        env = "PWT_HTTP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Also accept browser requests from ORIGIN: scheme://host[:port|:*]. Loopback origins
    /// are always allowed; requests without an Origin header are not affected. Repeatable
    /// or comma-separated.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "PWT_HTTP_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Time limit for one call, from the request's arrival to its answer (e.g. 30s, 500ms).
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_CALL_TIMEOUT", default_value = "30s", value_parser = http::parse_duration)]
    pub call_timeout: Duration,
    /// Calls served at once (default: twice the CPUs, at least 4); others wait in arrival
    /// order, and one that finds no free slot within a second gets 503. Raise it for tools
    /// that wait on slow sources.
    #[arg(long, value_name = "N", env = "PWT_HTTP_MAX_CONCURRENT_CALLS")]
    pub max_concurrent_calls: Option<usize>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", env = "PWT_HTTP_MAX_BODY_BYTES", default_value_t = http::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// On SIGTERM or Ctrl-C, how long calls in progress may still run (e.g. 10s).
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_SHUTDOWN_GRACE", default_value = "10s", value_parser = http::parse_duration)]
    pub shutdown_grace: Duration,
    /// A client that has not sent a request's complete headers within this is disconnected:
    /// from the connection's start for its first request (so also one that sends nothing),
    /// from the first byte for the next ones.
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_HEADER_TIMEOUT", default_value = "5s", value_parser = http::parse_duration)]
    pub header_timeout: Duration,
    /// A kept-alive connection with no new request for this long is closed. Keep it above
    /// the idle timeout of a proxy or load balancer that pools connections to the server.
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_IDLE_TIMEOUT", default_value = "75s", value_parser = http::parse_duration)]
    pub idle_timeout: Duration,
    /// Client connections held at once (default: what the open-files limit leaves after
    /// 128 + 4 per call slot are kept for databases, AWS and log files, at most 4096). At
    /// the cap, the oldest connection with no request in progress is closed to make room.
    #[arg(long, value_name = "N", env = "PWT_HTTP_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
}

impl ServeArgs {
    /// The checked HTTP settings, or `None` for stdio.
    pub fn http_settings(&self) -> Result<Option<HttpSettings>> {
        let Some(addr) = &self.http else {
            return Ok(None);
        };
        let options = HttpOptions {
            addr: addr.clone(),
            token_env: std::env::var("PWT_HTTP_TOKEN").ok(),
            token_file: self.token_file.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_origins: self.allowed_origins.clone(),
            call_timeout: self.call_timeout,
            max_concurrent_calls: self
                .max_concurrent_calls
                .unwrap_or_else(http::default_max_concurrent_calls),
            max_body_bytes: self.max_body_bytes,
            shutdown_grace: self.shutdown_grace,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            open_files_limit: http::open_files_limit(),
        };
        Ok(Some(HttpSettings::resolve(options)?))
    }
}

/// Serves one client on stdin/stdout until it leaves.
pub fn serve_stdio(config: Config, reach: Reach) -> Result<()> {
    runtime(Threads::One)?.block_on(async {
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "serving MCP on stdio");
        let service = match Troubleshooter::with_config(config)
            .with_reach(reach)
            .serve(rmcp::transport::stdio())
            .await
        {
            Ok(service) => service,
            // A client that probes and leaves (or a closed stdin) is not a failure.
            Err(ServerInitializeError::ConnectionClosed(context)) => {
                tracing::info!(%context, "client left before initializing");
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        service.waiting().await?;
        tracing::info!("client closed the session");
        Ok(())
    })
}

/// Serves streamable HTTP on the checked address until SIGTERM or Ctrl-C.
pub fn serve_http(settings: HttpSettings, config: Config, reach: Reach) -> Result<()> {
    runtime(Threads::PerCore)?.block_on(async {
        let shutdown = shutdown_signal()?;
        let listener = http::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.addr))?;
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            "serving MCP over streamable HTTP"
        );
        http::serve_with(
            listener,
            settings,
            Troubleshooter::with_config(config).with_reach(reach),
            shutdown,
        )
        .await?;
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM (what systemd, Docker and Kubernetes send). The handlers
/// are installed before the port opens, so a signal is never the default "exit at once".
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
