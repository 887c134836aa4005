//! Entry point: parse arguments, send logs to stderr, then serve MCP (stdio or streamable
//! HTTP) or run a CLI command. stdout belongs to the MCP protocol when serving on stdio, so
//! nothing else writes there.

use anyhow::Result;
use clap::Parser;
use python_web_troubleshooter::cli::{self, Cli, Command, serve_http, serve_stdio};
use python_web_troubleshooter::config::Config;
use python_web_troubleshooter::sources::reach::{Mode, Reach};
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    let args = Cli::parse();
    let load = |mode: Mode| -> Result<(Config, Reach)> {
        let config = Config::load(args.config.as_deref())?;
        let reach = Reach::new(mode, &args.reach_settings(&config))?;
        tracing::info!(
            log_dirs = ?reach.log_dirs(),
            metrics_hosts = %reach.metrics_hosts(),
            "tool callers may read"
        );
        Ok((config, reach))
    };
    match &args.command {
        None => {
            init_logging("warn", &[]);
            let (config, reach) = load(Mode::Stdio)?;
            serve_stdio(config, reach)
        }
        Some(Command::Serve(serve)) => match serve.http_settings() {
            Ok(Some(settings)) => {
                // A shared server's operator wants the access log and the start-up line. The
                // MCP SDK logs whole messages (arguments, results) at info and below, and one
                // server holds many users' data: it stays at warn whatever RUST_LOG says.
                init_logging(
                    "warn,access=info,python_web_troubleshooter=info",
                    &["rmcp=warn"],
                );
                let (config, reach) = load(Mode::Http)?;
                serve_http(settings, config, reach)
            }
            Ok(None) => {
                init_logging("warn", &[]);
                let (config, reach) = load(Mode::Stdio)?;
                serve_stdio(config, reach)
            }
            Err(err) => {
                init_logging("warn", &[]);
                Err(err)
            }
        },
        Some(_) => {
            init_logging("warn", &[]);
            let (config, reach) = load(Mode::Terminal)?;
            let Some(command) = args.command else {
                unreachable!("matched Some above")
            };
            cli::run(command, &config, reach)
        }
    }
}

/// Never logged below info, whatever `RUST_LOG` asks for: the AWS SDK's debug and trace
/// events carry the resolved identity (the access key id) and signing details; the HTTP
/// client's carry the headers of replies from a URL a caller chose.
const CAPPED_LOG_TARGETS: &[&str] = &[
    "ureq=info",
    "ureq_proto=info",
    "aws_config=info",
    "aws_credential_types=info",
    "aws_runtime=info",
    "aws_sigv4=info",
    "aws_smithy_runtime=info",
    "aws_smithy_runtime_api=info",
    "aws_smithy_http_client=info",
    "aws_sdk_cloudwatch=info",
    "aws_sdk_rds=info",
    "aws_sdk_sts=info",
    "aws_sdk_sso=info",
    "aws_sdk_ssooidc=info",
];

/// Logs go to stderr; `RUST_LOG` overrides the default filter (but not `fixed`, nor the caps
/// on the AWS SDK's logs), `PWT_LOG_FORMAT=json` writes one JSON object per line for log
/// collectors.
fn init_logging(default_filter: &str, fixed: &[&str]) {
    let mut filter =
        EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    for directive in fixed.iter().chain(CAPPED_LOG_TARGETS) {
        match directive.parse() {
            Ok(directive) => filter = filter.add_directive(directive),
            Err(err) => eprintln!("internal error: bad log directive {directive:?}: {err}"),
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter);
    if std::env::var("PWT_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().init();
    } else {
        builder.init();
    }
}
