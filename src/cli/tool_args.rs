//! The flags of each analysis, and how they become that tool's typed input.
//!
//! Each command's flags convert into the core's input type field by field, so a field the
//! core renames or drops stops the build here instead of failing at run time. With
//! `--input FILE`, the file's JSON goes through the same parsing as an MCP call's arguments
//! ([`input::parse`]); the flags given then override its fields. A field the tool requires
//! is put into the JSON before parsing, so a file may leave it to a flag and serde still
//! fills in every default from the one place that declares it.

use std::io::Read;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::diagnosis::capacity::{CapacityInput, Workload};
use crate::diagnosis::latency::{AccessLogInput, Baseline, LatencyInput, PrometheusInput};
use crate::diagnosis::load_balancer::LoadBalancerRef;
use crate::diagnosis::queries::{OrderBy, SlowQueriesInput};
use crate::diagnosis::storage::{DEFAULT_WINDOW_MINUTES, RdsInstanceRef, RdsIopsInput};
use crate::diagnosis::symptoms::{LatencyPattern, MatchInput, RecentChange, WorkerClass};
use crate::input;

/// The JSON name of a field of one of the core's input types, checked by the compiler: a
/// misspelled or removed field does not build. (The input types keep their field names in
/// JSON; none renames a field.)
macro_rules! field_name {
    ($ty:ty, $field:ident) => {{
        let _field_exists = |input: &$ty| {
            let _ = &input.$field;
        };
        stringify!($field)
    }};
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
    pub(super) common: Common,
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
    #[arg(long, value_parser = finite)]
    avg_latency_ms: Option<f64>,
    /// Fleet-wide arrival rate, requests per second.
    #[arg(long, value_parser = finite)]
    arrival_rps: Option<f64>,
    /// CPU cores per replica.
    #[arg(long, value_parser = finite)]
    cpu_cores: Option<f64>,
    /// cpu_bound, io_bound or mixed.
    #[arg(long, value_parser = json_name::<Workload>)]
    workload: Option<Workload>,
    /// Resident memory of one worker, MB.
    #[arg(long, value_parser = finite)]
    worker_rss_mb: Option<f64>,
    /// Memory limit of one replica, MB.
    #[arg(long, value_parser = finite)]
    memory_limit_mb: Option<f64>,
    /// DB connections per worker (pool size).
    #[arg(long)]
    db_pool_per_worker: Option<i64>,
    /// The database's max_connections.
    #[arg(long)]
    db_max_connections: Option<i64>,
    /// Latency reachable after fixing the slow path, ms (what-if).
    #[arg(long, value_parser = finite)]
    target_latency_ms: Option<f64>,
    /// Share of request time spent in the database, 0–100.
    #[arg(long, value_parser = finite)]
    db_time_percent: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SymptomArgs {
    #[command(flatten)]
    pub(super) common: Common,
    #[arg(long, value_parser = finite)]
    workers_busy_percent: Option<f64>,
    #[arg(long)]
    backlog_growing: Option<bool>,
    #[arg(long, value_parser = finite)]
    app_cpu_percent: Option<f64>,
    #[arg(long, value_parser = finite)]
    db_cpu_percent: Option<f64>,
    #[arg(long, value_parser = finite)]
    db_read_percent: Option<f64>,
    #[arg(long)]
    lock_contention: Option<bool>,
    #[arg(long)]
    db_io_saturated: Option<bool>,
    #[arg(long, value_parser = finite)]
    disk_queue_depth: Option<f64>,
    /// long_tail, system_wide or healthy.
    #[arg(long, value_parser = json_name::<LatencyPattern>)]
    latency_pattern: Option<LatencyPattern>,
    #[arg(long)]
    db_latency_rising: Option<bool>,
    /// added_workers, added_replicas, container_restarts, oom_kills, deploy, traffic_spike,
    /// switched_to_threads, switched_to_gevent (repeatable).
    #[arg(long = "recent-change", value_parser = json_name::<RecentChange>)]
    recent_changes: Vec<RecentChange>,
    /// sync, gthread, gevent, eventlet, uvicorn, uwsgi_threads.
    #[arg(long, value_parser = json_name::<WorkerClass>)]
    worker_class: Option<WorkerClass>,
    #[arg(long)]
    forks_in_workers: Option<bool>,
}

#[derive(Debug, Args)]
pub struct LatencyArgs {
    #[command(flatten)]
    pub(super) common: Common,
    /// nginx mean $request_time, ms.
    #[arg(long, value_parser = finite)]
    request_time_ms: Option<f64>,
    /// nginx mean $upstream_response_time, ms.
    #[arg(long, value_parser = finite)]
    upstream_response_time_ms: Option<f64>,
    /// nginx mean $upstream_connect_time, ms.
    #[arg(long, value_parser = finite)]
    upstream_connect_time_ms: Option<f64>,
    /// App request duration, ms.
    #[arg(long, value_parser = finite)]
    request_duration_ms: Option<f64>,
    /// Time waiting for a worker, ms.
    #[arg(long, value_parser = finite)]
    queue_wait_ms: Option<f64>,
    /// Time in calls to other services, ms.
    #[arg(long, value_parser = finite)]
    external_calls_ms: Option<f64>,
    #[arg(long, value_parser = finite)]
    idle_workers: Option<f64>,
    #[arg(long, value_parser = finite)]
    busy_workers: Option<f64>,
    /// DB CPU percent.
    #[arg(long, value_parser = finite)]
    db_cpu_percent: Option<f64>,
    /// DB time per request, ms.
    #[arg(long, value_parser = finite)]
    db_time_ms: Option<f64>,
    /// RDS instance whose storage verdict fills the DB observations (check_rds_iops).
    #[arg(long)]
    rds_instance: Option<String>,
    /// AWS load balancer whose CloudWatch metrics to read: an ALB as `app/NAME/ID` (or its
    /// ARN), or a Classic ELB's name.
    #[arg(long, value_name = "NAME")]
    aws_load_balancer: Option<String>,
    /// Only this ALB target group (`targetgroup/NAME/ID`).
    #[arg(long, value_name = "TARGET_GROUP", requires = "aws_load_balancer")]
    lb_target_group: Option<String>,
    /// The load balancer's AWS region (default: the AWS config's).
    #[arg(long, value_name = "REGION", requires = "aws_load_balancer")]
    lb_region: Option<String>,
    /// Start of the load balancer's window (RFC 3339, or 15m / 2h / 1d before now; default 15m).
    #[arg(long, value_name = "TIME", requires = "aws_load_balancer")]
    lb_since: Option<String>,
    /// End of the load balancer's window (default now).
    #[arg(long, value_name = "TIME", requires = "aws_load_balancer")]
    lb_until: Option<String>,
    /// nginx access log to read (repeatable); see `logs` for a shorthand.
    #[arg(long = "access-log", value_name = "PATH")]
    access_log: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub(super) common: Common,
    /// Access log files (plain or .gz; a `*` in the file name matches rotated files).
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    #[command(flatten)]
    sources: SourceArgs,
}

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
    #[arg(long, value_parser = finite)]
    slow_threshold_ms: Option<f64>,
    /// The service's usual p99, ms: an endpoint is slow above 3 × this.
    #[arg(long, value_parser = finite)]
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
    /// Read the fleet from a Prometheus engine: the service's label matchers, e.g.
    /// '{job="shop-api"}' (window: --since/--until, default the last 15 minutes).
    #[arg(long, value_name = "SELECTOR")]
    prometheus: Option<String>,
    /// The engine's configured name (default `default`, from PWT_PROMETHEUS_URL).
    #[arg(long, value_name = "NAME", requires = "prometheus")]
    prometheus_source: Option<String>,
    /// Samples of worker state and accept queue (default 5).
    #[arg(long)]
    samples: Option<u32>,
    /// Time between samples, ms (default 1000).
    #[arg(long)]
    sample_interval_ms: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RdsIopsArgs {
    #[command(flatten)]
    pub(super) common: Common,
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
    #[arg(long, conflicts_with = "since")]
    window_minutes: Option<u32>,
    /// Start of the window instead: a period before now (24h, 7d) or an RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// End of the window (default now).
    #[arg(long)]
    until: Option<String>,
    /// CloudWatch period, seconds, a multiple of 60 (default 300).
    #[arg(long)]
    period_seconds: Option<u32>,
    /// The volume's IOPS limit when DescribeDBInstances is not allowed.
    #[arg(long, value_parser = finite)]
    provisioned_iops: Option<f64>,
    /// The volume's throughput limit, MiB/s, when DescribeDBInstances is not allowed.
    #[arg(long, value_parser = finite)]
    provisioned_throughput_mibps: Option<f64>,
    /// gp2, gp3, io1, io2 or standard, when DescribeDBInstances is not allowed.
    #[arg(long)]
    storage_type: Option<String>,
    /// Allocated storage, GiB, when DescribeDBInstances is not allowed.
    #[arg(long, value_parser = finite)]
    allocated_storage_gib: Option<f64>,
}

#[derive(Debug, Args)]
pub struct SlowQueriesArgs {
    #[command(flatten)]
    pub(super) common: Common,
    /// A configured target name (default: DATABASE_URL or the PG* variables).
    #[arg(long)]
    target: Option<String>,
    /// How many statements, 1–100 (default 20).
    #[arg(long)]
    limit: Option<u64>,
    /// mean_time, total_time, calls or io_time.
    #[arg(long, value_parser = json_name::<OrderBy>)]
    order_by: Option<OrderBy>,
    /// Leave out statements faster than this mean, ms.
    #[arg(long, value_parser = finite)]
    min_mean_ms: Option<f64>,
    /// Do not list live sessions.
    #[arg(long)]
    no_running: bool,
    /// List sessions running longer than this, seconds (default 1).
    #[arg(long, value_parser = finite)]
    running_min_seconds: Option<f64>,
    /// Rank what ran during the next N seconds (1–60) instead of since the last reset.
    #[arg(long, value_parser = finite)]
    sample_seconds: Option<f64>,
    /// The primary's CPU, 0–100 (read replica / write-path hints need it).
    #[arg(long, value_parser = finite)]
    db_cpu_percent: Option<f64>,
    /// The SQL of one statement as a trace shows it (a Sentry span's description): list
    /// only the statements the server recorded for it.
    #[arg(long, value_name = "SQL")]
    query_text: Option<String>,
}

impl Common {
    /// The tool arguments in the `--input` file (or stdin), or none.
    fn arguments(&self) -> Result<Map<String, Value>> {
        let Some(path) = &self.input else {
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
}

impl CapacityArgs {
    /// The capacity_math input: the `--input` file's arguments, each flag given over its field.
    pub(super) fn into_input(self) -> Result<CapacityInput> {
        let mut args = self.common.arguments()?;
        let required = field_name!(CapacityInput, replicas);
        put_required(&mut args, required, self.replicas);
        let required = field_name!(CapacityInput, workers_per_replica);
        put_required(&mut args, required, self.workers_per_replica);
        let required = field_name!(CapacityInput, avg_latency_ms);
        put_required(&mut args, required, self.avg_latency_ms);
        let mut input: CapacityInput = input::parse(args)?;
        input.threads_per_worker = self.threads_per_worker.unwrap_or(input.threads_per_worker);
        input.arrival_rps = self.arrival_rps.or(input.arrival_rps);
        input.cpu_cores = self.cpu_cores.or(input.cpu_cores);
        input.workload = self.workload.unwrap_or(input.workload);
        input.worker_rss_mb = self.worker_rss_mb.or(input.worker_rss_mb);
        input.memory_limit_mb = self.memory_limit_mb.or(input.memory_limit_mb);
        input.db_pool_per_worker = self.db_pool_per_worker.or(input.db_pool_per_worker);
        input.db_max_connections = self.db_max_connections.or(input.db_max_connections);
        input.target_latency_ms = self.target_latency_ms.or(input.target_latency_ms);
        input.db_time_percent = self.db_time_percent.or(input.db_time_percent);
        Ok(input)
    }
}

impl SymptomArgs {
    /// The match_symptom input: the `--input` file's observations, each flag given over its
    /// field.
    pub(super) fn into_input(self) -> Result<MatchInput> {
        let mut input: MatchInput = input::parse(self.common.arguments()?)?;
        let o = &mut input.observations;
        o.workers_busy_percent = self.workers_busy_percent.or(o.workers_busy_percent);
        o.backlog_growing = self.backlog_growing.or(o.backlog_growing);
        o.app_cpu_percent = self.app_cpu_percent.or(o.app_cpu_percent);
        o.db_cpu_percent = self.db_cpu_percent.or(o.db_cpu_percent);
        o.db_read_percent = self.db_read_percent.or(o.db_read_percent);
        o.lock_contention = self.lock_contention.or(o.lock_contention);
        o.db_io_saturated = self.db_io_saturated.or(o.db_io_saturated);
        o.disk_queue_depth = self.disk_queue_depth.or(o.disk_queue_depth);
        o.latency_pattern = self.latency_pattern.or(o.latency_pattern);
        o.db_latency_rising = self.db_latency_rising.or(o.db_latency_rising);
        o.worker_class = self.worker_class.or(o.worker_class);
        o.forks_in_workers = self.forks_in_workers.or(o.forks_in_workers);
        if !self.recent_changes.is_empty() {
            o.recent_changes = self.recent_changes;
        }
        Ok(input)
    }
}

impl LatencyArgs {
    /// The access logs named on the command line (the person at the terminal may read them).
    pub(super) fn paths(&self) -> &[String] {
        &self.access_log
    }

    /// The break_down_latency input: the `--input` file's arguments, each flag given over its
    /// field.
    pub(super) fn into_input(self) -> Result<LatencyInput> {
        let mut input = self.sources.into_input(&self.common, self.access_log)?;
        let f = &mut input.figures;
        f.nginx.request_time_ms = self.request_time_ms.or(f.nginx.request_time_ms);
        f.nginx.upstream_response_time_ms = self
            .upstream_response_time_ms
            .or(f.nginx.upstream_response_time_ms);
        f.nginx.upstream_connect_time_ms = self
            .upstream_connect_time_ms
            .or(f.nginx.upstream_connect_time_ms);
        f.app.request_duration_ms = self.request_duration_ms.or(f.app.request_duration_ms);
        f.app.queue_wait_ms = self.queue_wait_ms.or(f.app.queue_wait_ms);
        f.app.external_calls_ms = self.external_calls_ms.or(f.app.external_calls_ms);
        f.gunicorn.idle_workers = self.idle_workers.or(f.gunicorn.idle_workers);
        f.gunicorn.busy_workers = self.busy_workers.or(f.gunicorn.busy_workers);
        f.db.cpu_percent = self.db_cpu_percent.or(f.db.cpu_percent);
        f.db.query_latency_ms = self.db_time_ms.or(f.db.query_latency_ms);
        if let Some(id) = self.rds_instance {
            input.rds_instance = Some(RdsInstanceRef {
                db_instance_identifier: id,
                region: None,
                window_minutes: DEFAULT_WINDOW_MINUTES,
            });
        }
        if let Some(name) = self.aws_load_balancer {
            let lb = input.aws_load_balancer.take();
            let lb = lb.as_ref();
            input.aws_load_balancer = Some(LoadBalancerRef {
                name,
                target_group: self
                    .lb_target_group
                    .or_else(|| lb.and_then(|l| l.target_group.clone())),
                region: self.lb_region.or_else(|| lb.and_then(|l| l.region.clone())),
                since: self.lb_since.or_else(|| lb.and_then(|l| l.since.clone())),
                until: self.lb_until.or_else(|| lb.and_then(|l| l.until.clone())),
            });
        }
        Ok(input)
    }
}

impl LogsArgs {
    /// The access logs named on the command line (the person at the terminal may read them).
    pub(super) fn paths(&self) -> &[String] {
        &self.paths
    }

    /// The break_down_latency input for these logs: the `--input` file's arguments, each flag
    /// given over its field.
    pub(super) fn into_input(self) -> Result<LatencyInput> {
        self.sources.into_input(&self.common, self.paths)
    }
}

impl SourceArgs {
    /// The break_down_latency input with these sources: the `--input` file's arguments, the
    /// access logs at `paths` (when any) and each flag given over its field.
    fn into_input(self, common: &Common, paths: Vec<String>) -> Result<LatencyInput> {
        let mut args = common.arguments()?;
        let log_format = match (self.log_format, &self.log_format_file) {
            (Some(f), _) => Some(f),
            (None, Some(file)) => {
                Some(std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?)
            }
            (None, None) => None,
        };
        let reads_logs = !paths.is_empty();
        if reads_logs {
            let log = object_field(&mut args, field_name!(LatencyInput, access_log))?;
            put_required(log, field_name!(AccessLogInput, path), Some(paths));
        } else if log_format.is_some()
            || (self.prometheus.is_none() && (self.since.is_some() || self.until.is_some()))
        {
            bail!(
                "--log-format, --since and --until apply to an access log (--access-log PATH) or an engine (--prometheus SELECTOR)"
            );
        }
        let mut input: LatencyInput = input::parse(args)?;
        if let Some(selector) = self.prometheus {
            let p = input.prometheus.get_or_insert(PrometheusInput {
                source: None,
                selector: String::new(),
                since: None,
                until: None,
            });
            p.selector = selector;
            p.source = self.prometheus_source.or(p.source.take());
            if !reads_logs {
                p.since = self.since.clone().or(p.since.take());
                p.until = self.until.clone().or(p.until.take());
            }
        }
        if let Some(log) = input.access_log.as_mut().filter(|_| reads_logs) {
            if let Some(format) = log_format {
                log.log_format = format;
            }
            log.since = self.since.or(log.since.take());
            log.until = self.until.or(log.until.take());
            if !self.route_patterns.is_empty() {
                log.route_patterns = self.route_patterns;
            }
            log.max_endpoints = self.max_endpoints.unwrap_or(log.max_endpoints);
        }
        input.slow_threshold_ms = self.slow_threshold_ms.or(input.slow_threshold_ms);
        if let Some(p99_ms) = self.baseline_p99_ms {
            input.baseline = Some(Baseline { p99_ms });
        }
        input.gunicorn_metrics_url = self.gunicorn_metrics_url.or(input.gunicorn_metrics_url);
        input.uwsgi_stats = self.uwsgi_stats.or(input.uwsgi_stats);
        input.listen_port = self.listen_port.or(input.listen_port);
        input.samples = self.samples.unwrap_or(input.samples);
        input.sample_interval_ms = self.sample_interval_ms.unwrap_or(input.sample_interval_ms);
        Ok(input)
    }
}

impl RdsIopsArgs {
    /// The check_rds_iops input: the `--input` file's arguments, each flag given over its
    /// field.
    pub(super) fn into_input(self) -> Result<RdsIopsInput> {
        let mut args = self.common.arguments()?;
        let required = field_name!(RdsIopsInput, db_instance_identifier);
        put_required(&mut args, required, self.db_instance_identifier);
        let mut input: RdsIopsInput = input::parse(args)?;
        input.region = self.region.or(input.region);
        input.profile = self.profile.or(input.profile);
        input.window_minutes = self.window_minutes.or(input.window_minutes);
        input.since = self.since.or(input.since);
        input.until = self.until.or(input.until);
        input.period_seconds = self.period_seconds.unwrap_or(input.period_seconds);
        input.provisioned_iops = self.provisioned_iops.or(input.provisioned_iops);
        input.provisioned_throughput_mibps = self
            .provisioned_throughput_mibps
            .or(input.provisioned_throughput_mibps);
        input.storage_type = self.storage_type.or(input.storage_type);
        input.allocated_storage_gib = self.allocated_storage_gib.or(input.allocated_storage_gib);
        Ok(input)
    }
}

impl SlowQueriesArgs {
    /// The slow_queries input: the `--input` file's arguments, each flag given over its field.
    pub(super) fn into_input(self) -> Result<SlowQueriesInput> {
        let mut input: SlowQueriesInput = input::parse(self.common.arguments()?)?;
        input.target = self.target.or(input.target);
        input.limit = self.limit.unwrap_or(input.limit);
        input.order_by = self.order_by.unwrap_or(input.order_by);
        input.min_mean_ms = self.min_mean_ms.unwrap_or(input.min_mean_ms);
        if self.no_running {
            input.include_running = false;
        }
        input.running_min_seconds = self
            .running_min_seconds
            .unwrap_or(input.running_min_seconds);
        input.sample_seconds = self.sample_seconds.or(input.sample_seconds);
        input.db_cpu_percent = self.db_cpu_percent.or(input.db_cpu_percent);
        input.query_text = self.query_text.or(input.query_text);
        Ok(input)
    }
}

/// Puts a value the tool requires into its JSON arguments, over the file's, before they are
/// parsed.
fn put_required(args: &mut Map<String, Value>, name: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        args.insert(name.to_owned(), value.into());
    }
}

/// The object under `name` in the arguments, created empty when the file has none.
fn object_field<'a>(
    args: &'a mut Map<String, Value>,
    name: &str,
) -> Result<&'a mut Map<String, Value>> {
    match args
        .entry(name)
        .or_insert_with(|| Value::Object(Map::new()))
    {
        Value::Object(object) => Ok(object),
        _ => bail!("`{name}` in the input file must be an object"),
    }
}

/// A number flag: JSON, and so a tool call, cannot carry NaN or infinity.
fn finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err("must be a finite number".to_owned()),
        Err(err) => Err(err.to_string()),
    }
}

/// A flag whose value is one of the tool's names, e.g. `io_bound` for `Workload::IoBound`:
/// parsed as the same JSON string a tool call would carry.
fn json_name<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(text.to_owned())).map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::*;

    fn command(args: &[&str]) -> Result<Command, clap::Error> {
        let argv = std::iter::once("python-web-troubleshooter").chain(args.iter().copied());
        Ok(Cli::try_parse_from(argv)?.command.expect("a command"))
    }

    /// Writes `json` to a file of its own and returns the path.
    fn input_file(name: &str, json: &str) -> String {
        let path = std::env::temp_dir().join(format!("pwt-cli-{}-{name}.json", std::process::id()));
        std::fs::write(&path, json).expect("temp file");
        path.display().to_string()
    }

    fn capacity(args: &[&str]) -> CapacityInput {
        match command(args) {
            Ok(Command::Capacity(a)) => a.into_input().expect("valid input"),
            other => panic!("not capacity: {other:?}"),
        }
    }

    #[test]
    fn flags_fill_the_typed_input_and_serde_the_defaults() {
        let input = capacity(&[
            "capacity",
            "--replicas",
            "2",
            "--workers-per-replica",
            "4",
            "--avg-latency-ms",
            "120",
            "--workload",
            "io_bound",
        ]);
        assert_eq!((input.replicas, input.workers_per_replica), (2, 4));
        assert_eq!(input.avg_latency_ms, 120.0);
        assert_eq!(input.workload, Workload::IoBound);
        assert_eq!(input.threads_per_worker, 1);
        assert_eq!(input.arrival_rps, None);
    }

    #[test]
    fn flags_override_the_input_file_which_may_leave_required_fields_to_them() {
        let file = input_file(
            "capacity",
            r#"{"workers_per_replica": 3, "avg_latency_ms": 250, "arrival_rps": 5, "cpu_cores": 2}"#,
        );
        let input = capacity(&[
            "capacity",
            "--input",
            &file,
            "--replicas",
            "8",
            "--arrival-rps",
            "9",
        ]);
        assert_eq!((input.replicas, input.workers_per_replica), (8, 3));
        assert_eq!((input.arrival_rps, input.cpu_cores), (Some(9.0), Some(2.0)));
        let Ok(Command::Capacity(a)) = command(&["capacity", "--input", &file]) else {
            panic!("capacity parses");
        };
        let err = a.into_input().unwrap_err().to_string();
        assert!(err.contains("missing field `replicas`"), "{err}");
    }

    #[test]
    fn log_paths_join_the_access_log_of_the_input_file() {
        let file = input_file(
            "logs",
            r#"{"access_log": {"log_format": "timed", "max_endpoints": 3}, "samples": 2}"#,
        );
        let Ok(Command::Logs(a)) = command(&["logs", "a.log", "--input", &file, "--since", "1h"])
        else {
            panic!("logs parses");
        };
        let input = a.into_input().expect("valid input");
        let log = input.access_log.expect("an access log");
        assert_eq!(log.path.to_vec(), ["a.log"]);
        assert_eq!((log.log_format.as_str(), log.max_endpoints), ("timed", 3));
        assert_eq!(log.since.as_deref(), Some("1h"));
        assert_eq!(input.samples, 2);
    }

    #[test]
    fn query_text_is_a_flag_over_the_input_file() {
        let slow = |args: &[&str]| match command(args) {
            Ok(Command::SlowQueries(a)) => a.into_input().expect("valid input"),
            other => panic!("not slow-queries: {other:?}"),
        };
        let sql = "SELECT \"orders\".\"id\" FROM \"orders\" WHERE \"orders\".\"id\" IN (%s, %s)";
        let input = slow(&["slow-queries", "--query-text", sql, "--limit", "5"]);
        assert_eq!(input.query_text.as_deref(), Some(sql));
        assert_eq!(input.limit, 5);
        let file = input_file("slow", r#"{"query_text": "SELECT 1", "order_by": "calls"}"#);
        let input = slow(&["slow-queries", "--input", &file]);
        assert_eq!(input.query_text.as_deref(), Some("SELECT 1"));
        let input = slow(&["slow-queries", "--input", &file, "--query-text", sql]);
        assert_eq!(input.query_text.as_deref(), Some(sql));
        assert_eq!(input.order_by, OrderBy::Calls);
        assert_eq!(slow(&["slow-queries"]).query_text, None);
    }

    #[test]
    fn names_and_numbers_are_checked_as_flags() {
        let base = ["capacity", "--replicas", "2", "--workers-per-replica", "4"];
        for bad in [
            ["--avg-latency-ms", "nan"],
            ["--avg-latency-ms", "inf"],
            ["--workload", "quantum"],
        ] {
            let args: Vec<&str> = base.iter().chain(&bad).copied().collect();
            let err = command(&args).unwrap_err().to_string();
            assert!(err.contains(bad[0]), "{err}");
        }
        let err = command(&["slow-queries", "--order-by", "fastest"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("mean_time"), "{err}");
    }
}
