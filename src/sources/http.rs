//! A bounded HTTP GET for metrics endpoints: plain `http://` only, no proxy (a proxy set
//! in the environment must not capture a scrape of `127.0.0.1`), a connect timeout, an
//! overall timeout and a cap on the body size.

use std::time::Duration;

use crate::diagnosis::InputError;

/// Largest body read from a metrics endpoint.
pub const MAX_BODY: u64 = 16 << 20;

/// Checks that `url` is an `http://` URL with a host, for the error to name the field.
pub fn check_url(field: &str, url: &str) -> Result<(), InputError> {
    let Some(rest) = url.strip_prefix("http://") else {
        let hint = if url.starts_with("https://") {
            "https is not supported for metrics endpoints; scrape the plain-http port on the host or from a sidecar"
        } else {
            "pass a URL such as http://127.0.0.1:9100/metrics"
        };
        let shown = if url.contains('@') { "the URL" } else { url };
        return Err(InputError::new(field, format!("`{shown}`: {hint}")));
    };
    if rest
        .split('/')
        .next()
        .is_some_and(|authority| authority.contains('@'))
    {
        // Not echoed: the part before `@` may be a password.
        return Err(InputError::new(
            field,
            "carries credentials (user:password@); metrics endpoints are read without them: pass http://HOST:PORT/PATH",
        ));
    }
    if rest.is_empty() || rest.starts_with('/') {
        return Err(InputError::new(
            field,
            format!("`{url}` has no host; pass http://HOST:PORT/PATH"),
        ));
    }
    Ok(())
}

/// GETs `url` and returns its body as text.
pub fn get(field: &str, url: &str, timeout: Duration) -> Result<String, InputError> {
    check_url(field, url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_connect(Some(timeout.min(Duration::from_secs(3))))
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(|e| {
        InputError::new(
            field,
            format!("cannot fetch {url}: {e}; check that the endpoint is running and reachable from this host"),
        )
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(InputError::new(
            field,
            format!(
                "{url} answered HTTP {}; pass the URL of the metrics page itself",
                status.as_u16()
            ),
        ));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_string()
        .map_err(|e| InputError::new(field, format!("reading the body of {url}: {e}")))
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
        )
        .unwrap_err();
        assert_eq!(e.field, "gunicorn_metrics_url");
        assert!(e.message.contains("cannot fetch"), "{e}");
    }
}
