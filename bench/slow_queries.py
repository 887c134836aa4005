#!/usr/bin/env python3
"""slow_queries vs postgres-mcp's get_top_queries on a pg_stat_statements of 5,000 statements.

In one run:
  1. starts a throwaway PostgreSQL (initdb in a temp dir, its own port on 127.0.0.1,
     shared_preload_libraries=pg_stat_statements, track_io_timing=on);
  2. fills pg_stat_statements with N distinct statements (default 5,000: 100 tables x 50
     columns, each `SELECT cJ FROM tK WHERE id = 1`, run twice);
  3. starts both MCP servers over stdio against the same database — our release binary
     (DATABASE_URL) and postgres-mcp 0.3.0 from PyPI (installed into target/bench-venv by
     cold_start.py's pinned requirements, --access-mode=restricted);
  4. times tools/call round trips, interleaving the two servers call by call (the order
     rotates each round, so that no one always runs right after the other server):
       ours    slow_queries   {"limit": 10, "order_by": "mean_time"}   (with live sessions)
       ours    slow_queries   {... "include_running": false}            (statements only)
       theirs  get_top_queries {"sort_by": "mean_time", "limit": 10}
     and, in the same rotation, the bound under any exact answer, from a bare Rust client
     (examples/pg_bare_read.rs: a kept connection, one prepared read in binary, no MCP):
       bare_exact_read   queryid, calls and total time of every statement (what an exact
                         ranking, share of DB time and read/write split are computed from)
       bare_floor_read   count(*) FROM pg_stat_statements(false): PostgreSQL builds the
                         entries and sends nothing back
  5. prints medians, p90 and the ratio theirs/ours (goal: >= 5x) next to theirs/bare,
     optionally as JSON;
  6. shows where the time goes on the server, from pg_stat_statements itself: the mean
     execution time of each server's statements over the run, and of the floor read —
     `SELECT count(*) FROM pg_stat_statements(false)`, all entries without their text, run
     FLOOR_RUNS times by psql — under any tool call that looks at every statement.

    python3 bench/slow_queries.py [--calls 40] [--statements 5000] [--json out.json]

Our binary is target/release/python-web-troubleshooter (built with cargo build --release
when missing); the bare client is built with cargo build --release --example pg_bare_read.
Both servers are driven by the same minimal JSON-RPC client (cold_start.py), so client
cost is identical.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cold_start as cs  # noqa: E402

REPO = cs.REPO
OURS_ARGS = {"limit": 10, "order_by": "mean_time"}
OURS_STATEMENTS_ONLY = {"limit": 10, "order_by": "mean_time", "include_running": False}
THEIRS_ARGS = {"sort_by": "mean_time", "limit": 10}
FLOOR_SQL = "SELECT count(*) /* bench:floor */ FROM pg_stat_statements(false)"
FLOOR_RUNS = 50


BARE = REPO / "target" / "release" / "examples" / "pg_bare_read"


def ensure_bare(timeout: float) -> None:
    cargo = shutil.which("cargo")
    if not cargo:
        if BARE.exists():
            return
        raise cs.BenchError(f"{BARE} missing and cargo not found")
    r = cs.run_cmd([cargo, "build", "--release", "--example", "pg_bare_read"], timeout, capture=False, cwd=REPO)
    if r.returncode != 0:
        raise cs.BenchError(f"cargo build --release --example pg_bare_read failed (exit {r.returncode})")


class BareSession:
    """examples/pg_bare_read: one line in, one read, one line out ("<rows> <total>")."""

    def __init__(self, url: str, mode: str, stderr: Path):
        self.mode = mode
        self._err = open(stderr, "wb")
        self.proc = subprocess.Popen([str(BARE), url, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._err, text=True, bufsize=1)
        cs._cleanups.append(self.close)

    def request(self, *_args) -> dict:
        self.proc.stdin.write("read\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise cs.BenchError(f"pg_bare_read {self.mode} ended (exit {self.proc.poll()})")
        return {"bare": line.strip()}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._err.close()


def server_side(psql: list, kw: dict, our_calls: int, their_calls: int) -> dict:
    """Server execution time per call, from pg_stat_statements' own counters: ours (every
    statement marked pwt:monitor, summed, divided by our calls), postgres-mcp's (its
    top-queries statement), and the bare read of the view (the floor)."""
    floor_file = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    floor_file.write((FLOOR_SQL + ";\n") * FLOOR_RUNS)
    floor_file.close()
    os.chmod(floor_file.name, 0o644)
    cs._cleanups.append(lambda: os.unlink(floor_file.name))
    r = cs.run_cmd(psql + ["-d", "bench", "-o", "/dev/null", "-f", floor_file.name], 120, **kw)
    if r.returncode != 0:
        raise cs.BenchError(f"floor read failed:\n{r.stdout[-2000:]}")
    sql = (
        "SELECT coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pwt:monitor%'), 0), "
        "coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%pwt:monitor%' AND query LIKE '%unnest%' "
        "  AND query LIKE '%pg_stat_statements($%' AND query NOT LIKE '%keyword%'), 0), "
        "coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%FROM pg_stat_statements%ORDER BY%' "
        "  AND query NOT LIKE '%pwt:monitor%'), 0), "
        "coalesce(sum(total_exec_time) FILTER (WHERE query LIKE '%bench:floor%'), 0), "
        "coalesce(sum(calls) FILTER (WHERE query LIKE '%bench:floor%'), 0) "
        "FROM pg_stat_statements"
    )
    r = cs.run_cmd(psql + ["-d", "bench", "-At", "-F", " ", "-c", sql], 60, **kw)
    ours_all, ours_counters, theirs_main, floor_total, floor_calls = (
        float(x) for x in r.stdout.strip().splitlines()[-1].split())
    return {
        "ours_all_statements_ms_per_call": round(ours_all / max(our_calls, 1), 3),
        "ours_counters_read_ms_per_call": round(ours_counters / max(our_calls, 1), 3),
        "theirs_top_queries_ms_per_call": round(theirs_main / max(their_calls, 1), 3),
        "floor_full_read_ms": round(floor_total / max(floor_calls, 1), 3),
    }


def start_postgres(timeout: float) -> tuple[str, Path, list, dict]:
    """A throwaway cluster with pg_stat_statements preloaded.

    Returns (url, socket dir, psql argv, run_cmd keywords to run as the cluster's owner)."""
    bindir = cs.find_pg_bindir()
    tmp = Path(tempfile.mkdtemp(prefix="pwt-bench-pg-"))
    os.chmod(tmp, 0o755)
    data, sock = tmp / "data", tmp / "sock"
    sock.mkdir()
    kw = {}
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (tmp, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    port = cs.free_port()
    pg_ctl = bindir / "pg_ctl"
    state = {"started": False}

    def stop():
        if state["started"]:
            cs.run_cmd([pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], 60, **kw)
        shutil.rmtree(tmp, ignore_errors=True)
        cs.log("throwaway PostgreSQL stopped and removed")

    cs._cleanups.append(stop)
    r = cs.run_cmd([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync"], timeout, cwd=tmp, **kw)
    if r.returncode != 0:
        raise cs.BenchError(f"initdb failed:\n{r.stdout[-2000:]}")
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={sock} "
            "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=10000 "
            "-c track_io_timing=on -c fsync=off -c max_connections=50")
    state["started"] = True
    r = cs.run_cmd([pg_ctl, "-D", data, "-l", sock / "pg.log", "-w", "-t", str(int(timeout)), "-o", opts,
                    "start"], timeout + 30, cwd=tmp, **kw)
    if r.returncode != 0:
        raise cs.BenchError(f"pg_ctl start failed:\n{r.stdout[-2000:]}")
    psql = [bindir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sock), "-p", str(port),
            "-U", "postgres"]
    cs.log(f"PostgreSQL ({bindir.parent.name}) on 127.0.0.1:{port}")
    return f"postgresql://postgres@127.0.0.1:{port}/bench", sock, psql, kw


def fill_statements(psql: list, kw: dict, n: int, timeout: float) -> int:
    tables = max(1, (n + 49) // 50)
    cols = ", ".join(f"c{j} int DEFAULT {j}" for j in range(50))
    setup = "\n".join([
        "CREATE DATABASE bench;",
        "\\c bench",
        "CREATE EXTENSION pg_stat_statements;",
        f"SELECT format('CREATE TABLE t%s (id int PRIMARY KEY, {cols})', k) FROM generate_series(0, {tables - 1}) k \\gexec",
        f"SELECT format('INSERT INTO t%s (id) VALUES (1)', k) FROM generate_series(0, {tables - 1}) k \\gexec",
        "SELECT pg_stat_statements_reset();",
        # Each (table, column) pair is a distinct normalised statement; run each twice.
        f"SELECT format('SELECT c%s FROM t%s WHERE id = 1', j, k) FROM generate_series(0, {tables - 1}) k, "
        f"generate_series(0, 49) j, generate_series(1, 2) LIMIT {2 * n} \\gexec",
        "SELECT 'SELECT pg_sleep(0.05)' FROM generate_series(1, 3) \\gexec",
    ])
    fd, path = tempfile.mkstemp(prefix="pwt-bench-", suffix=".sql")
    with os.fdopen(fd, "w") as f:
        f.write(setup + "\n")
    os.chmod(path, 0o644)
    cs._cleanups.append(lambda: os.unlink(path))
    t0 = time.perf_counter()
    r = cs.run_cmd(psql + ["-d", "postgres", "-o", "/dev/null", "-f", path], timeout, **kw)
    if r.returncode != 0:
        raise cs.BenchError(f"workload failed:\n{r.stdout[-2000:]}")
    r = cs.run_cmd(psql + ["-d", "bench", "-At", "-c", "SELECT count(*) FROM pg_stat_statements"], 60, **kw)
    count = int(r.stdout.strip().splitlines()[-1])
    cs.log(f"pg_stat_statements holds {count} statements (filled in {time.perf_counter() - t0:.1f} s)")
    return count


def bare_rows(result: dict) -> tuple[int, float]:
    rows, total = result["bare"].split()
    return int(rows), float(total)


def check_result(label: str, result: dict, want) -> None:
    """`want`: a string the result must contain, or a predicate on it."""
    if result.get("isError"):
        raise cs.BenchError(f"{label}: tool error: {json.dumps(result)[:500]}")
    text = json.dumps(result)
    if callable(want) and not want(result) or isinstance(want, str) and want not in text:
        raise cs.BenchError(f"{label}: unexpected result: {text[:500]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=40, help="measured calls per tool (default 40)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--statements", type=int, default=5000)
    ap.add_argument("--ours", type=Path, default=cs.DEFAULT_OURS)
    ap.add_argument("--venv-python", default=None, help="Python >= 3.12 for postgres-mcp's venv")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--goal", type=float, default=5.0)
    args = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, cs._on_signal)
    logdir = Path(tempfile.mkdtemp(prefix="pwt-bench-logs-"))
    cs._cleanups.insert(0, lambda: shutil.rmtree(logdir, ignore_errors=True))
    try:
        cs.ensure_ours(args.ours, "if-missing", 1800)
        ensure_bare(1800)
        script = cs.ensure_venv(cs.PG_MCP, args.venv_python, 1800)
        url, _sock, psql, kw = start_postgres(60)
        count = fill_statements(psql, kw, args.statements, 600)
        if count < args.statements:
            raise cs.BenchError(f"only {count} statements in pg_stat_statements, wanted {args.statements}")

        ours = cs.McpSession("ours", [args.ours.resolve()],
                             {**os.environ, "DATABASE_URL": url, "RUST_LOG": "warn"}, logdir / "ours.err")
        theirs = cs.McpSession("postgres-mcp", [script, "--access-mode=restricted", url],
                               cs.python_env(), logdir / "theirs.err")
        for s in (ours, theirs):
            s.initialize(60)
            s.notify("notifications/initialized")
            s.list_tools(60)

        bare_exact = BareSession(url, "exact", logdir / "bare-exact.err")
        bare_floor = BareSession(url, "floor", logdir / "bare-floor.err")
        plans = [
            ("ours", ours, "slow_queries", OURS_ARGS, "statements"),
            ("ours_statements_only", ours, "slow_queries", OURS_STATEMENTS_ONLY, "statements"),
            ("postgres_mcp", theirs, "get_top_queries", THEIRS_ARGS, "pg_sleep"),
            # `count` spans every database; the exact read covers only `bench`, which holds
            # all but the few statements of the set-up.
            ("bare_exact_read", bare_exact, "-", {}, lambda r: bare_rows(r)[0] >= count - 100),
            ("bare_floor_read", bare_floor, "-", {}, lambda r: bare_rows(r)[0] == 1 and bare_rows(r)[1] >= count),
        ]
        times: dict[str, list[float]] = {p[0]: [] for p in plans}
        for i in range(args.warmup + args.calls):
            # Rotate who goes first: the call right after the other server's tends to pay
            # for the caches and the CPU that server just used.
            for key, sess, tool, arguments, want in plans[i % len(plans):] + plans[:i % len(plans)]:
                t0 = time.perf_counter()
                res = sess.request("tools/call", {"name": tool, "arguments": arguments}, 120)
                dt = (time.perf_counter() - t0) * 1000.0
                check_result(key, res, want)
                if i >= args.warmup:
                    times[key].append(dt)
        sample = ours.request("tools/call", {"name": "slow_queries", "arguments": OURS_ARGS}, 60)
        ours.close()
        theirs.close()
        bare_exact.close()
        bare_floor.close()
        calls_total = args.warmup + args.calls
        server = server_side(psql, kw, 2 * calls_total + 1, calls_total)

        summary = {k: cs.summarize(v) for k, v in times.items()}
        ratio = statistics.median(times["postgres_mcp"]) / statistics.median(times["ours"])
        ratio_only = statistics.median(times["postgres_mcp"]) / statistics.median(times["ours_statements_only"])
        bound = {k: round(statistics.median(times["postgres_mcp"]) / statistics.median(times[k]), 2)
                 for k in ("bare_exact_read", "bare_floor_read")}
        res = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": cs.host_info(),
            "statements_in_pg_stat_statements": count,
            "calls": args.calls,
            "ms": summary,
            "ratio_median_theirs_over_ours": round(ratio, 2),
            "ratio_median_theirs_over_ours_statements_only": round(ratio_only, 2),
            "goal": args.goal,
            "ratio_median_theirs_over_bare": bound,
            "server_side_ms": server,
            "our_top_statement": sample.get("structuredContent", {}).get("statements", [{}])[0].get("query"),
        }
        print(f"pg_stat_statements: {count} statements; {args.calls} calls each, interleaved")
        for k, s in summary.items():
            print(f"  {k:<22} median {s['median']:8.2f} ms   p90 {s['p90']:8.2f} ms")
        print("server execution per call, from pg_stat_statements over the run:")
        print(f"  ours, all statements of a call  {server['ours_all_statements_ms_per_call']:8.2f} ms "
              f"(the counters read: {server['ours_counters_read_ms_per_call']:.2f} ms)")
        print(f"  postgres-mcp, its top-queries read {server['theirs_top_queries_ms_per_call']:6.2f} ms")
        print(f"  floor: every entry, no text (count(*) FROM pg_stat_statements(false)) "
              f"{server['floor_full_read_ms']:.2f} ms")
        best = statistics.median(times["postgres_mcp"]) / server["floor_full_read_ms"] if server["floor_full_read_ms"] else 0
        print(f"  a call that cost nothing but the floor would be {best:.1f}x faster than postgres-mcp")
        print("the bound, in the same rotation (postgres-mcp / a bare client's read, no MCP): "
              f"every statement's counters {bound['bare_exact_read']:.1f}x, "
              f"PostgreSQL's floor alone {bound['bare_floor_read']:.1f}x")
        print(f"ratio (postgres-mcp get_top_queries / our slow_queries), medians: {ratio:.1f}x "
              f"(statements only: {ratio_only:.1f}x) — goal >= {args.goal}x: "
              f"{'PASS' if ratio >= args.goal else 'FAIL'}")
        if args.json:
            args.json.write_text(json.dumps(res, indent=2) + "\n")
        return 0 if ratio >= args.goal else 1
    except cs.BenchError as e:
        cs.log(f"ERROR: {e}")
        return 2
    finally:
        cs.cleanup_all()


if __name__ == "__main__":
    sys.exit(main())
