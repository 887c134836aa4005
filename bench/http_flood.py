#!/usr/bin/env python3
"""Connections that send nothing against `serve --http`: does the team still get served?

Reproduces the idle-connection flood on loopback, bounded in count and time, and prints the figures:

  1. starts the server binary under an open-files limit (default 1,024, as `ulimit -n 1024`
     or systemd's default soft limit) with a bearer token, on 127.0.0.1 and a free port;
  2. a prober sends, every 100 ms and on a fresh connection each time, alternately an
     authenticated `tools/call capacity_math` and a `GET /healthz`, each with a 5 s time
     limit, for the whole run;
  3. an attacker without the token opens IDLE connections that send nothing and HALF
     connections that stop in the middle of their headers
     (`POST /mcp HTTP/1.1\\r\\nHost: ...\\r\\nX-a: `), interleaved, as fast as it can, and holds
     them for HOLD seconds, counting every second how many the server still keeps open;
  4. then closes them all and checks that calls still work.

It prints how many attacker connections were opened and how long the server kept them (the
attacker's view, and the server's open descriptors from /proc, sampled every 20 ms), the call
and health-check latency before, during and after the flood (p50 / p99 / max and failures),
the server's peak memory and its warnings (the connection limits' reports). With --sustain
the attacker reopens every connection the server closes, for the whole hold.
FLOOD_DEBUG=1 also prints each probe slower than 200 ms with its connect time (a connect of
about 1 s is a SYN the kernel dropped: the accept queue was full).

    python3 bench/http_flood.py                                  # 3,000 idle + 3,000 half, 35 s
    python3 bench/http_flood.py --bin /tmp/old-binary --hold 10  # the same against another build
    python3 bench/http_flood.py --idle 4900 --half 4900 --server-args '--header-timeout 2s'
    python3 bench/http_flood.py --sustain --hold 30     # reopen whatever the server closes

The binary defaults to target/debug/python-web-troubleshooter (`cargo build` first). The
script raises its own soft open-files limit to its hard limit, so it needs a hard limit above
IDLE + HALF + 100. Linux only (/proc). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOKEN = "flood-bench-token-0123456789abcdef"
CALL = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": "capacity_math",
    "arguments": {"replicas": 32, "workers_per_replica": 4, "avg_latency_ms": 4000}}}).encode()
PROBE_EVERY = 0.1
PROBE_LIMIT = 5.0


def request(port: int, method: str, path: str, body: bytes = b"", token: bool = True) -> bytes:
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if token:
        head.append(f"Authorization: Bearer {TOKEN}")
    if body:
        head += ["Content-Type: application/json",
                 "Accept: application/json, text/event-stream",
                 "MCP-Protocol-Version: 2025-06-18", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def exchange(port: int, payload: bytes, limit: float) -> tuple[float | None, str]:
    """One request on a fresh connection: (seconds, "") or (None, why it failed)."""
    start = time.monotonic()
    deadline = start + limit
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
            connected = time.monotonic() - start
            s.sendall(payload)
            data = b""
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None, "timeout"
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                head, sep, body = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if sep and m and len(body) >= int(m.group(1)):
                    break
    except socket.timeout:
        return None, "timeout"
    except OSError as e:
        return None, type(e).__name__
    elapsed = time.monotonic() - start
    if os.environ.get("FLOOD_DEBUG") and elapsed > 0.2:
        print(f"slow probe at {time.time():.3f}: connect {connected * 1000:.0f} ms, total {elapsed * 1000:.0f} ms", file=sys.stderr)
    if not data.startswith(b"HTTP/1.1 200"):
        return None, data[:40].decode(errors="replace") or "closed without an answer"
    if b"/mcp" in payload[:20] and b'"total_workers":128' not in data:
        return None, "unexpected answer"
    return elapsed, ""


class FdSampler(threading.Thread):
    """The server's open file descriptors (/proc/PID/fd), sampled every 20 ms: the peak and
    the latest count."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.stop = threading.Event()
        self.peak = 0
        self.latest = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.latest = len(os.listdir(f"/proc/{self.pid}/fd"))
            except OSError:
                return
            self.peak = max(self.peak, self.latest)
            self.stop.wait(0.02)


class Prober(threading.Thread):
    """Authenticated calls and health checks, alternately, every PROBE_EVERY seconds."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.phase = "before"
        self.results: list[tuple[str, str, float | None, str]] = []  # phase, kind, s, error

    def run(self) -> None:
        call = request(self.port, "POST", "/mcp", CALL)
        health = request(self.port, "GET", "/healthz", token=False)
        n = 0
        while not self.stop.is_set():
            kind, payload = ("call", call) if n % 2 == 0 else ("healthz", health)
            phase = self.phase
            seconds, error = exchange(self.port, payload, PROBE_LIMIT)
            self.results.append((phase, kind, seconds, error))
            n += 1
            self.stop.wait(PROBE_EVERY)


def still_open(socks: list[socket.socket]) -> int:
    """How many of the attacker's sockets the server has not closed."""
    n = 0
    for s in socks:
        if s.fileno() < 0:
            continue
        try:
            if s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                s.close()  # closed by the server: free the port and the descriptor
                continue
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            continue
        n += 1
    return n


def open_flood(port: int, n_idle: int, n_half: int,
               limit: float = 5.0) -> tuple[list, list, int]:
    """Opens the attacker's connections without waiting on each (a server that stopped
    accepting must not stall the script): interleaved non-blocking connects, then up to
    `limit` seconds for them to complete; the half ones then send an unfinished head."""
    half_head = f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-a: ".encode()
    pending: dict[int, tuple[socket.socket, str]] = {}
    poller = select.poll()
    for i in range(max(n_idle, n_half)):
        for kind, count in (("idle", n_idle), ("half", n_half)):
            if i >= count:
                continue
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            pending[s.fileno()] = (s, kind)
            poller.register(s.fileno(), select.POLLOUT)
    idle, half, failed = [], [], 0
    deadline = time.monotonic() + limit
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            s, kind = pending.pop(fd)
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                failed += 1
                s.close()
                continue
            if kind == "half":
                try:
                    s.send(half_head)
                except OSError:
                    failed += 1
                    s.close()
                    continue
            (idle if kind == "idle" else half).append(s)
    failed += len(pending)  # never completed: the server's accept queue was full
    for s, _ in pending.values():
        s.close()
    return idle, half, failed


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p = lambda q: values[min(len(values) - 1, int(q * len(values)))] * 1000  # noqa: E731
    return f"p50 {p(0.5):.1f} ms  p99 {p(0.99):.1f} ms  max {values[-1] * 1000:.1f} ms"


def vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(REPO / "target/debug/python-web-troubleshooter"))
    ap.add_argument("--idle", type=int, default=3000, help="connections that send nothing")
    ap.add_argument("--half", type=int, default=3000, help="connections that stop mid-headers")
    ap.add_argument("--nofile", type=int, default=1024, help="the server's open-files limit")
    ap.add_argument("--hold", type=float, default=35, help="seconds the attacker holds on")
    ap.add_argument("--sustain", action="store_true",
                    help="reopen every connection the server closes, for the whole hold")
    ap.add_argument("--server-args", default="", help="more arguments for `serve`")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.idle + args.half + 100
    if hard != resource.RLIM_INFINITY and hard < need:
        sys.exit(f"this needs an open-files hard limit of {need}; it is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    nofile = args.nofile
    server = subprocess.Popen(
        [args.bin, "serve", "--http", "127.0.0.1:0", *args.server_args.split()],
        # The default log filter, as in production.
        env={k: v for k, v in os.environ.items() if k != "RUST_LOG"} | {"PWT_HTTP_TOKEN": TOKEN},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))
    log: list[str] = []
    port_found = threading.Event()
    port = [0]

    def read_log() -> None:
        for line in server.stderr:
            log.append(line.rstrip())
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m and not port[0]:
                port[0] = int(m.group(1))
                port_found.set()

    threading.Thread(target=read_log, daemon=True).start()
    if not port_found.wait(15):
        server.kill()
        sys.exit("the server did not report its port within 15 s:\n" + "\n".join(log[-20:]))
    port = port[0]
    print(f"server pid {server.pid} on 127.0.0.1:{port}, open-files limit {nofile}")
    for line in log:
        if "listening on" in line:
            print("  " + line.split("  ", 1)[-1])

    fds = FdSampler(server.pid)
    fds.start()
    prober = Prober(port)
    prober.start()
    time.sleep(2)

    prober.phase = "during"
    started = time.monotonic()
    idle, half, failed_connects = open_flood(port, args.idle, args.half)
    opened = time.monotonic() - started
    print(f"attacker: {len(idle)} idle + {len(half)} half-sent connections opened in {opened:.2f} s"
          f" ({failed_connects} connects failed)")

    timeline = []
    attempted = len(idle) + len(half) + failed_connects
    t0 = time.monotonic()
    next_sample = 0.0
    while True:
        t = time.monotonic() - t0
        if t >= next_sample:
            o_idle, o_half = still_open(idle), still_open(half)
            timeline.append((round(t, 1), o_idle, o_half, fds.latest))
            next_sample += 1
        if t >= args.hold:
            break
        if args.sustain:
            still_open(idle)
            still_open(half)
            idle = [s for s in idle if s.fileno() >= 0]
            half = [s for s in half if s.fileno() >= 0]
            more_idle, more_half, failed = open_flood(
                port, args.idle - len(idle), args.half - len(half), limit=0.5)
            idle += more_idle
            half += more_half
            attempted += len(more_idle) + len(more_half) + failed
        time.sleep(0.05)
    if args.sustain:
        print(f"attacker (sustained): {attempted} connections opened in {args.hold:g} s,"
              f" reopening each one the server closed")
    print("seconds after the flood: attacker sockets not closed by the server (idle/half),"
          " server's open descriptors")
    print("  " + ", ".join(f"{t:g} s: {a}/{b}, {f} fds" for t, a, b, f in timeline
                          if t in (0, 1, 2, 3, 5, 6, 10, 20) or t == timeline[-1][0]))
    print(f"  peak server descriptors: {fds.peak} (limit {nofile})")
    print("  (a socket the server never accepted, because the kernel dropped its handshake while"
          " the accept queue was full, stays open on the attacker's side only)")
    for s in idle + half:
        s.close()
    prober.phase = "after"
    time.sleep(3)
    prober.stop.set()
    prober.join()
    fds.stop.set()
    alive = server.poll() is None
    hwm = vm_hwm_mib(server.pid) if alive else float("nan")
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()

    figures: dict = {"idle": len(idle), "half": len(half), "open_files_limit": nofile,
                     "opened_in_s": round(opened, 2), "timeline": timeline,
                     "server_alive": alive, "vm_hwm_mib": round(hwm, 1), "peak_server_fds": fds.peak,
                     "attempted": attempted, "sustained": args.sustain}
    print(f"server alive after the flood: {alive}; peak resident memory {hwm:.1f} MiB")
    for phase in ("before", "during", "after"):
        for kind in ("call", "healthz"):
            rows = [r for r in prober.results if r[0] == phase and r[1] == kind]
            ok = [r[2] for r in rows if r[2] is not None]
            errors = [r[3] for r in rows if r[2] is None]
            summary = {"n": len(rows), "failed": len(errors)}
            if ok:
                summary |= {"p50_ms": round(statistics.median(ok) * 1000, 2),
                            "max_ms": round(max(ok) * 1000, 2)}
            figures[f"{kind}_{phase}"] = summary
            why = f"  failures: {sorted(set(errors))}" if errors else ""
            print(f"{kind:8} {phase:7} n={len(rows):4} failed={len(errors):3}  {percentiles(ok)}{why}")
    limit_lines = [line for line in log if " WARN " in line or " ERROR " in line]
    print(f"server warnings and errors: {len(limit_lines)}")
    for line in limit_lines[:6]:
        print("  " + line[:400])
    figures["log_lines"] = len(limit_lines)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    failed = sum(v["failed"] for k, v in figures.items() if isinstance(v, dict) and "failed" in v)
    return 0 if alive and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
