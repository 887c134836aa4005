"""Assertions of the live test (scripts/live.sh) on the reports the binary wrote.

    python check.py GUNICORN_REPORT.json GUNICORN_REPORT.txt UWSGI_REPORT.json ACCESS_LOG

Prints one line per check and closes with "N passed, N failed"; exits 1 on any failure.
"""

import json
import sys

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else "  -- " + str(detail)))


def main():
    g = json.load(open(sys.argv[1]))
    text = open(sys.argv[2]).read()
    u = json.load(open(sys.argv[3]))
    log_lines = sum(1 for line in open(sys.argv[4]) if line.strip())

    eps = g.get("endpoints", [])
    names = [e["endpoint"] for e in eps]
    top = eps[0] if eps else {}
    check("the slow endpoint comes first (largest worker time)", top.get("endpoint") == "GET /api/report", names)
    check("the slow endpoint is marked slow with p99 >= 1000 ms", top.get("slow") and top.get("p99_ms", 0) >= 1000, top)
    check("it holds most of the worker time", top.get("share_of_worker_time_percent", 0) > 50, top)
    check("paths are folded into routes", "GET /api/items/{id}" in names and "GET /api/users/{id}/orders" in names, names)
    fast = [e for e in eps if e["endpoint"] != "GET /api/report"]
    check("fast endpoints stay fast (p99 < 1000 ms)", fast and all(e["p99_ms"] < 1000 for e in fast), fast)
    check("every endpoint has p50/p95/p99/max, worker seconds and error percent",
          all(all(k in e for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "worker_seconds",
                                   "share_of_worker_time_percent", "error_percent")) for e in eps), eps[:1])
    check("latency_pattern is long_tail", g.get("latency_pattern") == "long_tail", g.get("latency_pattern"))
    check("observations carry the pattern for match_symptom", g["observations"].get("latency_pattern") == "long_tail", g["observations"])
    workers = g.get("workers") or {}
    check("the gauges show all 3 workers busy", workers.get("busy_max") == 3, workers)
    check("worker utilisation >= 90 %", (g.get("worker_utilization_percent") or 0) >= 90, g.get("worker_utilization_percent"))
    check("workers come from the Prometheus endpoint", workers.get("source", "").startswith("prometheus:http://127.0.0.1:"), workers)
    queue = g.get("accept_queue") or {}
    check("the accept queue is non-zero while saturated", queue.get("max", 0) > 0, queue)
    check("the backlog is flagged for match_symptom (growing, or steady and full)",
          g["observations"].get("backlog_shape") in ("growing", "steady"), g["observations"])
    check("the verdict names the slow endpoint", "GET /api/report" in g.get("verdict", ""), g.get("verdict"))
    al = g.get("access_log") or {}
    check("every line of the custom format matched", al.get("unparsed_lines") == 0 and al.get("parsed_lines", 0) > 50, al)
    check("no line was lost (lines read <= lines in the log now)", 0 < al.get("lines", 0) <= log_lines, (al.get("lines"), log_lines))
    check("the layers split nginx / connect / app server",
          {l["layer"] for l in g.get("layers", [])} >= {"nginx", "upstream_connect", "app_server"}, g.get("layers"))
    evidence_sources = {e["source"].split(":")[0] for e in g.get("evidence", [])}
    check("evidence names its sources", {"nginx", "prometheus", "proc"} <= evidence_sources, evidence_sources)
    check("the text summary lists the endpoints table", "GET /api/report" in text and "Accept queue" in text, text[:400])

    uw = u.get("workers") or {}
    check("uWSGI: both workers busy from the stats server", uw.get("busy_max") == 2 and uw.get("source", "").startswith("uwsgi:"), uw)
    uq = u.get("accept_queue") or {}
    check("uWSGI: the accept queue is non-zero", uq.get("max", 0) > 0, uq)
    check("uWSGI: utilisation 100 %", u.get("worker_utilization_percent") == 100.0, u.get("worker_utilization_percent"))

    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
