#!/usr/bin/env bash
# break_down_latency against a real Prometheus engine reading a real fleet, all started and
# stopped here:
#
#   1. three Gunicorn replicas (PyPI, venv in target/fleet-venv), each its own master and
#      port, serving tests/fleet/app.py, a Flask app instrumented by prometheus-flask-exporter
#      (flask_http_request_duration_seconds{method,url_rule,status}), with the worker gauge
#      gunicorn_workers{state="busy"|"idle"}; two run 3 workers, one runs 1;
#   2. Debian's prometheus scraping the three every second (job="shop-api") and itself
#      (job="prometheus");
#   3. Debian's nginx: one port balancing the replicas round robin, one in front of
#      Prometheus that wants a bearer token, one more with TLS (a CA made here by openssl);
#   4. bounded load through nginx (20 s, 6 clients; one slow route, one failing route),
#      then a wait for the last scrapes;
#   5. tests/fleet_prometheus.rs, which calls break_down_latency the way the server does and
#      checks it against the load generator's own figures and the set-up's ground truth.
#
#   bash scripts/fleet.sh         (about a minute; PWT_FLEET_SECONDS changes the load's length)
#
# Installs what is missing (apt-get: prometheus, nginx, openssl). Every server is stopped
# on exit, failure included.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/tests/fleet"
seconds="${PWT_FLEET_SECONDS:-20}"

log() { printf 'fleet: %s\n' "$*" >&2; }
source "$repo/scripts/lib.sh"

command -v prometheus >/dev/null 2>&1 || apt_install --no-install-recommends prometheus
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || apt_install nginx
command -v openssl >/dev/null 2>&1 || apt_install openssl
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

venv="$(bash "$repo/scripts/venv.sh" fleet-venv "$here/requirements.txt")"

tmp="$(mktemp -d /tmp/pwt-fleet.XXXXXX)"
pids=()
cleanup() {
  local rc=$?
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  if ((rc != 0)); then
    local f
    for f in "$tmp"/*.log; do
      [[ -s "$f" ]] && { log "tail of $f:"; tail -n 20 "$f" >&2; }
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# 1. The replicas.
app_ports=(); metrics_ports=()
for i in 1 2 3; do
  app_ports+=("$(free_port)"); metrics_ports+=("$(free_port)")
done
workers=(3 3 1)
for i in 0 1 2; do
  mkdir -p "$tmp/prom$i"
  (
    cd "$here"
    export PROMETHEUS_MULTIPROC_DIR="$tmp/prom$i" METRICS_PORT="${metrics_ports[$i]}" REPLICA="r$i" \
      WORKER_BUSY_STATE=busy
    exec "$venv/bin/gunicorn" -c "$repo/tests/live/gunicorn_conf.py" --workers "${workers[$i]}" --backlog 64 \
      --timeout 60 --bind "127.0.0.1:${app_ports[$i]}" app:app >"$tmp/gunicorn$i.log" 2>&1
  ) &
  pids+=($!)
done
for i in 0 1 2; do
  wait_http "http://127.0.0.1:${app_ports[$i]}/health" "gunicorn r$i"
  wait_http "http://127.0.0.1:${metrics_ports[$i]}/metrics" "gunicorn r$i metrics"
done
log "gunicorn replicas on ${app_ports[*]} (workers ${workers[*]}), metrics on ${metrics_ports[*]}"

# 2. Prometheus.
PROM_PORT="$(free_port)"
{
  echo "global: {scrape_interval: 1s, evaluation_interval: 1s}"
  echo "scrape_configs:"
  echo "  - job_name: shop-api"
  echo "    static_configs:"
  printf '      - targets: [%s]\n' "$(printf '"127.0.0.1:%s",' "${metrics_ports[@]}" | sed 's/,$//')"
  echo "  - job_name: prometheus"
  echo "    static_configs:"
  echo "      - targets: [\"127.0.0.1:$PROM_PORT\"]"
} >"$tmp/prometheus.yml"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$tmp/prometheus.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$PROM_PORT/-/ready" prometheus
log "$(prometheus --version 2>&1 | head -1) on 127.0.0.1:$PROM_PORT"

# 3. nginx: the balancer, the bearer check in front of Prometheus, and TLS.
TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
LB_PORT="$(free_port)"; AUTH_PORT="$(free_port)"; TLS_PORT="$(free_port)"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=pwt fleet test CA" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tmp/server.key" \
  -out "$tmp/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$tmp/san.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 1 -extfile "$tmp/san.ext" -out "$tmp/server.pem" 2>/dev/null
user_line=""
[[ "$(id -u)" == 0 ]] && user_line="user root;"
cat >"$tmp/nginx.conf" <<EOF
daemon off;
$user_line
worker_processes 1;
error_log $tmp/nginx-error.log warn;
pid $tmp/nginx.pid;
events { worker_connections 512; }
http {
  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi; uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;
  access_log off;
  upstream app { $(for p in "${app_ports[@]}"; do printf 'server 127.0.0.1:%s; ' "$p"; done) }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / { proxy_pass http://app; proxy_read_timeout 60s; }
  }
  server {
    listen 127.0.0.1:$AUTH_PORT;
    location / {
      if (\$http_authorization != "Bearer $TOKEN") { return 401; }
      proxy_pass http://127.0.0.1:$PROM_PORT;
    }
  }
  server {
    listen 127.0.0.1:$TLS_PORT ssl;
    ssl_certificate $tmp/server.pem;
    ssl_certificate_key $tmp/server.key;
    location / {
      if (\$http_authorization != "Bearer $TOKEN") { return 401; }
      proxy_pass http://127.0.0.1:$PROM_PORT;
    }
  }
}
EOF
"$NGINX" -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$LB_PORT/health" "nginx balancer"
log "$("$NGINX" -v 2>&1): balancer :$LB_PORT, Prometheus with a bearer check :$AUTH_PORT, with TLS :$TLS_PORT"

# Every route once on every replica, so its series exist before the window opens.
for p in "${app_ports[@]}"; do
  for path in /api/orders/1 /api/items/1 /api/report /api/fail /api/fail /api/fail; do
    python3 -c "import urllib.request,sys
try: urllib.request.urlopen(sys.argv[1], timeout=5).read()
except Exception: pass" "http://127.0.0.1:$p$path"
  done
done
sleep 3

# 4. The load.
log "load: $seconds s, 6 clients through the balancer"
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$LB_PORT" "$seconds" 6 "$tmp/load.json"
sleep 3

# 5. The test.
DOWN_PORT="$(free_port)"
cat >"$tmp/config.toml" <<EOF
[prometheus.wrong]
url = "http://127.0.0.1:$AUTH_PORT"
token_env = "PWT_TEST_WRONG_TOKEN"

[prometheus.down]
url = "http://127.0.0.1:$DOWN_PORT"

[prometheus.tls]
url = "https://localhost:$TLS_PORT"
token_env = "PWT_TEST_FLEET_TOKEN"
ca_file = "$tmp/ca.pem"

[prometheus.untrusted]
url = "https://localhost:$TLS_PORT"
token_env = "PWT_TEST_FLEET_TOKEN"

[prometheus.renamed]
url = "http://127.0.0.1:$PROM_PORT"
histogram = "flask_http_request_duration_seconds"
route_label = "url_rule"
workers = "gunicorn_workers"
state_label = "state"
replica_label = "instance"
EOF
read -r SINCE UNTIL < <(python3 - "$tmp/load.json" <<'PY'
import json, sys, datetime
r = json.load(open(sys.argv[1]))
f = lambda t: datetime.datetime.fromtimestamp(int(t), datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(f(r["started"] - 1), f(r["ended"] + 3))
PY
)
export PWT_PROMETHEUS_URL="http://127.0.0.1:$AUTH_PORT" PWT_PROMETHEUS_TOKEN="$TOKEN"
export PWT_TEST_FLEET_TOKEN="$TOKEN" PWT_TEST_WRONG_TOKEN="not-$TOKEN"
export PWT_FLEET_CONFIG="$tmp/config.toml" PWT_FLEET_LOAD="$tmp/load.json"
export PWT_FLEET_SINCE="$SINCE" PWT_FLEET_UNTIL="$UNTIL"
export PWT_FLEET_SMALL_REPLICA="127.0.0.1:${metrics_ports[2]}"
export PWT_FLEET_WORKERS="$(( workers[0] + workers[1] + workers[2] ))"
export PWT_FLEET_BIN="${PWT_BIN:-$repo/target/debug/python-web-troubleshooter}"
export PWT_REQUIRE_SERVERS=1
log "window $SINCE → $UNTIL; running tests/fleet_prometheus.rs"
cd "$repo"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast --test fleet_prometheus
else
  cargo test --locked --test fleet_prometheus
fi

# What a person sees, and the engine's figures beside the load generator's.
"$PWT_FLEET_BIN" latency --prometheus '{job="shop-api"}' --since "$SINCE" --until "$UNTIL" >&2
"$PWT_FLEET_BIN" latency --prometheus '{job="shop-api"}' --since "$SINCE" --until "$UNTIL" --json \
  >"$tmp/report.json"
python3 - "$tmp/report.json" "$tmp/load.json" <<'PY' >&2
import json, sys
report, load = (json.load(open(p)) for p in sys.argv[1:3])
print(f"{'route':<22} {'requests':>14} {'p99 engine':>11} {'p99 handler':>12} {'p99 client':>11}")
for e in report["endpoints"]:
    t = load["routes"].get(e["endpoint"], {})
    print(f"{e['endpoint']:<22} {e['requests']:>6} / {t.get('count', 0):>5} {e['p99_ms']:>9.1f}ms "
          f"{t.get('handler_p99_ms', 0):>10.1f}ms {t.get('client_p99_ms', 0):>9.1f}ms")
f = report["fleet"]
print(f"fleet utilisation {f.get('utilization_percent')} %, hot replica {f.get('hot_replica', {}).get('replica')}")
PY
