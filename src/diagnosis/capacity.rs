//! Capacity arithmetic: how many requests per second the fleet can serve, how close to the
//! cliff it runs, and what actually moves the ceiling.
//!
//! The model is deliberately simple and stated in every answer:
//! - **Little's law**: the ceiling is `concurrent slots ÷ mean latency`. A slot is one
//!   worker (× threads per worker). This is why latency, not worker count, decides capacity:
//!   cutting latency from 4 s to 1 s is a 4× gain with no new worker, while doubling workers
//!   is 2× and also doubles database concurrency.
//! - **M/M/c (Erlang C)** when an arrival rate is known: the probability that a request
//!   waits for a free worker and the mean wait. P(wait) comes from the Erlang B recursion
//!   `B(k) = A·B(k−1) / (k + A·B(k−1))`, which never forms a factorial or a power and so
//!   stays exact for thousands of workers; `C = c·B / (c − A·(1 − B))`, `Wq = C·T / (c − A)`.
//!   Utilisation ≥ 1 is not an error but the answer: the queue grows without bound.
//! - **Worker formula**: Gunicorn's `(2 × cores) + 1`, down to `cores + 1` for CPU-bound work
//!   (more processes than cores only adds context switches), up to `(4 × cores) + 1` for
//!   IO-bound work (workers mostly wait), then capped by memory (`memory_limit ÷ worker RSS`)
//!   and by the database connection budget.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Conclusion, Evidence, InputError, NextStep, SOURCE_CALLER, check_opt_range, check_positive,
    check_range, fmt_num, round,
};

/// Largest number of concurrent slots (replicas × workers × threads) the queue model accepts.
/// Far above any real deployment; it bounds the Erlang recursion to a few milliseconds.
pub const MAX_SLOTS: u64 = 10_000_000;

/// Shortest mean latency accepted, ms (1 µs). Little's law divides by the latency, so a
/// figure such as 1e-300 would make the ceiling and the what-if gain infinite — numbers JSON
/// cannot carry — and no request through nginx and a Python worker takes less.
pub const MIN_LATENCY_MS: f64 = 0.001;

/// What kind of work a worker mostly does; it moves the recommended worker count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(inline)]
pub enum Workload {
    /// Mostly Python computation (templating, serialisation, crypto): workers ≈ cores + 1.
    CpuBound,
    /// Mostly waiting on the database or other services: more workers than cores help.
    IoBound,
    /// Both, or not known: Gunicorn's default (2 × cores) + 1.
    #[default]
    Mixed,
}

/// The deployment as it runs today, and optionally the load and limits around it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapacityInput {
    /// Number of app replicas (pods, containers or hosts) serving the traffic.
    #[schemars(range(min = 1, max = 100000))]
    pub replicas: i64,
    /// Gunicorn/uWSGI worker processes per replica (`--workers` / `processes`).
    #[schemars(range(min = 1, max = 10000))]
    pub workers_per_replica: i64,
    /// Threads per worker (`--threads`; 1 for sync workers). Each thread is a concurrent slot.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1000))]
    pub threads_per_worker: i64,
    /// Mean end-to-end latency of a request inside the app (upstream response time), in ms.
    pub avg_latency_ms: f64,
    /// Current (or expected peak) request arrival rate for the whole fleet, requests per second.
    /// Enables the queue model: utilisation, P(wait) and mean queue wait.
    #[serde(default)]
    pub arrival_rps: Option<f64>,
    /// CPU cores available to one replica (may be fractional, e.g. 0.5 for a 500m limit).
    /// Enables the recommended worker count.
    #[serde(default)]
    pub cpu_cores: Option<f64>,
    /// What the workers mostly do: `cpu_bound`, `io_bound` or `mixed` (default).
    #[serde(default)]
    pub workload: Workload,
    /// Resident memory of one worker process, in MB (RSS, e.g. from `ps -o rss`).
    #[serde(default)]
    pub worker_rss_mb: Option<f64>,
    /// Memory limit of one replica (container limit or host memory for the app), in MB.
    #[serde(default)]
    pub memory_limit_mb: Option<f64>,
    /// Database connections each worker can hold (pool size per process; 1 without a pool).
    #[serde(default)]
    #[schemars(range(min = 0, max = 10000))]
    pub db_pool_per_worker: Option<i64>,
    /// The database's `max_connections` (minus reserved/superuser connections if you know them).
    #[serde(default)]
    #[schemars(range(min = 1, max = 1000000))]
    pub db_max_connections: Option<i64>,
    /// Latency you believe is reachable by fixing the slow path, in ms; the what-if uses it
    /// (default: half the current latency).
    #[serde(default)]
    pub target_latency_ms: Option<f64>,
    /// Share of request time spent in the database, 0–100 (break_down_latency's `db` layer).
    /// At 50 % or more, more workers add DB load, not throughput.
    #[serde(default)]
    pub db_time_percent: Option<f64>,
}

fn one() -> i64 {
    1
}

/// The capacity picture of the fleet.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct CapacityReport {
    /// replicas × workers per replica.
    pub total_workers: u64,
    /// total workers × threads per worker: how many requests can be in flight at once.
    pub concurrent_slots: u64,
    /// Little's law: concurrent slots ÷ mean latency in seconds. The most the fleet can serve.
    pub throughput_ceiling_rps: f64,
    /// The same ceiling for one replica.
    pub per_replica_ceiling_rps: f64,
    /// arrival rate ÷ ceiling (only with `arrival_rps`). At or above 1 the queue grows without bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utilization: Option<f64>,
    /// M/M/c probability that an arriving request waits for a free worker, 0–1 (only with
    /// `arrival_rps`; 1 when unstable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    /// M/M/c mean time a request waits for a free worker, in ms (only with `arrival_rps` and a
    /// stable queue; absent when the queue grows without bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_queue_wait_ms: Option<f64>,
    /// Whether the queue is stable (utilisation < 1); only with `arrival_rps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<bool>,
    /// True when avg_latency_ms × arrival_rps exceeds the slots: if the arrivals are being
    /// served, the latency given includes waiting for a worker, and the measured throughput
    /// is the ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_includes_queueing: Option<bool>,
    /// With `latency_includes_queueing`: the most a request can take in service, slots ÷
    /// arrival rate, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_time_at_most_ms: Option<f64>,
    /// Fewest workers per replica that keep utilisation below 1 at the current latency
    /// (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_workers_per_replica_for_stability: Option<u64>,
    /// Highest mean latency, in ms, at which the current workers keep utilisation at 0.8
    /// (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_budget_ms_at_80_percent: Option<f64>,
    /// Cutting latency against doubling workers, side by side.
    pub what_if: Vec<WhatIf>,
    /// The worker count per replica the formula gives (only with `cpu_cores`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended_workers_per_replica: Option<WorkerRecommendation>,
    /// Database connections the fleet can open against the server's limit (only with
    /// `db_pool_per_worker`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_connections: Option<DbConnections>,
    #[serde(flatten)]
    pub conclusion: Conclusion,
}

/// One alternative and what it buys.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WhatIf {
    /// `cut_latency` or `double_workers`.
    pub scenario: String,
    /// What changes, in words.
    pub change: String,
    /// Mean latency in this scenario, ms.
    pub avg_latency_ms: f64,
    /// Workers in this scenario.
    pub total_workers: u64,
    /// Ceiling in this scenario, rps.
    pub throughput_ceiling_rps: f64,
    /// New ceiling ÷ current ceiling.
    pub gain: f64,
    /// Workers added by this scenario (0 for a latency cut).
    pub new_workers: u64,
    /// Peak database concurrency in this scenario ÷ today's (workers that can query at once).
    pub db_concurrency_factor: f64,
    /// M/M/c P(wait) in this scenario (only with `arrival_rps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_wait: Option<f64>,
    /// M/M/c mean queue wait in ms in this scenario (only with `arrival_rps`, stable queue).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_queue_wait_ms: Option<f64>,
    /// A limit applied to the gain, and why (e.g. the cores for CPU-bound work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
    /// Costs and risks that come with it.
    pub side_effects: Vec<String>,
}

/// The worker formula, applied and capped.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct WorkerRecommendation {
    /// Workers per replica to run.
    pub workers: u64,
    /// (2 × cores) + 1 before any adjustment.
    pub formula_workers: u64,
    /// After the workload adjustment, before the caps.
    pub workload_adjusted_workers: u64,
    /// (memory_limit_mb − the reserve) ÷ worker_rss_mb, when both are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_cap: Option<u64>,
    /// Memory kept free for the master process, the OS and the page cache, MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_reserve_mb: Option<f64>,
    /// Workers per replica the database connection budget allows, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_connection_cap: Option<u64>,
    /// How the number was reached.
    pub basis: String,
}

/// The connection budget against the database.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct DbConnections {
    /// total workers × pool per worker: connections the fleet can open.
    pub total_connections: u64,
    /// The server's limit, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_max_connections: Option<u64>,
    /// total_connections ÷ db_max_connections × 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_max: Option<f64>,
    /// Whether the fleet fits under the limit (absent when the limit is unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fits: Option<bool>,
}

/// Result of the M/M/c model for one configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Queue {
    /// Offered load A = λ·T, in Erlangs.
    pub offered_load: f64,
    /// ρ = A / c.
    pub utilization: f64,
    /// Erlang C: probability of waiting (1 when unstable).
    pub p_wait: f64,
    /// Mean wait in the queue, seconds (`None` when unstable: it grows without bound).
    pub mean_wait_s: Option<f64>,
}

/// Erlang B blocking probability for `servers` servers and `offered_load` Erlangs, by the
/// recursion `B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1))`.
pub fn erlang_b(servers: u64, offered_load: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=servers {
        let ab = offered_load * b;
        b = ab / (k as f64 + ab);
        if b == 0.0 {
            break;
        }
    }
    b
}

/// The M/M/c queue for `servers` slots, `arrival_rps` arrivals and `service_s` mean service time.
pub fn mmc(servers: u64, arrival_rps: f64, service_s: f64) -> Queue {
    let a = arrival_rps * service_s;
    let c = servers as f64;
    let rho = a / c;
    if rho >= 1.0 {
        return Queue {
            offered_load: a,
            utilization: rho,
            p_wait: 1.0,
            mean_wait_s: None,
        };
    }
    if a == 0.0 {
        return Queue {
            offered_load: 0.0,
            utilization: 0.0,
            p_wait: 0.0,
            mean_wait_s: Some(0.0),
        };
    }
    let b = erlang_b(servers, a);
    let p_wait = (c * b / (c - a * (1.0 - b))).clamp(0.0, 1.0);
    let mean_wait_s = p_wait * service_s / (c - a);
    Queue {
        offered_load: a,
        utilization: rho,
        p_wait,
        mean_wait_s: Some(mean_wait_s),
    }
}

/// Validated figures, in the units the arithmetic uses.
struct Fleet {
    replicas: u64,
    workers_per_replica: u64,
    threads: u64,
    latency_s: f64,
}

impl Fleet {
    fn slots(&self, workers_per_replica: u64) -> u64 {
        self.replicas * workers_per_replica * self.threads
    }
}

/// Computes the capacity report, or says which argument is wrong.
pub fn analyze(input: &CapacityInput) -> Result<CapacityReport, InputError> {
    let replicas = check_int(
        "replicas",
        input.replicas,
        1,
        100_000,
        "pass the number of app replicas (pods, containers or hosts)",
    )?;
    let workers_per_replica = check_int(
        "workers_per_replica",
        input.workers_per_replica,
        1,
        10_000,
        "pass Gunicorn's --workers (or uWSGI's processes) for one replica",
    )?;
    let threads = check_int(
        "threads_per_worker",
        input.threads_per_worker,
        1,
        1_000,
        "pass Gunicorn's --threads, or 1 for sync workers",
    )?;
    let latency_ms = check_range(
        "avg_latency_ms",
        input.avg_latency_ms,
        MIN_LATENCY_MS,
        86_400_000.0,
        "pass the mean request latency in milliseconds (e.g. nginx $upstream_response_time × 1000); measure it with break_down_latency if unknown",
    )?;
    let arrival = check_opt_range(
        "arrival_rps",
        input.arrival_rps,
        0.0,
        1e9,
        "pass the fleet-wide request rate in requests per second",
    )?;
    let cores = input
        .cpu_cores
        .map(|c| {
            check_range(
                "cpu_cores",
                c,
                0.1,
                1024.0,
                "pass the CPU cores (or the CPU limit in cores) of one replica",
            )
        })
        .transpose()?;
    let rss = input
        .worker_rss_mb
        .map(|v| {
            check_positive(
                "worker_rss_mb",
                v,
                1_048_576.0,
                "pass one worker's resident memory in MB",
            )
        })
        .transpose()?;
    let mem_limit = input
        .memory_limit_mb
        .map(|v| {
            check_positive(
                "memory_limit_mb",
                v,
                1_073_741_824.0,
                "pass one replica's memory limit in MB",
            )
        })
        .transpose()?;
    let pool = input
        .db_pool_per_worker
        .map(|v| {
            check_int(
                "db_pool_per_worker",
                v,
                0,
                10_000,
                "pass the connection pool size per worker process (1 without a pool)",
            )
        })
        .transpose()?;
    let db_max = input
        .db_max_connections
        .map(|v| {
            check_int(
                "db_max_connections",
                v,
                1,
                1_000_000,
                "pass the database's max_connections",
            )
        })
        .transpose()?;
    let db_time = check_opt_range(
        "db_time_percent",
        input.db_time_percent,
        0.0,
        100.0,
        "pass the share of request time spent in the database, 0–100",
    )?;
    let target_ms = input
        .target_latency_ms
        .map(|v| {
            check_range(
                "target_latency_ms",
                v,
                MIN_LATENCY_MS,
                86_400_000.0,
                "pass the latency in ms you expect after fixing the slow path",
            )
        })
        .transpose()?;

    let fleet = Fleet {
        replicas,
        workers_per_replica,
        threads,
        latency_s: latency_ms / 1000.0,
    };
    let slots = fleet.slots(workers_per_replica);
    if slots.saturating_mul(2) > MAX_SLOTS {
        return Err(InputError::new(
            "replicas",
            format!(
                "replicas × workers_per_replica × threads_per_worker is {slots}; this model accepts at most {} concurrent slots (the what-if doubles them) — check the figures",
                MAX_SLOTS / 2
            ),
        ));
    }
    let total_workers = replicas * workers_per_replica;
    let ceiling = slots as f64 / fleet.latency_s;

    let mut evidence = vec![
        Evidence::number("replicas", replicas as f64, "replicas", SOURCE_CALLER),
        Evidence::number(
            "workers_per_replica",
            workers_per_replica as f64,
            "workers",
            SOURCE_CALLER,
        ),
        Evidence::number(
            "threads_per_worker",
            threads as f64,
            "threads",
            SOURCE_CALLER,
        ),
        Evidence::number("avg_latency_ms", latency_ms, "ms", SOURCE_CALLER),
        Evidence::number("throughput_ceiling_rps", ceiling, "rps", "derived"),
    ];
    let mut warnings = Vec::new();
    let mut next_steps = Vec::new();

    let queue = arrival.map(|rps| mmc(slots, rps, fleet.latency_s));
    if let Some(rps) = arrival {
        evidence.push(Evidence::number("arrival_rps", rps, "rps", SOURCE_CALLER));
    }

    let what_if = what_if(
        &fleet,
        slots,
        ceiling,
        target_ms,
        arrival,
        cores.map(|c| (c, input.workload)),
    );
    // Little's law read backwards: λ × W requests are in the system. More than the slots
    // cannot be in service, so if the arrivals are being served, W includes the queue.
    let in_flight = arrival.map(|rps| rps * fleet.latency_s);
    // The same line as `stable`: at or past the slots, one or the other is true.
    let includes_queueing = in_flight.map(|l| l >= slots as f64);
    let service_at_most_ms = arrival
        .filter(|_| includes_queueing == Some(true))
        .filter(|rps| *rps > 0.0)
        .map(|rps| round(slots as f64 / rps * 1000.0, 3));
    if let (Some(l), Some(s_ms), Some(rps)) = (in_flight, service_at_most_ms, arrival) {
        warnings.push(format!(
            "avg_latency_ms × arrival_rps = {} requests in flight, more than the {slots} slots: if {} rps is being served now, the {} ms latency includes waiting for a worker, the service time is at most {} ms, and the measured throughput is the ceiling. Split queue from service with break_down_latency (worker state and listen_port) and pass the service time as avg_latency_ms.",
            fmt_num(l),
            fmt_num(rps),
            fmt_num(latency_ms),
            fmt_num(s_ms)
        ));
    }
    if let Some(d) = db_time.filter(|d| *d >= 50.0) {
        evidence.push(Evidence::number(
            "db_time_percent",
            d,
            "percent",
            SOURCE_CALLER,
        ));
        warnings.push(format!(
            "The database holds {}% of request time: it is the bottleneck, so more workers or replicas add DB load and latency rather than throughput (death spiral #1). Fix the slow queries first (slow_queries).",
            fmt_num(d)
        ));
    }

    let recommended = cores.map(|cores| {
        recommend_workers(cores, input.workload, rss, mem_limit, &fleet, pool, db_max)
    });
    if let Some(r) = recommended
        .as_ref()
        .filter(|r| r.workers > workers_per_replica)
        .filter(|_| includes_queueing == Some(true) || db_time.is_some_and(|d| d >= 50.0))
    {
        warnings.push(format!(
            "The formula gives {} workers per replica, more than the {workers_per_replica} running; in an incident, first find what holds the workers (the latency), since more workers do not make a request faster.",
            r.workers
        ));
    }
    if let Some(c) = cores {
        evidence.push(Evidence::number("cpu_cores", c, "cores", SOURCE_CALLER));
    }
    if let (Some(rss), Some(limit)) = (rss, mem_limit) {
        evidence.push(Evidence::number("worker_rss_mb", rss, "MB", SOURCE_CALLER));
        evidence.push(Evidence::number(
            "memory_limit_mb",
            limit,
            "MB",
            SOURCE_CALLER,
        ));
        let used = rss * workers_per_replica as f64;
        if used > limit * 0.85 {
            warnings.push(format!(
                "Memory: {workers_per_replica} workers × {} MB = {} MB is {}% of the {} MB limit; adding workers here leads to OOM kills and 502s (death spiral #1).",
                fmt_num(rss),
                fmt_num(used),
                fmt_num(used / limit * 100.0),
                fmt_num(limit)
            ));
        }
    }

    let db_connections = pool.map(|pool| {
        let total = total_workers * pool;
        let pct = db_max.map(|m| round(total as f64 / m as f64 * 100.0, 2));
        DbConnections {
            total_connections: total,
            db_max_connections: db_max,
            percent_of_max: pct,
            fits: db_max.map(|m| total <= m),
        }
    });
    if let Some(db) = &db_connections {
        evidence.push(Evidence::number(
            "db_connections_total",
            db.total_connections as f64,
            "connections",
            "derived",
        ));
        if let (Some(max), Some(pct)) = (db.db_max_connections, db.percent_of_max) {
            evidence.push(Evidence::number(
                "db_max_connections",
                max as f64,
                "connections",
                SOURCE_CALLER,
            ));
            if pct > 100.0 {
                warnings.push(format!(
                    "Database connections: the fleet can open {} connections against max_connections {max} ({}%). Under load, new connections fail; add a pooler (PgBouncer/RDS Proxy) before adding workers or replicas.",
                    db.total_connections,
                    fmt_num(pct)
                ));
            } else if pct > 80.0 {
                warnings.push(format!(
                    "Database connections: {}% of max_connections already; doubling workers or replicas would exceed it.",
                    fmt_num(pct)
                ));
            }
        }
    }
    if threads > 1 {
        warnings.push(
            "Thread workers: each thread is a slot here, but threads share one GIL (no CPU gain for CPU-bound code) and each holds its own DB connection, so DB concurrency rises with threads.".to_owned(),
        );
    }

    let mut report = CapacityReport {
        total_workers,
        concurrent_slots: slots,
        throughput_ceiling_rps: round(ceiling, 6),
        per_replica_ceiling_rps: round(ceiling / replicas as f64, 6),
        utilization: queue.map(|q| round(q.utilization, 6)),
        p_wait: queue.map(|q| round(q.p_wait, 6)),
        mean_queue_wait_ms: queue
            .and_then(|q| q.mean_wait_s)
            .map(|s| round(s * 1000.0, 3)),
        stable: queue.map(|q| q.utilization < 1.0),
        latency_includes_queueing: includes_queueing,
        service_time_at_most_ms: service_at_most_ms,
        min_workers_per_replica_for_stability: arrival.map(|rps| {
            let needed_slots = (rps * fleet.latency_s).floor() as u64 + 1;
            needed_slots.div_ceil(replicas * threads).max(1)
        }),
        latency_budget_ms_at_80_percent: arrival
            .filter(|rps| *rps > 0.0)
            .map(|rps| round(0.8 * slots as f64 / rps * 1000.0, 3)),
        what_if,
        recommended_workers_per_replica: recommended.clone(),
        db_connections,
        conclusion: Conclusion::default(),
    };

    report.conclusion.verdict = verdict(&report, latency_ms, arrival);
    if let Some(q) = queue {
        evidence.push(Evidence::number(
            "utilization",
            q.utilization,
            "ratio",
            "derived",
        ));
        evidence.push(Evidence::number(
            "p_wait",
            q.p_wait,
            "probability",
            "derived",
        ));
        if let Some(w) = q.mean_wait_s {
            evidence.push(Evidence::number(
                "mean_queue_wait_ms",
                w * 1000.0,
                "ms",
                "derived",
            ));
        }
    }

    next_steps.push(
        NextStep::new(
            "Break the latency down by layer (nginx, queue, app, DB, external calls) and find what makes requests slow.",
            "Latency sets the ceiling: every millisecond cut raises it with no new worker, and it is the first step of the order.",
        )
        .with_tool("break_down_latency"),
    );
    if let Some(s_ms) = service_at_most_ms {
        next_steps.insert(
            0,
            NextStep::new(
                format!(
                    "Split the {} ms into the wait for a worker and the service time (break_down_latency with worker state and listen_port), then rerun this with the service time (at most {} ms).",
                    fmt_num(latency_ms),
                    fmt_num(s_ms)
                ),
                "The latency given includes queueing; Little's law needs the time a request holds a worker, and the queue it builds is the symptom, not the capacity.",
            )
            .with_tool("break_down_latency"),
        );
    } else if report.stable == Some(false) {
        next_steps.insert(
            0,
            NextStep::new(
                format!(
                    "Stop the queue growing now: shed or rate-limit load, or bring latency under {} ms; adding workers only helps if the database has headroom.",
                    fmt_num(slots as f64 / arrival.unwrap_or(1.0) * 1000.0)
                ),
                "Arrivals exceed what the workers can complete, so waits grow until timeouts and 502s.",
            ),
        );
    }
    if recommended.is_none() {
        next_steps.push(NextStep::new(
            "Pass cpu_cores (and worker_rss_mb, memory_limit_mb) to get the recommended workers per replica.",
            "The worker formula needs the cores; memory caps it.",
        ));
    }
    if arrival.is_none() {
        next_steps.push(NextStep::new(
            "Pass arrival_rps (peak requests per second) to see utilisation and the queue wait.",
            "Without the arrival rate the ceiling cannot be compared to the load.",
        ));
    }
    next_steps.push(
        NextStep::new(
            "Match the observations to the symptom matrix before changing workers or replicas.",
            "Adding workers or replicas is right only for symptom A; for B–F it makes things worse or does nothing.",
        )
        .with_tool("match_symptom"),
    );

    report.conclusion.evidence = evidence;
    report.conclusion.warnings = warnings;
    report.conclusion.next_steps = next_steps;
    Ok(report)
}

fn check_int(field: &str, value: i64, min: i64, max: i64, hint: &str) -> Result<u64, InputError> {
    if value < min || value > max {
        return Err(InputError::new(
            field,
            format!("must be a whole number between {min} and {max} (got {value}); {hint}"),
        ));
    }
    Ok(value as u64)
}

fn what_if(
    fleet: &Fleet,
    slots: u64,
    ceiling: f64,
    target_ms: Option<f64>,
    arrival: Option<f64>,
    cpu: Option<(f64, Workload)>,
) -> Vec<WhatIf> {
    let latency_ms = fleet.latency_s * 1000.0;
    let (cut_ms, cut_change) = match target_ms {
        Some(t) => (
            t,
            format!(
                "cut mean latency from {} ms to the target {} ms",
                fmt_num(latency_ms),
                fmt_num(t)
            ),
        ),
        None => (
            latency_ms / 2.0,
            format!(
                "halve mean latency from {} ms to {} ms",
                fmt_num(latency_ms),
                fmt_num(latency_ms / 2.0)
            ),
        ),
    };
    let cut_ceiling = slots as f64 / (cut_ms / 1000.0);
    let cut_queue = arrival.map(|rps| mmc(slots, rps, cut_ms / 1000.0));
    let mut cut_effects = vec!["No new workers, memory or DB connections; each request holds a worker and a DB connection for less time.".to_owned()];
    if cut_ms > latency_ms {
        cut_effects
            .push("The target is slower than today: this scenario lowers the ceiling.".to_owned());
    }

    let doubled = fleet.workers_per_replica * 2;
    let double_slots = fleet.slots(doubled);
    // CPU-bound work runs no faster with more processes than cores: workers beyond the
    // cores queue inside the kernel's run queue instead of the listen backlog.
    let (double_ceiling, cap) = match cpu {
        Some((cores, Workload::CpuBound)) => {
            let per_replica_threads = (fleet.workers_per_replica * fleet.threads) as f64;
            let now = per_replica_threads.min(cores);
            let then = (per_replica_threads * 2.0).min(cores);
            (
                ceiling * then / now,
                Some(format!(
                    "cpu_bound on {} cores: at most {} requests compute at once per replica, so the gain is {}× ({} → {} effective slots); workers beyond the cores add queueing in the kernel, not capacity",
                    fmt_num(cores),
                    fmt_num(cores),
                    fmt_num(then / now),
                    fmt_num(now),
                    fmt_num(then)
                )),
            )
        }
        Some((cores, w)) => (
            double_slots as f64 / fleet.latency_s,
            Some(format!(
                "{}: only the part of each request spent waiting (DB, other services) scales with workers; the CPU part stays capped by the {} cores, so the real gain is below 2×",
                match w {
                    Workload::IoBound => "io_bound",
                    _ => "mixed",
                },
                fmt_num(cores)
            )),
        ),
        None => (double_slots as f64 / fleet.latency_s, None),
    };
    let double_queue = arrival.map(|rps| mmc(double_slots, rps, fleet.latency_s));
    let total_workers = fleet.replicas * fleet.workers_per_replica;
    vec![
        WhatIf {
            scenario: "cut_latency".to_owned(),
            change: cut_change,
            avg_latency_ms: round(cut_ms, 3),
            total_workers,
            throughput_ceiling_rps: round(cut_ceiling, 6),
            gain: round(cut_ceiling / ceiling, 6),
            new_workers: 0,
            db_concurrency_factor: 1.0,
            p_wait: cut_queue.map(|q| round(q.p_wait, 6)),
            mean_queue_wait_ms: cut_queue.and_then(|q| q.mean_wait_s).map(|s| round(s * 1000.0, 3)),
            cap: None,
            side_effects: cut_effects,
        },
        WhatIf {
            scenario: "double_workers".to_owned(),
            change: format!("double workers per replica from {} to {doubled}", fleet.workers_per_replica),
            avg_latency_ms: round(latency_ms, 3),
            total_workers: total_workers * 2,
            throughput_ceiling_rps: round(double_ceiling, 6),
            gain: round(double_ceiling / ceiling, 6),
            new_workers: total_workers,
            db_concurrency_factor: 2.0,
            p_wait: double_queue.map(|q| round(q.p_wait, 6)),
            mean_queue_wait_ms: double_queue.and_then(|q| q.mean_wait_s).map(|s| round(s * 1000.0, 3)),
            cap,
            side_effects: vec![
                "Doubles peak database concurrency and connections: if the database is the slow layer, latency rises and the gain disappears (death spiral #1).".to_owned(),
                "Doubles worker memory per replica; past the container limit this means OOM kills and 502s.".to_owned(),
                "Does not make any request faster: the p50 stays where it is.".to_owned(),
            ],
        },
    ]
}

fn recommend_workers(
    cores: f64,
    workload: Workload,
    rss: Option<f64>,
    mem_limit: Option<f64>,
    fleet: &Fleet,
    pool: Option<u64>,
    db_max: Option<u64>,
) -> WorkerRecommendation {
    let formula = (2.0 * cores).floor() as u64 + 1;
    let (adjusted, how) = match workload {
        Workload::CpuBound => (
            cores.ceil() as u64 + 1,
            "cpu_bound: cores + 1, since more processes than cores only add context switches",
        ),
        Workload::IoBound => (
            (4.0 * cores).floor() as u64 + 1,
            "io_bound: (4 × cores) + 1, since workers mostly wait; beyond that prefer gthread or async workers",
        ),
        Workload::Mixed => (formula, "mixed: Gunicorn's (2 × cores) + 1"),
    };
    let reserve = mem_limit.map(memory_reserve_mb);
    let memory_cap = match (rss, mem_limit, reserve) {
        (Some(rss), Some(limit), Some(reserve)) => {
            Some(((limit - reserve) / rss).floor().max(0.0) as u64)
        }
        _ => None,
    };
    let db_connection_cap = match (pool, db_max) {
        (Some(pool), Some(max)) if pool > 0 => Some(max / (fleet.replicas * pool)),
        _ => None,
    };
    let mut workers = adjusted;
    let mut basis = format!(
        "{} cores → (2 × cores) + 1 = {formula}; {how} → {adjusted}",
        fmt_num(cores)
    );
    if let Some(cap) = memory_cap
        && cap < workers
    {
        workers = cap;
        basis.push_str(&format!(
            "; capped by memory at {cap} ((memory_limit_mb − {} MB kept for the master, the OS and the page cache) ÷ worker_rss_mb)",
            fmt_num(reserve.unwrap_or(0.0))
        ));
    }
    if let Some(cap) = db_connection_cap
        && cap < workers
    {
        workers = cap;
        basis.push_str(&format!(
            "; capped by the database connection budget at {cap} per replica"
        ));
    }
    WorkerRecommendation {
        workers,
        formula_workers: formula,
        workload_adjusted_workers: adjusted,
        memory_cap,
        memory_reserve_mb: reserve.map(|r| round(r, 1)),
        db_connection_cap,
        basis,
    }
}

/// Memory a replica keeps free for the Gunicorn/uWSGI master, the OS and the page cache:
/// 15 % of the limit, at least 200 MB (but never more than half of it).
fn memory_reserve_mb(limit: f64) -> f64 {
    (limit * 0.15).max(200.0).min(limit / 2.0)
}

fn verdict(report: &CapacityReport, latency_ms: f64, arrival: Option<f64>) -> String {
    let cut = &report.what_if[0];
    let ceiling = fmt_num(report.throughput_ceiling_rps);
    let base = format!(
        "{} workers at {} ms mean latency can serve at most {ceiling} rps (Little's law)",
        report.concurrent_slots,
        fmt_num(latency_ms)
    );
    let lever = format!(
        "{} is a {}× gain with zero new workers, doubling workers is 2× and doubles DB concurrency",
        cut.change,
        fmt_num(cut.gain)
    );
    match (arrival, report.utilization, report.mean_queue_wait_ms) {
        (Some(rps), Some(u), _) if u >= 1.0 => format!(
            "Unstable at this latency: {} rps arrive but {base}, so the queue grows without bound (utilisation {}%); bring latency under {} ms or add capacity only if the database has headroom — {lever}.{}",
            fmt_num(rps),
            fmt_num(u * 100.0),
            fmt_num(report.concurrent_slots as f64 / rps * 1000.0),
            match report.service_time_at_most_ms {
                Some(s) => format!(
                    " But if {} rps is being served right now, the {} ms already includes waiting for a worker: the service time is at most {} ms and the measured throughput is the ceiling — split queue from service (break_down_latency) before sizing anything.",
                    fmt_num(rps),
                    fmt_num(latency_ms),
                    fmt_num(s)
                ),
                None => String::new(),
            }
        ),
        (Some(rps), Some(u), Some(wait)) => format!(
            "{base}; at {} rps utilisation is {}% and {}% of requests wait for a worker (mean wait {} ms){}; {lever}.",
            fmt_num(rps),
            fmt_num(u * 100.0),
            fmt_num(report.p_wait.unwrap_or(0.0) * 100.0),
            fmt_num(wait),
            if u >= 0.8 {
                " — close to the cliff"
            } else {
                ""
            }
        ),
        _ => format!("{base}; {lever}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(replicas: i64, workers: i64, latency_ms: f64) -> CapacityInput {
        CapacityInput {
            replicas,
            workers_per_replica: workers,
            threads_per_worker: 1,
            avg_latency_ms: latency_ms,
            arrival_rps: None,
            cpu_cores: None,
            workload: Workload::Mixed,
            worker_rss_mb: None,
            memory_limit_mb: None,
            db_pool_per_worker: None,
            db_max_connections: None,
            target_latency_ms: None,
            db_time_percent: None,
        }
    }

    #[test]
    fn seed_numbers_come_out_exactly() {
        let mut i = input(32, 4, 4000.0);
        i.target_latency_ms = Some(1000.0);
        i.cpu_cores = Some(4.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.total_workers, 128);
        assert_eq!(r.throughput_ceiling_rps, 32.0);
        assert_eq!(r.what_if[0].gain, 4.0);
        assert_eq!(r.what_if[0].new_workers, 0);
        assert_eq!(r.what_if[0].throughput_ceiling_rps, 128.0);
        assert_eq!(r.what_if[1].gain, 2.0);
        assert_eq!(r.what_if[1].db_concurrency_factor, 2.0);
        assert_eq!(r.recommended_workers_per_replica.unwrap().workers, 9);
    }

    #[test]
    fn latencies_near_zero_are_refused_instead_of_an_infinite_ceiling() {
        // Found by tests/fuzz: target_latency_ms 1e-300 made the what-if ceiling infinite,
        // which JSON writes as null where the output schema promises a number.
        let mut i = input(1, 1, 77.66);
        i.target_latency_ms = Some(1e-300);
        assert_eq!(analyze(&i).unwrap_err().field, "target_latency_ms");
        let e = analyze(&input(1, 1, 1e-300)).unwrap_err();
        assert_eq!(e.field, "avg_latency_ms");
        let mut i = input(100_000, 10, MIN_LATENCY_MS);
        i.target_latency_ms = Some(MIN_LATENCY_MS);
        let r = analyze(&i).unwrap();
        assert!(r.throughput_ceiling_rps.is_finite());
        for w in &r.what_if {
            assert!(
                w.throughput_ceiling_rps.is_finite() && w.gain.is_finite(),
                "{w:?}"
            );
        }
    }

    #[test]
    fn halving_is_the_default_what_if() {
        let r = analyze(&input(32, 4, 4000.0)).unwrap();
        assert_eq!(r.what_if[0].avg_latency_ms, 2000.0);
        assert_eq!(r.what_if[0].gain, 2.0);
    }

    /// Published Erlang C vectors: arrivals per interval, handling time, agents → P(wait), ASA.
    #[test]
    fn erlang_c_matches_published_vectors() {
        let cases = [
            (360.0, 1800.0, 240.0, 55, 0.2387, 8.2),
            (300.0, 900.0, 180.0, 65, 0.4201, 15.1),
            (650.0, 3600.0, 150.0, 34, 0.1430, 3.1),
            (20.0, 3600.0, 1800.0, 11, 0.6821, 1227.8),
        ];
        for (calls, interval, aht, agents, pw, asa) in cases {
            let q = mmc(agents, calls / interval, aht);
            assert!(
                (q.p_wait - pw).abs() < 0.00005,
                "P(wait) {} vs {pw}",
                q.p_wait
            );
            let wait = q.mean_wait_s.unwrap();
            assert!((wait - asa).abs() < 0.05, "wait {wait} vs {asa}");
        }
    }

    #[test]
    fn erlang_is_stable_for_thousands_of_workers() {
        // 5,000 servers at 98% load: factorial-based formulas overflow long before this.
        let q = mmc(5000, 4900.0, 1.0);
        assert!(
            q.p_wait.is_finite() && q.p_wait > 0.0 && q.p_wait < 1.0,
            "{q:?}"
        );
        assert!(q.mean_wait_s.unwrap().is_finite());
        // At 50% load with 5,000 servers nobody waits.
        let q = mmc(5000, 2500.0, 1.0);
        assert!(q.p_wait < 1e-12, "{q:?}");
        // Max accepted size stays finite.
        let q = mmc(MAX_SLOTS, MAX_SLOTS as f64 * 0.9, 1.0);
        assert!(q.p_wait.is_finite());
    }

    #[test]
    fn single_server_matches_mm1() {
        // M/M/1: P(wait) = ρ, Wq = ρ/(μ−λ).
        let q = mmc(1, 0.5, 1.0);
        assert!((q.p_wait - 0.5).abs() < 1e-12);
        assert!((q.mean_wait_s.unwrap() - 1.0).abs() < 1e-12);
    }

    /// The missing-index incident as an agent passes it: nginx's mean (queue included) and
    /// the rate being served.
    #[test]
    fn a_latency_that_includes_queueing_is_named_and_sizing_waits() {
        let mut i = input(1, 4, 174.0);
        i.arrival_rps = Some(93.0);
        i.cpu_cores = Some(2.0);
        i.worker_rss_mb = Some(120.0);
        i.memory_limit_mb = Some(2048.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.latency_includes_queueing, Some(true));
        assert!((r.service_time_at_most_ms.unwrap() - 43.011).abs() < 0.01);
        assert!(
            r.conclusion
                .verdict
                .contains("includes waiting for a worker")
        );
        let first = &r.conclusion.next_steps[0];
        assert_eq!(
            first.tool.as_deref(),
            Some("break_down_latency"),
            "{first:?}"
        );
        assert!(!first.action.to_lowercase().contains("add "), "{first:?}");
        let rec = r.recommended_workers_per_replica.unwrap();
        assert!(rec.workers as f64 * 120.0 <= 2048.0 - rec.memory_reserve_mb.unwrap());
        // Just past the slots (4.07 in flight for 4): the same answer, never "growing
        // without bound" on its own.
        i.avg_latency_ms = 56.47;
        i.arrival_rps = Some(72.2);
        let r = analyze(&i).unwrap();
        assert_eq!(r.stable, Some(false));
        assert_eq!(r.latency_includes_queueing, Some(true));
        assert_eq!(
            r.conclusion.next_steps[0].tool.as_deref(),
            Some("break_down_latency")
        );
        assert!(
            r.conclusion
                .verdict
                .contains("already includes waiting for a worker")
        );
        i.arrival_rps = Some(93.0);
        // Within the slots, no such claim.
        i.avg_latency_ms = 40.0;
        let r = analyze(&i).unwrap();
        assert_eq!(r.latency_includes_queueing, Some(false));
        assert_eq!(r.service_time_at_most_ms, None);
        // The DB holding the time is a warning against more workers.
        i.db_time_percent = Some(80.0);
        let r = analyze(&i).unwrap();
        assert!(
            r.conclusion
                .warnings
                .iter()
                .any(|w| w.contains("80% of request time"))
        );
    }

    #[test]
    fn doubling_cpu_bound_workers_is_capped_by_the_cores() {
        let mut i = input(1, 2, 18.0);
        i.cpu_cores = Some(2.0);
        i.workload = Workload::CpuBound;
        let r = analyze(&i).unwrap();
        let double = r
            .what_if
            .iter()
            .find(|w| w.scenario == "double_workers")
            .unwrap();
        assert_eq!(double.gain, 1.0);
        assert!(
            double.cap.as_deref().unwrap().contains("2 cores"),
            "{double:?}"
        );
        // One worker on two cores: doubling reaches the cores, 2×.
        i.workers_per_replica = 1;
        let r = analyze(&i).unwrap();
        assert_eq!(r.what_if[1].gain, 2.0);
        // Without the cores nothing is capped.
        i.cpu_cores = None;
        assert_eq!(analyze(&i).unwrap().what_if[1].cap, None);
    }

    #[test]
    fn overload_is_an_answer_not_an_error() {
        let mut i = input(32, 4, 4000.0);
        i.arrival_rps = Some(40.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.stable, Some(false));
        assert_eq!(r.utilization, Some(1.25));
        assert_eq!(r.p_wait, Some(1.0));
        assert_eq!(r.mean_queue_wait_ms, None);
        assert!(
            r.conclusion.verdict.starts_with("Unstable"),
            "{}",
            r.conclusion.verdict
        );
        // 40 rps × 4 s = 160 busy slots → 161 slots → 6 workers per replica across 32.
        assert_eq!(r.min_workers_per_replica_for_stability, Some(6));
        assert!(
            r.conclusion.verdict.contains("3200 ms"),
            "{}",
            r.conclusion.verdict
        );
    }

    #[test]
    fn close_to_the_cliff_is_called_out() {
        let mut i = input(32, 4, 4000.0);
        i.arrival_rps = Some(30.0);
        let r = analyze(&i).unwrap();
        assert_eq!(r.stable, Some(true));
        assert!(
            r.conclusion.verdict.contains("close to the cliff"),
            "{}",
            r.conclusion.verdict
        );
        assert!(r.mean_queue_wait_ms.unwrap() > 0.0);
    }

    #[test]
    fn workload_adjusts_and_memory_caps_the_formula() {
        let mut i = input(2, 4, 100.0);
        i.cpu_cores = Some(4.0);
        i.workload = Workload::CpuBound;
        assert_eq!(
            analyze(&i)
                .unwrap()
                .recommended_workers_per_replica
                .unwrap()
                .workers,
            5
        );
        i.workload = Workload::IoBound;
        assert_eq!(
            analyze(&i)
                .unwrap()
                .recommended_workers_per_replica
                .unwrap()
                .workers,
            17
        );
        i.worker_rss_mb = Some(300.0);
        i.memory_limit_mb = Some(2048.0);
        let rec = analyze(&i)
            .unwrap()
            .recommended_workers_per_replica
            .unwrap();
        // (2048 − 307 MB kept for the master, the OS and the page cache) ÷ 300 MB = 5.
        assert_eq!(rec.memory_reserve_mb, Some(307.2));
        assert_eq!(rec.memory_cap, Some(5));
        assert_eq!(rec.workers, 5);
        assert!(
            rec.basis.contains("memory") && rec.basis.contains("307.2 MB kept"),
            "{}",
            rec.basis
        );
        // Half a core: (2 × 0.5) + 1 = 2.
        i.cpu_cores = Some(0.5);
        i.workload = Workload::Mixed;
        assert_eq!(
            analyze(&i)
                .unwrap()
                .recommended_workers_per_replica
                .unwrap()
                .formula_workers,
            2
        );
    }

    #[test]
    fn db_connection_budget() {
        let mut i = input(32, 4, 4000.0);
        i.db_pool_per_worker = Some(5);
        i.db_max_connections = Some(500);
        let r = analyze(&i).unwrap();
        let db = r.db_connections.unwrap();
        assert_eq!(db.total_connections, 640);
        assert_eq!(db.fits, Some(false));
        assert_eq!(db.percent_of_max, Some(128.0));
        assert!(r.conclusion.warnings.iter().any(|w| w.contains("640")));
        i.cpu_cores = Some(4.0);
        // 500 / (32 × 5) = 3 workers per replica fit.
        assert_eq!(
            analyze(&i)
                .unwrap()
                .recommended_workers_per_replica
                .unwrap()
                .db_connection_cap,
            Some(3)
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        for (mutate, field) in [
            (
                Box::new(|i: &mut CapacityInput| i.replicas = 0) as Box<dyn Fn(&mut CapacityInput)>,
                "replicas",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.replicas = -1),
                "replicas",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.avg_latency_ms = 0.0),
                "avg_latency_ms",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.avg_latency_ms = f64::NAN),
                "avg_latency_ms",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.avg_latency_ms = f64::INFINITY),
                "avg_latency_ms",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.arrival_rps = Some(-3.0)),
                "arrival_rps",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.cpu_cores = Some(0.0)),
                "cpu_cores",
            ),
            (
                Box::new(|i: &mut CapacityInput| i.workers_per_replica = 10_000_000),
                "workers_per_replica",
            ),
            (
                Box::new(|i: &mut CapacityInput| {
                    i.replicas = 100_000;
                    i.workers_per_replica = 1000
                }),
                "replicas",
            ),
        ] {
            let mut i = input(32, 4, 4000.0);
            mutate(&mut i);
            let err = analyze(&i).unwrap_err();
            assert_eq!(err.field, field, "{err}");
        }
    }
}
