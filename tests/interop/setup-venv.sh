#!/usr/bin/env bash
# Sets up the Python environment for the stdio interop tests (tests/interop).
#
#   bash tests/interop/setup-venv.sh && target/pyenv/bin/pytest -q tests/interop
#
# Creates a venv at $PWT_VENV (default <repo>/target/pyenv) with python3 and installs
# requirements.txt into it. Idempotent: a stamp inside the venv records the hash of
# requirements.txt (and the interpreter version) of the last successful install, and
# nothing is reinstalled while both are unchanged. On a Debian machine without the
# venv module it installs python3-venv with apt-get (only when needed, root only).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${PWT_VENV:-$repo/target/pyenv}"
req="$here/requirements.txt"
stamp="$venv/.pwt-requirements.sha256"

log() { printf 'setup-venv: %s\n' "$*" >&2; }

apt_install() {
  if [[ "$(id -u)" != 0 ]]; then
    log "need the Debian packages: $* (run as root: apt-get install -y $*)"
    exit 1
  fi
  log "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi

py_version="$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$( { sha256sum "$req" | cut -d' ' -f1; echo "python $py_version"; } )"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
   && "$venv/bin/python" -c 'import mcp, jsonschema, pytest, anyio' >/dev/null 2>&1; then
  log "up to date: $venv"
  exit 0
fi

# A usable venv needs the venv module and ensurepip; Debian ships the latter in python3-venv.
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      # python3-venv may pull a different minor's package than the python3 on PATH.
      rm -rf "$venv"
      apt_install "python${py_version%.*}-venv"
      python3 -m venv "$venv"
    fi
  fi
fi

log "installing $(basename "$req") into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
printf '%s\n' "$want" > "$stamp"
log "ready: $venv"
