//! One tool call as the operator sees it: cancellable, bounded by the transport's deadline,
//! and written to the access log as one line.
//!
//! Every transport goes through [`run`]. Over stdio there is no deadline (the one client can
//! cancel); over HTTP the transport gives each request a deadline ([`CallInfo`]) that covers
//! receiving the request, waiting for a slot and running the tool, so a slow data source
//! cannot hold a connection forever. When the deadline passes or the client goes away, the
//! tool's future is dropped, which cancels whatever I/O it was waiting on.
//!
//! The access log (target `access`) names the tool, the outcome and the duration. It never
//! carries arguments (they can hold customer data) and never a client-supplied tool name that
//! the server does not know (it could hold anything).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolResponse, CallToolResult, ContentBlock, ErrorCode},
    service::RequestContext,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The tracing target of access-log lines.
pub const ACCESS_LOG: &str = "access";

/// What the HTTP transport knows about a request, handed to the tool call through the
/// request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct CallInfo {
    /// When the call must have finished.
    pub deadline: Instant,
    /// The configured per-call limit the deadline came from (for the error message).
    pub limit: Duration,
    /// The client's address as the server sees it (a reverse proxy's, behind one).
    pub peer: SocketAddr,
}

impl CallInfo {
    /// The transport's info for this request, if it came over HTTP.
    pub(crate) fn of(context: &RequestContext<RoleServer>) -> Option<Self> {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<CallInfo>())
            .copied()
    }
}

/// How a call ended, as the access log spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A result the client can use.
    Ok,
    /// A tool result with `isError: true` (bad arguments, an unreachable source).
    ToolError,
    /// A JSON-RPC error (e.g. an unknown tool).
    ProtocolError,
    /// The deadline passed; the tool was stopped.
    Timeout,
    /// The client cancelled or went away; the tool was stopped.
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ToolError => "tool_error",
            Outcome::ProtocolError => "protocol_error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// Runs one tool call under the request's deadline and cancellation, and logs it.
///
/// `tool` must be a name the server itself declared (or a placeholder), never the raw name
/// from the request.
pub(crate) async fn run<F>(
    tool: &str,
    info: Option<CallInfo>,
    cancelled: CancellationToken,
    call: F,
) -> Result<CallToolResponse, ErrorData>
where
    F: Future<Output = Result<CallToolResponse, ErrorData>>,
{
    let started = Instant::now();
    let bounded = async {
        match info {
            Some(info) => tokio::time::timeout_at(info.deadline, call).await.ok(),
            None => Some(call.await),
        }
    };
    // `biased`: a call that finished wins over a cancellation that raced with it.
    let finished = tokio::select! {
        biased;
        result = bounded => Some(result),
        () = cancelled.cancelled() => None,
    };
    let (outcome, response) = match finished {
        Some(Some(Ok(response))) => {
            let outcome = match &response {
                CallToolResponse::Complete(result) if result.is_error == Some(true) => {
                    Outcome::ToolError
                }
                _ => Outcome::Ok,
            };
            (outcome, Ok(response))
        }
        Some(Some(Err(error))) => (Outcome::ProtocolError, Err(error)),
        Some(None) => {
            let limit = info.map(|i| i.limit).unwrap_or_default();
            (Outcome::Timeout, Ok(timed_out(tool, limit).into()))
        }
        None => (
            Outcome::Cancelled,
            Err(ErrorData::new(
                ErrorCode(-32800),
                "the call was cancelled before it finished",
                None,
            )),
        ),
    };
    let elapsed = started.elapsed();
    match info {
        Some(info) => tracing::info!(
            target: ACCESS_LOG,
            tool,
            outcome = outcome.as_str(),
            duration_ms = millis(elapsed),
            peer = %info.peer,
            "tool call"
        ),
        None => tracing::info!(
            target: ACCESS_LOG,
            tool,
            outcome = outcome.as_str(),
            duration_ms = millis(elapsed),
            "tool call"
        ),
    }
    response
}

/// The tool result for a call that ran out of time: for the model to read and act on.
fn timed_out(tool: &str, limit: Duration) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{tool} did not finish within {}, the server's per-call limit (--call-timeout), and was \
         stopped. A data source is probably slow or unreachable: retry later, narrow the request \
         (a shorter window, fewer rows), or ask the operator to raise the limit.",
        crate::server::http::human(limit)
    ))])
}

/// Milliseconds with microsecond precision, for log lines.
pub(crate) fn millis(elapsed: Duration) -> f64 {
    (elapsed.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(limit: Duration) -> CallInfo {
        CallInfo {
            deadline: Instant::now() + limit,
            limit,
            peer: "127.0.0.1:9".parse().unwrap(),
        }
    }

    fn ok_result() -> Result<CallToolResponse, ErrorData> {
        Ok(CallToolResult::success(vec![ContentBlock::text("done")]).into())
    }

    fn text(response: &CallToolResponse) -> String {
        match response {
            CallToolResponse::Complete(result) => result
                .content
                .iter()
                .filter_map(|c| c.as_text())
                .map(|t| t.text.clone())
                .collect(),
            other => panic!("unexpected response {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_outlives_its_deadline_becomes_a_tool_error_and_is_dropped() {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        struct SetOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let guard = SetOnDrop(dropped.clone());
        // A data source that answers after a minute.
        let slow = async move {
            let _guard = guard;
            tokio::time::sleep(Duration::from_secs(60)).await;
            ok_result()
        };
        let started = Instant::now();
        let response = run(
            "slow_queries",
            Some(info(Duration::from_secs(2))),
            CancellationToken::new(),
            slow,
        )
        .await
        .expect("a timeout is a tool result, not a protocol error");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        let CallToolResponse::Complete(result) = &response else {
            panic!("{response:?}")
        };
        assert_eq!(result.is_error, Some(true));
        let message = text(&response);
        assert!(
            message.contains("slow_queries did not finish within 2 s"),
            "{message}"
        );
        assert!(message.contains("--call-timeout"), "{message}");
        assert!(
            dropped.load(std::sync::atomic::Ordering::SeqCst),
            "the slow future was not dropped"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_within_its_deadline_is_passed_through() {
        let quick = async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            ok_result()
        };
        let response = run(
            "capacity_math",
            Some(info(Duration::from_secs(2))),
            CancellationToken::new(),
            quick,
        )
        .await
        .unwrap();
        assert_eq!(text(&response), "done");
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_stops_the_call() {
        let token = CancellationToken::new();
        let cancel = token.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            cancel.cancel();
        });
        let never = async {
            std::future::pending::<()>().await;
            ok_result()
        };
        let started = Instant::now();
        let error = run("capacity_math", None, token, never)
            .await
            .expect_err("a cancelled call has no result");
        assert_eq!(error.code, ErrorCode(-32800));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn without_a_deadline_the_call_runs_to_completion() {
        let response = run("capacity_math", None, CancellationToken::new(), async {
            ok_result()
        })
        .await
        .unwrap();
        assert_eq!(text(&response), "done");
    }
}
