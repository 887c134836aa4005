//! The streamable HTTP transport: one shared server for a team, next to the databases.
//!
//! `serve --http ADDR` serves the same [`Troubleshooter`] as stdio at `/mcp`, through rmcp's
//! [`StreamableHttpService`] on axum, plus `/healthz` for load balancers. Every request to
//! `/mcp` passes a gate before rmcp sees it, in this order:
//!
//! 1. refused while draining for shutdown (503);
//! 2. `Host` / `Origin` against the allow-lists, so a DNS-rebinding page learns nothing (403);
//! 3. the bearer token, compared in constant time (401), then removed from the request so
//!    neither rmcp nor a tool ever holds it;
//! 4. a call slot out of `--max-concurrent-calls`, taken before the body is read so that
//!    waiting requests hold no memory (503 when none frees up within [`QUEUE_WAIT`]);
//! 5. the body, read up to `--max-body-bytes` (413) before the deadline (408).
//!
//! A refused request's body is read and discarded (a bounded amount) before the answer, so
//! that the client receives the answer rather than a connection reset.
//!
//! One deadline (`--call-timeout`) starts when the request arrives and covers all of it; the
//! tool call sees it through [`CallInfo`] and stops at it with a tool error. Refusals are
//! JSON-RPC error bodies ([`Rejection`]) and access-log lines; so is every tool call.
//!
//! The server runs stateless with JSON responses: every POST is a complete exchange, so any
//! instance behind a load balancer can answer any request (no sticky sessions), nothing is
//! held between calls, and a request's lifetime is its call's lifetime, which is what the
//! deadline, the slot and graceful shutdown count. The tools need no server-to-client
//! requests; should a handler send a notification, rmcp answers that request as an SSE
//! stream instead (and its slot is given back when the stream starts).
//!
//! Before any request, the connections themselves are bounded (`listen.rs`, `connections.rs`):
//! a client must send its headers within `--header-timeout` of connecting (or of its first
//! byte on a kept-alive connection), a kept-alive connection without a request is closed
//! after `--idle-timeout`, and at most `--max-connections` are held, a number that keeps
//! the process under its open-files limit. At the cap the oldest connections without a
//! request in progress make room for new ones, so clients that connect and send nothing
//! cannot keep the team, or the load balancer's `/healthz`, out.
//!
//! Everything the server needs is passed to [`serve`] (listener, settings, shutdown signal),
//! so tests run the real server on port 0.

mod auth;
mod connections;
mod guard;
mod listen;
mod open_files;
mod reject;
mod settings;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{ConnectInfo, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use bytes::BytesMut;
use http_body_util::{BodyExt, Full};
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::never::NeverSessionManager,
};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ACCESS_LOG, CallInfo, Troubleshooter, call::millis};
use connections::ConnectionHandle;

pub use auth::{BearerToken, MIN_TOKEN_LEN, TokenError};
pub use guard::{AllowListError, Guard, LOOPBACK_HOSTS, Refusal};
pub use listen::bind;
pub use open_files::{
    DEFAULT_MAX_CONNECTIONS, FILES_PER_CALL, MAX_CONNECTIONS, RESERVED_FILES, open_files_limit,
};
pub use reject::Rejection;
pub use settings::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_SHUTDOWN_GRACE, HttpOptions, HttpSettings, SettingsError, default_max_concurrent_calls,
    human, parse_addr, parse_duration,
};

/// How long a request waits for a call slot before it is told the server is busy. Short:
/// the tools take well under a millisecond, so slots that stay busy this long mean slow
/// data sources, and a prompt "retry" beats a queue that grows. Waiting requests are served
/// in arrival order.
pub const QUEUE_WAIT: Duration = Duration::from_secs(1);

/// How long past its deadline the transport waits for the MCP server's answer before it
/// answers 504 itself. The tool call stops at the deadline; this only covers the answer's
/// way out.
const ANSWER_GRACE: Duration = Duration::from_secs(1);

/// How long past the call deadline a request's answer may take to go out before its
/// connection is closed: the answer grace, the time to read a refused body ([`LINGER_TIME`])
/// and a client that reads its answer slowly.
const EXCHANGE_SLACK: Duration = Duration::from_secs(5);

/// Runs the HTTP transport on `listener` until `shutdown` resolves, then drains: new
/// connections and requests are refused, calls in progress get up to
/// `settings.shutdown_grace` to finish.
pub async fn serve<F>(
    listener: TcpListener,
    settings: HttpSettings,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_with(listener, settings, Troubleshooter::new(), shutdown).await
}

/// [`serve`] with a configured server (database targets and settings from the operator).
pub async fn serve_with<F>(
    listener: TcpListener,
    settings: HttpSettings,
    server: Troubleshooter,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let gate = Arc::new(Gate::new(&settings, server));
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        auth = if settings.token.is_some() { "bearer token" } else { "none (loopback only)" },
        call_timeout = %human(settings.call_timeout),
        max_concurrent_calls = settings.max_concurrent_calls,
        max_body_bytes = settings.max_body_bytes,
        header_timeout = %human(settings.header_timeout),
        idle_timeout = %human(settings.idle_timeout),
        max_connections = settings.max_connections,
        open_files_limit = %settings
            .open_files_limit
            .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
        "listening on http://{addr}/mcp"
    );
    let limits = listen::Limits {
        timeouts: connections::Timeouts {
            header: settings.header_timeout,
            idle: settings.idle_timeout,
            exchange: settings.call_timeout.saturating_add(EXCHANGE_SLACK),
        },
        max_connections: settings.max_connections,
    };
    let server = listen::run(
        listener,
        router(gate.clone()),
        limits,
        gate.draining.clone(),
    );
    let draining = gate.draining.clone();
    let grace = settings.shutdown_grace;
    let drain = async move {
        shutdown.await;
        tracing::info!(
            grace = %human(grace),
            "shutting down: refusing new requests, letting calls in progress finish"
        );
        draining.cancel();
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = drain => {
            tracing::warn!(
                grace = %human(grace),
                "calls still in progress when the shutdown grace period ended; closing them"
            );
        }
    }
    gate.stop_mcp.cancel();
    tracing::info!("stopped");
    Ok(())
}

/// The routes: `/mcp` behind the gate, `/healthz` open.
fn router(gate: Arc<Gate>) -> Router {
    Router::new()
        .route("/mcp", any(mcp))
        .route("/healthz", get(healthz))
        .with_state(gate)
}

/// What every `/mcp` request goes through; see the module documentation.
struct Gate {
    token: Option<BearerToken>,
    guard: Guard,
    call_timeout: Duration,
    max_concurrent_calls: usize,
    max_body_bytes: usize,
    slots: Arc<Semaphore>,
    /// Cancelled when the shutdown signal arrives.
    draining: CancellationToken,
    /// Cancelled when the server stops: ends whatever rmcp still holds.
    stop_mcp: CancellationToken,
    mcp: StreamableHttpService<Troubleshooter, NeverSessionManager>,
}

impl Gate {
    fn new(settings: &HttpSettings, server: Troubleshooter) -> Self {
        let stop_mcp = CancellationToken::new();
        // Host and Origin are checked by the gate, before authentication and with the
        // operator's allow-lists; rmcp's own check would run after it with its defaults.
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .disable_allowed_hosts()
            .with_max_request_body_bytes(settings.max_body_bytes)
            .with_cancellation_token(stop_mcp.clone());
        // Built once: the tool router (with its schemas) is shared by every request.
        let mcp = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        );
        Self {
            token: settings.token.clone(),
            guard: settings.guard.clone(),
            call_timeout: settings.call_timeout,
            max_concurrent_calls: settings.max_concurrent_calls,
            max_body_bytes: settings.max_body_bytes,
            slots: Arc::new(Semaphore::new(settings.max_concurrent_calls)),
            draining: CancellationToken::new(),
            stop_mcp,
            mcp,
        }
    }

    /// Everything after the request line: the checks, then rmcp. `body` is taken when it
    /// is read; a refused request leaves it for [`linger`].
    async fn admit_and_serve(
        &self,
        mut parts: Parts,
        body: &mut Option<Body>,
        peer: SocketAddr,
        deadline: Instant,
    ) -> Result<Response, Rejection> {
        if self.draining.is_cancelled() {
            return Err(Rejection::ShuttingDown);
        }
        self.guard
            .check(&parts.headers)
            .map_err(|refusal| match refusal {
                Refusal::Host => Rejection::ForbiddenHost,
                Refusal::Origin => Rejection::ForbiddenOrigin,
            })?;
        if let Some(token) = &self.token
            && !token.admits(&parts.headers)
        {
            return Err(Rejection::Unauthorized);
        }
        let _slot = self.slot(deadline).await?;

        hand_over(
            &mut parts,
            CallInfo {
                deadline,
                limit: self.call_timeout,
                peer,
            },
        );
        let bytes = match body.take() {
            Some(body) if parts.method == Method::POST => {
                self.read_body(&parts.headers, body, deadline).await?
            }
            _ => Bytes::new(),
        };
        let request = Request::from_parts(parts, Full::new(bytes));
        let response = tokio::time::timeout_at(deadline + ANSWER_GRACE, self.mcp.handle(request))
            .await
            .map_err(|_| Rejection::Timeout {
                limit: self.call_timeout,
            })?;
        Ok(response.map(Body::new))
    }

    /// A call slot, waiting at most [`QUEUE_WAIT`] (and never past the deadline).
    async fn slot(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, Rejection> {
        let until = deadline.min(Instant::now() + QUEUE_WAIT);
        match tokio::time::timeout_at(until, self.slots.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_closed)) => Err(Rejection::ShuttingDown),
            Err(_elapsed) => Err(Rejection::Busy {
                limit: self.max_concurrent_calls,
            }),
        }
    }

    /// The whole body, up to the limit and before the deadline.
    async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        deadline: Instant,
    ) -> Result<Bytes, Rejection> {
        let limit = self.max_body_bytes;
        let too_large = Rejection::TooLarge { limit };
        // A declared length far over the limit is refused without reading a byte.
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > (limit + LINGER_BYTES) as u64) {
            return Err(too_large);
        }
        let mut body = body;
        let mut collected = BytesMut::new();
        loop {
            let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
                Err(_elapsed) => {
                    return Err(Rejection::UploadTimeout {
                        limit: self.call_timeout,
                    });
                }
                Ok(None) => return Ok(collected.freeze()),
                Ok(Some(Err(_))) => return Err(Rejection::BadBody),
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if collected.len() + data.len() > limit {
                linger(body).await;
                return Err(too_large);
            }
            collected.extend_from_slice(&data);
        }
    }
}

/// Prepares an admitted request for rmcp: the token is removed (neither rmcp, its logs nor a
/// tool ever hold it) and the call's deadline attached.
fn hand_over(parts: &mut Parts, info: CallInfo) {
    parts.headers.remove(header::AUTHORIZATION);
    parts.extensions.insert(info);
}

/// How much of a refused request's body is read and thrown away before answering, and for
/// how long at most. Closing a socket with unread data makes the kernel send a reset, and the
/// client may lose the answer explaining the refusal; reading a bounded amount first lets
/// the answer arrive. Larger or slower bodies are cut off.
const LINGER_BYTES: usize = 8 * 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(1);

async fn linger(mut body: Body) {
    let until = Instant::now() + LINGER_TIME;
    let mut discarded = 0usize;
    while discarded <= LINGER_BYTES {
        match tokio::time::timeout_at(until, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                discarded += frame.data_ref().map_or(0, |d| d.len());
            }
            _ => break,
        }
    }
}

async fn mcp(
    State(gate): State<Arc<Gate>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let arrived = Instant::now();
    let deadline = arrived + gate.call_timeout;
    let (parts, body) = request.into_parts();
    let connection = parts.extensions.get::<ConnectionHandle>().cloned();
    let mut body = Some(body);
    match gate.admit_and_serve(parts, &mut body, peer, deadline).await {
        Ok(response) => response,
        Err(rejection) => {
            if let Some(connection) = connection {
                connection.mark_refusing();
            }
            tracing::info!(
                target: ACCESS_LOG,
                status = rejection.status().as_u16(),
                reason = rejection.reason(),
                duration_ms = millis(arrived.elapsed()),
                %peer,
                "request refused"
            );
            if let Some(body) = body {
                linger(body).await;
            }
            rejection.into_response()
        }
    }
}

/// Liveness for load balancers: no token, no details; 503 while draining so that traffic
/// moves elsewhere before the process exits.
async fn healthz(State(gate): State<Arc<Gate>>) -> Response {
    let (status, body) = if gate.draining.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, r#"{"status":"draining"}"#)
    } else {
        (StatusCode::OK, r#"{"status":"ok"}"#)
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn gate() -> Arc<Gate> {
        let mut options = HttpOptions::new("0");
        options.token_env = Some(TOKEN.into());
        Arc::new(Gate::new(
            &HttpSettings::resolve(options).unwrap(),
            Troubleshooter::new(),
        ))
    }

    fn request(method: Method, path: &str, headers: &[(&str, &str)], body: Value) -> Request {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let mut request = builder.body(Body::from(body.to_string())).unwrap();
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    async fn send(gate: &Arc<Gate>, request: Request) -> (StatusCode, HeaderMap, Value) {
        let response = router(gate.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn initialize() -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}})
    }

    const BEARER: (&str, &str) = ("authorization", "Bearer 0123456789abcdef0123456789abcdef");

    #[tokio::test]
    async fn a_request_with_the_token_is_served() {
        let gate = gate();
        let (status, _, body) = send(
            &gate,
            request(Method::POST, "/mcp", &[BEARER], initialize()),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["result"]["serverInfo"]["name"],
            "python-web-troubleshooter"
        );
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "capacity_math",
            "arguments": {"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000}}});
        let (status, _, body) = send(
            &gate,
            request(
                Method::POST,
                "/mcp",
                &[BEARER, ("mcp-protocol-version", "2025-06-18")],
                call,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["result"]["structuredContent"]["total_workers"], 128);
    }

    #[tokio::test]
    async fn host_is_checked_before_the_token() {
        let gate = gate();
        let mut bad_host = request(Method::POST, "/mcp", &[], initialize());
        bad_host
            .headers_mut()
            .insert(header::HOST, HeaderValue::from_static("evil.example"));
        let (status, _, body) = send(&gate, bad_host).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"]["code"], -32003);

        let (status, headers, body) =
            send(&gate, request(Method::POST, "/mcp", &[], initialize())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"]["code"], -32001);
        assert!(headers.contains_key(header::WWW_AUTHENTICATE));
    }

    #[tokio::test]
    async fn draining_refuses_new_requests_and_fails_the_health_check() {
        let gate = gate();
        let (status, _, body) =
            send(&gate, request(Method::GET, "/healthz", &[], Value::Null)).await;
        assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));

        gate.draining.cancel();
        let (status, headers, body) = send(
            &gate,
            request(Method::POST, "/mcp", &[BEARER], initialize()),
        )
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], -32006);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        let (status, _, body) =
            send(&gate, request(Method::GET, "/healthz", &[], Value::Null)).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"status": "draining"})
            )
        );
    }

    #[test]
    fn the_token_is_not_handed_to_the_mcp_server() {
        let request = request(
            Method::POST,
            "/mcp",
            &[BEARER, ("authorization", "Bearer second")],
            Value::Null,
        );
        let (mut parts, _) = request.into_parts();
        let info = CallInfo {
            deadline: Instant::now(),
            limit: Duration::from_secs(1),
            peer: "127.0.0.1:1".parse().unwrap(),
        };
        hand_over(&mut parts, info);
        assert!(parts.headers.get(header::AUTHORIZATION).is_none());
        assert!(!format!("{parts:?}").contains(TOKEN));
        assert_eq!(
            parts.extensions.get::<CallInfo>().map(|i| i.peer),
            Some(info.peer)
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused() {
        let gate = gate();
        let big = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "capacity_math", "arguments": {"note": "x".repeat(DEFAULT_MAX_BODY_BYTES)}}});
        let (status, _, body) = send(&gate, request(Method::POST, "/mcp", &[BEARER], big)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        assert_eq!(body["error"]["code"], -32013);
    }
}
