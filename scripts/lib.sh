# Helpers the set-up scripts share. Source it after defining `log` (each script prefixes its
# own lines):
#
#   log() { printf 'live: %s\n' "$*" >&2; }
#   source "$repo/scripts/lib.sh"
#
# Nothing here writes to stdout except free_port, whose output is the port.

# Installs Debian packages with apt-get (root only; otherwise says what to install and
# exits). Options such as --no-install-recommends may be passed among the packages.
apt_install() {
  if [[ "$(id -u)" != 0 ]]; then
    log "need the Debian packages $* (run as root: apt-get install -y $*)"
    exit 1
  fi
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "$@" >/dev/null
}

# A TCP port free on 127.0.0.1 at this moment.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL WHAT [PID] [SECONDS]: waits up to SECONDS (default 30) for URL to answer
# with a 2xx. WHAT names the server in the message; with PID (may be empty), gives up as
# soon as that process has exited. Returns 1, having said why, otherwise (under `set -e`
# the script then exits, and its cleanup shows the servers' logs).
wait_http() {
  local url="$1" what="$2" pid="${3:-}" limit="${4:-30}" started=$SECONDS
  while ((SECONDS - started < limit)); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2).read()" "$url" 2>/dev/null; then
      return 0
    fi
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      log "$what exited before answering at $url"
      return 1
    fi
    sleep 0.2
  done
  log "$what did not answer at $url within $limit s"
  return 1
}

# Stops the given processes: TERM, then KILL to any still running after 5 s.
stop_pids() {
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
