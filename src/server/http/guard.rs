//! Host and Origin validation against DNS rebinding, as the MCP streamable HTTP transport
//! requires ("servers MUST validate the Origin header").
//!
//! A web page on `http://evil.example` can point its own DNS name at 127.0.0.1 and make the
//! browser talk to a server on the user's machine. The browser still sends
//! `Host: evil.example` and `Origin: http://evil.example`, so a server that only answers the
//! hosts and origins it knows is out of reach. Loopback names are always allowed; a
//! deployment behind a load balancer adds the names clients use (`--allowed-host`,
//! `--allowed-origin`).
//!
//! Requests without an `Origin` header (every non-browser MCP client) are not affected.

use axum::http::{
    HeaderMap,
    header::{HOST, ORIGIN},
    uri::{Authority, Uri},
};

/// Host names that always reach a server, whatever port it listens on.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// Why an allow-list entry was refused at start-up.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    #[error("allowed host {0:?} is not a host name, `host:port` or `[ipv6]:port`")]
    Host(String),
    #[error(
        "allowed origin {0:?} is not `scheme://host`, `scheme://host:port`, `scheme://host:*` \
         or `null`"
    )]
    Origin(String),
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Host,
    Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HostPattern {
    host: String,
    /// `None` matches any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum OriginPattern {
    /// The literal `null` origin of sandboxed documents.
    Null,
    Tuple {
        scheme: String,
        host: String,
        /// `None` matches any port (written `:*`).
        port: Option<u16>,
    },
}

/// The Host and Origin values a server accepts.
#[derive(Debug, Clone)]
pub struct Guard {
    hosts: Vec<HostPattern>,
    origins: Vec<OriginPattern>,
}

impl Guard {
    /// Loopback hosts and origins plus the operator's entries.
    ///
    /// A host entry is `name` (any port) or `name:port`; an origin entry is
    /// `scheme://host` (the scheme's default port), `scheme://host:port`, `scheme://host:*`
    /// (any port) or `null`.
    pub fn new(
        extra_hosts: impl IntoIterator<Item = impl AsRef<str>>,
        extra_origins: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, AllowListError> {
        let mut hosts: Vec<HostPattern> = LOOPBACK_HOSTS
            .iter()
            .filter_map(|h| parse_host_pattern(h))
            .collect();
        for entry in extra_hosts {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            hosts.push(
                parse_host_pattern(entry).ok_or_else(|| AllowListError::Host(entry.to_owned()))?,
            );
        }
        let mut origins: Vec<OriginPattern> = Vec::new();
        for scheme in ["http", "https"] {
            for host in LOOPBACK_HOSTS {
                origins.extend(parse_origin_pattern(&format!("{scheme}://{host}:*")));
            }
        }
        for entry in extra_origins {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            origins.push(
                parse_origin_pattern(entry)
                    .ok_or_else(|| AllowListError::Origin(entry.to_owned()))?,
            );
        }
        Ok(Self { hosts, origins })
    }

    /// Checks a request's `Host` and, when present, `Origin`.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = single(headers, HOST)
            .and_then(|v| Authority::try_from(v).ok())
            .ok_or(Refusal::Host)?;
        let host_name = normalize(host.host());
        let port = host.port_u16();
        let host_ok = self
            .hosts
            .iter()
            .any(|p| p.host == host_name && p.port.is_none_or(|want| Some(want) == port));
        if !host_ok {
            return Err(Refusal::Host);
        }
        if headers.get(ORIGIN).is_none() {
            return Ok(());
        }
        let origin = single(headers, ORIGIN)
            .and_then(parse_origin)
            .ok_or(Refusal::Origin)?;
        let origin_ok = self.origins.iter().any(|p| match (p, &origin) {
            (OriginPattern::Null, OriginPattern::Null) => true,
            (
                OriginPattern::Tuple { scheme, host, port },
                OriginPattern::Tuple {
                    scheme: s,
                    host: h,
                    port: Some(o_port),
                },
            ) => scheme == s && host == h && port.is_none_or(|want| want == *o_port),
            _ => false,
        });
        if origin_ok {
            Ok(())
        } else {
            Err(Refusal::Origin)
        }
    }
}

/// The value of a header that must appear once, as text.
fn single(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(v), None) => v.to_str().ok(),
        _ => None,
    }
}

/// Host names compare case-insensitively; IPv6 literals without their brackets.
fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn parse_host_pattern(entry: &str) -> Option<HostPattern> {
    let authority = Authority::try_from(entry).ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(HostPattern {
        host: normalize(authority.host()),
        port: authority.port_u16(),
    })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// An allow-list entry; a missing port means the scheme's default port (RFC 6454).
fn parse_origin_pattern(entry: &str) -> Option<OriginPattern> {
    if entry.eq_ignore_ascii_case("null") {
        return Some(OriginPattern::Null);
    }
    if let Some(base) = entry.strip_suffix(":*") {
        return match parse_origin(base)? {
            OriginPattern::Tuple { scheme, host, .. } if !has_explicit_port(base) => {
                Some(OriginPattern::Tuple {
                    scheme,
                    host,
                    port: None,
                })
            }
            _ => None,
        };
    }
    parse_origin(entry)
}

fn has_explicit_port(origin: &str) -> bool {
    Uri::try_from(origin)
        .ok()
        .and_then(|u| u.authority().and_then(Authority::port_u16))
        .is_some()
}

/// An `Origin` header value: `null` or `scheme://host[:port]`, with the effective port.
fn parse_origin(value: &str) -> Option<OriginPattern> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("null") {
        return Some(OriginPattern::Null);
    }
    let uri = Uri::try_from(value).ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    // An origin is scheme, host and port: nothing else.
    if authority.as_str().contains('@')
        || authority.host().is_empty()
        || uri
            .path_and_query()
            .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
        || value.ends_with('/')
    {
        return None;
    }
    let port = authority.port_u16().or_else(|| default_port(&scheme))?;
    Some(OriginPattern::Tuple {
        scheme,
        host: normalize(authority.host()),
        port: Some(port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn request(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(host) = host {
            h.insert(HOST, HeaderValue::from_str(host).unwrap());
        }
        if let Some(origin) = origin {
            h.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        h
    }

    fn loopback_only() -> Guard {
        Guard::new(Vec::<String>::new(), Vec::<String>::new()).unwrap()
    }

    #[test]
    fn loopback_hosts_pass_on_any_port() {
        let g = loopback_only();
        for host in [
            "127.0.0.1:8000",
            "localhost:1",
            "LOCALHOST:65535",
            "[::1]:8080",
            "localhost",
        ] {
            assert_eq!(g.check(&request(Some(host), None)), Ok(()), "{host}");
        }
    }

    #[test]
    fn a_rebound_or_missing_host_is_refused() {
        let g = loopback_only();
        for host in [
            Some("evil.example:8000"),
            Some("127.0.0.2:8000"),
            Some("localhost.evil.example"),
            Some("not a host"),
            None,
        ] {
            assert_eq!(
                g.check(&request(host, None)),
                Err(Refusal::Host),
                "{host:?}"
            );
        }
        let mut two = request(Some("localhost:1"), None);
        two.append(HOST, HeaderValue::from_static("evil.example"));
        assert_eq!(g.check(&two), Err(Refusal::Host));
    }

    #[test]
    fn configured_hosts_pass_with_or_without_a_port() {
        let g = Guard::new(
            ["mcp.example.com", "lb.internal:8443"],
            Vec::<String>::new(),
        )
        .unwrap();
        assert_eq!(g.check(&request(Some("mcp.example.com"), None)), Ok(()));
        assert_eq!(g.check(&request(Some("MCP.example.com:443"), None)), Ok(()));
        assert_eq!(g.check(&request(Some("lb.internal:8443"), None)), Ok(()));
        assert_eq!(
            g.check(&request(Some("lb.internal:8444"), None)),
            Err(Refusal::Host)
        );
    }

    #[test]
    fn origins_are_checked_only_when_present() {
        let g = loopback_only();
        let host = Some("127.0.0.1:8000");
        assert_eq!(g.check(&request(host, None)), Ok(()));
        assert_eq!(
            g.check(&request(host, Some("http://localhost:6274"))),
            Ok(())
        );
        assert_eq!(g.check(&request(host, Some("https://[::1]"))), Ok(()));
        for bad in [
            "http://evil.example",
            "http://evil.example:8000",
            "null",
            "http://localhost.evil.example",
            "file://",
            "garbage",
            "http://localhost:6274/path",
        ] {
            assert_eq!(
                g.check(&request(host, Some(bad))),
                Err(Refusal::Origin),
                "{bad}"
            );
        }
    }

    #[test]
    fn configured_origins_follow_the_scheme_and_port() {
        let g = Guard::new(
            Vec::<String>::new(),
            ["https://app.example.com", "http://tools.internal:*", "null"],
        )
        .unwrap();
        let host = Some("localhost:8000");
        let ok = |o: &str| g.check(&request(host, Some(o)));
        assert_eq!(ok("https://app.example.com"), Ok(()));
        assert_eq!(ok("https://app.example.com:443"), Ok(()));
        assert_eq!(ok("https://app.example.com:8443"), Err(Refusal::Origin));
        assert_eq!(ok("http://app.example.com"), Err(Refusal::Origin));
        assert_eq!(ok("http://tools.internal:9999"), Ok(()));
        assert_eq!(ok("null"), Ok(()));
    }

    #[test]
    fn bad_entries_are_refused_at_start_up() {
        assert!(matches!(
            Guard::new(["not a host"], Vec::<String>::new()),
            Err(AllowListError::Host(_))
        ));
        for bad in ["app.example.com", "https://a.example/path", "https://a:1:*"] {
            assert!(
                matches!(
                    Guard::new(Vec::<String>::new(), [bad]),
                    Err(AllowListError::Origin(_))
                ),
                "{bad}"
            );
        }
    }
}
