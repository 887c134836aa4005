#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop:
#   bash scripts/test.sh
# Every runner and set-up script lives in scripts/; the data, apps and test files they use
# stay in tests/. The steps, each also runnable on its own:
# 1. Rust unit tests, the in-process MCP round trip (cargo nextest, or cargo test) and the
#    bounded fuzz run (tests/fuzz: 10,000 cases per target; scripts/fuzz.sh is the long run);
# 2. the interop suite: the real binary over stdio and as a streamable HTTP server on a
#    loopback port of its own, driven by the official Python `mcp` SDK (installed into
#    target/pyenv by scripts/venv.sh), then the same over both transports by the official
#    TypeScript SDK, the one inside most MCP clients (installed with `npm ci` into
#    tests/interop-ts/node_modules by scripts/interop-ts-setup.sh; needs Node.js 20 and npm);
# 3. slow_queries against a throwaway PostgreSQL and MariaDB (scripts/db.sh starts them
#    with TLS on, runs a workload, runs tests/slow_queries_{pg,mysql}.rs and tests/db_tls.rs,
#    and removes them again);
# 4. the live test: real gunicorn, nginx and uWSGI started by scripts/live.sh, saturated,
#    and read by break_down_latency (access log, worker gauges, accept queue);
# 5. live incidents (scripts/incident.sh): nginx → Gunicorn → PostgreSQL under load, one
#    route missing an index, one CPU-bound app and one slow database statement on every
#    route, every tool driven the way skill.md says
#    and judged against the ground truth the app measures;
# 6. check_rds_iops and break_down_latency's aws_load_balancer against LocalStack
#    (CloudWatch) and moto_server (RDS, STS), by scripts/aws.sh;
# 7. a fleet in a real Prometheus (scripts/fleet.sh): three Gunicorn replicas behind nginx,
#    one with fewer workers, under load, read by break_down_latency's `prometheus` and
#    checked against the load generator's own timings (about a minute).
# Every server a test needs is started by the tests themselves. A plain `cargo test` skips
# the suites whose servers are not running (one line each says how to run them); here
# PWT_REQUIRE_SERVERS=1 makes a missing server a failure instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PWT_REQUIRE_SERVERS=1

log() { printf '\n== %s ==\n' "$*" >&2; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

log "build"
cargo build --locked --bins

log "Rust tests"
# The suites that need servers run in their own steps below, with their servers (without
# them, and with PWT_REQUIRE_SERVERS=1, they would fail here).
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast \
    -E 'not (binary(slow_queries_pg) | binary(slow_queries_mysql) | binary(db_tls) | binary(rds_iops_aws) | binary(load_balancer_aws) | binary(fleet_prometheus))'
  cargo test --locked --doc
else
  cargo test --locked --no-fail-fast --lib --bins \
    $(for t in tests/*.rs tests/*/main.rs; do n="$(basename "${t%/main.rs}" .rs)"; case "$n" in slow_queries_*|db_tls|rds_iops_aws|load_balancer_aws|fleet_prometheus) ;; *) printf -- '--test %s ' "$n";; esac; done)
fi

log "slow_queries on throwaway PostgreSQL and MariaDB"
bash scripts/db.sh

log "MCP interop over stdio and streamable HTTP (Python mcp SDK)"
pyenv="$(bash scripts/venv.sh pyenv tests/interop/requirements.txt)"
PWT_BIN="$PWD/target/debug/python-web-troubleshooter" "$pyenv/bin/python" -m pytest -q tests/interop

log "MCP interop over stdio and streamable HTTP (TypeScript @modelcontextprotocol/sdk)"
bash scripts/interop-ts-setup.sh
PWT_BIN="$PWD/target/debug/python-web-troubleshooter" node --test --test-concurrency=1 tests/interop-ts/*.test.mjs

log "break_down_latency against live gunicorn + nginx + uWSGI"
bash scripts/live.sh

log "live incidents: every tool's answer on a real stack under load (missing index, CPU-bound app, slow database)"
bash scripts/incident.sh

log "check_rds_iops and aws_load_balancer against LocalStack (CloudWatch) and moto_server (RDS, STS)"
bash scripts/aws.sh

log "break_down_latency reading a fleet from a real Prometheus (three Gunicorn replicas behind nginx)"
bash scripts/fleet.sh
