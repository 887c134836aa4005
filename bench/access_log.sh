#!/usr/bin/env bash
# Per-endpoint access-log analysis, side by side with its anchors, on one generated log:
#
#   bash bench/access_log.sh [--size-mb 1024] [--skip-goaccess]
#
# Generates a realistic nginx log of ~250-byte lines in the `timed` format
# (bench/gen_access_log.py, deterministic; kept in target/bench/), warms the page cache,
# then times, each from the page cache:
#   cat > /dev/null            reading the bytes, nothing else
#   wc -l                      counting lines
#   awk                        mean $request_time per path (no templating, no percentiles)
#   goaccess 1.x               per-URL report with request time (Debian package)
#   python-web-troubleshooter  `logs FILE --log-format timed --json`: route templating,
#                              p50/p95/p99/max, worker-seconds, errors, layers
# and prints wall seconds, MB/s, peak RSS (/usr/bin/time -v) and the ratios against ours.
# goaccess takes minutes on 1 GB; --skip-goaccess leaves it out. Installs goaccess and
# GNU time with apt-get when missing (as root).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

size_mb=1024
skip_goaccess=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --size-mb) size_mb="$2"; shift 2 ;;
    --skip-goaccess) skip_goaccess=1; shift ;;
    *) echo "usage: $0 [--size-mb N] [--skip-goaccess]" >&2; exit 2 ;;
  esac
done

need=()
[[ -x /usr/bin/time ]] || need+=(time)
[[ $skip_goaccess == 1 ]] || command -v goaccess >/dev/null || need+=(goaccess)
if [[ ${#need[@]} -gt 0 ]]; then
  echo "installing ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

cargo build --release --locked --bin python-web-troubleshooter >&2
bin="$PWD/target/release/python-web-troubleshooter"

mkdir -p target/bench
log="target/bench/access-${size_mb}m.log"
if [[ ! -f "$log" ]]; then
  echo "generating $log (${size_mb} MB)" >&2
  python3 bench/gen_access_log.py "$log.tmp" "$size_mb"
  mv "$log.tmp" "$log"
fi
bytes=$(stat -c %s "$log")
lines=$(wc -l < "$log")
out="target/bench/out"
mkdir -p "$out"
cat "$log" > /dev/null; cat "$log" > /dev/null

# name|command (run with bash -c; output to files under target/bench/out)
runs=(
  "cat|cat '$log' > /dev/null"
  "wc -l|wc -l '$log' > /dev/null"
  "awk mean per path|awk '{ split(\$7, p, \"?\"); if (match(\$0, / rt=[0-9.]+/)) { t = substr(\$0, RSTART + 4, RLENGTH - 4); s[p[1]] += t; n[p[1]]++ } } END { for (k in s) printf \"%s %d %.4f\\n\", k, n[k], s[k] / n[k] }' '$log' > '$out/awk.txt'"
)
if [[ $skip_goaccess == 0 ]]; then
  runs+=("goaccess|goaccess '$log' --no-global-config --log-format='%h %^[%d:%t %^] \"%r\" %s %b \"%R\" \"%u\" rt=%T %^' --date-format='%d/%b/%Y' --time-format='%T' --json-pretty-print -o '$out/goaccess.json' 2>/dev/null")
fi
runs+=("python-web-troubleshooter|'$bin' logs '$log' --log-format timed --json > '$out/pwt.json'")

declare -A secs rss cpu
for run in "${runs[@]}"; do
  name="${run%%|*}"; cmd="${run#*|}"
  echo "running: $name" >&2
  /usr/bin/time -v -o "$out/time.txt" bash -c "$cmd"
  secs[$name]=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$out/time.txt")
  rss[$name]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$out/time.txt")
  cpu[$name]=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$out/time.txt")
done

ours="${secs[python-web-troubleshooter]}"
{
  printf '\nAccess-log benchmark: %s, %.0f MB, %d lines (%.0f bytes/line), %s cores, page cache warm\n' \
    "$log" "$(echo "$bytes / 1048576" | bc -l)" "$lines" "$(echo "$bytes / $lines" | bc -l)" "$(nproc)"
  printf '%-28s %9s %10s %14s %10s %12s\n' tool seconds MB/s "vs ours" "CPU s" "peak RSS MB"
  for run in "${runs[@]}"; do
    name="${run%%|*}"
    s="${secs[$name]}"
    mbs=$(echo "$bytes / 1048576 / ($s + 0.0001)" | bc -l)
    ratio=$(echo "$s / ($ours + 0.0001)" | bc -l)
    printf '%-28s %9.2f %10.0f %13.2fx %10s %12s\n' "$name" "$s" "$mbs" "$ratio" "${cpu[$name]}" "${rss[$name]}"
  done
  printf '(vs ours = that tool'"'"'s wall time ÷ ours: above 1 means ours is faster; CPU s = user + system)\n'
  printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$out/pwt.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["access_log"]
print(f"ours: {a['parsed_lines']} lines matched, {a['unparsed_lines']} not, {a['routes']} routes; top endpoints:")
for e in r["endpoints"][:5]:
    print(f"  {e['endpoint']:<32} {e['requests']:>9} req  p50 {e['p50_ms']:>6} p99 {e['p99_ms']:>7} ms  {e['share_of_worker_time_percent']:>6}% worker time")
EOF
} | tee target/bench/access_log-results.txt
