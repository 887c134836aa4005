//! break_down_latency: check everything the input names once — figures, log plan, worker
//! source, RDS instance, load balancer, and each path and host against the operator's
//! allow-list — then read the sources concurrently (the host's on a blocking thread, AWS's
//! on the runtime, all at once), break the latency down in the core, and fold the RDS
//! instance's storage verdict and the load balancer's report into the result by value.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{Engine, Engines};
use crate::diagnosis::latency::{self, LatencyCheck, LatencyInput, LatencyReport, Measured};
use crate::diagnosis::load_balancer::{self, LoadBalancerReport, LoadBalancerWindow};
use crate::diagnosis::storage::{self, InstanceWindow};
use crate::error::{ErrorKind, ToolError};
use crate::progress::Progress;
use crate::sources::prometheus::{self, Selectors};
use crate::sources::reach::Reach;
use crate::sources::sampling::Sampling;
use crate::sources::{aws, engine, fetch, listen_queue, nginx_log, uwsgi};

/// A break_down_latency input that has passed every check that needs no source.
#[derive(Debug)]
pub struct LatencyRequest {
    latency: LatencyCheck,
    /// The access-log files, resolved and allowed.
    log_files: Vec<PathBuf>,
    workers: Option<WorkerSource>,
    /// The RDS instance whose storage verdict is folded in, with its identifier.
    rds: Option<(String, InstanceWindow)>,
    /// The load balancer whose CloudWatch metrics are folded in.
    load_balancer: Option<LoadBalancerWindow>,
    /// The Prometheus engine `prometheus.source` names, as the operator configured it.
    engine: Option<Engine>,
}

/// Where worker state is sampled.
#[derive(Debug)]
enum WorkerSource {
    Gunicorn { url: String, selectors: Selectors },
    Uwsgi { addr: String },
}

/// Checks the input once: the core's checks, then the worker source, the RDS instance, the
/// log paths against `reach`, and the engine against the operator's `engines`.
pub fn check(
    input: LatencyInput,
    reach: &Reach,
    engines: &Engines,
    now_epoch_secs: i64,
) -> Result<LatencyRequest, ToolError> {
    let latency = latency::check(input, now_epoch_secs)?;
    let engine = latency
        .fleet_plan()
        .map(|p| engine::engine(engines, &p.engine).cloned())
        .transpose()?;
    let input = latency.input();
    let workers = match (&input.gunicorn_metrics_url, &input.uwsgi_stats) {
        (Some(_), Some(_)) => {
            return Err(ToolError::bad_input(
                "uwsgi_stats",
                "pass either gunicorn_metrics_url or uwsgi_stats, not both: they describe one app server",
            ));
        }
        (Some(url), None) => {
            fetch::check_url("gunicorn_metrics_url", url)?;
            let metrics = input.worker_metrics.clone().unwrap_or_default();
            Some(WorkerSource::Gunicorn {
                url: url.clone(),
                selectors: prometheus::compile(&metrics, "worker_metrics")?,
            })
        }
        (None, Some(addr)) => Some(WorkerSource::Uwsgi { addr: addr.clone() }),
        (None, None) => None,
    };
    let rds = match &input.rds_instance {
        Some(r) => Some((r.db_instance_identifier.clone(), r.check(now_epoch_secs)?)),
        None => None,
    };
    let load_balancer = match &input.aws_load_balancer {
        Some(r) => Some(r.check(now_epoch_secs)?),
        None => None,
    };
    let log_files = match latency.log_plan() {
        Some(plan) => nginx_log::expand(&plan.paths, "access_log.path", reach)?,
        None => Vec::new(),
    };
    Ok(LatencyRequest {
        latency,
        log_files,
        workers,
        rds,
        load_balancer,
        engine,
    })
}

/// The whole call: the host's sources, the RDS instance and the load balancer are read at
/// the same time; a failure of the load balancer's read ends the call (it is the source
/// the caller asked about), a failure of the storage check becomes a warning.
pub async fn run(
    input: LatencyInput,
    reach: &Reach,
    engines: &Engines,
    progress: &Progress,
) -> Result<LatencyReport, ToolError> {
    let checked = check(input, reach, engines, super::now_epoch_secs())?;
    let rds = checked.rds.clone();
    let load_balancer = checked.load_balancer.clone();
    let local = async {
        if reads_anything(&checked) {
            let reach = reach.clone();
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || {
                let measured = gather(&checked, &reach, &progress)?;
                Ok::<_, ToolError>(latency::analyze_measured(&checked.latency, &measured)?)
            })
            .await
            .map_err(|err| {
                tracing::error!(%err, "break_down_latency reader failed");
                ToolError::new(
                    ErrorKind::Unreachable,
                    "internal error while reading the sources; see the server log",
                )
            })?
        } else {
            Ok(latency::analyze(&checked.latency)?)
        }
    };
    let storage = async {
        match &rds {
            Some((_, window)) => Some(super::check_rds_iops::report(window).await),
            None => None,
        }
    };
    let lb = async {
        match &load_balancer {
            Some(w) => Some(
                aws::collect_load_balancer(w)
                    .await
                    .map(|sample| load_balancer::analyze(w, &sample)),
            ),
            None => None,
        }
    };
    let (report, storage, lb) = tokio::join!(local, storage, lb);
    let mut report = report?;
    if let Some(lb) = lb {
        let lb = lb.map_err(|e| ToolError::from(e).on("aws_load_balancer"))?;
        report = with_load_balancer(report, lb);
    }
    Ok(match (rds, storage) {
        (Some((identifier, _)), Some(result)) => with_storage(report, &identifier, result),
        _ => report,
    })
}

/// The report with the load balancer's report beside it, its backlog observations folded in
/// where the host's sources left them unset, and its evidence and verdict added.
fn with_load_balancer(report: LatencyReport, lb: LoadBalancerReport) -> LatencyReport {
    let (observations, addendum) = load_balancer::fold(&lb, report.observations);
    LatencyReport {
        observations,
        conclusion: report.conclusion.with(addendum),
        load_balancer: Some(lb),
        ..report
    }
}

/// The report with the RDS instance's storage verdict folded into its DB observations; a
/// storage check that fails leaves them unknown and says why in `warnings`.
fn with_storage(
    report: LatencyReport,
    identifier: &str,
    result: Result<storage::StorageReport, aws::SourceError>,
) -> LatencyReport {
    match result {
        Ok(storage_report) => {
            let (observations, addendum) = storage::fold(&storage_report, report.observations);
            LatencyReport {
                observations,
                conclusion: report.conclusion.with(addendum),
                ..report
            }
        }
        Err(e) => {
            let mut report = report;
            report.conclusion.warnings.push(format!(
                "rds_instance {identifier}: the storage check failed, so db_io_saturated and disk_queue_depth stay unknown: {e}"
            ));
            report
        }
    }
}

/// Whether the input names any source to read.
fn reads_anything(checked: &LatencyRequest) -> bool {
    !checked.log_files.is_empty()
        || checked.workers.is_some()
        || checked.latency.input().listen_port.is_some()
        || checked.engine.is_some()
}

/// Threads used to read logs: the machine's cores, at most 8.
fn log_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Reads every source the input names, concurrently (the log is read while worker state
/// and the accept queue are sampled). Blocking: call from a blocking thread.
pub fn gather(
    checked: &LatencyRequest,
    reach: &Reach,
    progress: &Progress,
) -> Result<Measured, ToolError> {
    let input = checked.latency.input();
    let sampling = Sampling {
        samples: input.samples,
        interval: Duration::from_millis(input.sample_interval_ms),
        timeout: Duration::from_secs(5),
    };
    std::thread::scope(|scope| {
        let log = checked
            .latency
            .log_plan()
            .filter(|_| !checked.log_files.is_empty())
            .map(|plan| {
                let lane = progress.lane();
                let paths = &checked.log_files;
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
                        &plan.format,
                        &plan.options,
                        log_threads(),
                        "access_log.path",
                        &lane,
                    )
                    .map(|data| (source, data))
                })
            });
        let workers = checked.workers.as_ref().map(|source| {
            let lane = progress.lane();
            scope.spawn(move || match source {
                WorkerSource::Gunicorn { url, selectors } => prometheus::sample_workers(
                    "gunicorn_metrics_url",
                    url,
                    selectors,
                    sampling,
                    reach,
                    &lane,
                ),
                WorkerSource::Uwsgi { addr } => {
                    uwsgi::sample_workers("uwsgi_stats", addr, sampling, reach, &lane)
                }
            })
        });
        let fleet = checked
            .engine
            .as_ref()
            .zip(checked.latency.fleet_plan())
            .map(|(engine, plan)| {
                let deadline = Instant::now() + engine.timeout;
                scope.spawn(move || engine::read_fleet(engine, plan, deadline))
            });
        let queue = input.listen_port.map(|port| {
            let lane = progress.lane();
            scope.spawn(move || listen_queue::sample("listen_port", port, sampling, &lane))
        });
        Ok(Measured {
            access_log: log.map(|h| joined(h.join())).transpose()?,
            workers: workers.map(|h| joined(h.join())).transpose()?,
            queue: queue.map(|h| joined(h.join())).transpose()?,
            fleet: fleet.map(|h| joined(h.join())).transpose()?,
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
