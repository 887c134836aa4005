#!/usr/bin/env bash
# Installs the TypeScript side of the interop suite (tests/interop-ts): the exact
# @modelcontextprotocol/sdk pinned in package-lock.json, into tests/interop-ts/node_modules.
#
#   bash scripts/interop-ts-setup.sh && node --test tests/interop-ts/*.test.mjs
#
# Idempotent: a stamp inside node_modules records the hash of package-lock.json (and the Node
# version) of the last successful `npm ci`, and nothing is reinstalled while both are unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/interop-ts" && pwd)"
stamp="$here/node_modules/.pwt-package-lock.sha256"

log() { printf 'interop-ts setup: %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "Node.js 20 or later and npm are required for the TypeScript SDK interop tests."
  log "On Debian/Ubuntu: apt-get install -y nodejs npm (Debian 13 and Ubuntu 24.04 ship Node 20;"
  log "on Debian 12 take nodejs 20 from NodeSource, https://github.com/nodesource/distributions),"
  log "or see https://nodejs.org/en/download"
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if (( major < 20 )); then
  log "Node.js $(node --version) is too old: the pinned MCP TypeScript SDK and its HTTP stack need 20"
  log "or later (Debian 12's nodejs is 18: take nodejs 20 from NodeSource,"
  log "https://github.com/nodesource/distributions, or https://nodejs.org/en/download)."
  exit 1
fi

want="$( { sha256sum "$here/package-lock.json" | cut -d' ' -f1; echo "node $(node --version)"; } )"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "up to date: $here/node_modules"
  exit 0
fi

log "npm ci in $here"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
printf '%s\n' "$want" > "$stamp"
log "ready: @modelcontextprotocol/sdk $(node -p "require('$here/node_modules/@modelcontextprotocol/sdk/package.json').version")"
