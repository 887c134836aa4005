#!/usr/bin/env bash
# check_rds_iops and break_down_latency's aws_load_balancer against local AWS-compatible
# endpoints, started here and stopped at the end:
#   - LocalStack core on the host (no Docker): CloudWatch over Smithy RPC v2 CBOR, the
#     protocol of the current aws-sdk-cloudwatch;
#   - moto_server: RDS (DescribeDBInstances, query protocol) and STS GetCallerIdentity.
# Both listen on free loopback ports with state in a temp dir. The Rust tests in
# tests/rds_iops_aws.rs and tests/load_balancer_aws.rs seed the scenarios (PutMetricData,
# CreateDBInstance) and run the tools
# through the SDK's standard per-service endpoint variables, exactly as a user would
# configure it. Both servers are pinned in tests/aws/requirements-*.txt and installed into
# venvs under target/awsenv by scripts/venv.sh. A missing or unready server fails the run;
# nothing is skipped.
#
#   bash scripts/aws.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"

log() { printf 'aws: %s\n' "$*" >&2; }
source "$repo/scripts/lib.sh"

localstack_venv="$(bash scripts/venv.sh awsenv/localstack tests/aws/requirements-localstack.txt)"
moto_venv="$(bash scripts/venv.sh awsenv/moto tests/aws/requirements-moto.txt)"

work="$(mktemp -d "${TMPDIR:-/tmp}/pwt-aws.XXXXXX")"
ls_pid=""
moto_pid=""

# TERM, then KILL after 10 s: LocalStack sometimes hangs after "Stopping all services".
stop() {
  local pid="$1" name="$2"
  [[ -n "$pid" ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "$name did not stop on TERM within 10 s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local code=$?
  stop "$ls_pid" localstack
  stop "$moto_pid" moto_server
  if [[ $code -ne 0 ]]; then
    for f in "$work"/*.log; do
      [[ -f "$f" ]] || continue
      log "last lines of $(basename "$f"):"
      tail -n 30 "$f" >&2 || true
    done
  fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT INT TERM

ls_port="$(free_port)"
moto_port="$(free_port)"
mkdir -p "$work/ls-fs" "$work/ls-config"

log "starting LocalStack core (CloudWatch) on 127.0.0.1:$ls_port"
env -i PATH="$localstack_venv/bin:/usr/bin:/bin" HOME="$work" \
  SERVICES=cloudwatch GATEWAY_LISTEN="127.0.0.1:$ls_port" GATEWAY_SERVER=hypercorn \
  OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$work/ls-fs" CONFIG_DIR="$work/ls-config" \
  DNS_ADDRESS=0 DISABLE_EVENTS=1 LOCALSTACK_TELEMETRY_DISABLED=1 SKIP_SSL_CERT_DOWNLOAD=1 \
  "$localstack_venv/bin/python" -m localstack.runtime.main >"$work/localstack.log" 2>&1 &
ls_pid=$!

log "starting moto_server (RDS, STS) on 127.0.0.1:$moto_port"
env -i PATH="$moto_venv/bin:/usr/bin:/bin" HOME="$work" \
  "$moto_venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
moto_pid=$!

wait_http "http://127.0.0.1:$ls_port/_localstack/health" localstack "$ls_pid" 60
wait_http "http://127.0.0.1:$moto_port/moto-api/" moto_server "$moto_pid" 30
log "localstack and moto_server ready"

# Only loopback endpoints, fake credentials, no instance metadata service.
export AWS_ENDPOINT_URL_CLOUDWATCH="http://127.0.0.1:$ls_port"
export AWS_ENDPOINT_URL_RDS="http://127.0.0.1:$moto_port"
export AWS_ENDPOINT_URL_STS="http://127.0.0.1:$moto_port"
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIAPWTTESTKEY000001
export AWS_SECRET_ACCESS_KEY=pwt-test-secret-Zq8Xv3Lm9Nw2Rt5Yb7Kc
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE="$work/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="$work/aws-credentials"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL || true
export PWT_AWS_IT=1
# The suite fails, rather than skips, if one of these is missing.
export PWT_REQUIRE_SERVERS=1
export PWT_BIN="$repo/target/debug/python-web-troubleshooter"

log "running tests/rds_iops_aws.rs against them"
out="$work/cargo-test.out"
cargo test --locked --test rds_iops_aws -- --test-threads 4 2>&1 | tee "$out"
# Fail loudly if the suite ran nothing (e.g. a filter typo): every scenario must run.
passed="$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$out" | tail -n1)"
if [[ -z "$passed" || "$passed" -lt 8 ]]; then
  log "expected at least 8 AWS integration tests to pass, got '${passed:-none}'"
  exit 1
fi
log "$passed AWS integration tests passed"

log "running tests/load_balancer_aws.rs against LocalStack"
out="$work/cargo-test-lb.out"
cargo test --locked --test load_balancer_aws -- --test-threads 4 2>&1 | tee "$out"
passed="$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$out" | tail -n1)"
if [[ -z "$passed" || "$passed" -lt 8 ]]; then
  log "expected at least 8 load balancer integration tests to pass, got '${passed:-none}'"
  exit 1
fi
log "$passed load balancer integration tests passed"
