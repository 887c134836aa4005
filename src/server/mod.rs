//! The MCP server: tools, prompts and the instructions a client shows the model.
//!
//! A tool call is: parse the JSON arguments ([`crate::input`]) → run the pure core
//! ([`crate::diagnosis`]) → render structured content plus a text summary. Domain failures
//! (bad arguments, an unreachable source) come back as tool results with `isError: true`;
//! protocol errors are left for requests that cannot be processed at all.

mod call;
pub mod http;
mod progress;
mod prompts;
mod schema;
mod tools;

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext},
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock,
        GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
        PaginatedRequestParams, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool_handler,
};
use serde::Serialize;

use crate::config::Config;
use crate::render::Summary;
use crate::sources::Connections;

pub use call::{ACCESS_LOG, CallInfo};
pub use prompts::{PromptTemplate, prompt_templates};
use schema::Detail;

/// What `initialize` tells the client about this server, for the model to read first.
pub const INSTRUCTIONS: &str = "\
python-web-troubleshooter diagnoses why a Python web service (Gunicorn/uWSGI behind nginx, \
PostgreSQL/MySQL, often on AWS RDS) is slow or out of capacity. Core principle: workers are \
buffers, replicas are scale-out, and latency is what actually determines capacity. Follow the \
order: 1) break down latency first (break_down_latency) to find the slow layer; 2) match the \
symptom (match_symptom) and fix latency — slow queries, indexes, fewer external calls, async \
offload; 3) check the storage layer (check_rds_iops: RDS IOPS / throughput / DiskQueueDepth) when the DB is \
slow but its CPU is low; 4) tune workers only as a buffer for a long tail of slow endpoints \
(capacity_math gives the ceiling, the queue and the what-if); 5) scale replicas only when \
app-layer concurrency is the bottleneck (symptom A); 6) add a read replica only when \
read-heavy and the primary is saturated. Never invent a figure: every result lists its \
evidence with a source and says what to collect when something is unknown. All tools are \
read-only.";

/// The MCP server. Cheap to clone (the tool router is shared): one per session, or one per
/// request over stateless HTTP.
#[derive(Debug, Clone)]
pub struct Troubleshooter {
    tool_router: Arc<ToolRouter<Self>>,
    /// The operator's database targets and settings; tools name a target, never a secret.
    config: Arc<Config>,
    /// Database connections kept between calls.
    connections: Arc<Connections>,
    /// What callers may make the server read (log directories, metrics hosts).
    reach: Arc<crate::sources::reach::Reach>,
}

impl Default for Troubleshooter {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Troubleshooter {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
                .with_title("Python web service troubleshooter"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    /// Every tool call, on every transport: bounded by the transport's deadline, stopped when
    /// the client cancels, and written to the access log.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Log only names the server declared; a client-supplied name could hold anything.
        let tool = self
            .tool_router
            .get(&request.name)
            .map_or_else(|| "<unknown>".into(), |tool| tool.name.clone());
        let info = call::CallInfo::of(&context);
        let cancelled = context.ct.clone();
        let tcc = ToolCallContext::new(self, request, context);
        call::run(&tool, info, cancelled, self.tool_router.call(tcc)).await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request.name, request.arguments.as_ref()).map(Into::into)
    }
}

/// A successful result: the text summary (and, with `detail: full`, the JSON for clients
/// that read only text), and the structured content validated by the tool's outputSchema.
pub(crate) fn success<T: Serialize + Summary>(report: &T, detail: Detail) -> CallToolResult {
    match serde_json::to_value(report) {
        Ok(value) => {
            let mut content = vec![ContentBlock::text(report.summary())];
            if detail == Detail::Full {
                content.push(ContentBlock::text(value.to_string()));
            }
            let mut result = CallToolResult::success(content);
            result.structured_content = Some(value);
            result
        }
        Err(err) => failure(&format!(
            "internal error: the report could not be serialised ({err})"
        )),
    }
}

pub(crate) fn failure(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.to_owned())])
}
