//! I/O adapters: each file turns one outside system into the plain data the diagnosis core
//! takes. Nothing here decides anything; nothing in `crate::diagnosis` performs I/O.
//!
//! - [`nginx_log`]: access-log files on this host (plain and `.gz`), read in parallel;
//! - [`prometheus`]: a Prometheus text endpoint with worker-state gauges;
//! - [`uwsgi`]: uWSGI's stats server;
//! - [`listen_queue`]: the accept queue of a listening socket, from /proc/net/tcp{,6};
//! - [`fetch`]: the bounded HTTP GET the two HTTP sources share;
//! - [`reach`]: the operator's allow-lists — which log directories and metrics hosts a
//!   caller may make the server read;
//! - [`aws`]: region, credentials, timeouts and retries for every AWS client, error
//!   classification and redaction, and [`aws::collect_storage_sample`] which runs the three
//!   AWS reads of `check_rds_iops` concurrently;
//! - [`cloudwatch`]: the `AWS/RDS` series through one batched GetMetricData (paginated);
//! - [`rds`]: DescribeDBInstances → storage type, IOPS, throughput, size, class, engine;
//! - [`postgres`], [`mysql`]: the database reads of `slow_queries`, with the rules shared in
//!   [`db`] (fixed SQL catalogue, read-only sessions, timeouts, password scrubbing) and TLS
//!   in [`tls`] (libpq's `sslmode` semantics with rustls).
//!
//! [`break_down_latency`] runs the sources a break_down_latency input names: the log,
//! worker state and accept queue at the same time ([`gather_latency`]), then the RDS
//! instance's storage verdict when one is named.

pub mod aws;
pub mod cloudwatch;
pub mod db;
pub mod fetch;
pub mod listen_queue;
pub mod mysql;
pub mod nginx_log;
pub mod postgres;
pub mod prometheus;
pub mod rds;
pub mod reach;
pub mod sampling;
pub mod tls;
pub mod uwsgi;

pub(crate) use db::{AbortOnDrop, lock_timeout_ms, timeout_ms};
pub use db::{CallError, Connections, DbError, read_snapshot, scrub, slow_queries};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::diagnosis::InputError;
use crate::diagnosis::access_log::{LogOptions, RouteTemplate};
use crate::diagnosis::latency::{self, LatencyInput, LatencyReport, Measured, WorkerMetrics};
use crate::diagnosis::nginx_format::LogFormat;
use crate::diagnosis::storage::{self, RdsIopsInput, StorageReport};
use crate::error::{ErrorKind, ToolError};
use crate::progress::Progress;
use reach::Reach;

/// check_rds_iops: validate → read CloudWatch, RDS and STS → decide.
pub async fn check_rds_iops(input: &RdsIopsInput) -> Result<StorageReport, ToolError> {
    let query = storage::validate(input)?;
    let sample = aws::collect_storage_sample(&query).await?;
    Ok(storage::analyze(input, &sample)?)
}

/// break_down_latency with its sources: what the input names is read (log, worker state,
/// accept queue — on a blocking thread), the core breaks latency down, and — when the caller
/// names an RDS instance — that instance's storage verdict is folded into the DB observations.
/// A storage check that fails leaves those observations unknown and says why in `warnings`.
pub async fn break_down_latency(
    input: LatencyInput,
    reach: &Reach,
    progress: &Progress,
) -> Result<LatencyReport, ToolError> {
    latency::check(&input)?;
    let rds_input = match &input.rds_instance {
        Some(r) => {
            let i = r.to_input();
            storage::validate(&i)
                .map_err(|e| InputError::new(format!("rds_instance.{}", e.field), e.message))?;
            Some(i)
        }
        None => None,
    };
    let mut report = if wants_sources(&input) {
        let reach = reach.clone();
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let measured = gather_latency(&input, &reach, &progress)?;
            Ok::<_, ToolError>(latency::analyze_measured(&input, &measured)?)
        })
        .await
        .map_err(|err| {
            tracing::error!(%err, "break_down_latency reader failed");
            ToolError::new(
                ErrorKind::Unreachable,
                "internal error while reading the sources; see the server log",
            )
        })??
    } else {
        latency::analyze(&input)?
    };
    if let Some(i) = rds_input {
        match check_rds_iops(&i).await {
            Ok(storage_report) => storage::fold_into_latency(&storage_report, &mut report),
            Err(e) => report.conclusion.warnings.push(format!(
                "rds_instance {}: the storage check failed, so db_io_saturated and disk_queue_depth stay unknown: {e}",
                i.db_instance_identifier
            )),
        }
    }
    Ok(report)
}

/// Whether the input names any source to read.
pub fn wants_sources(input: &LatencyInput) -> bool {
    input.access_log.is_some()
        || input.gunicorn_metrics_url.is_some()
        || input.uwsgi_stats.is_some()
        || input.listen_port.is_some()
}

/// Threads used to read logs: the machine's cores, at most 8.
pub fn log_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Reads every source the input names, concurrently (the log is read while worker state
/// and the accept queue are sampled). Blocking: call from a blocking thread.
pub fn gather_latency(
    input: &LatencyInput,
    reach: &Reach,
    progress: &Progress,
) -> Result<Measured, ToolError> {
    // Everything that can be checked without I/O first, so a typo fails fast.
    let log_setup = match &input.access_log {
        Some(a) => {
            let format = LogFormat::compile(&a.log_format)
                .map_err(|e| InputError::new("access_log.log_format", e.0))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let since = a
                .since
                .as_deref()
                .map(|t| nginx_log::resolve_time("access_log.since", t, now))
                .transpose()?;
            let until = a
                .until
                .as_deref()
                .map(|t| nginx_log::resolve_time("access_log.until", t, now))
                .transpose()?;
            if let (Some(s), Some(u)) = (since, until)
                && s >= u
            {
                return Err(ToolError::bad_input(
                    "access_log.until",
                    "must be later than `since`",
                ));
            }
            if (since.is_some() || until.is_some()) && !format.has_time() {
                return Err(ToolError::bad_input(
                    "access_log.since",
                    "since/until need a time in the log: the log_format has none of $time_local, $time_iso8601 or $msec",
                ));
            }
            let templates = a
                .route_patterns
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    RouteTemplate::parse(p)
                        .map_err(|m| InputError::new(format!("access_log.route_patterns[{i}]"), m))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let paths = nginx_log::expand(&a.path.to_vec(), "access_log.path", reach)?;
            Some((
                format,
                LogOptions {
                    since,
                    until,
                    templates,
                    ..LogOptions::default()
                },
                paths,
            ))
        }
        None => None,
    };
    let selectors = match &input.gunicorn_metrics_url {
        Some(url) => {
            fetch::check_url("gunicorn_metrics_url", url)?;
            Some(prometheus::compile(
                input
                    .worker_metrics
                    .as_ref()
                    .unwrap_or(&WorkerMetrics::default()),
                "worker_metrics",
            )?)
        }
        None => None,
    };
    if input.gunicorn_metrics_url.is_some() && input.uwsgi_stats.is_some() {
        return Err(ToolError::bad_input(
            "uwsgi_stats",
            "pass either gunicorn_metrics_url or uwsgi_stats, not both: they describe one app server",
        ));
    }
    let sampling = sampling::Sampling {
        samples: input.samples,
        interval: Duration::from_millis(input.sample_interval_ms),
        timeout: Duration::from_secs(5),
    };

    std::thread::scope(|scope| {
        let log = log_setup.as_ref().map(|(format, options, paths)| {
            let lane = progress.lane();
            scope.spawn(move || {
                let source = format!(
                    "nginx:{}",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                );
                nginx_log::read(
                    paths,
                    format,
                    options,
                    log_threads(),
                    "access_log.path",
                    &lane,
                )
                .map(|data| (source, data))
            })
        });
        let workers = match (&input.gunicorn_metrics_url, &selectors, &input.uwsgi_stats) {
            (Some(url), Some(sel), _) => {
                let lane = progress.lane();
                Some(scope.spawn(move || {
                    prometheus::sample_workers(
                        "gunicorn_metrics_url",
                        url,
                        sel,
                        sampling,
                        reach,
                        &lane,
                    )
                }))
            }
            (_, _, Some(addr)) => {
                let lane = progress.lane();
                Some(scope.spawn(move || {
                    uwsgi::sample_workers("uwsgi_stats", addr, sampling, reach, &lane)
                }))
            }
            _ => None,
        };
        let queue = input.listen_port.map(|port| {
            let lane = progress.lane();
            scope.spawn(move || listen_queue::sample("listen_port", port, sampling, &lane))
        });
        Ok(Measured {
            access_log: log.map(|h| joined(h.join())).transpose()?,
            workers: workers.map(|h| joined(h.join())).transpose()?,
            queue: queue.map(|h| joined(h.join())).transpose()?,
        })
    })
}

/// The result of a reader thread; a panic in one becomes an error, not a crash.
fn joined<T>(r: std::thread::Result<Result<T, ToolError>>) -> Result<T, ToolError> {
    r.unwrap_or_else(|_| {
        Err(ToolError::new(
            ErrorKind::Unreachable,
            "a source reader failed unexpectedly; see the server log",
        ))
    })
}
