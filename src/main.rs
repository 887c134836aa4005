//! Entry point: parse arguments, send logs to stderr, then serve MCP on stdio or run a CLI
//! command. stdout belongs to the MCP protocol when serving, so nothing else writes there.

use anyhow::Result;
use clap::Parser;
use python_web_troubleshooter::cli::{self, Cli, Command};
use python_web_troubleshooter::config::Config;
use python_web_troubleshooter::server::Troubleshooter;
use rmcp::{ServiceExt, service::ServerInitializeError};
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    let args = Cli::parse();
    let mut filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    // The AWS SDK's debug and trace events carry the resolved identity (the access key id)
    // and signing details: never log them, whatever RUST_LOG asks for.
    for target in [
        "aws_config",
        "aws_credential_types",
        "aws_runtime",
        "aws_sigv4",
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http_client",
        "aws_sdk_cloudwatch",
        "aws_sdk_rds",
        "aws_sdk_sts",
        "aws_sdk_sso",
        "aws_sdk_ssooidc",
    ] {
        if let Ok(directive) = format!("{target}=info").parse() {
            filter = filter.add_directive(directive);
        }
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .init();

    let config = Config::load(args.config.as_deref())?;
    match args.command {
        None | Some(Command::Serve) => serve_stdio(config),
        Some(command) => cli::run(command, &config),
    }
}

fn serve_stdio(config: Config) -> Result<()> {
    // A current-thread runtime: a stdio session is one client, and it starts faster.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "serving MCP on stdio");
        let service = match Troubleshooter::with_config(config)
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
