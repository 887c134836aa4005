//! I/O adapters: each turns one outside system into plain data for the core.
//!
//! - [`nginx_log`]: access-log files on this host (plain and `.gz`), read in parallel;
//! - [`prometheus`]: a Prometheus text endpoint with worker-state gauges;
//! - [`uwsgi`]: uWSGI's stats server;
//! - [`listen_queue`]: the accept queue of a listening socket, from /proc/net/tcp{,6};
//! - [`http`]: the bounded HTTP GET the two HTTP sources share.
//!
//! [`gather_latency`] runs the sources a break_down_latency input names, at the same time,
//! and returns what they read for [`crate::diagnosis::latency::analyze_measured`].

pub mod http;
pub mod listen_queue;
pub mod nginx_log;
pub mod prometheus;
pub mod uwsgi;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::diagnosis::InputError;
use crate::diagnosis::access_log::{LogOptions, RouteTemplate};
use crate::diagnosis::latency::{LatencyInput, Measured, WorkerMetrics};
use crate::diagnosis::nginx_format::LogFormat;

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
pub fn gather_latency(input: &LatencyInput) -> Result<Measured, InputError> {
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
                return Err(InputError::new(
                    "access_log.until",
                    "must be later than `since`",
                ));
            }
            if (since.is_some() || until.is_some()) && !format.has_time() {
                return Err(InputError::new(
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
            let paths = nginx_log::expand(&a.path.to_vec(), "access_log.path")?;
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
            http::check_url("gunicorn_metrics_url", url)?;
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
        return Err(InputError::new(
            "uwsgi_stats",
            "pass either gunicorn_metrics_url or uwsgi_stats, not both: they describe one app server",
        ));
    }
    let sampling = prometheus::Sampling {
        samples: input.samples,
        interval: Duration::from_millis(input.sample_interval_ms),
        timeout: Duration::from_secs(5),
    };

    std::thread::scope(|scope| {
        let log = log_setup.as_ref().map(|(format, options, paths)| {
            scope.spawn(move || {
                let source = format!(
                    "nginx:{}",
                    paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                );
                nginx_log::read(paths, format, options, log_threads(), "access_log.path")
                    .map(|data| (source, data))
            })
        });
        let workers = match (&input.gunicorn_metrics_url, &selectors, &input.uwsgi_stats) {
            (Some(url), Some(sel), _) => Some(scope.spawn(move || {
                prometheus::sample_workers("gunicorn_metrics_url", url, sel, sampling)
            })),
            (_, _, Some(addr)) => {
                Some(scope.spawn(move || uwsgi::sample_workers("uwsgi_stats", addr, sampling)))
            }
            _ => None,
        };
        let queue = input.listen_port.map(|port| {
            scope.spawn(move || {
                listen_queue::sample("listen_port", port, sampling.samples, sampling.interval)
            })
        });
        Ok(Measured {
            access_log: log.map(|h| joined(h.join())).transpose()?,
            workers: workers.map(|h| joined(h.join())).transpose()?,
            queue: queue.map(|h| joined(h.join())).transpose()?,
        })
    })
}

/// The result of a reader thread; a panic in one becomes an error, not a crash.
fn joined<T>(r: std::thread::Result<Result<T, InputError>>) -> Result<T, InputError> {
    r.unwrap_or_else(|_| {
        Err(InputError::new(
            "arguments",
            "a source reader failed unexpectedly; see the server log",
        ))
    })
}
