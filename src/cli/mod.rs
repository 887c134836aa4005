//! The same analyses for a person at a terminal: readable text by default, `--json` for
//! scripts. Flags are turned into the same JSON arguments an MCP client would send and go
//! through the same parsing and validation, so the CLI and the server cannot disagree.

mod demo;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::diagnosis::{capacity, latency, symptoms};
use crate::input;
use crate::render::Summary;
use crate::server::http::{self as http, HttpOptions, HttpSettings};

/// Find out why a Python web service (Gunicorn/uWSGI behind nginx, PostgreSQL/MySQL, AWS RDS)
/// is slow or out of capacity. Workers are buffers, replicas are scale-out, and latency is
/// what actually determines capacity.
///
/// With no command, runs the MCP server on stdio.
#[derive(Debug, Parser)]
#[command(name = "python-web-troubleshooter", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
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
    Latency(LatencyArgs),
}

/// `serve`: stdio unless `--http` is given. The bearer token is read from PWT_HTTP_TOKEN or a
/// file, never from a flag, where `ps` would show it.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve MCP over streamable HTTP on ADDR instead of stdio: PORT (listens on 127.0.0.1)
    /// or IP:PORT (an IPv6 address in brackets). MCP endpoint /mcp, health check /healthz.
    /// Any address other than loopback requires a bearer token (PWT_HTTP_TOKEN or
    /// --token-file).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Read the bearer token from FILE (its whole content, surrounding whitespace ignored;
    /// `chmod 600` it). The alternative is PWT_HTTP_TOKEN; never pass the token as a flag.
    #[arg(long, value_name = "FILE", env = "PWT_HTTP_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Also answer requests whose Host header is NAME or NAME:PORT (the name clients or the
    /// load balancer use); loopback names are always allowed. Repeatable or comma-separated.
    #[arg(
        long = "allowed-host",
        value_name = "NAME",
        env = "PWT_HTTP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Also accept browser requests from ORIGIN: scheme://host[:port|:*]. Loopback origins
    /// are always allowed; requests without an Origin header are not affected. Repeatable
    /// or comma-separated.
    #[arg(
        long = "allowed-origin",
        value_name = "ORIGIN",
        env = "PWT_HTTP_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Time limit for one call, from the request's arrival to its answer (e.g. 30s, 500ms).
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_CALL_TIMEOUT", default_value = "30s", value_parser = http::parse_duration)]
    pub call_timeout: Duration,
    /// Calls served at once (default: twice the CPUs, at least 4); others wait in arrival
    /// order, and one that finds no free slot within a second gets 503. Raise it for tools
    /// that wait on slow sources.
    #[arg(long, value_name = "N", env = "PWT_HTTP_MAX_CONCURRENT_CALLS")]
    pub max_concurrent_calls: Option<usize>,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", env = "PWT_HTTP_MAX_BODY_BYTES", default_value_t = http::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// On SIGTERM or Ctrl-C, how long calls in progress may still run (e.g. 10s).
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_SHUTDOWN_GRACE", default_value = "10s", value_parser = http::parse_duration)]
    pub shutdown_grace: Duration,
}

impl ServeArgs {
    /// The checked HTTP settings, or `None` for stdio.
    pub fn http_settings(&self) -> Result<Option<HttpSettings>> {
        let Some(addr) = &self.http else {
            return Ok(None);
        };
        let options = HttpOptions {
            addr: addr.clone(),
            token_env: std::env::var("PWT_HTTP_TOKEN").ok(),
            token_file: self.token_file.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            allowed_origins: self.allowed_origins.clone(),
            call_timeout: self.call_timeout,
            max_concurrent_calls: self
                .max_concurrent_calls
                .unwrap_or_else(http::default_max_concurrent_calls),
            max_body_bytes: self.max_body_bytes,
            shutdown_grace: self.shutdown_grace,
        };
        Ok(Some(HttpSettings::resolve(options)?))
    }
}

#[derive(Debug, Args)]
pub struct Common {
    /// Print the structured report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Read the tool arguments as JSON from FILE (`-` for stdin); flags override its fields.
    #[arg(long, value_name = "FILE")]
    pub input: Option<String>,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    common: Common,
    /// App replicas (pods, containers or hosts).
    #[arg(long)]
    replicas: Option<i64>,
    /// Worker processes per replica.
    #[arg(long)]
    workers_per_replica: Option<i64>,
    /// Threads per worker (default 1).
    #[arg(long)]
    threads_per_worker: Option<i64>,
    /// Mean request latency in ms.
    #[arg(long)]
    avg_latency_ms: Option<f64>,
    /// Fleet-wide arrival rate, requests per second.
    #[arg(long)]
    arrival_rps: Option<f64>,
    /// CPU cores per replica.
    #[arg(long)]
    cpu_cores: Option<f64>,
    /// cpu_bound, io_bound or mixed.
    #[arg(long)]
    workload: Option<String>,
    /// Resident memory of one worker, MB.
    #[arg(long)]
    worker_rss_mb: Option<f64>,
    /// Memory limit of one replica, MB.
    #[arg(long)]
    memory_limit_mb: Option<f64>,
    /// DB connections per worker (pool size).
    #[arg(long)]
    db_pool_per_worker: Option<i64>,
    /// The database's max_connections.
    #[arg(long)]
    db_max_connections: Option<i64>,
    /// Latency reachable after fixing the slow path, ms (what-if).
    #[arg(long)]
    target_latency_ms: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SymptomArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long)]
    workers_busy_percent: Option<f64>,
    #[arg(long)]
    backlog_growing: Option<bool>,
    #[arg(long)]
    app_cpu_percent: Option<f64>,
    #[arg(long)]
    db_cpu_percent: Option<f64>,
    #[arg(long)]
    db_read_percent: Option<f64>,
    #[arg(long)]
    lock_contention: Option<bool>,
    #[arg(long)]
    db_io_saturated: Option<bool>,
    #[arg(long)]
    disk_queue_depth: Option<f64>,
    /// long_tail, system_wide or healthy.
    #[arg(long)]
    latency_pattern: Option<String>,
    #[arg(long)]
    db_latency_rising: Option<bool>,
    /// added_workers, added_replicas, container_restarts, oom_kills, deploy, traffic_spike,
    /// switched_to_threads, switched_to_gevent (repeatable).
    #[arg(long = "recent-change")]
    recent_changes: Vec<String>,
    /// sync, gthread, gevent, eventlet, uvicorn, uwsgi_threads.
    #[arg(long)]
    worker_class: Option<String>,
    #[arg(long)]
    forks_in_workers: Option<bool>,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    common: Common,
    /// nginx mean $request_time, ms.
    #[arg(long)]
    request_time_ms: Option<f64>,
    /// nginx mean $upstream_response_time, ms.
    #[arg(long)]
    upstream_response_time_ms: Option<f64>,
    /// nginx mean $upstream_connect_time, ms.
    #[arg(long)]
    upstream_connect_time_ms: Option<f64>,
    /// App request duration, ms.
    #[arg(long)]
    request_duration_ms: Option<f64>,
    /// Time waiting for a worker, ms.
    #[arg(long)]
    queue_wait_ms: Option<f64>,
    /// Time in calls to other services, ms.
    #[arg(long)]
    external_calls_ms: Option<f64>,
    #[arg(long)]
    idle_workers: Option<f64>,
    #[arg(long)]
    busy_workers: Option<f64>,
    /// DB CPU percent.
    #[arg(long)]
    db_cpu_percent: Option<f64>,
    /// DB time per request, ms.
    #[arg(long)]
    db_time_ms: Option<f64>,
}

/// Runs a CLI command other than `serve`.
pub fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(_) => unreachable!("serve is handled by main"),
        Command::Demo { json } => demo::run(json),
        Command::Capacity(a) => {
            let mut args = base(&a.common)?;
            set(&mut args, "replicas", a.replicas.map(Value::from));
            set(
                &mut args,
                "workers_per_replica",
                a.workers_per_replica.map(Value::from),
            );
            set(
                &mut args,
                "threads_per_worker",
                a.threads_per_worker.map(Value::from),
            );
            set(
                &mut args,
                "avg_latency_ms",
                a.avg_latency_ms.map(Value::from),
            );
            set(&mut args, "arrival_rps", a.arrival_rps.map(Value::from));
            set(&mut args, "cpu_cores", a.cpu_cores.map(Value::from));
            set(&mut args, "workload", a.workload.map(Value::from));
            set(&mut args, "worker_rss_mb", a.worker_rss_mb.map(Value::from));
            set(
                &mut args,
                "memory_limit_mb",
                a.memory_limit_mb.map(Value::from),
            );
            set(
                &mut args,
                "db_pool_per_worker",
                a.db_pool_per_worker.map(Value::from),
            );
            set(
                &mut args,
                "db_max_connections",
                a.db_max_connections.map(Value::from),
            );
            set(
                &mut args,
                "target_latency_ms",
                a.target_latency_ms.map(Value::from),
            );
            analyze(args, a.common.json, capacity::analyze)
        }
        Command::Symptoms(a) => {
            let mut args = base(&a.common)?;
            let mut obs = match args.remove("observations") {
                Some(Value::Object(o)) => o,
                Some(_) => bail!("`observations` in the input file must be an object"),
                None => Map::new(),
            };
            set(
                &mut obs,
                "workers_busy_percent",
                a.workers_busy_percent.map(Value::from),
            );
            set(
                &mut obs,
                "backlog_growing",
                a.backlog_growing.map(Value::from),
            );
            set(
                &mut obs,
                "app_cpu_percent",
                a.app_cpu_percent.map(Value::from),
            );
            set(
                &mut obs,
                "db_cpu_percent",
                a.db_cpu_percent.map(Value::from),
            );
            set(
                &mut obs,
                "db_read_percent",
                a.db_read_percent.map(Value::from),
            );
            set(
                &mut obs,
                "lock_contention",
                a.lock_contention.map(Value::from),
            );
            set(
                &mut obs,
                "db_io_saturated",
                a.db_io_saturated.map(Value::from),
            );
            set(
                &mut obs,
                "disk_queue_depth",
                a.disk_queue_depth.map(Value::from),
            );
            set(
                &mut obs,
                "latency_pattern",
                a.latency_pattern.map(Value::from),
            );
            set(
                &mut obs,
                "db_latency_rising",
                a.db_latency_rising.map(Value::from),
            );
            set(&mut obs, "worker_class", a.worker_class.map(Value::from));
            set(
                &mut obs,
                "forks_in_workers",
                a.forks_in_workers.map(Value::from),
            );
            if !a.recent_changes.is_empty() {
                obs.insert("recent_changes".into(), json!(a.recent_changes));
            }
            args.insert("observations".into(), Value::Object(obs));
            analyze(args, a.common.json, symptoms::analyze)
        }
        Command::Latency(a) => {
            let mut args = base(&a.common)?;
            let mut figures = match args.remove("figures") {
                Some(Value::Object(o)) => o,
                Some(_) => bail!("`figures` in the input file must be an object"),
                None => Map::new(),
            };
            let mut section = |name: &str, fields: Vec<(&str, Option<f64>)>| {
                let entry = figures.entry(name).or_insert_with(|| json!({}));
                if let Value::Object(obj) = entry {
                    for (k, v) in fields {
                        set(obj, k, v.map(Value::from));
                    }
                }
            };
            section(
                "nginx",
                vec![
                    ("request_time_ms", a.request_time_ms),
                    ("upstream_response_time_ms", a.upstream_response_time_ms),
                    ("upstream_connect_time_ms", a.upstream_connect_time_ms),
                ],
            );
            section(
                "app",
                vec![
                    ("request_duration_ms", a.request_duration_ms),
                    ("queue_wait_ms", a.queue_wait_ms),
                    ("external_calls_ms", a.external_calls_ms),
                ],
            );
            section(
                "gunicorn",
                vec![
                    ("idle_workers", a.idle_workers),
                    ("busy_workers", a.busy_workers),
                ],
            );
            section(
                "db",
                vec![
                    ("cpu_percent", a.db_cpu_percent),
                    ("query_latency_ms", a.db_time_ms),
                ],
            );
            args.insert("figures".into(), Value::Object(figures));
            analyze(args, a.common.json, latency::analyze)
        }
    }
}

fn base(common: &Common) -> Result<Map<String, Value>> {
    let Some(path) = &common.input else {
        return Ok(Map::new());
    };
    let text = if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading arguments from stdin")?;
        s
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?
    };
    match serde_json::from_str(&text).with_context(|| format!("{path} is not valid JSON"))? {
        Value::Object(map) => Ok(map),
        _ => bail!("{path} must hold a JSON object of tool arguments"),
    }
}

fn set(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn analyze<I, R>(
    args: Map<String, Value>,
    as_json: bool,
    f: impl FnOnce(&I) -> Result<R, crate::diagnosis::InputError>,
) -> Result<()>
where
    I: serde::de::DeserializeOwned,
    R: Serialize + Summary,
{
    let input = input::parse::<I>(args)?;
    let report = f(&input)?;
    print(&report, as_json)
}

fn print<R: Serialize + Summary>(report: &R, as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.summary());
    }
    Ok(())
}
