#!/usr/bin/env bash
# The long fuzz run: every target of tests/fuzz (tool arguments, log_format compiler,
# access-log lines, Prometheus text, uWSGI stats, SQL tokenizer), optimised, with
# PWT_FUZZ_CASES cases per target — by default 200,000, so 1,200,000 in all. The test suite
# runs the same targets at 10,000 cases each.
#   bash scripts/fuzz.sh
#   PWT_FUZZ_CASES=1000000 bash scripts/fuzz.sh
#   PWT_FUZZ_SEED=1234 bash scripts/fuzz.sh     # replay the seed a failure printed
# Prints each target's cases and time, the total, the wall time and the failures; exits
# non-zero if any target failed (a panic counts as a failure, shrunk to a minimal input).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export PWT_FUZZ_CASES="${PWT_FUZZ_CASES:-200000}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

cargo test --release --locked --test fuzz --no-run
printf '\n== fuzz: %s cases per target (release) ==\n' "$PWT_FUZZ_CASES"
start="$(date +%s.%N)"
status=0
cargo test --release --locked --test fuzz -- --nocapture 2>&1 | tee "$out" || status=$?
end="$(date +%s.%N)"

printf '\n== fuzz summary ==\n'
{ grep -o 'fuzz [a-z_]*: [0-9]* cases in [0-9.]* s' "$out" || true; } | sort |
  awk -v start="$start" -v end="$end" '
    { sub(/:$/, "", $2); printf "%-22s %10d cases %9.1f s\n", $2, $3, $6; total += $3; n += 1 }
    END { printf "%-22s %10d cases in %d targets, %.1f s wall\n", "total", total, n, end - start }'
failed="$(grep -c 'failed (replay with PWT_FUZZ_SEED=' "$out" || true)"
echo "targets failed: $failed"
exit "$status"
