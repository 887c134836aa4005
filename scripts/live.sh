#!/usr/bin/env bash
# Live test of break_down_latency against real servers, all started and stopped here:
#
#   1. a real gunicorn (PyPI, venv in target/live-venv) serving tests/live/app.py with
#      3 sync workers and worker-state gauges set in its pre_request/post_request hooks
#      (prometheus_client multiprocess, served by the master);
#   2. a real nginx (Debian package) in front of it on a loopback port, with its own prefix
#      in a temp dir and a custom log_format;
#   3. bounded load through nginx: a mixed phase (fast endpoints and one slow endpoint in
#      40), then a saturating phase (10 clients on the slow endpoint, 3 workers) during
#      which the binary reads the access log, the gauges and the accept queue;
#   4. a real uWSGI (Debian package) with its stats server, saturated the same way, read
#      through `uwsgi_stats` and `listen_port`.
#
#   bash scripts/live.sh          (PWT_BIN overrides the binary; default target/debug)
#
# The app, its load and the checks are in tests/live/. Installs what is missing (apt-get;
# the venv by scripts/venv.sh). Every server is stopped on exit, failure included. Ends with
# "N passed, N failed".
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$repo/tests/live"
bin="${PWT_BIN:-$repo/target/debug/python-web-troubleshooter}"

log() { printf 'live: %s\n' "$*" >&2; }
source "$repo/scripts/lib.sh"

[[ -x "$bin" ]] || { log "binary $bin missing: run cargo build first"; exit 1; }

command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || apt_install nginx
if ! { command -v uwsgi >/dev/null 2>&1 && [[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ]]; }; then
  apt_install uwsgi-core uwsgi-plugin-python3
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"

# The gunicorn venv.
venv="$(bash "$repo/scripts/venv.sh" live-venv "$here/requirements.txt")"

tmp="$(mktemp -d /tmp/pwt-live.XXXXXX)"
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

APP_PORT="$(free_port)"; METRICS_PORT="$(free_port)"; NGINX_PORT="$(free_port)"
mkdir -p "$tmp/prom"

log "gunicorn $("$venv/bin/gunicorn" --version 2>&1 | tr -d '\n') on 127.0.0.1:$APP_PORT, gauges on :$METRICS_PORT"
(
  cd "$here"
  export PROMETHEUS_MULTIPROC_DIR="$tmp/prom" METRICS_PORT
  exec "$venv/bin/gunicorn" -c gunicorn_conf.py --workers 3 --backlog 64 --timeout 60 \
    --bind "127.0.0.1:$APP_PORT" app:app >"$tmp/gunicorn.log" 2>&1
) &
pids+=($!)
wait_http "http://127.0.0.1:$APP_PORT/health" gunicorn
wait_http "http://127.0.0.1:$METRICS_PORT/metrics" "gunicorn metrics"

# The site's log_format: the same directive text goes into nginx.conf and to the tool.
cat >"$tmp/log_format.conf" <<'EOF'
log_format site '$time_iso8601 $status "$request_method $uri" rt=$request_time '
                'up="$upstream_response_time" conn="$upstream_connect_time" '
                'ups="$upstream_status" ua="$http_user_agent"';
EOF
user_line=""
[[ "$(id -u)" == 0 ]] && user_line="user root;"
cat >"$tmp/nginx.conf" <<EOF
daemon off;
$user_line
worker_processes 1;
error_log $tmp/nginx-error.log warn;
pid $tmp/nginx.pid;
events { worker_connections 256; }
http {
  client_body_temp_path $tmp/body; proxy_temp_path $tmp/proxy;
  fastcgi_temp_path $tmp/fastcgi; uwsgi_temp_path $tmp/uwsgi; scgi_temp_path $tmp/scgi;
  $(cat "$tmp/log_format.conf")
  access_log $tmp/access.log site;
  upstream app { server 127.0.0.1:$APP_PORT; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / { proxy_pass http://app; proxy_read_timeout 60s; }
  }
}
EOF
log "$("$NGINX" -v 2>&1) on 127.0.0.1:$NGINX_PORT"
"$NGINX" -p "$tmp" -c "$tmp/nginx.conf" >"$tmp/nginx.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/health" nginx

log "mixed load (4 s)"
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$NGINX_PORT" mixed
log "saturating load (9 s) while reading the log, the gauges and the accept queue"
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$NGINX_PORT" saturate &
load_pid=$!
pids+=("$load_pid")
sleep 2.5
"$bin" logs "$tmp/access.log" --log-format-file "$tmp/log_format.conf" \
  --gunicorn-metrics-url "http://127.0.0.1:$METRICS_PORT/metrics" --listen-port "$APP_PORT" \
  --samples 4 --sample-interval-ms 500 --json >"$tmp/gunicorn-report.json"
"$bin" logs "$tmp/access.log" --log-format-file "$tmp/log_format.conf" \
  --gunicorn-metrics-url "http://127.0.0.1:$METRICS_PORT/metrics" --listen-port "$APP_PORT" \
  --samples 2 --sample-interval-ms 200 >"$tmp/gunicorn-report.txt"
wait "$load_pid"

# uWSGI with its stats server, saturated the same way (2 workers, 10 clients).
U_PORT="$(free_port)"; U_STATS="$(free_port)"
log "$(uwsgi --version | sed 's/^/uWSGI /') on 127.0.0.1:$U_PORT, stats on :$U_STATS"
(
  cd "$here"
  exec uwsgi --plugin python3 --master --die-on-term --processes 2 --listen 64 \
    --http-socket "127.0.0.1:$U_PORT" --wsgi-file app.py --stats "127.0.0.1:$U_STATS" \
    --disable-logging >"$tmp/uwsgi.log" 2>&1
) &
pids+=($!)
wait_http "http://127.0.0.1:$U_PORT/health" uwsgi
"$venv/bin/python" "$here/load.py" "http://127.0.0.1:$U_PORT" saturate &
load_pid=$!
pids+=("$load_pid")
sleep 2.5
"$bin" latency --uwsgi-stats "127.0.0.1:$U_STATS" --listen-port "$U_PORT" \
  --samples 4 --sample-interval-ms 500 --json >"$tmp/uwsgi-report.json"
wait "$load_pid"

# PWT_LIVE_OUT=DIR keeps the reports (e.g. for the README's example).
if [[ -n "${PWT_LIVE_OUT:-}" ]]; then
  mkdir -p "$PWT_LIVE_OUT"
  cp "$tmp"/*-report.* "$tmp/log_format.conf" "$PWT_LIVE_OUT/"
  head -5 "$tmp/access.log" >"$PWT_LIVE_OUT/access.log.head"
fi
log "checking the reports"
"$venv/bin/python" "$here/check.py" "$tmp/gunicorn-report.json" "$tmp/gunicorn-report.txt" "$tmp/uwsgi-report.json" "$tmp/access.log"
