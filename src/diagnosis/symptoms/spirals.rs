//! Death spirals and worker-model traps, detected from `recent_changes` plus trends,
//! independent of the matrix:
//! - #1 worker accumulation: workers were added, and the database got slower or busier
//!   (or memory ran out);
//! - #2 restart loop: the database's IO is saturated and containers restart or are
//!   OOM-killed;
//! - thread workers, gevent/eventlet and forking inside workers: the traps each model sets.

use crate::diagnosis::fmt_num;

use super::matrix::thresholds::*;
use super::observations::{Observations, RecentChange, WorkerClass};
use super::report::AntiPattern;

/// Every spiral and trap the observations show.
pub(super) fn anti_patterns(o: &Observations) -> Vec<AntiPattern> {
    let mut out = Vec::new();
    out.extend(worker_accumulation(o));
    out.extend(restart_loop(o));
    out.extend(worker_model_traps(o));
    out
}

fn anti(
    name: &str,
    title: &str,
    severity: &str,
    evidence: Vec<String>,
    action: &str,
) -> AntiPattern {
    AntiPattern {
        name: name.to_owned(),
        title: title.to_owned(),
        severity: severity.to_owned(),
        evidence,
        action: action.to_owned(),
    }
}

fn changed(o: &Observations, c: RecentChange) -> bool {
    o.recent_changes.contains(&c)
}

/// Processes OOM-killed and containers restarting, as evidence lines.
fn memory_trouble(o: &Observations) -> Vec<String> {
    let mut ev = Vec::new();
    if changed(o, RecentChange::OomKills) {
        ev.push("processes are being OOM-killed".to_owned());
    }
    if changed(o, RecentChange::ContainerRestarts) {
        ev.push("containers are restarting".to_owned());
    }
    ev
}

/// Death spiral #1: more workers → more DB concurrency → slower DB → more workers → OOM.
fn worker_accumulation(o: &Observations) -> Option<AntiPattern> {
    if !changed(o, RecentChange::AddedWorkers) {
        return None;
    }
    let mut ev = vec!["workers were added recently".to_owned()];
    let db_worse = [
        (
            o.db_latency_rising == Some(true),
            "DB latency is rising".to_owned(),
        ),
        (
            o.db_cpu_percent.is_some_and(|v| v >= DB_CPU_HIGH_PERCENT),
            format!(
                "DB CPU is high ({}%)",
                fmt_num(o.db_cpu_percent.unwrap_or(0.0))
            ),
        ),
        (
            o.db_io_saturated == Some(true),
            "DB storage is saturated".to_owned(),
        ),
        (
            o.disk_queue_depth
                .is_some_and(|v| v > DISK_QUEUE_DEPTH_HIGH),
            "DiskQueueDepth is above 1".to_owned(),
        ),
        (
            o.lock_contention == Some(true),
            "sessions wait on locks".to_owned(),
        ),
    ];
    let db_hits: Vec<String> = db_worse
        .into_iter()
        .filter(|(hit, _)| *hit)
        .map(|(_, e)| e)
        .collect();
    let memory = memory_trouble(o);
    if db_hits.is_empty() && memory.is_empty() {
        return None;
    }
    let active = !db_hits.is_empty() && (!memory.is_empty() || o.backlog_growing == Some(true));
    ev.extend(db_hits);
    ev.extend(memory);
    if o.backlog_growing == Some(true) {
        ev.push("the backlog is still growing".to_owned());
    }
    Some(anti(
        "worker_accumulation_spiral",
        "Death spiral #1 (worker accumulation)",
        if active { "active" } else { "risk" },
        ev,
        "Do not add more workers. Roll the worker count back, cap DB concurrency (pool size, PgBouncer), and cut the latency of the slow queries.",
    ))
}

/// Death spiral #2: DB IO saturates → workers held → pile-up → OOM → restarts → pile-up.
fn restart_loop(o: &Observations) -> Option<AntiPattern> {
    let io_saturated = o.db_io_saturated == Some(true)
        || o.disk_queue_depth
            .is_some_and(|v| v > DISK_QUEUE_DEPTH_HIGH);
    let memory = memory_trouble(o);
    let (name, title) = ("restart_loop_spiral", "Death spiral #2 (restart loop)");
    if io_saturated && !memory.is_empty() {
        let mut ev = Vec::new();
        if o.db_io_saturated == Some(true) {
            ev.push("DB storage is at its IO limit".to_owned());
        }
        if let Some(q) = o.disk_queue_depth.filter(|v| *v > DISK_QUEUE_DEPTH_HIGH) {
            ev.push(format!("DiskQueueDepth {}", fmt_num(q)));
        }
        ev.extend(memory);
        if o.db_latency_rising == Some(true) {
            ev.push("DB latency is rising".to_owned());
        }
        Some(anti(
            name,
            title,
            "active",
            ev,
            "Restarts will not clear it: relieve the storage (raise provisioned IOPS, kill the heaviest IO queries), shed load at nginx, and keep workers and replicas as they are until DB latency recovers.",
        ))
    } else if io_saturated && o.backlog_growing == Some(true) {
        Some(anti(
            name,
            title,
            "risk",
            vec![
                "DB storage is saturated".to_owned(),
                "the backlog is growing".to_owned(),
            ],
            "Requests are piling up behind slow IO; next come OOM kills and restarts. Relieve the storage now rather than adding workers.",
        ))
    } else {
        None
    }
}

/// The traps of thread workers, green threads and forking inside a worker.
fn worker_model_traps(o: &Observations) -> Vec<AntiPattern> {
    let mut out = Vec::new();
    let threads = matches!(
        o.worker_class,
        Some(WorkerClass::Gthread | WorkerClass::UwsgiThreads)
    ) || changed(o, RecentChange::SwitchedToThreads);
    if threads {
        out.push(anti(
            "thread_workers",
            "Thread workers",
            "risk",
            vec!["thread workers are in use".to_owned()],
            "Each thread can hold a DB connection, so DB concurrency spikes by threads × workers; threads share the GIL, so CPU-bound code gains nothing. Budget connections for threads and cap the pool.",
        ));
    }
    let gevent = matches!(
        o.worker_class,
        Some(WorkerClass::Gevent | WorkerClass::Eventlet)
    ) || changed(o, RecentChange::SwitchedToGevent);
    if gevent {
        out.push(anti(
            "gevent",
            "gevent / eventlet workers",
            "risk",
            vec!["a green-thread worker class is in use".to_owned()],
            "Monkey-patching must happen before anything else imports socket/ssl/threading; C drivers (psycopg2 without psycogreen, mysqlclient) block the whole worker; CPU-bound code starves every greenlet. Check the patch order and the DB driver.",
        ));
    }
    if o.forks_in_workers == Some(true) {
        out.push(anti(
            "forking_in_workers",
            "Forking inside workers",
            "risk",
            vec!["request handlers fork or spawn child processes".to_owned()],
            "Children copy the worker's memory, outlive timeouts as orphans and push the container into OOM; move the work to a job queue (Celery/RQ) or a sidecar.",
        ));
    }
    out
}
