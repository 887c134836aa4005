//! Entry point: parse arguments, send logs to stderr, then serve MCP on stdio or run a CLI
//! command. stdout belongs to the MCP protocol when serving, so nothing else writes there.

use anyhow::Result;
use clap::Parser;
use python_web_troubleshooter::cli::{self, Cli, Command};
use python_web_troubleshooter::config::Config;
use python_web_troubleshooter::server::Troubleshooter;
use rmcp::ServiceExt;
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    let args = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
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
        let service = Troubleshooter::with_config(config)
            .serve(rmcp::transport::stdio())
            .await?;
        service.waiting().await?;
        tracing::info!("client closed the session");
        Ok(())
    })
}
