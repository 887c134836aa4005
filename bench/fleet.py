"""break_down_latency's `prometheus` source against a bare HTTP client, on a simulated fleet.

    python3 bench/fleet.py [--replicas 20,200] [--routes 20] [--minutes 60] [--bin PATH]

For each fleet size: writes the fleet as OpenMetrics (prometheus-flask-exporter's
`flask_http_request_duration_seconds{url_rule,method}` with 12 buckets, and
`gunicorn_workers{state}`, every replica and route, a sample every 15 s ending 10 minutes
ago), backfills it into a throwaway TSDB with `promtool tsdb create-blocks-from
openmetrics`, starts Debian's prometheus on it (127.0.0.1, a free port), then times

  * ours: `python-web-troubleshooter latency --prometheus ... --json` (a whole call:
    process start, family detection, every query, the analysis), and
  * bare: the same HTTP requests (the two look-ups, then the same PromQL concurrently, read
    from our answer's `fleet.queries`) with Python's urllib,

five times each, alternating, and prints the medians, their ratio and our peak RSS. Every
file lives in a temp directory removed at the end; every server is stopped.
"""

import argparse
import concurrent.futures
import json
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
STEP = 15


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def write_fleet(path, replicas, routes, minutes, end):
    """The fleet as OpenMetrics: counters grow at each route's rate; route 0 is slow."""
    stamps = [end - STEP * i for i in range(minutes * 60 // STEP, -1, -1)]
    rng = random.Random(7)
    with open(path, "w") as f:
        f.write("# TYPE flask_http_request_duration_seconds histogram\n")
        for r in range(replicas):
            for k in range(routes):
                mean = 0.3 if k == 0 else 0.004 * (1 + k % 5)
                rate = 2.0 if k == 0 else 20.0 / (1 + k)
                # Share of requests at or under each bound, from an exponential around the mean.
                shares = [1 - pow(2.718281828, -b / mean) for b in BUCKETS]
                labels = f'job="bench",instance="r{r:04d}:8000",url_rule="/api/r{k}/<int:id>",method="GET"'
                count = 0.0
                total = 0.0
                for t in stamps:
                    n = rate * STEP * rng.uniform(0.9, 1.1)
                    count += n
                    total += n * mean
                    for b, share in zip(BUCKETS, shares):
                        f.write(f'flask_http_request_duration_seconds_bucket{{{labels},le="{b}"}} {count * share:.3f} {t}\n')
                    f.write(f'flask_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {count:.3f} {t}\n')
                    f.write(f"flask_http_request_duration_seconds_count{{{labels}}} {count:.3f} {t}\n")
                    f.write(f"flask_http_request_duration_seconds_sum{{{labels}}} {total:.3f} {t}\n")
        f.write("# TYPE gunicorn_workers gauge\n")
        for r in range(replicas):
            busy = 3.5 if r == 0 else 1.5
            for state, v in (("busy", busy), ("idle", 4 - busy)):
                labels = f'job="bench",instance="r{r:04d}:8000",state="{state}"'
                for t in stamps:
                    f.write(f"gunicorn_workers{{{labels}}} {v} {t}\n")
        f.write("# EOF\n")


def get(base, path, params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read()


def bare(base, selector, since, until, queries):
    """The same requests our call sends, with no analysis."""
    get(base, "/api/v1/label/__name__/values", {"match[]": selector, "start": since, "end": until})
    get(base, "/api/v1/labels", {"match[]": "flask_http_request_duration_seconds_count" + selector, "start": since, "end": until})
    with concurrent.futures.ThreadPoolExecutor(len(queries)) as pool:
        for body in pool.map(lambda q: get(base, "/api/v1/query", {"query": q, "time": until}), queries):
            json.loads(body)


def ours(binary, env, selector, since, until):
    """One whole call and the child's peak RSS (KiB)."""
    # A fresh interpreter whose only child is our binary, so its RUSAGE_CHILDREN is ours
    # alone (this process's children include promtool).
    wrapper = (
        "import resource, subprocess, sys\n"
        "out = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "sys.stdout.buffer.write(out.stdout)\n"
        "if out.returncode:\n"
        "    sys.stderr.buffer.write(out.stderr)\n"
        "    sys.exit(out.returncode)\n"
        "sys.stderr.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper, binary, "latency", "--prometheus", selector,
         "--since", since, "--until", until, "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"our call failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout), int(out.stderr.strip().splitlines()[-1])


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def run(size, args, tmp):
    end = (int(time.time()) // STEP) * STEP - 600
    start = end - args.minutes * 60
    om = os.path.join(tmp, f"fleet-{size}.om")
    t0 = time.perf_counter()
    write_fleet(om, size, args.routes, args.minutes, end)
    wrote = time.perf_counter() - t0
    tsdb = os.path.join(tmp, f"tsdb-{size}")
    t0 = time.perf_counter()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", om, tsdb],
                   check=True, capture_output=True, timeout=1800)
    backfill = time.perf_counter() - t0
    megabytes = os.path.getsize(om) / 1e6
    os.remove(om)
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {scrape_interval: 1h}\nscrape_configs: []\n")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tsdb}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                get(base, "/-/ready", {})
                break
            except Exception:
                time.sleep(0.1)
        # The read's bound is raised so that a large fleet is timed, not cut at the default.
        env = dict(os.environ, PWT_PROMETHEUS_URL=base, PWT_PROMETHEUS_TIMEOUT="300")
        env.pop("PWT_PROMETHEUS_TOKEN", None)
        selector = '{job="bench"}'
        since, until = rfc3339(start), rfc3339(end)
        report, _ = ours(args.bin, env, selector, since, until)  # warm the engine's caches
        queries = report["fleet"]["queries"]
        ours_s, bare_s, rss = [], [], 0
        # Ours is timed with the wrapper's start-up in it; time a bare interpreter the same
        # way and subtract it.
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import resource, subprocess, sys"], check=True)
        interpreter = time.perf_counter() - t0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            report, r = ours(args.bin, env, selector, since, until)
            ours_s.append(time.perf_counter() - t0 - interpreter)
            rss = max(rss, r)
            t0 = time.perf_counter()
            bare(base, selector, str(start), str(end), queries)
            bare_s.append(time.perf_counter() - t0)
        f = report["fleet"]
        assert f["hot_replica"]["replica"] == "r0000:8000", f["hot_replica"]
        assert report["endpoints"][0]["endpoint"] == "GET /api/r0/{id}", report["endpoints"][0]
        return {
            "replicas": size,
            "routes": args.routes,
            "minutes": args.minutes,
            "openmetrics_mb": round(megabytes),
            "write_s": round(wrote, 1),
            "backfill_s": round(backfill, 1),
            "ours_median_s": round(statistics.median(ours_s), 3),
            "bare_median_s": round(statistics.median(bare_s), 3),
            "ratio": round(statistics.median(ours_s) / statistics.median(bare_s), 2),
            "ours_peak_rss_mib": round(rss / 1024, 1),
            "queries": len(queries),
            "listed_replicas": len(f["replicas"]),
        }
    finally:
        prom.terminate()
        prom.wait(timeout=30)
        shutil.rmtree(tsdb, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--replicas", default="20,200")
    p.add_argument("--routes", type=int, default=20)
    p.add_argument("--minutes", type=int, default=60)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "debug", "python-web-troubleshooter"))
    args = p.parse_args()
    tmp = tempfile.mkdtemp(prefix="pwt-bench-fleet.")
    try:
        for size in (int(s) for s in args.replicas.split(",")):
            print(json.dumps(run(size, args, tmp)), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
