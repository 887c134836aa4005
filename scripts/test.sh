#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop:
#   bash scripts/test.sh
# 1. Rust unit tests, the in-process MCP round trip (cargo nextest, or cargo test) and the
#    bounded fuzz run (tests/fuzz: 10,000 cases per target; scripts/fuzz.sh is the long run);
# 2. the interop suite: the real binary over stdio and as a streamable HTTP server on a
#    loopback port of its own, driven by the official Python `mcp` SDK (installed into
#    target/pyenv by tests/interop/setup-venv.sh), then the same over both transports by the
#    official TypeScript SDK, the one inside most MCP clients (installed with `npm ci` into
#    tests/interop-ts/node_modules by tests/interop-ts/setup.sh; needs Node.js 20 and npm);
# 3. slow_queries against a throwaway PostgreSQL and MariaDB (tests/db/run.sh starts them
#    with TLS on, runs a workload, runs tests/slow_queries_{pg,mysql}.rs and tests/db_tls.rs,
#    and removes them again);
# 4. the live test: real gunicorn, nginx and uWSGI started by tests/live/run.sh, saturated,
#    and read by break_down_latency (access log, worker gauges, accept queue);
# 5. live incidents (tests/incident/run.sh): nginx → Gunicorn → PostgreSQL under load, one
#    route missing an index, one CPU-bound app and one slow database statement on every
#    route, every tool driven the way skill.md says
#    and judged against the ground truth the app measures;
# 6. check_rds_iops against LocalStack (CloudWatch) and moto_server (RDS, STS).
# Every server a test needs is started by the tests themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s ==\n' "$*" >&2; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

log "build"
cargo build --locked --bins

log "Rust tests"
# The database suites run in their own step below, with their servers.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast \
    -E 'not (binary(slow_queries_pg) | binary(slow_queries_mysql) | binary(db_tls))'
  cargo test --locked --doc
else
  cargo test --locked --no-fail-fast --lib --bins \
    $(for t in tests/*.rs tests/*/main.rs; do n="$(basename "${t%/main.rs}" .rs)"; case "$n" in slow_queries_*|db_tls) ;; *) printf -- '--test %s ' "$n";; esac; done)
fi

log "slow_queries on throwaway PostgreSQL and MariaDB"
bash tests/db/run.sh

log "MCP interop over stdio and streamable HTTP (Python mcp SDK)"
bash tests/interop/setup-venv.sh
PWT_BIN="$PWD/target/debug/python-web-troubleshooter" target/pyenv/bin/python -m pytest -q tests/interop

log "MCP interop over stdio and streamable HTTP (TypeScript @modelcontextprotocol/sdk)"
bash tests/interop-ts/setup.sh
PWT_BIN="$PWD/target/debug/python-web-troubleshooter" node --test --test-concurrency=1 tests/interop-ts/*.test.mjs

log "break_down_latency against live gunicorn + nginx + uWSGI"
bash tests/live/run.sh

log "live incidents: every tool's answer on a real stack under load (missing index, CPU-bound app, slow database)"
bash tests/incident/run.sh

log "check_rds_iops against LocalStack (CloudWatch) and moto_server (RDS, STS)"
bash scripts/test-aws.sh
