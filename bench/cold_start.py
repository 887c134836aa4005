#!/usr/bin/env python3
"""Cold-start, round-trip and memory benchmark: our MCP server vs. a Python MCP server.

Measures in one run:
  1. our release binary: wall time from spawn to a completed
     initialize + notifications/initialized + tools/list over stdio (N runs);
  2. the same for postgres-mcp 0.3.0 from PyPI (installed into target/bench-venv),
     optionally also awslabs-cloudwatch-mcp-server 0.3.1 (--also-cloudwatch);
  3. our tools/call round trip for capacity_math over one long-lived session;
  4. resident memory (VmRSS / VmHWM from /proc) of each server;
  5. ratios plus PASS/FAIL for the goals, and optionally writes JSON.

Both servers are driven by the same minimal hand-written JSON-RPC client
(newline-delimited JSON over pipes), so the client's cost is identical and tiny.
Standard library only. Linux only (/proc). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import math
import os
import platform
import select
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"
DEFAULT_OURS = REPO / "target" / "release" / "python-web-troubleshooter"
PROTOCOL_VERSION = "2025-06-18"
CLIENT_INFO = {"name": "cold-start-bench", "version": "1"}
CAPACITY_ARGS = {
    "replicas": 32,
    "workers_per_replica": 4,
    "avg_latency_ms": 4000,
    "arrival_rps": 20,
    "cpu_cores": 4,
}

PG_MCP = {
    "key": "postgres-mcp",
    "label": "postgres-mcp 0.3.0",
    "dist": "postgres-mcp",
    "version": "0.3.0",
    "venv": REPO / "target" / "bench-venv",
    "requirements": BENCH_DIR / "requirements.txt",
    "min_python": (3, 12),
    "script": "postgres-mcp",
}
CW_MCP = {
    "key": "cloudwatch-mcp",
    "label": "awslabs-cloudwatch-mcp-server 0.3.1",
    "dist": "awslabs-cloudwatch-mcp-server",
    "version": "0.3.1",
    "venv": REPO / "target" / "bench-venv-cloudwatch",
    "requirements": BENCH_DIR / "requirements-cloudwatch.txt",
    "min_python": (3, 10),
    "script": "awslabs.cloudwatch-mcp-server",
}

VERBOSE = False


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def vlog(msg: str) -> None:
    if VERBOSE:
        log(msg)


class BenchError(Exception):
    """Setup or measurement failure."""


class ServerError(BenchError):
    """An MCP server did not answer correctly (or in time)."""


# ---------------------------------------------------------------------------
# Child process bookkeeping: every child gets its own session/process group so
# a terminal Ctrl-C reaches only us, and we kill whole groups on the way out.
# ---------------------------------------------------------------------------

_children: list[subprocess.Popen] = []
_cleanups: list = []  # callables, run LIFO
_cleaned = False


def spawn(argv, **kw) -> subprocess.Popen:
    kw.setdefault("start_new_session", True)
    vlog("spawn: " + " ".join(shlex.quote(str(a)) for a in argv))
    try:
        p = subprocess.Popen([str(a) for a in argv], **kw)
    except OSError as e:
        raise BenchError(f"cannot start {argv[0]}: {e}") from None
    _children.append(p)
    return p


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(p: subprocess.Popen, grace: float = 2.0) -> None:
    """SIGTERM the child's process group, wait up to `grace`, then SIGKILL."""
    if p.poll() is None:
        _killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    # Also catches grandchildren left in the group after the leader exited.
    _killpg(p.pid, signal.SIGKILL)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        log(f"warning: pid {p.pid} did not die after SIGKILL")
    forget(p)


def forget(p: subprocess.Popen) -> None:
    try:
        _children.remove(p)
    except ValueError:
        pass


def cleanup_all() -> None:
    global _cleaned
    if _cleaned:
        return
    _cleaned = True
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # don't let a 2nd Ctrl-C abort cleanup
    try:
        for p in list(reversed(_children)):
            kill_tree(p, grace=1.0)
        while _cleanups:
            fn = _cleanups.pop()
            try:
                fn()
            except Exception as e:  # noqa: BLE001
                log(f"warning: cleanup step failed: {e}")
    finally:
        signal.signal(signal.SIGINT, old)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def run_cmd(argv, timeout: float, capture: bool = True, **kw) -> subprocess.CompletedProcess:
    """Run a command to completion, bounded by `timeout` (kills its group on timeout)."""
    if capture:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.STDOUT)
    else:
        # keep our own stdout (the report) clean: tool chatter goes to stderr
        kw.setdefault("stdout", sys.stderr.fileno())
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = spawn(argv, **kw)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        raise BenchError(f"timed out after {timeout:.0f}s: {' '.join(map(str, argv))}")
    except BaseException:
        kill_tree(p)
        raise
    forget(p)  # exited normally: do not killpg it later (pg_ctl leaves the postmaster in its group)
    text = out.decode(errors="replace") if isinstance(out, bytes) else (out or "")
    return subprocess.CompletedProcess(p.args, p.returncode, text, None)


# ---------------------------------------------------------------------------
# /proc helpers
# ---------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])  # kB
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_memory(root: int) -> dict:
    pids = process_tree(root)
    per = {pid: proc_status(pid) for pid in pids}
    per = {pid: st for pid, st in per.items() if st}
    return {
        "processes": len(per),
        "vmrss_kib": sum(st.get("VmRSS", 0) for st in per.values()),
        "vmhwm_kib": sum(st.get("VmHWM", 0) for st in per.values()),
        "rss_anon_kib": sum(st.get("RssAnon", 0) for st in per.values()),
        "rss_file_kib": sum(st.get("RssFile", 0) for st in per.values()),
    }


# ---------------------------------------------------------------------------
# Minimal MCP stdio client (newline-delimited JSON-RPC 2.0)
# ---------------------------------------------------------------------------


class McpSession:
    def __init__(self, label: str, argv: list, env: dict, stderr_path: Path, cwd=None):
        self.label = label
        self.stderr_path = stderr_path
        self._err = open(stderr_path, "wb")
        self.proc = spawn(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            bufsize=0,
            env=env,
            cwd=cwd,
        )
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        self._buf = bytearray()
        self._scan = 0
        self._next_id = 1
        self.last_line_ns = 0
        self.server_info = None
        self.protocol_version = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_tail(self, n: int = 1500) -> str:
        try:
            self._err.flush()
            data = self.stderr_path.read_bytes()
        except OSError:
            return ""
        return data[-n:].decode(errors="replace")

    def _fail(self, msg: str) -> ServerError:
        rc = self.proc.poll()
        extra = f" (exit code {rc})" if rc is not None else ""
        tail = self.stderr_tail()
        if tail.strip():
            extra += "\n--- server stderr (tail) ---\n" + tail.rstrip() + "\n---"
        return ServerError(f"{self.label}: {msg}{extra}")

    def send(self, obj: dict) -> None:
        data = memoryview(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        try:
            while data:
                n = os.write(self._in, data)
                data = data[n:]
        except (BrokenPipeError, OSError) as e:
            raise self._fail(f"cannot write to server stdin: {e}") from None

    def recv(self, deadline: float) -> dict:
        while True:
            nl = self._buf.find(b"\n", self._scan)
            if nl >= 0:
                self.last_line_ns = time.perf_counter_ns()  # whole line received, not yet parsed
                line = bytes(self._buf[:nl]).strip()
                del self._buf[: nl + 1]
                self._scan = 0
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    raise self._fail(f"non-JSON line on stdout: {line[:200]!r}") from None
                if not isinstance(msg, dict):
                    raise self._fail(f"unexpected JSON on stdout: {line[:200]!r}")
                return msg
            self._scan = len(self._buf)
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise self._fail("timed out waiting for a response")
            ready, _, _ = select.select([self._out], [], [], remaining)
            if not ready:
                raise self._fail("timed out waiting for a response")
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise self._fail("server closed stdout (exited?)")
            self._buf += chunk

    def request(self, method: str, params: dict | None, timeout: float) -> dict:
        rid = self._next_id
        self._next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        deadline = time.perf_counter() + timeout
        while True:
            resp = self.recv(deadline)
            if "method" in resp:
                if "id" in resp:  # a server->client request: we support none of them
                    self.send({"jsonrpc": "2.0", "id": resp["id"],
                               "error": {"code": -32601, "message": "method not found"}})
                continue  # notification (log message, progress...): ignore
            if resp.get("id") != rid:
                continue
            if "error" in resp:
                raise self._fail(f"{method} returned error: {json.dumps(resp['error'])[:500]}")
            if not isinstance(resp.get("result"), dict):
                raise self._fail(f"{method}: response has no result object: {json.dumps(resp)[:300]}")
            return resp["result"]

    def notify(self, method: str, params: dict | None = None) -> None:
        msg = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)

    def initialize(self, timeout: float) -> dict:
        res = self.request(
            "initialize",
            {"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": CLIENT_INFO},
            timeout,
        )
        if not isinstance(res, dict) or "protocolVersion" not in res:
            raise self._fail(f"bad initialize result: {json.dumps(res)[:300]}")
        self.server_info = res.get("serverInfo")
        self.protocol_version = res.get("protocolVersion")
        return res

    def list_tools(self, timeout: float) -> list:
        tools, cursor, pages = [], None, 0
        while True:
            res = self.request("tools/list", {"cursor": cursor} if cursor else None, timeout)
            page = res.get("tools")
            if not isinstance(page, list):
                raise self._fail(f"bad tools/list result: {json.dumps(res)[:300]}")
            tools.extend(page)
            cursor = res.get("nextCursor")
            pages += 1
            if not cursor or pages > 100:
                return tools

    def close(self, grace: float = 5.0) -> dict:
        """Close stdin (the MCP stdio shutdown), wait up to `grace`, then kill.

        Reaps the child with wait4() so we also get its CPU time (user+sys over its
        whole life), which is far less sensitive to a busy machine than wall time."""
        info = {"clean_exit": False, "exit_code": None, "exit_s": None, "cpu_ms": None}
        t0 = time.perf_counter()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        deadline = t0 + grace
        while self.proc.returncode is None:
            try:
                pid, status, ru = os.wait4(self.proc.pid, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                info.update(clean_exit=True, exit_code=self.proc.returncode,
                            exit_s=time.perf_counter() - t0,
                            cpu_ms=(ru.ru_utime + ru.ru_stime) * 1e3)
                break
            if time.perf_counter() >= deadline:
                break
            time.sleep(0.0005)
        kill_tree(self.proc, grace=1.0)
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self._err.close()
        return info


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


def pct(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = max(1, math.ceil(p / 100.0 * len(sorted_vals)))
    return sorted_vals[k - 1]


def summarize(vals: list[float], ndigits: int = 3) -> dict:
    s = sorted(vals)
    r = lambda x: round(x, ndigits)  # noqa: E731
    return {
        "n": len(s),
        "median": r(statistics.median(s)),
        "p90": r(pct(s, 90)),
        "p99": r(pct(s, 99)),
        "min": r(s[0]),
        "max": r(s[-1]),
        "mean": r(statistics.fmean(s)),
        "samples": [r(v) for v in vals],
    }


def cold_start_once(label, argv, env, timeout, stderr_path) -> dict:
    t0 = time.perf_counter_ns()
    s = McpSession(label, argv, env, stderr_path)
    try:
        s.initialize(timeout)
        t_init = time.perf_counter_ns()
        s.notify("notifications/initialized")
        tools = s.list_tools(timeout)
        t_done = time.perf_counter_ns()
        if not tools:
            raise s._fail("tools/list returned no tools")
        return {
            "total_ms": (t_done - t0) / 1e6,
            "initialize_ms": (t_init - t0) / 1e6,
            "tools": len(tools),
            "tool_names": [t.get("name") for t in tools],
            "server_info": s.server_info,
            "protocol_version": s.protocol_version,
            "exit": s.close(),
        }
    except BaseException:
        s.close(grace=0.5)
        raise


def bench_cold_start(label, argv, env, runs, warmup, timeout, logdir: Path, stderr_warn: str | None = None) -> dict:
    """`stderr_warn`: a string that, if found in the server's stderr, means the run was not valid."""
    errp = logdir / f"{slug(label)}-cold.stderr"
    for i in range(warmup):
        r = cold_start_once(label, argv, env, timeout, errp)
        log(f"{label}: warm-up spawn {i + 1}/{warmup}: {r['total_ms']:.2f} ms (discarded)")
    results = []
    for i in range(runs):
        r = cold_start_once(label, argv, env, timeout, errp)
        results.append(r)
        if stderr_warn:
            tail = errp.read_bytes().decode(errors="replace")
            if stderr_warn in tail:
                raise ServerError(f"{label}: stderr says {stderr_warn!r}:\n{tail[-1500:]}")
        vlog(f"{label}: run {i + 1}/{runs}: {r['total_ms']:.2f} ms (initialize {r['initialize_ms']:.2f} ms)")
    last = results[-1]
    log(f"{label}: {runs} cold starts, median "
        f"{statistics.median(r['total_ms'] for r in results):.2f} ms, {last['tools']} tools")
    return {
        "cold_start_ms": summarize([r["total_ms"] for r in results]),
        "initialize_ms": summarize([r["initialize_ms"] for r in results]),
        "tools": last["tools"],
        "tool_names": last["tool_names"],
        "server_info": last["server_info"],
        "protocol_version": last["protocol_version"],
        "cpu_ms": (summarize(cpu) if len(cpu := [r["exit"]["cpu_ms"] for r in results
                                                  if r["exit"]["cpu_ms"] is not None]) == len(results)
                   else None),
        "exit_on_stdin_close": {
            "clean": sum(1 for r in results if r["exit"]["clean_exit"]),
            "of": len(results),
            "median_s": (round(statistics.median(x), 4)
                         if (x := [r["exit"]["exit_s"] for r in results if r["exit"]["exit_s"] is not None])
                         else None),
        },
    }


def measure_idle_memory(label, argv, env, timeout, settle, logdir: Path) -> dict:
    s = McpSession(label, argv, env, logdir / f"{slug(label)}-mem.stderr")
    try:
        s.initialize(timeout)
        s.notify("notifications/initialized")
        s.list_tools(timeout)
        time.sleep(settle)
        if s.proc.poll() is not None:
            raise s._fail("server exited while idle")
        mem = tree_memory(s.pid)
    finally:
        s.close()
    log(f"{label}: RSS after handshake {mem['vmrss_kib'] / 1024:.1f} MiB over {mem['processes']} process(es)")
    return mem


def bench_ours_session(label, argv, env, timeout, calls, warmup, settle, logdir: Path) -> dict:
    """One long-lived session: RSS after handshake, tools/call round trips, idle RSS."""
    s = McpSession(label, argv, env, logdir / "ours-session.stderr")
    try:
        s.initialize(timeout)
        s.notify("notifications/initialized")
        tools = s.list_tools(timeout)
        names = [t.get("name") for t in tools]
        if "capacity_math" not in names:
            raise s._fail(f"tools/list has no capacity_math (tools: {names})")
        time.sleep(settle)
        mem_hs = tree_memory(s.pid)

        params = {"name": "capacity_math", "arguments": CAPACITY_ARGS}
        first = s.request("tools/call", params, timeout)
        if first.get("isError"):
            raise s._fail(f"capacity_math returned isError: {json.dumps(first)[:500]}")
        vlog(f"capacity_math result: {json.dumps(first)[:400]}")
        for _ in range(max(0, warmup - 1)):
            s.request("tools/call", params, timeout)
        rtts, wire = [], []
        pc = time.perf_counter_ns
        for _ in range(calls):
            t0 = pc()
            res = s.request("tools/call", params, timeout)
            t1 = pc()
            rtts.append((t1 - t0) / 1e3)
            wire.append((s.last_line_ns - t0) / 1e3)
            if res.get("isError"):
                raise s._fail(f"capacity_math returned isError: {json.dumps(res)[:500]}")
        time.sleep(settle)
        if s.proc.poll() is not None:
            raise s._fail("server exited while idle")
        mem_idle = tree_memory(s.pid)
        st = proc_status(s.pid)
    finally:
        s.close()
    rt = summarize(rtts, ndigits=1)
    rt_wire = summarize(wire, ndigits=1)
    log(f"{label}: {calls} x tools/call capacity_math: median {rt['median']:.1f} us, "
        f"p99 {rt['p99']:.1f} us; idle RSS {mem_idle['vmrss_kib'] / 1024:.2f} MiB, "
        f"HWM {st.get('VmHWM', 0) / 1024:.2f} MiB")
    return {
        "tool_call_us": rt,
        "tool_call_to_last_byte_us": rt_wire,
        "tool_call_response_bytes": len(json.dumps(first, separators=(",", ":"))),
        "tool_call_first_result": first,
        "memory_after_handshake": mem_hs,
        "memory_idle_after_calls": mem_idle,
        "main_process_status_kib": st,
    }


def slug(s: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in s).strip("-").lower()


# ---------------------------------------------------------------------------
# Our binary
# ---------------------------------------------------------------------------


def ensure_ours(path: Path, build: str, timeout: float) -> None:
    if build == "always" or (build == "if-missing" and not path.exists()):
        if path.resolve() != DEFAULT_OURS.resolve() and build != "always":
            raise BenchError(f"{path} does not exist (only the default path is built automatically)")
        cargo = shutil.which("cargo")
        if not cargo:
            raise BenchError(f"{path} missing and cargo not found")
        log("building our server: cargo build --release")
        t0 = time.perf_counter()
        r = run_cmd([cargo, "build", "--release"], timeout, capture=False, cwd=REPO)
        if r.returncode != 0:
            raise BenchError(f"cargo build --release failed (exit {r.returncode})")
        log(f"build finished in {time.perf_counter() - t0:.1f}s")
    if not path.exists():
        raise BenchError(f"our server binary {path} does not exist (build it, or drop --no-build)")
    if not os.access(path, os.X_OK):
        raise BenchError(f"{path} is not executable")


# ---------------------------------------------------------------------------
# Python servers: interpreter discovery and venvs
# ---------------------------------------------------------------------------


def python_version(exe: str) -> tuple[int, int] | None:
    try:
        r = run_cmd([exe, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"], 20)
    except (BenchError, OSError):
        return None
    if r.returncode != 0:
        return None
    try:
        a, b = r.stdout.split()[:2]
        return int(a), int(b)
    except ValueError:
        return None


def find_python(min_ver: tuple[int, int], explicit: str | None) -> str:
    if explicit:
        v = python_version(explicit)
        if v is None or v < min_ver:
            raise BenchError(f"--venv-python {explicit} is Python {v}, need >= {min_ver[0]}.{min_ver[1]}")
        return explicit
    cands = [sys.executable]
    for name in ("python3.12", "python3.13", "python3.14", "python3"):
        w = shutil.which(name)
        if w:
            cands.append(w)

    def ver_key(p):
        parts = Path(p).parent.parent.name.split(".")
        return tuple(int(x) if x.isdigit() else 0 for x in parts)

    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    cands += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.*", "bin", "python3")), key=ver_key)
    cands += sorted(glob.glob("/usr/local/bin/python3.1[0-9]")) + sorted(glob.glob("/usr/bin/python3.1[0-9]"))
    seen = set()
    for c in cands:
        if c in seen:
            continue
        seen.add(c)
        v = python_version(c)
        if v is not None and v >= min_ver:
            return c
    raise BenchError(
        f"no Python >= {min_ver[0]}.{min_ver[1]} found (tried {', '.join(seen)}); pass --venv-python"
    )


def ensure_venv(spec: dict, explicit_python: str | None, timeout: float) -> Path:
    """The server's venv, made and kept by scripts/venv.sh with the first Python new enough
    for it. The requirements pin the whole closure, so they are installed with --no-deps."""
    venv: Path = spec["venv"]
    script = venv / "bin" / spec["script"]
    base = find_python(spec["min_python"], explicit_python)
    req: Path = spec["requirements"]
    vlog(f"{spec['label']}: scripts/venv.sh --no-deps {req.relative_to(REPO)} with {base}")
    r = run_cmd(["bash", REPO / "scripts" / "venv.sh", "--python", base, "--no-deps",
                 venv.relative_to(REPO / "target"), req], timeout, capture=False)
    if r.returncode != 0:
        raise BenchError(f"scripts/venv.sh for {spec['label']} failed (exit {r.returncode})")
    v = run_cmd([venv / "bin" / "python", "-c",
                 f"import importlib.metadata as m; print(m.version({spec['dist']!r}))"], 60)
    got = v.stdout.strip() if v.returncode == 0 else None
    if got != spec["version"]:
        raise BenchError(f"{spec['dist']} installed version is {got}, expected {spec['version']}")
    if not script.exists():
        raise BenchError(f"{script} missing after install")
    return script


def python_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(extra or {})
    return env


# ---------------------------------------------------------------------------
# PostgreSQL for postgres-mcp
# ---------------------------------------------------------------------------


def pg_trust_ok(host: str, port: int, user: str, db: str, timeout: float = 3.0) -> tuple[bool, str]:
    """Speak just enough of the PostgreSQL wire protocol to see whether we get a
    session without a password: StartupMessage, then read until ReadyForQuery."""

    def read_exact(sock, n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise OSError("connection closed during startup")
            buf += chunk
        return buf

    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            body = struct.pack("!I", 196608) + b"".join(
                k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", db))
            ) + b"\0"
            sock.sendall(struct.pack("!I", len(body) + 4) + body)
            for _ in range(200):
                kind = read_exact(sock, 1)
                length = struct.unpack("!I", read_exact(sock, 4))[0]
                payload = read_exact(sock, length - 4) if length > 4 else b""
                if kind == b"R":
                    code = struct.unpack("!I", payload[:4])[0]
                    if code != 0:
                        return False, f"server wants a password (auth method {code})"
                elif kind == b"E":
                    fields = dict((f[:1].decode(), f[1:].decode(errors="replace"))
                                  for f in payload.split(b"\0") if f)
                    return False, f"server error: {fields.get('M', payload[:200])}"
                elif kind == b"Z":
                    try:
                        sock.sendall(b"X" + struct.pack("!I", 4))
                    except OSError:
                        pass
                    return True, "ok"
            return False, "no ReadyForQuery"
    except OSError as e:
        return False, str(e)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_pg_bindir() -> Path:
    def key(p):
        v = Path(p).parent.parent.name
        return tuple(int(x) if x.isdigit() else 0 for x in v.split("."))

    dirs = [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=key, reverse=True)]
    w = shutil.which("initdb")
    if w:
        dirs.append(Path(os.path.realpath(w)).parent)
    for d in dirs:
        if (d / "pg_ctl").exists():
            return d
    raise BenchError("no PostgreSQL answers and initdb/pg_ctl not found (apt-get install postgresql)")


def start_temp_postgres(timeout: float) -> str:
    bindir = find_pg_bindir()
    tmp = Path(tempfile.mkdtemp(prefix="mcp-bench-pg-"))
    data = tmp / "data"
    kw = {}
    if os.geteuid() == 0:  # initdb/postgres refuse to run as root
        import pwd
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise BenchError("running as root and there is no 'postgres' user to run initdb as") from None
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        kw = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    port = free_port()
    pg_ctl = bindir / "pg_ctl"
    started = False

    def stop():
        if started:
            r = run_cmd([pg_ctl, "-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], 60, **kw)
            if r.returncode != 0:
                log(f"warning: pg_ctl stop failed: {r.stdout.strip()}")
                pidfile = data / "postmaster.pid"
                if pidfile.exists():
                    try:
                        os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
        shutil.rmtree(tmp, ignore_errors=True)
        log("throwaway PostgreSQL stopped and removed")

    _cleanups.append(stop)
    log(f"starting a throwaway PostgreSQL "
        f"({bindir.parent.name}) on 127.0.0.1:{port} in {tmp}")
    r = run_cmd([bindir / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync", "--no-instructions"], timeout, cwd=tmp, **kw)
    if r.returncode != 0:
        raise BenchError(f"initdb failed:\n{r.stdout[-2000:]}")
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={tmp} "
            f"-c fsync=off -c max_connections=50")
    started = True  # from here on, try to stop it even if start reports failure
    r = run_cmd([pg_ctl, "-D", data, "-l", tmp / "postgres.log", "-w", "-t", str(int(timeout)),
                 "-o", opts, "start"], timeout + 30, cwd=tmp, **kw)
    if r.returncode != 0:
        logtail = (tmp / "postgres.log").read_text(errors="replace")[-2000:] if (tmp / "postgres.log").exists() else ""
        raise BenchError(f"pg_ctl start failed:\n{r.stdout[-2000:]}\n{logtail}")
    ok, why = pg_trust_ok("127.0.0.1", port, "postgres", "postgres")
    if not ok:
        raise BenchError(f"throwaway PostgreSQL does not accept connections: {why}")
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def resolve_pg_url(url: str, force_temp: bool, timeout: float) -> tuple[str, str]:
    if not force_temp:
        u = urllib.parse.urlsplit(url)
        host, port = u.hostname or "127.0.0.1", u.port or 5432
        user = urllib.parse.unquote(u.username or "postgres")
        db = u.path.lstrip("/") or user
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise BenchError(f"refusing non-loopback database host {host!r}")
        ok, why = pg_trust_ok(host, port, user, db)
        if ok:
            return url, "existing"
        log(f"PostgreSQL at {host}:{port} not usable ({why})")
    return start_temp_postgres(timeout), "throwaway"


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def host_info() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "bench_python": platform.python_version(),
    }


def fmt(v, unit="", nd=2) -> str:
    if v is None:
        return "-"
    return f"{v:,.{nd}f}{unit}"


def print_report(res: dict, out) -> None:
    servers = res["servers"]
    cols = [k for k in ("ours", "postgres-mcp", "cloudwatch-mcp") if k in servers]
    head = {"ours": "ours (Rust)", "postgres-mcp": "postgres-mcp", "cloudwatch-mcp": "cloudwatch-mcp"}
    w0, w = 40, 16

    def row(name, vals):
        out.write(f"{name:<{w0}}" + "".join(f"{v:>{w}}" for v in vals) + "\n")

    def g(key, *path):
        d = servers.get(key)
        for p in path:
            if not isinstance(d, dict) or p not in d:
                return None
            d = d[p]
        return d

    out.write("\n")
    row("", [head[c] for c in cols])
    out.write("-" * (w0 + w * len(cols)) + "\n")
    row("cold-start runs (n)", [str(g(c, "cold_start_ms", "n") or "-") for c in cols])
    for stat in ("median", "p90", "min"):
        row(f"cold start {stat} (ms)", [fmt(g(c, "cold_start_ms", stat)) for c in cols])
    row("  of which initialize median (ms)", [fmt(g(c, "initialize_ms", "median")) for c in cols])
    row("CPU time per process life, median (ms)", [fmt(g(c, "cpu_ms", "median")) for c in cols])
    row("tools listed", [str(g(c, "tools") or "-") for c in cols])
    row("VmRSS after handshake (MiB)",
        [fmt(x / 1024 if (x := g(c, "memory_after_handshake", "vmrss_kib")) is not None else None) for c in cols])
    row("  of which RssAnon / RssFile (MiB)",
        [(f"{m['rss_anon_kib'] / 1024:.1f} / {m['rss_file_kib'] / 1024:.1f}"
          if (m := g(c, "memory_after_handshake")) else "-") for c in cols])
    row("VmHWM after handshake (MiB)",
        [fmt(x / 1024 if (x := g(c, "memory_after_handshake", "vmhwm_kib")) is not None else None) for c in cols])
    if "ours" in servers and "tool_call_us" in servers["ours"]:
        o = servers["ours"]
        row("VmRSS idle after calls (MiB)", [fmt(o["memory_idle_after_calls"]["vmrss_kib"] / 1024)])
        row("VmHWM after calls (MiB)", [fmt(o["memory_idle_after_calls"]["vmhwm_kib"] / 1024)])
        tc = o["tool_call_us"]
        row("capacity_math round trip median (us)", [fmt(tc["median"], nd=1)])
        row("capacity_math round trip p99 (us)", [fmt(tc["p99"], nd=1)])
        row(f"  ({tc['n']} sequential calls; min/max us)", [f"{tc['min']:.0f}/{tc['max']:.0f}"])
        row("  median to last byte, before parse (us)", [fmt(o["tool_call_to_last_byte_us"]["median"], nd=1)])
    out.write("\n")
    for k, v in res.get("ratios", {}).items():
        out.write(f"ratio {k}: {v:,.1f}x\n")
    out.write("\n")
    for goal in res.get("goals", []):
        out.write(f"[{goal['status']}] {goal['goal']}: {goal['detail']}\n")
    h = res["host"]
    busy = max(h["loadavg_at_start"][0], h.get("loadavg_at_end", [0])[0])
    if h.get("cpus") and busy > 0.5 * h["cpus"]:
        out.write(f"\nnote: the machine was busy (1-min load average up to {busy:.2f} on {h['cpus']} CPUs): "
                  "wall times and tails are inflated; CPU time per process life is less affected.\n")
    out.flush()


def evaluate(res: dict, args) -> None:
    servers = res["servers"]
    ours = servers.get("ours", {})
    py = servers.get("postgres-mcp", {})
    ratios, goals = {}, []
    if "cold_start_ms" in ours and "cold_start_ms" in py:
        ratios["cold start (postgres-mcp median / ours median)"] = (
            py["cold_start_ms"]["median"] / ours["cold_start_ms"]["median"])
    if "cold_start_ms" in ours and "cold_start_ms" in servers.get("cloudwatch-mcp", {}):
        ratios["cold start (cloudwatch-mcp median / ours median)"] = (
            servers["cloudwatch-mcp"]["cold_start_ms"]["median"] / ours["cold_start_ms"]["median"])
    if ours.get("cpu_ms") and py.get("cpu_ms"):
        ratios["CPU time per process life (postgres-mcp median / ours median)"] = (
            py["cpu_ms"]["median"] / max(1e-3, ours["cpu_ms"]["median"]))
    if "memory_after_handshake" in ours and "memory_after_handshake" in py:
        ratios["RSS after handshake (postgres-mcp / ours)"] = (
            py["memory_after_handshake"]["vmrss_kib"] / max(1, ours["memory_after_handshake"]["vmrss_kib"]))

    # goal 1
    name = f"cold start at least {args.goal_speedup:g}x faster than postgres-mcp"
    if "cold_start_ms" in ours and "cold_start_ms" in py:
        r = py["cold_start_ms"]["median"] / ours["cold_start_ms"]["median"]
        goals.append({"goal": name, "status": "PASS" if r >= args.goal_speedup else "FAIL", "value": round(r, 1),
                      "detail": f"{r:,.1f}x (median {ours['cold_start_ms']['median']:.2f} ms vs "
                                f"{py['cold_start_ms']['median']:.1f} ms)"})
    else:
        goals.append({"goal": name, "status": "SKIP", "value": None, "detail": "not measured"})
    # goal 2
    name = f"capacity_math round trip median under {args.goal_rtt_us:g} us"
    if "tool_call_us" in ours:
        m = ours["tool_call_us"]["median"]
        goals.append({"goal": name, "status": "PASS" if m < args.goal_rtt_us else "FAIL", "value": m,
                      "detail": f"{m:.1f} us (p99 {ours['tool_call_us']['p99']:.1f} us)"})
    else:
        goals.append({"goal": name, "status": "SKIP", "value": None, "detail": "not measured"})
    # goal 3
    name = f"idle RSS under {args.goal_rss_mib:g} MiB"
    if "memory_idle_after_calls" in ours:
        kib = ours["memory_idle_after_calls"]["vmrss_kib"]
        hwm = ours["memory_idle_after_calls"]["vmhwm_kib"]
        goals.append({"goal": name, "status": "PASS" if kib < args.goal_rss_mib * 1024 else "FAIL",
                      "value": round(kib / 1024, 2),
                      "detail": f"{kib / 1024:.2f} MiB VmRSS idle after {ours['tool_call_us']['n']} calls "
                                f"(VmHWM {hwm / 1024:.2f} MiB)"})
    else:
        goals.append({"goal": name, "status": "SKIP", "value": None, "detail": "not measured"})
    res["ratios"] = {k: round(v, 2) for k, v in ratios.items()}
    res["goals"] = goals


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description="Cold start / round trip / RSS benchmark of our MCP server vs. postgres-mcp.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--ours", type=Path, default=DEFAULT_OURS, help="our server binary")
    ap.add_argument("--ours-args", default="", help="extra arguments for our binary (shell-quoted string)")
    ap.add_argument("--no-build", action="store_true", help="never run cargo build")
    ap.add_argument("--build", action="store_true", help="always run cargo build --release first")
    ap.add_argument("--runs", type=int, default=20, help="cold starts of our server")
    ap.add_argument("--python-runs", type=int, default=5, help="cold starts of each Python server")
    ap.add_argument("--warmup-spawns", type=int, default=1,
                    help="unmeasured spawns before each server's cold starts (page cache, .pyc)")
    ap.add_argument("--calls", type=int, default=1000, help="measured capacity_math calls")
    ap.add_argument("--call-warmup", type=int, default=100, help="unmeasured capacity_math calls before")
    ap.add_argument("--settle", type=float, default=0.5, help="seconds idle before reading RSS")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request timeout for our server (s)")
    ap.add_argument("--python-timeout", type=float, default=60.0, help="per-request timeout for Python servers (s)")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="database URL for postgres-mcp (loopback only, trust auth)")
    ap.add_argument("--temp-postgres", action="store_true",
                    help="always start a throwaway PostgreSQL instead of using --pg-url")
    ap.add_argument("--venv-python", help="interpreter for creating the venvs (postgres-mcp needs >= 3.12)")
    ap.add_argument("--install-timeout", type=float, default=1200.0, help="pip install timeout (s)")
    ap.add_argument("--build-timeout", type=float, default=1800.0, help="cargo build timeout (s)")
    ap.add_argument("--skip-python", action="store_true", help="only measure our server")
    ap.add_argument("--skip-ours", action="store_true", help="only measure the Python server(s)")
    ap.add_argument("--also-cloudwatch", action="store_true",
                    help="also cold-start awslabs-cloudwatch-mcp-server 0.3.1 (own venv)")
    ap.add_argument("--goal-speedup", type=float, default=100.0,
                    help="goal: postgres-mcp median cold start / ours must be at least this")
    ap.add_argument("--goal-rtt-us", type=float, default=1000.0,
                    help="goal: our capacity_math round-trip median must be below this (us)")
    ap.add_argument("--goal-rss-mib", type=float, default=15.0,
                    help="goal: our idle VmRSS after the calls must be below this (MiB)")
    ap.add_argument("--strict", action="store_true", help="exit 3 if any goal is FAIL or SKIP")
    ap.add_argument("--json", type=Path, help="write all results (incl. raw samples) here")
    ap.add_argument("--keep-logs", action="store_true", help="keep the servers' stderr logs")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    if a.no_build and a.build:
        ap.error("--build and --no-build are exclusive")
    if a.skip_ours and a.skip_python:
        ap.error("nothing to measure")
    for name in ("runs", "python_runs", "calls"):
        if getattr(a, name) < 1:
            ap.error(f"--{name.replace('_', '-')} must be >= 1")
    return a


def main(argv=None) -> int:
    global VERBOSE
    args = parse_args(argv)
    VERBOSE = args.verbose
    # Ctrl-C -> KeyboardInterrupt even if we were started with SIGINT ignored
    # (background jobs of non-interactive shells); SIGTERM/SIGHUP -> SystemExit.
    # Either way the finally: below kills every child and stops a throwaway PostgreSQL.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # respect nohup
        signal.signal(signal.SIGHUP, _on_signal)

    logdir = Path(tempfile.mkdtemp(prefix="mcp-bench-logs-"))
    if not args.keep_logs:
        _cleanups.insert(0, lambda: shutil.rmtree(logdir, ignore_errors=True))
    else:
        log(f"server stderr logs in {logdir}")

    res = {
        "schema": 1,
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "host": host_info(),
        "config": {
            "protocol_version": PROTOCOL_VERSION,
            "runs": args.runs, "python_runs": args.python_runs, "warmup_spawns": args.warmup_spawns,
            "calls": args.calls, "call_warmup": args.call_warmup, "settle_s": args.settle,
            "capacity_math_arguments": CAPACITY_ARGS,
        },
        "servers": {},
    }
    rc = 0
    try:
        # ---- ours
        if not args.skip_ours:
            try:
                ensure_ours(args.ours, "never" if args.no_build else ("always" if args.build else "if-missing"),
                            args.build_timeout)
                ours_argv = [args.ours.resolve()] + shlex.split(args.ours_args)
                env = dict(os.environ)
                o = {"argv": [str(a) for a in ours_argv], "binary_bytes": args.ours.stat().st_size}
                o.update(bench_cold_start("ours", ours_argv, env, args.runs, args.warmup_spawns,
                                          args.timeout, logdir))
                o.update(bench_ours_session("ours", ours_argv, env, args.timeout, args.calls,
                                            args.call_warmup, args.settle, logdir))
                res["servers"]["ours"] = o
            except BenchError as e:
                log(f"ERROR: our server failed: {e}")
                res["servers"]["ours"] = {"error": str(e)}
                rc = 1
                raise _Abort() from None

        # ---- postgres-mcp
        if not args.skip_python:
            try:
                script = ensure_venv(PG_MCP, args.venv_python, args.install_timeout)
                url, pg_kind = resolve_pg_url(args.pg_url, args.temp_postgres, 60)
                argv = [script, "--access-mode=restricted", url]
                p = {"argv": [str(a) for a in argv], "postgres": pg_kind,
                     "venv_python": python_version(str(PG_MCP["venv"] / "bin" / "python"))}
                env = python_env()
                p.update(bench_cold_start("postgres-mcp", argv, env, args.python_runs, args.warmup_spawns,
                                          args.python_timeout, logdir,
                                          stderr_warn="Could not connect to database"))
                p["memory_after_handshake"] = measure_idle_memory("postgres-mcp", argv, env, args.python_timeout,
                                                                  args.settle, logdir)
                res["servers"]["postgres-mcp"] = p
            except BenchError as e:
                log(f"ERROR: postgres-mcp could not be measured: {e}")
                res["servers"]["postgres-mcp"] = {"error": str(e)}
                if args.skip_ours:
                    rc = 2

        # ---- awslabs-cloudwatch-mcp-server (optional)
        if args.also_cloudwatch and not args.skip_python:
            try:
                script = ensure_venv(CW_MCP, args.venv_python, args.install_timeout)
                argv = [script]
                # Never let boto3 reach for credentials or an endpoint off this machine.
                env = python_env({
                    "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
                    "FASTMCP_LOG_LEVEL": "ERROR",
                })
                env.pop("AWS_PROFILE", None)
                c = {"argv": [str(a) for a in argv],
                     "venv_python": python_version(str(CW_MCP["venv"] / "bin" / "python"))}
                c.update(bench_cold_start("cloudwatch-mcp", argv, env, args.python_runs, args.warmup_spawns,
                                          args.python_timeout, logdir))
                c["memory_after_handshake"] = measure_idle_memory("cloudwatch-mcp", argv, env,
                                                                  args.python_timeout, args.settle, logdir)
                res["servers"]["cloudwatch-mcp"] = c
            except BenchError as e:
                log(f"ERROR: cloudwatch-mcp could not be measured: {e}")
                res["servers"]["cloudwatch-mcp"] = {"error": str(e)}
    except _Abort:
        pass
    finally:
        cleanup_all()

    res["host"]["loadavg_at_end"] = os.getloadavg()
    evaluate(res, args)
    res["ok"] = rc == 0
    if rc == 1:
        print(f"[FAIL] our server did not answer: {res['servers']['ours']['error'].splitlines()[0]}")
    if rc == 0:
        print_report(res, sys.stdout)
        if args.strict and any(g["status"] != "PASS" for g in res["goals"]):
            rc = 3
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
        log(f"wrote {args.json}")
    return rc


class _Abort(Exception):
    pass


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        cleanup_all()
        print("\n[bench] interrupted; children cleaned up", file=sys.stderr)
        sys.exit(130)
    finally:
        cleanup_all()
