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
pub use db::{Connections, DbError, read_snapshot, scrub};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::diagnosis::latency::{
    self, LatencyCheck, LatencyInput, LatencyReport, Measured, WorkerMetrics,
};
use crate::diagnosis::storage::{self, InstanceWindow, RdsIopsInput, StorageReport};
use crate::error::{ErrorKind, ToolError};
use crate::progress::Progress;
use reach::Reach;

/// check_rds_iops: validate → read CloudWatch, RDS and STS → decide.
pub async fn check_rds_iops(input: &RdsIopsInput) -> Result<StorageReport, ToolError> {
    let check = storage::validate(input)?;
    Ok(storage_report(&check).await?)
}

/// The storage verdict for an already checked request.
async fn storage_report(check: &InstanceWindow) -> Result<StorageReport, aws::SourceError> {
    let sample = aws::collect_storage_sample(check).await?;
    Ok(storage::analyze(check, &sample))
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
    let checked = latency::check(input, now_epoch_secs())?;
    let rds_check = match &checked.input().rds_instance {
        Some(r) => Some((r.db_instance_identifier.clone(), r.check()?)),
        None => None,
    };
    let mut report = if wants_sources(checked.input()) {
        let reach = reach.clone();
        let progress = progress.clone();
        tokio::task::spawn_blocking(move || {
            let measured = gather_latency(&checked, &reach, &progress)?;
            Ok::<_, ToolError>(latency::analyze_measured(&checked, &measured)?)
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
        latency::analyze(&checked)?
    };
    if let Some((identifier, check)) = rds_check {
        match storage_report(&check).await {
            Ok(storage_report) => {
                let (observations, addendum) = storage::fold(&storage_report, report.observations);
                report = LatencyReport {
                    observations,
                    conclusion: report.conclusion.with(addendum),
                    ..report
                };
            }
            Err(e) => report.conclusion.warnings.push(format!(
                "rds_instance {identifier}: the storage check failed, so db_io_saturated and disk_queue_depth stay unknown: {e}"
            )),
        }
    }
    Ok(report)
}

/// The clock, in Unix seconds, for `since` / `until` durations.
fn now_epoch_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
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
    checked: &LatencyCheck,
    reach: &Reach,
    progress: &Progress,
) -> Result<Measured, ToolError> {
    let input = checked.input();
    // The paths are the one part of the log plan that needs the operator's allow-list.
    let log_setup = match checked.log_plan() {
        Some(plan) => Some((
            &plan.format,
            &plan.options,
            nginx_log::expand(&plan.paths, "access_log.path", reach)?,
        )),
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
