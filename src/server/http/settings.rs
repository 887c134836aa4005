//! The HTTP transport's settings: what the operator typed ([`HttpOptions`]) and what the
//! server runs with ([`HttpSettings`]), checked once at start-up so that a mistake is a clear
//! message before the port opens, not a surprise later.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::auth::{BearerToken, TokenError};
use super::guard::{AllowListError, Guard};
use super::open_files::{
    DEFAULT_MAX_CONNECTIONS, MAX_CONNECTIONS, MIN_CONNECTIONS, connections_room, open_files_limit,
    reserved_files,
};

pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Calls served at once unless the operator says otherwise: twice the CPUs, at least 4.
///
/// The tools are CPU work of well under a millisecond. With more of them in flight than the
/// cores can run, they only take turns at random and the latency tail widens; the ones that
/// wait for a slot wait in arrival order instead. With 100 sessions calling back to back on
/// two cores, p99 was about half at 4 slots of what it was at 64 (bench/http_load.rs). Tools
/// that wait on a slow source hold their slot while they wait: raise the limit for them,
/// keeping in mind that every slot can be one more query on a database that may already be
/// struggling.
pub fn default_max_concurrent_calls() -> usize {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    (2 * cpus).max(4)
}
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A client has this long to send a request's headers: from the connection's start for its
/// first request, from the first byte for the next ones. MCP clients send them at once; a
/// client that has not finished after a few seconds is holding a connection, not using it.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A kept-alive connection with no request for this long is closed. Longer than the idle
/// timeouts of common proxies and load balancers in front (nginx's upstream keepalive and an
/// AWS ALB: 60 s), so that they, not the server, close the connections they pool, and a
/// request is never sent on a connection the server is closing at that moment.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// The smallest body limit that still fits an `initialize` request with room to spare.
pub const MIN_BODY_BYTES: usize = 4096;

/// What the operator asked for, from flags and environment, before any check.
#[derive(Clone)]
pub struct HttpOptions {
    /// `PORT`, `IP:PORT` or `[IPv6]:PORT`; a bare port listens on 127.0.0.1.
    pub addr: String,
    /// The value of `PWT_HTTP_TOKEN`, if set.
    pub token_env: Option<String>,
    /// `--token-file` / `PWT_HTTP_TOKEN_FILE`.
    pub token_file: Option<PathBuf>,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub call_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    /// `--max-connections`; `None` for the default, which the open-files limit decides.
    pub max_connections: Option<usize>,
    /// The process's open-files soft limit (`None`: unlimited or unknown).
    pub open_files_limit: Option<u64>,
}

impl HttpOptions {
    /// Defaults for everything but the address.
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            token_env: None,
            token_file: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_concurrent_calls: default_max_concurrent_calls(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: None,
            open_files_limit: open_files_limit(),
        }
    }
}

/// The checked settings the server runs with.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub addr: SocketAddr,
    /// `None` only on a loopback address.
    pub token: Option<BearerToken>,
    pub guard: Guard,
    /// One deadline per request: receiving it, waiting for a slot, running the tool.
    pub call_timeout: Duration,
    pub max_concurrent_calls: usize,
    pub max_body_bytes: usize,
    /// How long in-flight calls may run on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// How long a client has to send a request's headers.
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Client connections held at once; at the cap, the oldest idle one makes room.
    pub max_connections: usize,
    /// The open-files soft limit the cap was checked against, for the start-up line.
    pub open_files_limit: Option<u64>,
}

/// Why the server refuses to start.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "--http {0:?} is not an address: use PORT (listens on 127.0.0.1), IP:PORT or [IPv6]:PORT"
    )]
    Addr(String),
    #[error(
        "refusing to listen on {0} without a bearer token: it is not a loopback address, so \
         anyone who can reach it could call the tools. Set PWT_HTTP_TOKEN, or put the token in \
         a file and pass --token-file FILE (or PWT_HTTP_TOKEN_FILE); e.g. \
         `openssl rand -hex 32 > token && chmod 600 token`"
    )]
    TokenRequired(SocketAddr),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    AllowList(#[from] AllowListError),
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("--max-body-bytes must be at least {MIN_BODY_BYTES}")]
    BodyLimit,
    #[error("--max-connections must be at most {MAX_CONNECTIONS}")]
    ConnectionsCeiling,
    #[error(
        "--max-connections {asked} does not fit under the open-files limit ({limit}): \
         {reserved} descriptors are kept for the process and its calls (database and AWS \
         connections, log files), which leaves {room}. Raise the limit (systemd: \
         LimitNOFILE=; docker: --ulimit nofile=N:N; a shell: ulimit -n) or lower \
         --max-connections"
    )]
    TooManyConnections {
        asked: usize,
        limit: u64,
        reserved: u64,
        room: usize,
    },
    #[error(
        "the open-files limit ({limit}) leaves room for only {room} client connections once \
         {reserved} descriptors are kept for the process and its calls (database and AWS \
         connections, log files). Raise it (systemd: LimitNOFILE=; docker: --ulimit \
         nofile=N:N; a shell: ulimit -n), or lower --max-concurrent-calls"
    )]
    OpenFilesLimit {
        limit: u64,
        reserved: u64,
        room: usize,
    },
}

impl HttpSettings {
    pub fn resolve(options: HttpOptions) -> Result<Self, SettingsError> {
        let addr = parse_addr(&options.addr).ok_or(SettingsError::Addr(options.addr))?;
        let token = BearerToken::load(options.token_env.as_deref(), options.token_file.as_deref())?;
        if token.is_none() && !addr.ip().is_loopback() {
            return Err(SettingsError::TokenRequired(addr));
        }
        // Clients that reach a specific address by its IP send it as the Host.
        let mut hosts = options.allowed_hosts;
        let ip = addr.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            hosts.push(match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        let guard = Guard::new(&hosts, &options.allowed_origins)?;
        if options.call_timeout.is_zero() {
            return Err(SettingsError::Zero("--call-timeout"));
        }
        if options.max_concurrent_calls == 0 {
            return Err(SettingsError::Zero("--max-concurrent-calls"));
        }
        if options.max_body_bytes < MIN_BODY_BYTES {
            return Err(SettingsError::BodyLimit);
        }
        if options.header_timeout.is_zero() {
            return Err(SettingsError::Zero("--header-timeout"));
        }
        if options.idle_timeout.is_zero() {
            return Err(SettingsError::Zero("--idle-timeout"));
        }
        let max_connections = max_connections(
            options.max_connections,
            options.open_files_limit,
            options.max_concurrent_calls,
        )?;
        Ok(Self {
            addr,
            token,
            guard,
            call_timeout: options.call_timeout,
            max_concurrent_calls: options.max_concurrent_calls,
            max_body_bytes: options.max_body_bytes,
            shutdown_grace: options.shutdown_grace,
            header_timeout: options.header_timeout,
            idle_timeout: options.idle_timeout,
            max_connections,
            open_files_limit: options.open_files_limit,
        })
    }
}

/// The operator's cap, if it fits under the open-files limit; otherwise what fits, at most
/// [`DEFAULT_MAX_CONNECTIONS`].
fn max_connections(
    asked: Option<usize>,
    limit: Option<u64>,
    max_concurrent_calls: usize,
) -> Result<usize, SettingsError> {
    let room = connections_room(limit, max_concurrent_calls);
    let reserved = reserved_files(max_concurrent_calls);
    match (asked, limit.zip(room)) {
        (Some(0), _) => Err(SettingsError::Zero("--max-connections")),
        (Some(asked), _) if asked > MAX_CONNECTIONS => Err(SettingsError::ConnectionsCeiling),
        (Some(asked), Some((limit, room))) if asked > room => {
            Err(SettingsError::TooManyConnections {
                asked,
                limit,
                reserved,
                room,
            })
        }
        (Some(asked), _) => Ok(asked),
        (None, Some((limit, room))) if room < MIN_CONNECTIONS => {
            Err(SettingsError::OpenFilesLimit {
                limit,
                reserved,
                room,
            })
        }
        (None, Some((_, room))) => Ok(room.min(DEFAULT_MAX_CONNECTIONS)),
        (None, None) => Ok(DEFAULT_MAX_CONNECTIONS),
    }
}

/// `PORT`, `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
pub fn parse_addr(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    if let Ok(port) = text.parse::<u16>() {
        return Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = text.strip_prefix("localhost:") {
        return Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            port.parse().ok()?,
        ));
    }
    text.parse().ok()
}

/// `30s`, `500ms`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: use e.g. 30s, 500ms or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(format!("{text:?}: the unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is out of range"))
}

/// A duration as people write it: `500 ms`, `30 s`, `1.5 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        let seconds = format!("{:.3}", d.as_secs_f64());
        format!("{} s", seconds.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("8000"), Some("127.0.0.1:8000".parse().unwrap()));
        assert_eq!(
            parse_addr("localhost:8000"),
            Some("127.0.0.1:8000".parse().unwrap())
        );
        assert_eq!(
            parse_addr("0.0.0.0:8000"),
            Some("0.0.0.0:8000".parse().unwrap())
        );
        assert_eq!(
            parse_addr("[::1]:8000"),
            Some("[::1]:8000".parse().unwrap())
        );
        assert_eq!(parse_addr("example.com:8000"), None);
        assert_eq!(parse_addr("127.0.0.1"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3h").is_err());
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn loopback_may_run_without_a_token() {
        let s = HttpSettings::resolve(HttpOptions::new("0")).unwrap();
        assert!(s.token.is_none());
        assert_eq!(s.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert!(HttpSettings::resolve(HttpOptions::new("[::1]:0")).is_ok());
    }

    #[test]
    fn any_other_address_requires_a_token() {
        for addr in ["0.0.0.0:8000", "[::]:8000", "10.1.2.3:8000"] {
            let err = HttpSettings::resolve(HttpOptions::new(addr)).unwrap_err();
            assert!(
                matches!(err, SettingsError::TokenRequired(_)),
                "{addr}: {err}"
            );
            let message = err.to_string();
            assert!(message.contains("PWT_HTTP_TOKEN"), "{message}");
            assert!(message.contains("--token-file"), "{message}");
        }
        let mut options = HttpOptions::new("0.0.0.0:8000");
        options.token_env = Some(TOKEN.into());
        let s = HttpSettings::resolve(options).unwrap();
        assert!(s.token.is_some());
        assert!(!format!("{s:?}").contains(TOKEN));
    }

    #[test]
    fn a_specific_address_is_an_allowed_host() {
        let mut options = HttpOptions::new("10.1.2.3:8000");
        options.token_env = Some(TOKEN.into());
        let s = HttpSettings::resolve(options).unwrap();
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("host", "10.1.2.3:8000".parse().unwrap());
        assert!(s.guard.check(&headers).is_ok());
    }

    #[test]
    fn limits_must_be_usable() {
        let mut o = HttpOptions::new("0");
        o.call_timeout = Duration::ZERO;
        assert!(matches!(
            HttpSettings::resolve(o),
            Err(SettingsError::Zero("--call-timeout"))
        ));
        let mut o = HttpOptions::new("0");
        o.max_concurrent_calls = 0;
        assert!(HttpSettings::resolve(o).is_err());
        let mut o = HttpOptions::new("0");
        o.max_body_bytes = 100;
        assert!(matches!(
            HttpSettings::resolve(o),
            Err(SettingsError::BodyLimit)
        ));
        for zero in ["--header-timeout", "--idle-timeout", "--max-connections"] {
            let mut o = HttpOptions::new("0");
            match zero {
                "--header-timeout" => o.header_timeout = Duration::ZERO,
                "--idle-timeout" => o.idle_timeout = Duration::ZERO,
                _ => o.max_connections = Some(0),
            }
            assert!(
                matches!(HttpSettings::resolve(o), Err(SettingsError::Zero(flag)) if flag == zero),
                "{zero}"
            );
        }
        let mut o = HttpOptions::new("nowhere");
        o.token_env = Some(TOKEN.into());
        assert!(matches!(
            HttpSettings::resolve(o),
            Err(SettingsError::Addr(_))
        ));
    }

    fn with_limit(limit: Option<u64>, calls: usize, asked: Option<usize>) -> HttpOptions {
        let mut o = HttpOptions::new("0");
        o.open_files_limit = limit;
        o.max_concurrent_calls = calls;
        o.max_connections = asked;
        o
    }

    #[test]
    fn the_connection_cap_fits_under_the_open_files_limit() {
        // systemd's default soft limit with 4 call slots: 1,024 - 128 - 4 x 4.
        let s = HttpSettings::resolve(with_limit(Some(1024), 4, None)).unwrap();
        assert_eq!(s.max_connections, 880);
        assert_eq!(s.open_files_limit, Some(1024));
        // A high or no limit: the default cap.
        let s = HttpSettings::resolve(with_limit(Some(1 << 20), 4, None)).unwrap();
        assert_eq!(s.max_connections, DEFAULT_MAX_CONNECTIONS);
        let s = HttpSettings::resolve(with_limit(None, 4, None)).unwrap();
        assert_eq!(s.max_connections, DEFAULT_MAX_CONNECTIONS);
        // The operator's cap, when it fits.
        let s = HttpSettings::resolve(with_limit(Some(1024), 4, Some(880))).unwrap();
        assert_eq!(s.max_connections, 880);
        let s = HttpSettings::resolve(with_limit(None, 4, Some(100_000))).unwrap();
        assert_eq!(s.max_connections, 100_000);
        assert!(matches!(
            HttpSettings::resolve(with_limit(None, 4, Some(usize::MAX))),
            Err(SettingsError::ConnectionsCeiling)
        ));
    }

    #[test]
    fn a_cap_over_the_open_files_limit_is_refused_with_the_fix() {
        let err = HttpSettings::resolve(with_limit(Some(1024), 4, Some(881))).unwrap_err();
        assert!(
            matches!(
                err,
                SettingsError::TooManyConnections {
                    asked: 881,
                    limit: 1024,
                    reserved: 144,
                    room: 880
                }
            ),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("LimitNOFILE"), "{message}");
        assert!(message.contains("--ulimit nofile"), "{message}");

        // A limit that leaves almost nothing: say so rather than serve 3 connections.
        let err = HttpSettings::resolve(with_limit(Some(256), 32, None)).unwrap_err();
        assert!(
            matches!(err, SettingsError::OpenFilesLimit { limit: 256, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("--max-concurrent-calls"), "{err}");
    }
}
