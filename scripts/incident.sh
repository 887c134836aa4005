#!/usr/bin/env bash
# Live incidents: the whole procedure of skill.md against a real stack under load, judged
# against the ground truth the app itself measures.
#
#   bash scripts/incident.sh [--report-only] [--scenario missing_index|cpu_bound|slow_db]... [--out DIR]
#
# For each scenario, all on 127.0.0.1 and all started and stopped here:
#   - a throwaway PostgreSQL (initdb in a temp dir, its own port and socket directory,
#     shared_preload_libraries=pg_stat_statements), one database per scenario filled by
#     `app.py setup`, a read-only role for the troubleshooter (DATABASE_URL);
#   - Gunicorn (PyPI, venv in target/incident-venv) with N sync workers, --backlog 2048,
#     the worker-state gauges of tests/live/gunicorn_conf.py, serving tests/incident/app.py
#     (one psycopg 3 connection per worker; every handler time logged per worker);
#   - nginx (Debian) in front, with a custom log_format recording $time_iso8601, $status,
#     $request, $request_time, $upstream_response_time and $upstream_connect_time;
#   - bounded closed-loop load through nginx (load.py, 32, 24 or 16 clients, LOAD_SECONDS = 20 s);
#   - while it runs, agent.py drives the real binary over stdio with the Python `mcp` SDK
#     (venv target/pyenv, as the interop suite uses it) the way skill.md says:
#     break_down_latency → match_symptom → slow_queries → capacity_math;
#   - agent.py truth computes the ground truth; check.py judges the tools' answers.
#
# Scenarios: `missing_index` (4 workers, one route seq-scanning ~1.5 M rows holds
# the workers, every route queues behind it; the answer is an index, not capacity),
# `cpu_bound` (2 workers on 2 cores, ~18 ms of Python CPU per request, idle
# database; the answer is replicas on more cores or less CPU per request) and `slow_db`
# (4 workers, every route runs one ~40 ms statement, ~1 ms of Python; the service's normal
# p99 is 15 ms: everything is slow because of the database — fix the statement, not the
# capacity).
#
# --report-only: run everything and print the checks, but exit 0 whatever they say (the
#   setup failing still fails the run). Outputs go to --out DIR (default
#   target/incident-out): <scenario>/<tool>.json|.txt|.args.json, ground_truth.json,
#   load.json, the access log and the handler logs. PWT_BIN overrides the binary.
#
# The app, the agent, the load and the checks are in tests/incident/. Installs what is missing
# on a fresh Debian machine (apt-get: postgresql, postgresql-contrib, nginx; the venvs by
# scripts/venv.sh). Everything is stopped and removed on exit, failure included. Ends with
# check.py's "N passed, N failed".
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/tests/incident"
bin="${PWT_BIN:-$repo/target/debug/python-web-troubleshooter}"
LOAD_SECONDS="${LOAD_SECONDS:-20}"
# When the agent starts, counted from the start of the load: long enough for the queue to
# settle, early enough that its 4 s of sampling and the other calls end within the load.
AGENT_AFTER_SECONDS="${AGENT_AFTER_SECONDS:-8}"

log() { printf 'incident: %s\n' "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
source "$repo/scripts/lib.sh"

report_only=0
scenarios=()
out="$repo/target/incident-out"
while (($#)); do
  case "$1" in
    --report-only) report_only=1 ;;
    --scenario) shift; scenarios+=("${1:?--scenario needs a name}") ;;
    --out) shift; out="${1:?--out needs a directory}" ;;
    -h|--help) sed -n '2,38p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
((${#scenarios[@]})) || scenarios=(missing_index cpu_bound slow_db)
for s in "${scenarios[@]}"; do
  case "$s" in missing_index|cpu_bound|slow_db) ;; *) die "unknown scenario $s" ;; esac
done

[[ -x "$bin" ]] || die "binary $bin missing: run cargo build --bins first"

# --------------------------------------------------------------------------- packages
need=()
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
[[ -n "$pg_bin" && -x "$pg_bin/initdb" ]] || need+=(postgresql postgresql-contrib)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-venv)
((${#need[@]})) && apt_install "${need[@]}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
ls /usr/lib/postgresql/*/lib/pg_stat_statements.so >/dev/null 2>&1 || apt_install postgresql-contrib
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# The app tier's venv, and the agent's: the official Python MCP SDK, as the interop suite
# uses it.
venv="$(bash "$repo/scripts/venv.sh" incident-venv "$here/requirements.txt")"
agent_py="$(bash "$repo/scripts/venv.sh" pyenv "$repo/tests/interop/requirements.txt")/bin/python"

# --------------------------------------------------------------------------- cleanup
tmp="$(mktemp -d /tmp/pwt-incident.XXXXXX)"
chmod 755 "$tmp"
pids=()
pg_started=0
as_pg=()
if [[ "$(id -u)" == 0 ]]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_pg=(runuser -u postgres --)
fi
# Leaves the given processes out of those cleanup stops.
forget() {
  local keep=() p
  for p in "${pids[@]}"; do
    [[ " $* " == *" $p "* ]] || keep+=("$p")
  done
  pids=("${keep[@]}")
}
cleanup() {
  local rc=$?
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  if ((pg_started)); then
    "${as_pg[@]}" "$pg_bin/pg_ctl" -D "$tmp/pg" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  if ((rc != 0)); then
    for f in "$tmp"/pgsock/pg.log "$tmp"/*/gunicorn.log "$tmp"/*/nginx-error.log; do
      [[ -s "$f" ]] && { log "tail of $f:"; tail -15 "$f" >&2; }
    done
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# --------------------------------------------------------------------------- PostgreSQL
pg_port="$(free_port)"
mkdir -p "$tmp/pg" "$tmp/pgsock"
((${#as_pg[@]})) && chown postgres "$tmp/pg" "$tmp/pgsock"
log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
"${as_pg[@]}" "$pg_bin/initdb" -D "$tmp/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
  -E UTF8 --no-sync >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb"; }
ro_password="ro-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
cat > "$tmp/pg/pg_hba.conf" <<HBA
local all all                 trust
host  all pwt_ro 127.0.0.1/32 scram-sha-256
HBA
pg_started=1
# No parallel query and no JIT: one scan is one backend's work, the same every call.
"${as_pg[@]}" "$pg_bin/pg_ctl" -D "$tmp/pg" -l "$tmp/pgsock/pg.log" -w -t 60 -o "\
 -c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$tmp/pgsock \
 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=5000 \
 -c pg_stat_statements.track=top -c track_io_timing=on -c fsync=off -c synchronous_commit=off \
 -c full_page_writes=off -c shared_buffers=256MB -c max_parallel_workers_per_gather=0 -c jit=off \
 -c max_connections=50" start >/dev/null || die "pg_ctl start"
psql_admin() { "${as_pg[@]}" psql -X -q -v ON_ERROR_STOP=1 -h "$tmp/pgsock" -p "$pg_port" -U postgres "$@"; }
psql_admin -d postgres <<SQL
CREATE ROLE app LOGIN;
CREATE ROLE pwt_ro LOGIN PASSWORD '$ro_password';
GRANT pg_read_all_stats TO pwt_ro;
ALTER ROLE pwt_ro SET default_transaction_read_only = on;
SQL

# The site's log_format: the same directive text goes into nginx.conf and to the tool.
cat >"$tmp/log_format.conf" <<'EOF'
log_format incident '$time_iso8601 $status "$request" rt=$request_time '
                    'up="$upstream_response_time" conn="$upstream_connect_time" '
                    'ua="$http_user_agent"';
EOF

# --------------------------------------------------------------------------- scenarios
rm -rf "$out"
mkdir -p "$out"
user_line=""
[[ "$(id -u)" == 0 ]] && user_line="user root;"

run_scenario() {
  local scenario="$1" workers db sdir app_port metrics_port nginx_port gpid npid lpid t0
  case "$scenario" in
    missing_index|slow_db) workers=4 ;;
    cpu_bound) workers=2 ;;
  esac
  db="shop_$scenario"
  sdir="$tmp/$scenario"
  mkdir -p "$sdir/prom" "$sdir/timing" "$sdir/logs" "$out/$scenario"
  t0=$SECONDS

  log "[$scenario] database $db"
  psql_admin -d postgres -c "CREATE DATABASE $db OWNER app" -c "GRANT CONNECT ON DATABASE $db TO pwt_ro"
  psql_admin -d "$db" -c "CREATE EXTENSION pg_stat_statements"
  local admin_dsn="host=$tmp/pgsock port=$pg_port dbname=$db user=app"
  "$venv/bin/python" "$here/app.py" setup "$scenario" "$admin_dsn" | tee "$out/$scenario/setup.json" >&2 \
    || die "[$scenario] database setup"

  app_port="$(free_port)"; metrics_port="$(free_port)"; nginx_port="$(free_port)"
  log "[$scenario] gunicorn, $workers sync workers, on 127.0.0.1:$app_port (gauges on :$metrics_port)"
  (
    cd "$here"
    export PROMETHEUS_MULTIPROC_DIR="$sdir/prom" METRICS_PORT="$metrics_port" \
      INCIDENT_SCENARIO="$scenario" APP_DSN="$admin_dsn" APP_TIMING_DIR="$sdir/timing"
    exec "$venv/bin/gunicorn" -c "$repo/tests/live/gunicorn_conf.py" --workers "$workers" \
      --worker-class sync --backlog 2048 --timeout 60 --bind "127.0.0.1:$app_port" \
      app:app >"$sdir/gunicorn.log" 2>&1
  ) &
  gpid=$!
  pids+=("$gpid")
  wait_http "http://127.0.0.1:$app_port/api/health" gunicorn "$gpid"
  wait_http "http://127.0.0.1:$metrics_port/metrics" "gunicorn metrics" "$gpid"
  # Warm every worker and route (straight to gunicorn: nginx's log starts with the load).
  "$venv/bin/python" - "$app_port" <<'PY'
import sys, urllib.request
port = sys.argv[1]
for i in range(3):
    for path in ("/api/customers/%d/orders" % (100 + 40000 * (i % 2)), "/api/orders/5", "/api/items/7",
                 "/api/users/9/profile", "/api/categories", "/api/health"):
        urllib.request.urlopen("http://127.0.0.1:%s%s" % (port, path), timeout=30).read()
PY

  cat >"$sdir/nginx.conf" <<EOF
daemon off;
$user_line
worker_processes 1;
error_log $sdir/nginx-error.log warn;
pid $sdir/nginx.pid;
events { worker_connections 512; }
http {
  client_body_temp_path $sdir/body; proxy_temp_path $sdir/proxy;
  fastcgi_temp_path $sdir/fastcgi; uwsgi_temp_path $sdir/uwsgi; scgi_temp_path $sdir/scgi;
  $(cat "$tmp/log_format.conf")
  access_log $sdir/logs/access.log incident;
  upstream app { server 127.0.0.1:$app_port; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://app; proxy_read_timeout 60s; }
  }
}
EOF
  log "[$scenario] $("$NGINX" -v 2>&1) on 127.0.0.1:$nginx_port"
  "$NGINX" -p "$sdir" -c "$sdir/nginx.conf" >"$sdir/nginx.log" 2>&1 &
  npid=$!
  pids+=("$npid")
  for _ in $(seq 50); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$nginx_port" 2>/dev/null && break
    kill -0 "$npid" 2>/dev/null || die "[$scenario] nginx exited: $(cat "$sdir/nginx-error.log" "$sdir/nginx.log" 2>/dev/null)"
    sleep 0.1
  done

  # The statistics of this incident only.
  psql_admin -d "$db" -c "SET pg_stat_statements.track = none" -c "SELECT pg_stat_statements_reset()" >/dev/null

  log "[$scenario] load: ${LOAD_SECONDS} s through nginx; the agent starts after ${AGENT_AFTER_SECONDS} s"
  "$venv/bin/python" "$here/load.py" "http://127.0.0.1:$nginx_port" "$scenario" "$sdir/load" "$LOAD_SECONDS" &
  lpid=$!
  pids+=("$lpid")
  sleep "$AGENT_AFTER_SECONDS"
  kill -0 "$lpid" 2>/dev/null || die "[$scenario] the load generator ended early"
  PWT_LOG_DIRS="$sdir/logs" \
  DATABASE_URL="postgresql://pwt_ro:$ro_password@127.0.0.1:$pg_port/$db" \
    "$agent_py" "$here/agent.py" tools "$scenario" "$out" --bin "$bin" \
      --access-log "$sdir/logs/access.log" --log-format-file "$tmp/log_format.conf" \
      --metrics-url "http://127.0.0.1:$metrics_port/metrics" --listen-port "$app_port" \
      --workers "$workers" --db-pid "$(head -1 "$tmp/pg/postmaster.pid")" \
      || die "[$scenario] the agent's session failed"
  wait "$lpid" || die "[$scenario] the load generator failed"
  forget "$lpid"

  # What the database really did, for the ground truth (admin view, this database only).
  psql_admin -d "$db" -At -c "SELECT coalesce(json_agg(json_build_object('queryid', queryid::text,
      'query', left(query, 200), 'calls', calls, 'mean_ms', round(mean_exec_time::numeric, 3),
      'total_ms', round(total_exec_time::numeric, 1)) ORDER BY total_exec_time DESC), '[]')
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND query NOT ILIKE '%pg_stat_statements%' AND query NOT LIKE '%pwt:%'" >"$sdir/pgss.json"
  stop_pids "$npid" "$gpid"
  forget "$npid" "$gpid"

  "$agent_py" "$here/agent.py" truth "$scenario" "$out" --access-log "$sdir/logs/access.log" \
    --timing-dir "$sdir/timing" --load-dir "$sdir/load" --workers "$workers" --pgss "$sdir/pgss.json" \
    || die "[$scenario] computing the ground truth"
  cp "$sdir/load/load.json" "$sdir/logs/access.log" "$sdir/pgss.json" "$out/$scenario/"
  cat "$sdir"/timing/handler-*.tsv >"$out/$scenario/handler.tsv"
  echo $((SECONDS - t0)) >"$out/$scenario/seconds"
  log "[$scenario] done in $((SECONDS - t0)) s"
}

for s in "${scenarios[@]}"; do run_scenario "$s"; done

log "checking the answers against the ground truth"
rc=0
"$agent_py" "$here/check.py" "$out" || rc=$?
if ((rc != 0 && report_only)); then
  log "--report-only: the checks above failed, exiting 0"
  rc=0
fi
exit "$rc"
