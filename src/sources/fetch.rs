//! A bounded HTTP GET for metrics endpoints: plain `http://` only, no proxy (a proxy set
//! in the environment must not capture a scrape of `127.0.0.1`), no redirects, a connect
//! timeout, an overall timeout and a cap on the body size.
//!
//! The host is resolved once and checked against the operator's allow-list ([`Reach`]);
//! the request goes to the checked address itself (with the name in `Host`), so a second
//! lookup cannot lead somewhere else. A reply is never quoted in an error: the caller chose
//! the URL, and the reply may be anything (an internal admin page, a metadata document).

use std::net::SocketAddr;
use std::time::Duration;

use crate::error::{ErrorKind, ToolError};

use super::reach::Reach;

/// Largest body read from a metrics endpoint.
pub const MAX_BODY: u64 = 16 << 20;

/// Checks that `url` is an `http://` URL with a host, for the error to name the field.
pub fn check_url(field: &str, url: &str) -> Result<(), ToolError> {
    target(field, url).map(|_| ())
}

/// The parts of a checked URL.
struct Target {
    host: String,
    port: u16,
    /// Path and query.
    path: String,
    /// `host[:port]` as written, for the Host header.
    authority: String,
}

fn target(field: &str, url: &str) -> Result<Target, ToolError> {
    let Some(rest) = url.strip_prefix("http://") else {
        let hint = if url.starts_with("https://") {
            "https is not supported for metrics endpoints; scrape the plain-http port on the host or from a sidecar"
        } else {
            "pass a URL such as http://127.0.0.1:9100/metrics"
        };
        let shown = if url.contains('@') { "the URL" } else { url };
        return Err(ToolError::bad_input(field, format!("`{shown}`: {hint}")));
    };
    if rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'))
    {
        // Not echoed: the part before `@` may be a password.
        return Err(ToolError::bad_input(
            field,
            "carries credentials (user:password@); metrics endpoints are read without them: pass http://HOST:PORT/PATH",
        ));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(ToolError::bad_input(
            field,
            format!("`{url}` has no host; pass http://HOST:PORT/PATH"),
        ));
    }
    let parsed = url::Url::parse(url).map_err(|e| {
        ToolError::bad_input(
            field,
            format!("`{url}` is not a URL ({e}); pass http://HOST:PORT/PATH"),
        )
    })?;
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(a)) => a.to_string(),
        Some(url::Host::Ipv6(a)) => a.to_string(),
        None => {
            return Err(ToolError::bad_input(
                field,
                format!("`{url}` has no host; pass http://HOST:PORT/PATH"),
            ));
        }
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    let authority = match parsed.port() {
        Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or(&host)),
        None => parsed.host_str().unwrap_or(&host).to_owned(),
    };
    Ok(Target {
        host,
        port,
        path,
        authority,
    })
}

/// A metrics endpoint's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub body: String,
    /// The media type (`text/plain`), when it is a well-formed one.
    pub content_type: Option<String>,
}

impl Reply {
    /// What was received, for an error that must not quote it.
    pub fn describe(&self) -> String {
        format!(
            "{} bytes of {}",
            self.body.len(),
            self.content_type
                .as_deref()
                .unwrap_or("an unnamed content type")
        )
    }
}

/// Media types named in errors; any other is "another content type" (a header value is
/// the remote server's text and is not repeated).
const KNOWN_MEDIA_TYPES: [&str; 9] = [
    "text/plain",
    "application/openmetrics-text",
    "application/json",
    "text/html",
    "text/xml",
    "application/xml",
    "application/octet-stream",
    "application/x-protobuf",
    "application/vnd.google.protobuf",
];

fn media_type(value: Option<&str>) -> Option<String> {
    let t = value?.split(';').next()?.trim().to_ascii_lowercase();
    Some(if KNOWN_MEDIA_TYPES.contains(&t.as_str()) {
        t
    } else {
        "another content type".to_owned()
    })
}

/// Why a GET failed, in words of our own (a transport error can carry bytes of the reply),
/// and what kind of failure that is.
fn describe_error(e: &ureq::Error) -> (ErrorKind, &'static str) {
    use ErrorKind::{BadInput, TimedOut, Unreachable};
    match e {
        ureq::Error::Timeout(_) => (TimedOut, "no answer in time"),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => (Unreachable, "connection refused"),
            std::io::ErrorKind::ConnectionReset => (Unreachable, "connection reset"),
            std::io::ErrorKind::TimedOut => (TimedOut, "no answer in time"),
            _ => (Unreachable, "a network error"),
        },
        ureq::Error::ConnectionFailed => (Unreachable, "the connection failed"),
        ureq::Error::HostNotFound => (Unreachable, "the host does not resolve"),
        ureq::Error::BodyExceedsLimit(_) => (BadInput, "the body is larger than 16 MiB"),
        _ => (BadInput, "the answer is not a valid HTTP response"),
    }
}

/// What every outgoing HTTP request shares: no proxy, no redirect followed, a status as a
/// value rather than an error, our user agent, and at most 3 s to connect.
pub fn agent_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .proxy(None)
        .timeout_connect(Some(Duration::from_secs(3)))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
}

/// GETs `url` from an address `reach` allows and returns its body as text.
pub fn get(field: &str, url: &str, timeout: Duration, reach: &Reach) -> Result<Reply, ToolError> {
    let target = target(field, url)?;
    let addrs = reach.metrics_addrs(field, &target.host, target.port)?;
    let agent: ureq::Agent = agent_config()
        .timeout_connect(Some(timeout.min(Duration::from_secs(3))))
        .timeout_global(Some(timeout))
        .build()
        .into();
    let mut last = (ErrorKind::Unreachable, "no address to connect to");
    for addr in &addrs {
        let direct = format!("http://{}{}", show_addr(addr), target.path);
        let mut response = match agent.get(&direct).header("Host", &target.authority).call() {
            Ok(r) => r,
            Err(e) => {
                last = describe_error(&e);
                continue;
            }
        };
        let status = response.status();
        if !status.is_success() {
            let kind = match status.as_u16() {
                401 | 403 => ErrorKind::Denied,
                404 | 405 | 410 => ErrorKind::BadInput,
                _ => ErrorKind::Unreachable,
            };
            return Err(ToolError::new(
                kind,
                format!(
                    "{url} answered HTTP {}; pass the URL of the metrics page itself",
                    status.as_u16()
                ),
            )
            .on(field));
        }
        let content_type = media_type(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
        );
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| {
                let (kind, why) = match e {
                    ureq::Error::BodyExceedsLimit(_) => {
                        (ErrorKind::BadInput, "it is larger than 16 MiB")
                    }
                    ureq::Error::Timeout(_) => (ErrorKind::TimedOut, "it did not arrive in time"),
                    _ => (ErrorKind::BadInput, "it is not UTF-8 text or was cut short"),
                };
                ToolError::new(
                    kind,
                    format!(
                        "the answer of {url} cannot be read: {why}; pass the URL of a /metrics page"
                    ),
                )
                .on(field)
            })?;
        return Ok(Reply { body, content_type });
    }
    let (kind, why) = last;
    Err(ToolError::new(
        kind,
        format!(
            "cannot fetch {url}: {why}; check that the endpoint is running and reachable from this host"
        ),
    )
    .on(field))
}

fn show_addr(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(check_url("u", "http://127.0.0.1:9100/metrics").is_ok());
        assert!(
            check_url("u", "https://x/metrics")
                .unwrap_err()
                .message
                .contains("https")
        );
        assert!(check_url("u", "ftp://x").is_err());
        assert!(check_url("u", "http:///metrics").is_err());
        let e = check_url("u", "http://user:s3cret@host/").unwrap_err();
        assert!(!e.message.contains("s3cret"), "{e}");
        assert!(check_url("u", "http://host/a@b").is_ok());
        let e = check_url("u", "https://user:s3cret@host/").unwrap_err();
        assert!(!e.message.contains("s3cret"), "{e}");
    }

    #[test]
    fn refused_connection_is_an_error_naming_the_field() {
        // Bind then drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = get(
            "gunicorn_metrics_url",
            &format!("http://127.0.0.1:{port}/metrics"),
            Duration::from_secs(2),
            &Reach::default(),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("gunicorn_metrics_url"));
        assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
        assert!(e.message.contains("cannot fetch"), "{e}");
    }

    #[test]
    fn a_host_the_operator_did_not_allow_is_denied_and_a_bad_url_is_bad_input() {
        let reach = Reach::default();
        let e = get(
            "gunicorn_metrics_url",
            "http://10.1.2.3:9100/metrics",
            Duration::from_secs(1),
            &reach,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Denied, "{e}");
        let e = get(
            "gunicorn_metrics_url",
            "ftp://example/metrics",
            Duration::from_secs(1),
            &reach,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadInput, "{e}");
    }

    #[test]
    fn a_status_says_whether_the_url_is_wrong_or_the_endpoint_refuses() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for status in ["404 Not Found", "403 Forbidden", "503 Service Unavailable"] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let url = format!("http://127.0.0.1:{port}/metrics");
        let kinds: Vec<ErrorKind> = (0..3)
            .map(|_| {
                get(
                    "gunicorn_metrics_url",
                    &url,
                    Duration::from_secs(2),
                    &Reach::default(),
                )
                .unwrap_err()
                .kind
            })
            .collect();
        server.join().unwrap();
        assert_eq!(
            kinds,
            [
                ErrorKind::BadInput,
                ErrorKind::Denied,
                ErrorKind::Unreachable
            ]
        );
    }
}
