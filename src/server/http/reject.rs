//! Requests the transport refuses before they reach the MCP server, each answered with an
//! HTTP status and a JSON-RPC error body, so that an MCP client shows the reason instead of
//! a bare status line.
//!
//! Codes are in the JSON-RPC range reserved for implementation-defined server errors
//! (-32000 to -32099); `id` is `null` because the request was not read (JSON-RPC 2.0 §5).

use std::time::Duration;

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::settings::human;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization: Bearer` header, or the wrong token. Says nothing about which.
    Unauthorized,
    /// The `Host` header is not in the allow-list (DNS rebinding).
    ForbiddenHost,
    /// The `Origin` header is not in the allow-list (DNS rebinding, cross-site requests).
    ForbiddenOrigin,
    /// Every call slot stayed busy while the request waited.
    Busy { limit: usize },
    /// The server is draining for shutdown.
    ShuttingDown,
    /// The body is larger than the limit.
    TooLarge { limit: usize },
    /// The body did not arrive before the deadline.
    UploadTimeout { limit: Duration },
    /// The MCP server did not answer before the deadline.
    Timeout { limit: Duration },
    /// The body could not be read (the client went away mid-request).
    BadBody,
}

impl Rejection {
    pub fn status(self) -> StatusCode {
        match self {
            Rejection::Unauthorized => StatusCode::UNAUTHORIZED,
            Rejection::ForbiddenHost | Rejection::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Rejection::Busy { .. } | Rejection::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::UploadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Rejection::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Rejection::BadBody => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON-RPC error code.
    pub fn code(self) -> i32 {
        match self {
            Rejection::Unauthorized => -32001,
            Rejection::ForbiddenHost | Rejection::ForbiddenOrigin => -32003,
            Rejection::Busy { .. } => -32005,
            Rejection::ShuttingDown => -32006,
            Rejection::UploadTimeout { .. } | Rejection::Timeout { .. } => -32008,
            Rejection::TooLarge { .. } => -32013,
            Rejection::BadBody => -32600,
        }
    }

    /// A short name for the access log.
    pub fn reason(self) -> &'static str {
        match self {
            Rejection::Unauthorized => "unauthorized",
            Rejection::ForbiddenHost => "host_not_allowed",
            Rejection::ForbiddenOrigin => "origin_not_allowed",
            Rejection::Busy { .. } => "busy",
            Rejection::ShuttingDown => "shutting_down",
            Rejection::TooLarge { .. } => "body_too_large",
            Rejection::UploadTimeout { .. } => "upload_timeout",
            Rejection::Timeout { .. } => "timeout",
            Rejection::BadBody => "bad_body",
        }
    }

    /// What the client shows. It names the limit and the setting behind it; it never
    /// says whether a token was missing or wrong.
    pub fn message(self) -> String {
        match self {
            Rejection::Unauthorized => {
                "Unauthorized: send the server's token as `Authorization: Bearer <token>`".into()
            }
            Rejection::ForbiddenHost => {
                "Forbidden: the Host header is not one this server answers to (--allowed-host)"
                    .into()
            }
            Rejection::ForbiddenOrigin => {
                "Forbidden: requests from this Origin are not allowed (--allowed-origin)".into()
            }
            Rejection::Busy { limit } => format!(
                "Server busy: {limit} calls are already in progress (--max-concurrent-calls); \
                 retry in a few seconds"
            ),
            Rejection::ShuttingDown => {
                "Server shutting down: retry in a few seconds (another instance may answer)".into()
            }
            Rejection::TooLarge { limit } => format!(
                "Payload too large: the request body exceeds {limit} bytes (--max-body-bytes); \
                 send fewer or shorter arguments"
            ),
            Rejection::UploadTimeout { limit } => format!(
                "Request timeout: the request body did not arrive within {} (--call-timeout)",
                human(limit)
            ),
            Rejection::Timeout { limit } => format!(
                "Timeout: the server did not answer within {} (--call-timeout)",
                human(limit)
            ),
            Rejection::BadBody => "Bad request: the request body could not be read".into(),
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": self.code(), "message": self.message()},
        });
        let mut response = (self.status(), body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            Rejection::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"mcp\""),
                );
            }
            Rejection::Busy { .. } | Rejection::ShuttingDown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        if !matches!(self, Rejection::Timeout { .. }) {
            // The request body was not (fully) read, so the connection cannot carry another
            // request: say so rather than leave the client to find out.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_are_json_rpc_errors() {
        for rejection in [
            Rejection::Unauthorized,
            Rejection::ForbiddenHost,
            Rejection::ForbiddenOrigin,
            Rejection::Busy { limit: 4 },
            Rejection::ShuttingDown,
            Rejection::TooLarge { limit: 1024 },
            Rejection::UploadTimeout {
                limit: Duration::from_millis(500),
            },
            Rejection::Timeout {
                limit: Duration::from_secs(30),
            },
            Rejection::BadBody,
        ] {
            let response = rejection.into_response();
            assert_eq!(response.status(), rejection.status());
            assert_eq!(
                response.headers()[header::CONTENT_TYPE],
                "application/json",
                "{rejection:?}"
            );
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(body["jsonrpc"], "2.0");
            assert!(body["id"].is_null());
            assert_eq!(body["error"]["code"], rejection.code());
            assert_eq!(body["error"]["message"], rejection.message());
        }
    }

    #[test]
    fn unauthorized_says_how_to_authenticate_and_nothing_else() {
        let response = Rejection::Unauthorized.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
        let message = Rejection::Unauthorized.message();
        assert!(!message.contains("wrong") && !message.contains("missing"));
    }

    #[test]
    fn limits_are_named_in_the_message() {
        assert!(
            Rejection::TooLarge { limit: 1024 }
                .message()
                .contains("1024 bytes")
        );
        assert!(
            Rejection::UploadTimeout {
                limit: Duration::from_millis(500)
            }
            .message()
            .contains("500 ms")
        );
        assert!(Rejection::Busy { limit: 4 }.message().contains("4 calls"));
    }
}
