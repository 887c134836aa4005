"""The agent of the live incident test, and the ground truth it is judged against.

    python agent.py tools SCENARIO OUT_DIR --bin BIN --access-log PATH --log-format-file F \
        --metrics-url URL --listen-port PORT --workers N [--db-pid PID]
    python agent.py truth SCENARIO OUT_DIR --timing-dir DIR --access-log PATH --load-dir DIR \
        --workers N [--pgss FILE]

`tools` plays an agent that follows skill.md, with the official Python `mcp` SDK over stdio
against the real binary (`serve`), while the load runs. The server's environment is clean
but for PWT_LOG_DIRS (the nginx log directory) and DATABASE_URL (a read-only role), which
scripts/incident.sh exports:

  1. break_down_latency: the access log (the directive text of nginx.conf as `log_format`,
     since 2m), the gunicorn gauges, the accept queue of gunicorn's port, 5 samples 800 ms
     apart; and the service's normal where the on-call engineer knows it (BASELINE: slow_db
     passes `baseline: {"p99_ms": 15}`, its usual p99 from Sentry);
  2. match_symptom with step 1's `observations`, unchanged;
  3. slow_queries on the default target; for the scenarios in DB_CPU_SCENARIOS (slow_db)
     with `db_cpu_percent`, measured while step 1 ran as the CPU time of the PostgreSQL
     cluster's processes (the postmaster `--db-pid` and its children, from /proc) over the
     wall time × the host's cores — the database host's CPU, as a DB host dashboard shows it
     (written to OUT_DIR/SCENARIO/db_cpu.json);
  4. capacity_math with what an agent would pass: 1 replica × N workers, avg_latency_ms =
     step 1's nginx mean (`total_ms`), arrival_rps = step 1's `access_log.arrival_rps`,
     2 cores, 120 MB per worker, 2048 MB limit, workload `mixed` (missing_index: handlers
     wait on the database), `cpu_bound` (cpu_bound) or `io_bound` (slow_db: the handlers
     wait on one database statement). `db_time_percent` only from a `db` layer of step 1,
     which nginx, the gauges and the accept queue cannot give: left out here.

Each result goes to OUT_DIR/SCENARIO/<tool>.json (structuredContent; `{"isError": true,
"text": ...}` for a tool error), <tool>.txt (the text content) and <tool>.args.json.

`truth` needs no MCP: from the app's own handler times (APP_TIMING_DIR), the nginx access
log and the load generator's records, over the window step 1 read (its first..last
request), it computes each route's share of handler (service) time, mean service time,
the queue wait (mean upstream time − mean service time; also the load generator's mean
end to end − mean service), throughput and the p99 per route; for slow_db also the session
statement's row of pg_stat_statements and the database's share of the handler time (its
total statement time ÷ the handlers' total over the load), into
OUT_DIR/SCENARIO/ground_truth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WORKLOAD = {"missing_index": "mixed", "cpu_bound": "cpu_bound", "slow_db": "io_bound"}
# What the on-call engineer knows of the service's normal (break_down_latency `baseline`).
BASELINE = {"slow_db": {"p99_ms": 15}}
# Where the agent measures the database's CPU and passes it to slow_queries.
DB_CPU_SCENARIOS = {"slow_db"}
SESSION_TIMEOUT_S = 120


# --------------------------------------------------------------------------- tools


def _server_env() -> dict[str, str]:
    home = tempfile.mkdtemp(prefix="pwt-agent-home.")
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": home,
        "LANG": "C.UTF-8",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key in ("PWT_LOG_DIRS", "DATABASE_URL", "RUST_LOG"):
        if os.environ.get(key):
            env[key] = os.environ[key]
    return env


async def _call(client, name: str, arguments: dict) -> dict:
    """One tools/call through the SDK. Returns {structured, text, is_error}; when the SDK
    rejects the result (e.g. against the outputSchema), the raw result is used and the
    rejection recorded."""
    import mcp_types as types
    from pydantic import TypeAdapter

    try:
        result = await client.call_tool(name, arguments)
        text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
        return {"structured": result.structured_content, "text": text, "is_error": bool(result.is_error)}
    except Exception as exc:  # noqa: BLE001 - keep the raw answer and say why
        raw = await client.session.send_request(
            types.CallToolRequest(params=types.CallToolRequestParams(name=name, arguments=arguments)),
            TypeAdapter(dict),
        )
        text = "\n".join(b.get("text", "") for b in raw.get("content", []) if b.get("type") == "text")
        return {
            "structured": raw.get("structuredContent"),
            "text": text,
            "is_error": bool(raw.get("isError")),
            "sdk_rejected": repr(exc)[:2000],
        }


def _save(out: Path, tool: str, arguments: dict, res: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{tool}.args.json").write_text(json.dumps(arguments, indent=2) + "\n")
    body = res["structured"] if not res["is_error"] and res["structured"] is not None else {
        "isError": res["is_error"],
        "text": res["text"],
    }
    if res.get("sdk_rejected"):
        body = dict(body, _sdk_rejected=res["sdk_rejected"])
    (out / f"{tool}.json").write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    (out / f"{tool}.txt").write_text(res["text"] + "\n")
    first = ((res["structured"] or {}).get("next_steps") or [{}])[0].get("action", "-") if not res["is_error"] else "-"
    print(f"agent: {tool}: {'ERROR ' + res['text'][:200] if res['is_error'] else 'ok'}; first next step: {first}",
          file=sys.stderr)


def _cluster_cpu(postmaster: int) -> tuple[float, int]:
    """CPU seconds (user + system) of the PostgreSQL cluster: the postmaster and its
    children (backends, background workers), from /proc; and how many processes."""
    tick = os.sysconf("SC_CLK_TCK")
    total, count = 0.0, 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        rest = stat[stat.rfind(")") + 2:].split()
        pid, ppid = int(entry.name), int(rest[1])
        if pid == postmaster or ppid == postmaster:
            total += (int(rest[11]) + int(rest[12])) / tick
            count += 1
    return total, count


class DbCpu:
    """The database host's CPU over a window: the cluster's CPU time ÷ (wall × cores)."""

    def __init__(self, postmaster: int):
        self.postmaster = postmaster
        self.cpu0, _ = _cluster_cpu(postmaster)
        self.t0 = time.monotonic()

    def stop(self) -> dict:
        cpu1, procs = _cluster_cpu(self.postmaster)
        wall = time.monotonic() - self.t0
        cores = os.cpu_count() or 1
        return {
            "db_cpu_percent": round(min(100.0, 100.0 * (cpu1 - self.cpu0) / (wall * cores)), 1),
            "cpu_seconds": round(cpu1 - self.cpu0, 3),
            "wall_seconds": round(wall, 3),
            "cores": cores,
            "processes": procs,
            "how": "CPU time of the postmaster and its children (/proc/<pid>/stat utime+stime) "
                   "while break_down_latency sampled, ÷ (wall time × cores)",
        }


async def run_tools(a) -> None:
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    out = Path(a.out) / a.scenario
    directive = Path(a.log_format_file).read_text().strip()
    params = StdioServerParameters(command=a.bin, args=["serve"], env=_server_env())
    with anyio.fail_after(SESSION_TIMEOUT_S):
        with (out.parent / f"{a.scenario}-server-stderr.log").open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode="legacy", cache=None,
                              read_timeout_seconds=SESSION_TIMEOUT_S) as client:
                # 1. Break down latency, while the incident is on.
                args1 = {
                    "access_log": {"path": a.access_log, "log_format": directive, "since": "2m"},
                    "gunicorn_metrics_url": a.metrics_url,
                    "listen_port": a.listen_port,
                    "samples": 5,
                    "sample_interval_ms": 800,
                }
                if a.scenario in BASELINE:
                    args1["baseline"] = BASELINE[a.scenario]
                db_cpu = DbCpu(a.db_pid) if a.db_pid and a.scenario in DB_CPU_SCENARIOS else None
                r1 = await _call(client, "break_down_latency", args1)
                _save(out, "break_down_latency", args1, r1)
                db_cpu_measured = db_cpu.stop() if db_cpu else None
                if db_cpu_measured:
                    (out / "db_cpu.json").write_text(json.dumps(db_cpu_measured, indent=2) + "\n")
                    print(f"agent: database CPU while step 1 sampled: {db_cpu_measured['db_cpu_percent']} %",
                          file=sys.stderr)
                s1 = r1["structured"] if not r1["is_error"] else {}
                s1 = s1 or {}

                # 2. Which symptom: step 1's observations as they are.
                args2 = {"observations": s1.get("observations", {})}
                r2 = await _call(client, "match_symptom", args2)
                _save(out, "match_symptom", args2, r2)

                # 3. The database: the default target (DATABASE_URL).
                args3: dict = {}
                if db_cpu_measured:
                    args3["db_cpu_percent"] = db_cpu_measured["db_cpu_percent"]
                r3 = await _call(client, "slow_queries", args3)
                _save(out, "slow_queries", args3, r3)

                # 4. Capacity, with what step 1 measured.
                total = s1.get("total_ms")
                if total is None:
                    total = sum(layer.get("ms", 0) for layer in s1.get("layers", [])) or None
                if not total:
                    # Nothing measured to pass: an agent would not invent a latency.
                    res = {"structured": None, "text": "not called: step 1 gave no total_ms", "is_error": True}
                    _save(out, "capacity_math", {}, res)
                    return
                args4 = {
                    "replicas": 1,
                    "workers_per_replica": a.workers,
                    "avg_latency_ms": total,
                    "cpu_cores": 2,
                    "worker_rss_mb": 120,
                    "memory_limit_mb": 2048,
                    "workload": WORKLOAD[a.scenario],
                }
                rps = (s1.get("access_log") or {}).get("arrival_rps")
                if rps:
                    args4["arrival_rps"] = rps
                db_layer = next((x for x in s1.get("layers") or [] if x.get("layer") == "db"), None)
                if db_layer and db_layer.get("percent_of_total") is not None:
                    args4["db_time_percent"] = db_layer["percent_of_total"]
                r4 = await _call(client, "capacity_math", args4)
                _save(out, "capacity_math", args4, r4)


# --------------------------------------------------------------------------- truth

LOG_LINE = re.compile(
    r'^(?P<time>\S+) (?P<status>\d{3}) "(?P<request>[^"]*)" rt=(?P<rt>[\d.]+) '
    r'up="(?P<up>[^"]*)" conn="(?P<conn>[^"]*)"'
)


def _route_of(request: str) -> str:
    import app  # the app's own route table: the same templates as its handler log

    parts = request.split(" ")
    method, path = (parts + ["", ""])[:2]
    path = path.split("?", 1)[0]
    for m, rx, template, _ in app.ROUTES:
        if m == method and rx.match(path):
            return template
    return f"{method} {path}"


def _num(s: str) -> float | None:
    vals = [float(x) for x in re.split(r"[ ,:]+", s.strip()) if re.fullmatch(r"[\d.]+", x)]
    return sum(vals) if vals else None


def _epoch(rfc3339: str | None) -> float | None:
    if not rfc3339:
        return None
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def _mean(values):
    values = list(values)
    return round(sum(values) / len(values), 3) if values else None


def run_truth(a) -> None:
    out = Path(a.out) / a.scenario
    load = json.loads((Path(a.load_dir) / "load.json").read_text())
    load_start, load_end = load["started_at"], load["ended_at"]

    # The window step 1 read: its first..last request (nginx logs the end of a request).
    bdl = {}
    try:
        bdl = json.loads((out / "break_down_latency.json").read_text())
    except (OSError, ValueError):
        pass
    al = bdl.get("access_log") or {}
    w_first = _epoch(al.get("first_request_at")) or load_start
    w_last = _epoch(al.get("last_request_at")) or load_end
    # nginx's timestamps are whole seconds; the load started before its first line.
    win = (max(load_start, w_first - 1.0), w_last + 1.0)

    handler = []
    for f in sorted(Path(a.timing_dir).glob("handler-*.tsv")):
        for line in f.read_text().splitlines():
            start, route, ms, cpu, status = line.split("\t")
            handler.append((float(start), route, float(ms), float(cpu), status))
    h_all = [h for h in handler if load_start <= h[0] <= load_end]
    h_win = [h for h in handler if win[0] <= h[0] <= win[1]]

    def service(rows):
        total = sum(h[2] for h in rows) or 1e-9
        routes = {}
        for h in rows:
            r = routes.setdefault(h[1], {"requests": 0, "handler_ms_sum": 0.0, "cpu_ms_sum": 0.0})
            r["requests"] += 1
            r["handler_ms_sum"] += h[2]
            r["cpu_ms_sum"] += h[3]
        for r in routes.values():
            r["share_of_handler_time_percent"] = round(100.0 * r["handler_ms_sum"] / total, 2)
            r["mean_service_ms"] = round(r["handler_ms_sum"] / r["requests"], 3)
            r["mean_cpu_ms"] = round(r["cpu_ms_sum"] / r["requests"], 3)
            r["handler_ms_sum"] = round(r["handler_ms_sum"], 1)
            del r["cpu_ms_sum"]
        return {
            "requests": len(rows),
            "mean_service_ms": _mean(h[2] for h in rows),
            "mean_cpu_ms": _mean(h[3] for h in rows),
            "routes": dict(sorted(routes.items(), key=lambda kv: -kv[1]["handler_ms_sum"])),
        }

    # nginx's view of the same requests.
    nginx = []
    for line in Path(a.access_log).read_text(errors="replace").splitlines():
        m = LOG_LINE.match(line)
        if not m:
            continue
        t = datetime.fromisoformat(m["time"]).timestamp()
        nginx.append((t, _route_of(m["request"]), float(m["rt"]) * 1000.0, (_num(m["up"]) or 0.0) * 1000.0))
    n_win = [n for n in nginx if w_first - 0.5 <= n[0] <= w_last + 0.5]

    s_win = service(h_win)
    mean_up = _mean(n[3] for n in n_win)
    mean_rt = _mean(n[2] for n in n_win)

    # The load generator's end-to-end view, over the same window and over the whole run.
    reqs = []
    for line in (Path(a.load_dir) / "requests.tsv").read_text().splitlines():
        start, route, ms, status = line.split("\t")
        reqs.append((float(start), route, float(ms), int(status)))
    r_win = [r for r in reqs if win[0] <= r[0] <= win[1]]
    e2e_win = _mean(r[2] for r in r_win)

    span = max(win[1] - win[0], 1e-9)
    slow = "GET /api/customers/{id}/orders"
    truth = {
        "scenario": a.scenario,
        "workers": a.workers,
        "window": {"from": win[0], "to": win[1], "seconds": round(span, 2),
                   "source": "break_down_latency access_log first..last request" if al else "load run"},
        "service": s_win,
        "service_whole_run": service(h_all),
        "worker_busy_percent_by_handler_time": round(
            100.0 * sum(h[2] for h in h_win) / 1000.0 / (span * a.workers), 1),
        "nginx": {"requests": len(n_win), "mean_request_time_ms": mean_rt, "mean_upstream_ms": mean_up},
        "queue_wait_ms": round(mean_up - s_win["mean_service_ms"], 2) if mean_up and s_win["mean_service_ms"] else None,
        "queue_wait_ms_load_generator": round(e2e_win - s_win["mean_service_ms"], 2)
        if e2e_win and s_win["mean_service_ms"] else None,
        "throughput_rps": round(len(h_win) / span, 2),
        "load_generator": {
            "throughput_rps": load["throughput_rps"],
            "requests": load["requests"],
            "errors": load["errors"],
            "mean_ms": load["mean_ms"],
            "p99_ms": load["p99_ms"],
            "p99_ms_by_route": {k: v["p99_ms"] for k, v in load["routes"].items()},
            "mean_ms_by_route": {k: v["mean_ms"] for k, v in load["routes"].items()},
            "window_mean_ms": e2e_win,
        },
    }
    if a.scenario == "missing_index":
        truth["slow_route"] = slow
        truth["slow_route_share_of_handler_time_percent"] = (
            s_win["routes"].get(slow, {}).get("share_of_handler_time_percent"))
    if a.pgss and Path(a.pgss).exists():
        truth["pg_stat_statements"] = json.loads(Path(a.pgss).read_text() or "[]")
    if a.scenario == "slow_db":
        pgss = truth.get("pg_stat_statements") or []
        session = [r for r in pgss if re.search(r"from sessions", r["query"], re.I)]
        truth["session_statement"] = session[0] if len(session) == 1 else session
        # The database's share of the handlers' time over the whole load (pg_stat_statements
        # was reset just before it).
        handler_ms = sum(h[2] for h in h_all)
        truth["db_percent_of_handler_time"] = (
            round(100.0 * sum(r["total_ms"] for r in pgss) / handler_ms, 1) if handler_ms else None)
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    print(
        "truth %s: service %.1f ms, queue %s ms, %.1f rps%s%s"
        % (a.scenario, s_win["mean_service_ms"] or 0, truth["queue_wait_ms"], truth["throughput_rps"],
           ", slow route %.1f %% of handler time" % truth["slow_route_share_of_handler_time_percent"]
           if truth.get("slow_route_share_of_handler_time_percent") is not None else "",
           ", database %.1f %% of handler time" % truth["db_percent_of_handler_time"]
           if truth.get("db_percent_of_handler_time") is not None else ""),
        file=sys.stderr,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tools", "truth"])
    p.add_argument("scenario", choices=sorted(WORKLOAD))
    p.add_argument("out")
    p.add_argument("--bin")
    p.add_argument("--access-log", required=True)
    p.add_argument("--log-format-file")
    p.add_argument("--metrics-url")
    p.add_argument("--listen-port", type=int)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--timing-dir")
    p.add_argument("--load-dir")
    p.add_argument("--pgss")
    p.add_argument("--db-pid", type=int, help="the PostgreSQL postmaster's pid (tools: the DB CPU)")
    a = p.parse_args()
    if a.mode == "tools":
        import anyio

        anyio.run(run_tools, a)
    else:
        run_truth(a)


if __name__ == "__main__":
    main()
