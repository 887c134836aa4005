//! The in-process MCP client the integration tests share: a real rmcp client talking to
//! the server over an in-memory duplex pipe.

#![allow(dead_code)]

use python_web_troubleshooter::server::Troubleshooter;
use python_web_troubleshooter::sources::reach::{Mode, Reach, ReachSettings};
use rmcp::{ClientHandler, RoleClient, ServiceExt, model::ClientConfig, service::RunningService};

#[derive(Debug, Clone, Default)]
pub struct Client;

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default()
    }
}

/// Starts a server with no database targets, allowed to read the logs in `tests/data`, and
/// connects a client to it.
pub async fn connect() -> RunningService<RoleClient, Client> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let reach = Reach::new(
        Mode::Stdio,
        &ReachSettings {
            log_dirs: vec![concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data").to_owned()],
            ..Default::default()
        },
    )
    .expect("the test data directory is a valid log directory");
    tokio::spawn(async move {
        let running = Troubleshooter::new()
            .with_reach(reach)
            .serve(server_io)
            .await
            .expect("server starts");
        let _ = running.waiting().await;
    });
    Client.serve(client_io).await.expect("client connects")
}

/// One call on a fresh server: the tool's result, whatever it is (a protocol error fails
/// the test).
pub async fn call_once(
    tool: &'static str,
    arguments: serde_json::Value,
) -> rmcp::model::CallToolResult {
    let client = connect().await;
    let result = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new(tool)
                .with_arguments(arguments.as_object().expect("object").clone()),
        )
        .await
        .unwrap_or_else(|e| panic!("{tool}: protocol error: {e}"));
    client.cancel().await.ok();
    result
}

/// The text content of a result, its blocks joined by newlines.
pub fn text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .iter()
        .filter_map(|c| c.as_text())
        .map(|t| t.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}
