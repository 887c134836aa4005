//! I/O adapters: each file turns one outside system into the plain data the diagnosis core
//! takes. Nothing here decides anything; nothing in `crate::diagnosis` performs I/O.
//!
//! - [`nginx_log`]: access-log files on this host (plain and `.gz`), read in parallel;
//! - [`prometheus`]: a Prometheus text endpoint with worker-state gauges;
//! - [`uwsgi`]: uWSGI's stats server;
//! - [`listen_queue`]: the accept queue of a listening socket, from /proc/net/tcp{,6};
//! - [`engine`]: a Prometheus-compatible engine's HTTP API, for a fleet's aggregated evidence;
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
//! - [`sampling`]: the sampling loop of the worker-state and accept-queue readers.
//!
//! The flows in [`crate::flows`] decide which of these a call reads and join them to the
//! core; nothing here validates a tool's input beyond what the source itself must check.

pub mod aws;
pub mod cloudwatch;
pub mod db;
pub mod engine;
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
