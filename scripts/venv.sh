#!/usr/bin/env bash
# A Python venv under target/ with pinned requirements, made once and kept while they hold:
#
#   bash scripts/venv.sh [--python PY] [--no-deps] NAME REQUIREMENTS...
#
# Creates <repo>/target/NAME with PY (default python3), installs the REQUIREMENTS files into
# it with pip (--no-deps: exactly the listed packages, for files that pin the whole closure)
# and prints the venv's path on stdout; all else goes to stderr. Idempotent: a stamp in the venv records the requirements' hashes, the
# pip options and the interpreter's version of the last successful install, and nothing is
# reinstalled while they are unchanged; otherwise the venv is made afresh. On Debian it
# installs python3 and python3-venv with apt-get when they are missing (root only).
#
#   venv="$(bash scripts/venv.sh live-venv tests/live/requirements.txt)"
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf 'venv: %s\n' "$*" >&2; }
source "$repo/scripts/lib.sh"
usage() { log "usage: bash scripts/venv.sh [--python PY] [--no-deps] NAME REQUIREMENTS..."; exit 2; }

python=python3
pip_options=()
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --python) [[ $# -ge 2 ]] || usage; python="$2"; shift 2 ;;
    --no-deps) pip_options+=(--no-deps); shift ;;
    *) usage ;;
  esac
done
[[ $# -ge 2 ]] || usage
name="$1"; shift
requirements=()
for req in "$@"; do
  [[ -f "$req" ]] || { log "no requirements file $req"; exit 2; }
  requirements+=("$(cd "$(dirname "$req")" && pwd)/$(basename "$req")")
done
venv="$repo/target/$name"
stamp="$venv/.pwt-venv.stamp"

if [[ "$python" == python3 ]] && ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
py_version="$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
want="$(
  for req in "${requirements[@]}"; do sha256sum "$req" | cut -d' ' -f1; done
  echo "pip ${pip_options[*]:-}"
  echo "python $py_version"
)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
  log "up to date: $venv"
  echo "$venv"
  exit 0
fi

# A usable venv needs the venv module and ensurepip; Debian ships both in python3-venv (for
# the python3 on PATH, possibly under its minor version's name).
make_venv() { rm -rf "$venv"; "$python" -m venv "$venv" >/dev/null 2>&1; }
mkdir -p "$(dirname "$venv")"
if ! make_venv; then
  apt_install python3-venv
  if ! make_venv; then
    apt_install "python${py_version%.*}-venv"
    rm -rf "$venv"
    "$python" -m venv "$venv" >&2
  fi
fi

for req in "${requirements[@]}"; do
  log "installing ${req#"$repo"/} into $venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input \
    "${pip_options[@]}" -r "$req" >&2
done
printf '%s\n' "$want" > "$stamp"
log "ready: $venv"
echo "$venv"
