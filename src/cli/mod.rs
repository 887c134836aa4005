//! The same analyses for a person at a terminal: readable text by default, `--json` for
//! scripts. Flags are turned into the same JSON arguments an MCP client would send and go
//! through the same parsing and validation, so the CLI and the server cannot disagree.

mod demo;
mod progress;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::diagnosis::{capacity, latency, queries, symptoms};
use crate::input;
use crate::render::Summary;
use crate::server::http::{self as http, HttpOptions, HttpSettings};
use crate::sources;
use crate::sources::reach::{Reach, ReachSettings};

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
    pub fn reach_settings(&self, config: &crate::config::Config) -> ReachSettings {
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
    Latency(LatencyArgs),
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

#[derive(Debug, Args)]
pub struct RdsIopsArgs {
    #[command(flatten)]
    common: Common,
    /// The RDS DB instance identifier, e.g. orders-db.
    #[arg(long)]
    db_instance_identifier: Option<String>,
    /// AWS region (default: the AWS default chain).
    #[arg(long)]
    region: Option<String>,
    /// AWS profile (default: AWS_PROFILE, then `default`).
    #[arg(long)]
    profile: Option<String>,
    /// How far back to look, minutes (default 60).
    #[arg(long)]
    window_minutes: Option<i64>,
    /// CloudWatch period, seconds, a multiple of 60 (default 300).
    #[arg(long)]
    period_seconds: Option<i64>,
    /// The volume's IOPS limit when DescribeDBInstances is not allowed.
    #[arg(long)]
    provisioned_iops: Option<f64>,
    /// The volume's throughput limit, MiB/s, when DescribeDBInstances is not allowed.
    #[arg(long)]
    provisioned_throughput_mibps: Option<f64>,
    /// gp2, gp3, io1, io2 or standard, when DescribeDBInstances is not allowed.
    #[arg(long)]
    storage_type: Option<String>,
    /// Allocated storage, GiB, when DescribeDBInstances is not allowed.
    #[arg(long)]
    allocated_storage_gib: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SlowQueriesArgs {
    #[command(flatten)]
    common: Common,
    /// A configured target name (default: DATABASE_URL or the PG* variables).
    #[arg(long)]
    target: Option<String>,
    /// How many statements, 1–100 (default 20).
    #[arg(long)]
    limit: Option<u64>,
    /// mean_time, total_time, calls or io_time.
    #[arg(long)]
    order_by: Option<String>,
    /// Leave out statements faster than this mean, ms.
    #[arg(long)]
    min_mean_ms: Option<f64>,
    /// Do not list live sessions.
    #[arg(long)]
    no_running: bool,
    /// List sessions running longer than this, seconds (default 1).
    #[arg(long)]
    running_min_seconds: Option<f64>,
    /// Rank what ran during the next N seconds (1–60) instead of since the last reset.
    #[arg(long)]
    sample_seconds: Option<f64>,
    /// The primary's CPU, 0–100 (read replica / write-path hints need it).
    #[arg(long)]
    db_cpu_percent: Option<f64>,
}

/// The sources break_down_latency can read, as flags.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The site's nginx log_format: the directive text from nginx.conf, its format string,
    /// or a preset (combined, main, timed). Default: combined.
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Read the log_format text from FILE (e.g. a snippet of nginx.conf).
    #[arg(long, value_name = "FILE", conflicts_with = "log_format")]
    log_format_file: Option<String>,
    /// Only requests at or after this time (RFC 3339, or 15m / 2h / 1d before now).
    #[arg(long)]
    since: Option<String>,
    /// Only requests before this time (same forms as --since).
    #[arg(long)]
    until: Option<String>,
    /// A route template for paths the automatic folding misses, e.g. /users/{name}/profile
    /// (repeatable).
    #[arg(long = "route-pattern", value_name = "TEMPLATE")]
    route_patterns: Vec<String>,
    /// How many endpoints to list (default 25).
    #[arg(long)]
    max_endpoints: Option<usize>,
    /// p99 above which an endpoint is slow, ms (default: 3 × --baseline-p99-ms, else the
    /// routes against each other, 1000 as a last resort).
    #[arg(long)]
    slow_threshold_ms: Option<f64>,
    /// The service's usual p99, ms: an endpoint is slow above 3 × this.
    #[arg(long)]
    baseline_p99_ms: Option<f64>,
    /// Prometheus endpoint with Gunicorn worker-state gauges, e.g. http://127.0.0.1:9100/metrics.
    #[arg(long)]
    gunicorn_metrics_url: Option<String>,
    /// uWSGI stats server (HOST:PORT, socket path, or http://HOST:PORT).
    #[arg(long)]
    uwsgi_stats: Option<String>,
    /// Port Gunicorn/uWSGI listens on, to read its accept queue from /proc/net/tcp.
    #[arg(long)]
    listen_port: Option<u16>,
    /// Samples of worker state and accept queue (default 5).
    #[arg(long)]
    samples: Option<u32>,
    /// Time between samples, ms (default 1000).
    #[arg(long)]
    sample_interval_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    common: Common,
    /// Access log files (plain or .gz; a `*` in the file name matches rotated files).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
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
    /// A client that has not sent a request's complete headers within this is disconnected:
    /// from the connection's start for its first request (so also one that sends nothing),
    /// from the first byte for the next ones.
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_HEADER_TIMEOUT", default_value = "5s", value_parser = http::parse_duration)]
    pub header_timeout: Duration,
    /// A kept-alive connection with no new request for this long is closed. Keep it above
    /// the idle timeout of a proxy or load balancer that pools connections to the server.
    #[arg(long, value_name = "DURATION", env = "PWT_HTTP_IDLE_TIMEOUT", default_value = "75s", value_parser = http::parse_duration)]
    pub idle_timeout: Duration,
    /// Client connections held at once (default: what the open-files limit leaves after
    /// 128 + 4 per call slot are kept for databases, AWS and log files, at most 4096). At
    /// the cap, the oldest connection with no request in progress is closed to make room.
    #[arg(long, value_name = "N", env = "PWT_HTTP_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
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
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            open_files_limit: http::open_files_limit(),
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
    /// Share of request time spent in the database, 0–100.
    #[arg(long)]
    db_time_percent: Option<f64>,
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
    /// RDS instance whose storage verdict fills the DB observations (check_rds_iops).
    #[arg(long)]
    rds_instance: Option<String>,
    /// nginx access log to read (repeatable); see `logs` for a shorthand.
    #[arg(long = "access-log", value_name = "PATH")]
    access_log: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
}

/// Runs a CLI command other than `serve`.
pub fn run(command: Command, config: &crate::config::Config, reach: Reach) -> Result<()> {
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
            set(
                &mut args,
                "db_time_percent",
                a.db_time_percent.map(Value::from),
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
            if let Some(id) = a.rds_instance {
                args.insert("rds_instance".into(), json!({"db_instance_identifier": id}));
            }
            apply_sources(&mut args, &a.access_log, &a.sources)?;
            analyze_latency(args, a.common.json, &reach.with_command_line(&a.access_log))
        }
        Command::Logs(a) => {
            let mut args = base(&a.common)?;
            apply_sources(&mut args, &a.paths, &a.sources)?;
            analyze_latency(args, a.common.json, &reach.with_command_line(&a.paths))
        }
        Command::RdsIops(a) => {
            let mut args = base(&a.common)?;
            set(
                &mut args,
                "db_instance_identifier",
                a.db_instance_identifier.map(Value::from),
            );
            set(&mut args, "region", a.region.map(Value::from));
            set(&mut args, "profile", a.profile.map(Value::from));
            set(
                &mut args,
                "window_minutes",
                a.window_minutes.map(Value::from),
            );
            set(
                &mut args,
                "period_seconds",
                a.period_seconds.map(Value::from),
            );
            set(
                &mut args,
                "provisioned_iops",
                a.provisioned_iops.map(Value::from),
            );
            set(
                &mut args,
                "provisioned_throughput_mibps",
                a.provisioned_throughput_mibps.map(Value::from),
            );
            set(&mut args, "storage_type", a.storage_type.map(Value::from));
            set(
                &mut args,
                "allocated_storage_gib",
                a.allocated_storage_gib.map(Value::from),
            );
            let input = input::parse::<crate::diagnosis::storage::RdsIopsInput>(args)?;
            let report = block_on(crate::sources::check_rds_iops(&input))??;
            print(&report, a.common.json)
        }
        Command::SlowQueries(a) => {
            let mut args = base(&a.common)?;
            set(&mut args, "target", a.target.map(Value::from));
            set(&mut args, "limit", a.limit.map(Value::from));
            set(&mut args, "order_by", a.order_by.map(Value::from));
            set(&mut args, "min_mean_ms", a.min_mean_ms.map(Value::from));
            if a.no_running {
                args.insert("include_running".into(), Value::Bool(false));
            }
            set(
                &mut args,
                "running_min_seconds",
                a.running_min_seconds.map(Value::from),
            );
            set(
                &mut args,
                "sample_seconds",
                a.sample_seconds.map(Value::from),
            );
            set(
                &mut args,
                "db_cpu_percent",
                a.db_cpu_percent.map(Value::from),
            );
            let input = input::parse::<queries::SlowQueriesInput>(args)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let report = runtime.block_on(crate::sources::slow_queries(
                config,
                &crate::sources::Connections::default(),
                &input,
            ))?;
            print(&report, a.common.json)
        }
    }
}

/// Runs one async source read to completion on a small runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    Ok(runtime.block_on(future))
}

/// Adds the source flags to the tool arguments.
fn apply_sources(args: &mut Map<String, Value>, paths: &[String], s: &SourceArgs) -> Result<()> {
    let log_format = match (&s.log_format, &s.log_format_file) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(file)) => {
            Some(std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?)
        }
        (None, None) => None,
    };
    if !paths.is_empty() {
        let mut log = match args.remove("access_log") {
            Some(Value::Object(o)) => o,
            Some(_) => bail!("`access_log` in the input file must be an object"),
            None => Map::new(),
        };
        log.insert("path".into(), json!(paths));
        set(&mut log, "log_format", log_format.map(Value::from));
        set(&mut log, "since", s.since.clone().map(Value::from));
        set(&mut log, "until", s.until.clone().map(Value::from));
        if !s.route_patterns.is_empty() {
            log.insert("route_patterns".into(), json!(s.route_patterns));
        }
        set(&mut log, "max_endpoints", s.max_endpoints.map(Value::from));
        args.insert("access_log".into(), Value::Object(log));
    } else if log_format.is_some() || s.since.is_some() || s.until.is_some() {
        bail!("--log-format, --since and --until apply to an access log: pass --access-log PATH");
    }
    set(
        args,
        "slow_threshold_ms",
        s.slow_threshold_ms.map(Value::from),
    );
    set(
        args,
        "baseline",
        s.baseline_p99_ms.map(|p| json!({ "p99_ms": p })),
    );
    set(
        args,
        "gunicorn_metrics_url",
        s.gunicorn_metrics_url.clone().map(Value::from),
    );
    set(args, "uwsgi_stats", s.uwsgi_stats.clone().map(Value::from));
    set(args, "listen_port", s.listen_port.map(Value::from));
    set(args, "samples", s.samples.map(Value::from));
    set(
        args,
        "sample_interval_ms",
        s.sample_interval_ms.map(Value::from),
    );
    Ok(())
}

/// break_down_latency from the terminal: the same parsing, sources and core as the tool.
fn analyze_latency(args: Map<String, Value>, as_json: bool, reach: &Reach) -> Result<()> {
    let input = input::parse::<latency::LatencyInput>(args)?;
    let bar = progress::on_terminal();
    let report = block_on(sources::break_down_latency(input, reach, &bar.progress))??;
    drop(bar);
    print(&report, as_json)
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
