#!/usr/bin/env bash
# The whole test suite, on a fresh Debian machine or a developer's laptop:
#   bash scripts/test.sh
# 1. Rust unit tests and the in-process MCP round trip (cargo nextest, or cargo test);
# 2. the interop suite: the real binary over stdio and as a streamable HTTP server on a
#    loopback port of its own, driven by the official Python `mcp` SDK (installed into
#    target/pyenv by tests/interop/setup-venv.sh).
# Every server a test needs is started by the tests themselves.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s ==\n' "$*" >&2; }

command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }

log "build"
cargo build --locked --bins

log "Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
  cargo test --locked --doc
else
  cargo test --locked --no-fail-fast
fi

log "MCP interop over stdio and streamable HTTP (Python mcp SDK)"
bash tests/interop/setup-venv.sh
PWT_BIN="$PWD/target/debug/python-web-troubleshooter" target/pyenv/bin/python -m pytest -q tests/interop
