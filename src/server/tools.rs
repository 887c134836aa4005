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
Steps 4–5: capacity arithmetic for a Gunicorn/uWSGI fleet. The Little's-law ceiling \
(slots ÷ mean latency); with arrival_rps the M/M/c queue (utilisation, chance and length of \
a wait; ≥ 1 is reported as unstable); the what-if of cutting latency against adding workers; \
workers per replica from cores, memory and DB connections, and the DB connection budget. Pass \
the real replicas, workers and mean latency (break_down_latency's service_time_ms). It does \
not say WHY latency is high.";

const MATCH_SYMPTOM: &str = "\
Step 2: matches what was observed to the decision matrix — A app concurrency exhausted \
(add replicas), B queuing with low DB CPU (storage), C DB CPU high and read-heavy (read replica \
after query fixes), D write-heavy or locks (fix writes), E a few slow endpoints (fix or offload \
them), F everything slow (fix latency, not workers) — with confidence, evidence for and \
against, what is missing and which tool measures it, death spirals and worker-model traps. \
Pass break_down_latency's `observations` unchanged plus what you know; call again as figures \
arrive.";

const BREAK_DOWN_LATENCY: &str = "\
Step 1, before changing workers or replicas: where request time goes (nginx, queue, app, DB, \
external calls; ms, %), worker utilisation, per-endpoint p50/p95/p99, errors and worker time, \
a head-of-line route, the latency pattern, `observations` for match_symptom. Pass figures \
and/or sources. On the app's host: `access_log`, `gunicorn_metrics_url`/`uwsgi_stats`, \
`listen_port`. For a fleet: `prometheus` {selector `{job=\"api\"}`, since}, \
`aws_load_balancer` {name}. `baseline` {p99_ms} is the normal; `rds_instance` adds its \
storage verdict.";

const CHECK_RDS_IOPS: &str = "\
Step 3: is the RDS storage the bottleneck? Reads CloudWatch (IOPS, throughput, latency, \
DiskQueueDepth, burst balance) and DescribeDBInstances for one instance over a window and \
applies AWS's gp2/gp3/io1/io2 and instance-class limits: status (saturated, near_limit, \
healthy, unknown), utilisation, the binding limit, recommendations. Use when the DB is slow \
but its CPU is low (B), or before raising IOPS. Uses the server's AWS credentials; read-only.";

const SLOW_QUERIES: &str = "\
Steps 1–2 for the database (PostgreSQL pg_stat_statements and pg_stat_activity; \
MySQL/MariaDB performance_schema): top statements by mean_time, total_time, calls or io_time, \
with share of DB time, read/write kind and full_scan; EXPLAIN and index steps for the \
outliers; what runs now, its waits and blockers; the read vs write share and C/D hints. \
`target` names a database the operator configured (never a DSN); `sample_seconds` ranks \
what is slow now; `query_text` (a span's SQL as Sentry shows it) lists that statement alone, \
or says none matches. Literals are redacted; sessions are read-only. Pass `observations` to \
match_symptom.";

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
        let result = call("break_down_latency", args, |i| async {
            flows::break_down_latency::run(
                i,
                &self.reach,
                &self.config.engines,
                progress.progress(),
            )
            .await
        })
        .await;
        progress.finish().await;
        result
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
    async fn slow_queries(
        &self,
        Parameters(args): Parameters<JsonObject>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> CallToolResult {
        let progress = progress::for_call(&meta, &peer);
        let reporting = progress.progress();
        let result = call(
            "slow_queries",
            args,
            |i: queries::SlowQueriesInput| async move {
                flows::slow_queries::run(&self.config, &self.connections, &i, reporting).await
            },
        )
        .await;
        progress.finish().await;
        result
    }
}
