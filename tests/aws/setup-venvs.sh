#!/usr/bin/env bash
# Installs the two local AWS-compatible servers the check_rds_iops integration tests use:
#   target/awsenv/localstack  LocalStack core (CloudWatch over CBOR)
#   target/awsenv/moto        moto_server (RDS, STS)
# Idempotent: a stamp in each venv records the hash of its requirements file and the
# interpreter version; nothing is reinstalled while both are unchanged. On Debian it
# installs python3 / python3-venv with apt-get when they are missing (root only).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
root="${PWT_AWSENV:-$repo/target/awsenv}"

log() { printf 'aws setup-venvs: %s\n' "$*" >&2; }

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

command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
py_version="$(python3 -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"

# setup NAME REQUIREMENTS IMPORT_CHECK
setup() {
  local name="$1" req="$2" check="$3"
  local venv="$root/$name" stamp="$root/$name/.pwt-requirements.sha256"
  local want
  want="$( { sha256sum "$req" | cut -d' ' -f1; echo "python $py_version"; } )"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
     && "$venv/bin/python" -c "$check" >/dev/null 2>&1; then
    log "up to date: $venv"
    return
  fi
  rm -rf "$venv"
  mkdir -p "$root"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    apt_install python3-venv "python${py_version%.*}-venv" || apt_install python3-venv
    python3 -m venv "$venv"
  fi
  log "installing $(basename "$req") into $venv (once; a few minutes)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
  "$venv/bin/python" -c "$check"
  printf '%s\n' "$want" > "$stamp"
  log "ready: $venv"
}

setup localstack "$here/requirements-localstack.txt" 'import localstack.runtime.main, cbor2'
setup moto "$here/requirements-moto.txt" 'import moto.server, flask'
