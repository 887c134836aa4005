//! Every tool in one place: name, description for the model, schemas and annotations.
//!
//! Arguments are taken as a raw JSON object and parsed by [`crate::input`], so that a wrong
//! type or an unknown enum value becomes a tool error naming the field; the advertised
//! `inputSchema` is still generated from the typed input.

use std::future::Future;
use std::sync::Arc;

use rmcp::{
    Peer, RoleServer,
    handler::server::wrapper::Parameters,
    model::{CallToolResult, JsonObject, RequestMetaObject},
    tool, tool_router,
};
use serde::{Serialize, de::DeserializeOwned};

use super::progress;
use super::schema::{Detail, input_schema, output_schema};
use super::{Troubleshooter, failure, success};
use crate::config::Config;
use crate::diagnosis::{capacity, latency, queries, storage, symptoms};
use crate::error::ToolError;
use crate::flows;
use crate::input;
use crate::render::Summary;
use crate::sources;
use crate::sources::reach::Reach;

const CAPACITY_MATH: &str = "\
Capacity arithmetic for a Gunicorn/uWSGI fleet (Steps 4–5 of the order): the throughput ceiling \
by Little's law (concurrent slots ÷ mean latency), and with arrival_rps the M/M/c (Erlang C) \
queue — utilisation, probability of waiting, mean queue wait — so 'how close to the cliff' is a \
number. Shows the what-if of cutting latency against doubling workers (gain and side effects), \
the recommended workers per replica ((2 × cores) + 1 adjusted for workload, capped by memory and \
DB connections) and the DB connection budget. Use it once you know the mean latency (from \
break_down_latency or nginx logs) and the worker layout; utilisation ≥ 1 is reported as \
'unstable', not as an error. Do not use it to decide WHY latency is high — that is \
break_down_latency and match_symptom.";

const MATCH_SYMPTOM: &str = "\
Matches what has been observed against the decision matrix (A: app concurrency exhausted → add \
replicas; B: queuing with low DB CPU → storage/IOPS; C: DB CPU high, read-heavy → read replica \
after query fixes; D: DB CPU high, write-heavy or locks → fix write path, replicas won't help; E: \
a few slow endpoints → async/buffer; F: everything slow → fix latency, do not add workers). \
Every observation is optional: pass what you know. Returns ranked matches with confidence, the \
evidence for and against, and what is missing (with the tool that measures it), plus death \
spirals (worker accumulation, restart loop) and worker-model traps (threads, gevent, forking). \
With too little evidence it says so and asks for Step 1 measurements. Call it after \
break_down_latency (pass its `observations` unchanged) and again as missing figures arrive.";

const BREAK_DOWN_LATENCY: &str = "\
Step 1 of the order: splits the mean request time into layers — nginx (request − upstream), \
upstream connect, queue wait for a worker, app code, database, external calls — with ms and \
percent of total, the dominant layer, worker utilisation from busy/idle counts, and the \
latency pattern (long_tail vs system_wide vs healthy) from per-endpoint percentiles. Pass the \
figures you already have (nginx $request_time/$upstream_response_time, APM or Sentry \
durations, Gunicorn worker counts, DB time per request), and/or let it read them on the \
server's host (what the operator allows): `access_log` {path, log_format: the site's own nginx log_format text or a preset \
(combined, main, timed), since, until} gives per-endpoint requests, p50/p95/p99/max, error \
percent and worker-seconds (capacity consumed) with paths folded into routes like \
`GET /api/orders/{id}`; `gunicorn_metrics_url` (Prometheus gauges) or `uwsgi_stats` give \
busy/idle workers sampled over a few seconds; `listen_port` gives the app server's accept \
queue (requests waiting for a worker) from /proc/net/tcp. With worker state and the log, \
Little's law splits queue wait from service time, and `head_of_line` names a route holding \
the workers while the rest wait behind it (fix that route; never add capacity for it). Slow \
is judged against `baseline` {p99_ms} (the service's normal), else the routes against each \
other. Use it first, before any change to workers or replicas. Its \
`observations` output can be passed to match_symptom unchanged. Name the database's RDS \
instance in `rds_instance` to have its storage verdict (check_rds_iops) fill the DB \
observations (db_io_saturated, disk_queue_depth, db_cpu_percent from CloudWatch).";

const CHECK_RDS_IOPS: &str = "\
Step 3 of the order — is the database's storage the bottleneck? Reads CloudWatch AWS/RDS \
ReadIOPS, WriteIOPS, Read/WriteThroughput, Read/WriteLatency, DiskQueueDepth, CPUUtilization, \
BurstBalance (and EBSIOBalance%/EBSByteBalance%, DBLoad where published) for one DB instance \
over a window, and its storage type, size, provisioned IOPS and throughput from RDS \
DescribeDBInstances; applies AWS's published limits (gp3 3,000 IOPS/125 MiB/s below 400 GiB, \
12,000/500 at or above; gp2 3 IOPS/GiB with burst; io1/io2 provisioned; the instance class's EBS \
ceiling where known). Returns status saturated | near_limit | healthy | unknown, avg and peak IOPS \
and throughput utilisation, DiskQueueDepth with sustained_above_1, read/write latency, gp2 burst \
exhaustion, the binding limit, concrete recommendations (e.g. provisioned IOPS = peak × 1.3 \
within AWS's ranges, gp2 → gp3) and the aws CLI commands to rerun the reads. Use it when the DB \
layer is slow but DB CPU is low (symptom B), or before raising IOPS. Credentials and region come \
from the server's AWS default chain, never from arguments; it only reads. Pass its \
`observations` to match_symptom.";

const SLOW_QUERIES: &str = "\
Step 1 (DB layer) and Step 2 (C vs D) on a live PostgreSQL (pg_stat_statements, \
pg_stat_activity) or MySQL/MariaDB (performance_schema digests, PROCESSLIST, InnoDB lock \
waits): the top statements by mean_time (default), total_time, calls or io_time with calls, \
mean/total ms, percent of DB time, rows, read/write kind, query_ids (ids of one text \
merged) and full_scan; EXPLAIN/index steps only for statements slow against this database's \
normal; what runs now longer than running_min_seconds, what it waits on and who blocks whom; \
the read vs write share of DB time, waits by type, and hints for symptom C (read-heavy with \
db_cpu_percent high: a replica may help) or D (write-heavy with CPU high, or lock contention: \
replicas won't). Pass sample_seconds to rank what is slow NOW (two snapshots apart) instead of the cumulative \
history. Pass query_text (a Sentry span's SQL, pasted as is) to list only the statement(s) it names \
with their figures, or hear that none matches and what to check. `target` is the name of a database the operator \
configured (default: DATABASE_URL) — never a connection string or password. Literals in query \
text are redacted; every session is read-only and bounded in time. Use it when \
break_down_latency shows the DB layer dominating, or to decide C vs D; pass `observations` on \
to match_symptom.";

/// One tool call, whatever the tool: parse the arguments into the tool's input, run its
/// flow, render the report or the error. Timing and outcome are logged once per call by
/// `call::run`; a failure is logged here, once, by its kind.
async fn call<I, R, F>(
    tool: &str,
    mut args: JsonObject,
    flow: impl FnOnce(I) -> F,
) -> CallToolResult
where
    I: DeserializeOwned,
    R: Serialize + Summary,
    F: Future<Output = Result<R, ToolError>>,
{
    let detail = Detail::take(&mut args);
    let result = match detail.clone().and_then(|_| input::parse::<I>(args)) {
        Ok(input) => flow(input).await,
        Err(err) => Err(err.into()),
    };
    match result {
        Ok(report) => success(&report, detail.unwrap_or_default()),
        Err(err) => {
            err.log(tool);
            failure(&err.text(tool))
        }
    }
}

impl Troubleshooter {
    /// A server with no database targets (the pure tools work; slow_queries says how to
    /// configure a target).
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    /// A server reading databases as `config` says, and logs and metrics endpoints as the
    /// stdio defaults allow.
    pub fn with_config(config: Config) -> Self {
        Self {
            tool_router: Arc::new(Self::tool_router()),
            config: Arc::new(config),
            connections: Arc::new(sources::Connections::default()),
            reach: Arc::new(Reach::default()),
        }
    }

    /// The same server, reading only what `reach` allows.
    pub fn with_reach(mut self, reach: Reach) -> Self {
        self.reach = Arc::new(reach);
        self
    }
}

#[tool_router(router = tool_router)]
impl Troubleshooter {
    #[tool(
        name = "capacity_math",
        description = CAPACITY_MATH,
        input_schema = input_schema::<capacity::CapacityInput>(),
        output_schema = output_schema::<capacity::CapacityReport>(),
        annotations(title = "Capacity math (Little's law, Erlang C, what-if)", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn capacity_math(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        call(
            "capacity_math",
            args,
            |i: capacity::CapacityInput| async move { Ok(capacity::analyze(&i)?) },
        )
        .await
    }

    #[tool(
        name = "match_symptom",
        description = MATCH_SYMPTOM,
        input_schema = input_schema::<symptoms::MatchInput>(),
        output_schema = output_schema::<symptoms::MatchReport>(),
        annotations(title = "Match the symptom (A–F) and death spirals", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn match_symptom(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        call(
            "match_symptom",
            args,
            |i: symptoms::MatchInput| async move { Ok(symptoms::analyze(&i)?) },
        )
        .await
    }

    #[tool(
        name = "break_down_latency",
        description = BREAK_DOWN_LATENCY,
        input_schema = input_schema::<latency::LatencyInput>(),
        output_schema = output_schema::<latency::LatencyReport>(),
        annotations(title = "Break latency down by layer", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn break_down_latency(
        &self,
        Parameters(args): Parameters<JsonObject>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> CallToolResult {
        let progress = progress::for_call(&meta, &peer);
        call("break_down_latency", args, |i| async move {
            flows::break_down_latency::run(i, &self.reach, &progress).await
        })
        .await
    }

    #[tool(
        name = "check_rds_iops",
        description = CHECK_RDS_IOPS,
        input_schema = input_schema::<storage::RdsIopsInput>(),
        output_schema = output_schema::<storage::StorageReport>(),
        annotations(title = "Check RDS storage: IOPS, throughput, DiskQueueDepth", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn check_rds_iops(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        call(
            "check_rds_iops",
            args,
            |i: storage::RdsIopsInput| async move { flows::check_rds_iops::run(&i).await },
        )
        .await
    }

    #[tool(
        name = "slow_queries",
        description = SLOW_QUERIES,
        input_schema = input_schema::<queries::SlowQueriesInput>(),
        output_schema = output_schema::<queries::SlowQueriesReport>(),
        annotations(title = "Slow queries, live activity and locks (PostgreSQL, MySQL)", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = true)
    )]
    async fn slow_queries(&self, Parameters(args): Parameters<JsonObject>) -> CallToolResult {
        call(
            "slow_queries",
            args,
            |i: queries::SlowQueriesInput| async move {
                flows::slow_queries::run(&self.config, &self.connections, &i).await
            },
        )
        .await
    }
}
