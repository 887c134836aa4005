//! The same analyses for a person at a terminal: readable text by default, `--json` for
//! scripts. Each command's flags become the tool's typed input ([`tool_args`]) and go through
//! the same validation, sources and core as an MCP call, so the CLI and the server cannot
//! disagree. `serve` starts the MCP server itself ([`serve`]).

mod demo;
mod progress;
mod serve;
mod tool_args;

use std::future::Future;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use serde::Serialize;

use crate::config::Config;
use crate::diagnosis::latency::LatencyInput;
use crate::diagnosis::{capacity, symptoms};
use crate::flows;
use crate::render::Summary;
use crate::sources;
use crate::sources::reach::{Reach, ReachSettings};

pub use serve::{ServeArgs, serve_http, serve_stdio};
pub use tool_args::{
    CapacityArgs, Common, LatencyArgs, LogsArgs, RdsIopsArgs, SlowQueriesArgs, SourceArgs,
    SymptomArgs,
};

/// Find out why a Python web service (Gunicorn/uWSGI behind nginx, PostgreSQL/MySQL, AWS RDS)
/// is slow or out of capacity. Workers are buffers, replicas are scale-out, and latency is
/// what actually determines capacity.
///
/// With no command, runs the MCP server on stdio.
#[derive(Debug, Parser)]
#[command(name = "python-web-troubleshooter", version, about, long_about = None)]
pub struct Cli {
    /// Config file of named database targets and settings (TOML); also PWT_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// Allow tool callers to read access logs (and uWSGI stats sockets) under DIR; repeatable.
    /// Also PWT_LOG_DIRS (colon-separated) and `[logs] dirs` in the config file. Default:
    /// /var/log/nginx on stdio, none over HTTP.
    #[arg(long = "log-dir", global = true, value_name = "DIR")]
    pub log_dirs: Vec<String>,
    /// Allow tool callers to read metrics endpoints on HOST: a name (`*.internal` for its
    /// subdomains), an IP address or a CIDR network; repeatable. Also PWT_METRICS_HOSTS
    /// (comma-separated) and `[metrics] hosts`. Default: loopback on stdio, none over HTTP.
    /// Link-local and instance-metadata addresses are never reached.
    #[arg(long = "metrics-host", global = true, value_name = "HOST")]
    pub metrics_hosts: Vec<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// What tool callers may read: the environment, these flags and the config file together.
    pub fn reach_settings(&self, config: &Config) -> ReachSettings {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        ReachSettings::from_env(&env)
            .merge(ReachSettings {
                log_dirs: self.log_dirs.clone(),
                metrics_hosts: self.metrics_hosts.clone(),
            })
            .merge(config.reach.clone())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server: on stdio (the default), or for a team over streamable HTTP.
    Serve(ServeArgs),
    /// Walk a bundled example incident through Steps 1–4 with the real analyses.
    Demo {
        /// Print the three reports as a JSON array instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Throughput ceiling, queue model, what-if and worker formula (the capacity_math tool).
    Capacity(CapacityArgs),
    /// Match observations to the symptom matrix A–F and detect death spirals (match_symptom).
    Symptoms(SymptomArgs),
    /// Break request latency down by layer (break_down_latency).
    Latency(Box<LatencyArgs>),
    /// Is the RDS instance's storage the bottleneck? IOPS, throughput, DiskQueueDepth against
    /// its limits, from CloudWatch and DescribeDBInstances (check_rds_iops).
    RdsIops(RdsIopsArgs),
    /// Top statements, live activity and locks of a PostgreSQL or MySQL target (slow_queries).
    SlowQueries(SlowQueriesArgs),
    /// Per-endpoint latency, errors and worker time from nginx access logs, and the layer
    /// split they give (break_down_latency with `access_log`).
    ///
    /// Example: python-web-troubleshooter logs /var/log/nginx/access.log* --log-format timed
    Logs(LogsArgs),
}

/// Runs a CLI command other than `serve`.
pub fn run(command: Command, config: &Config, reach: Reach) -> Result<()> {
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::Demo { json } => demo::run(json),
        Command::Capacity(a) => {
            let as_json = a.common.json;
            print(&capacity::analyze(&a.into_input()?)?, as_json)
        }
        Command::Symptoms(a) => {
            let as_json = a.common.json;
            print(&symptoms::analyze(&a.into_input()?)?, as_json)
        }
        Command::Latency(a) => {
            let (as_json, reach) = (a.common.json, reach.with_command_line(a.paths()));
            break_down_latency(a.into_input()?, &reach, config, as_json)
        }
        Command::Logs(a) => {
            let (as_json, reach) = (a.common.json, reach.with_command_line(a.paths()));
            break_down_latency(a.into_input()?, &reach, config, as_json)
        }
        Command::RdsIops(a) => {
            let as_json = a.common.json;
            let report = block_on(flows::check_rds_iops::run(&a.into_input()?))??;
            print(&report, as_json)
        }
        Command::SlowQueries(a) => {
            let as_json = a.common.json;
            let connections = sources::Connections::default();
            let bar = progress::on_terminal();
            let report = block_on(flows::slow_queries::run(
                config,
                &connections,
                &a.into_input()?,
                &bar.progress,
            ))??;
            drop(bar);
            print(&report, as_json)
        }
    }
}

/// break_down_latency from the terminal: the same sources and core as the tool, with a
/// progress bar on a terminal.
fn break_down_latency(
    input: LatencyInput,
    reach: &Reach,
    config: &Config,
    as_json: bool,
) -> Result<()> {
    let bar = progress::on_terminal();
    let report = block_on(flows::break_down_latency::run(
        input,
        reach,
        &config.engines,
        &bar.progress,
    ))??;
    drop(bar);
    print(&report, as_json)
}

/// How many threads the async runtime runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// One: a terminal command or a stdio session has one client, and it starts faster.
    One,
    /// One per core: the HTTP server's many clients.
    PerCore,
}

/// The async runtime every command and transport runs on.
pub fn runtime(threads: Threads) -> Result<tokio::runtime::Runtime> {
    let mut builder = match threads {
        Threads::One => tokio::runtime::Builder::new_current_thread(),
        Threads::PerCore => tokio::runtime::Builder::new_multi_thread(),
    };
    builder
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Runs one command's async source reads to completion.
fn block_on<F: Future>(future: F) -> Result<F::Output> {
    Ok(runtime(Threads::One)?.block_on(future))
}

fn print<R: Serialize + Summary>(report: &R, as_json: bool) -> Result<()> {
    if as_json {
        write_out(&(serde_json::to_string_pretty(report)? + "\n"))
    } else {
        write_out(&report.summary())
    }
}

/// Writes to stdout. A reader that went away (`| head`) ends the output quietly rather than
/// failing the command: what it wanted is already printed.
pub(crate) fn write_out(text: &str) -> Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
