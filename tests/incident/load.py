"""Bounded closed-loop load for the live incident test, through nginx on 127.0.0.1.

    python load.py BASE_URL SCENARIO OUT_DIR [SECONDS]

CLIENTS clients each send a request, wait for the answer, think for an exponentially
distributed time (mean THINK_S), and go again, until SECONDS have passed (default 20) or
MAX_REQUESTS_PER_CLIENT were sent, whichever comes first. A closed loop regulates itself:
when the service slows down the clients wait instead of piling up more work, so the
queue in front of the workers stays bounded on a busy machine.

Writes OUT_DIR/requests.tsv (`<start epoch s>\t<route>\t<ms>\t<status>` per request) and
OUT_DIR/load.json: throughput and per-route requests, mean, p50, p95, p99, max and errors,
as the clients saw them (end to end).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sys
import threading
import time
from urllib.parse import urlsplit

MAX_REQUESTS_PER_CLIENT = 3000
SESSIONS = 5000  # app.py's sessions table: tok-1 … tok-5000
TIMEOUT_S = 30

# scenario -> (clients, think mean s, [(weight, route template, path maker)])
SCENARIOS = {
    "missing_index": (
        32,
        0.15,
        [
            (15, "GET /api/customers/{id}/orders", lambda r: "/api/customers/%d/orders" % r.randint(1, 60000)),
            (15, "GET /api/orders/{id}", lambda r: "/api/orders/%d" % r.randint(1, 1_000_000)),
            (25, "GET /api/items/{id}", lambda r: "/api/items/%d" % r.randint(1, 10000)),
            (20, "GET /api/users/{id}/profile", lambda r: "/api/users/%d/profile" % r.randint(1, 20000)),
            (10, "GET /api/categories", lambda r: "/api/categories"),
            (15, "GET /api/health", lambda r: "/api/health"),
        ],
    ),
    "cpu_bound": (
        24,
        0.05,
        [
            (20, "GET /api/orders/{id}", lambda r: "/api/orders/%d" % r.randint(1, 100_000)),
            (30, "GET /api/items/{id}", lambda r: "/api/items/%d" % r.randint(1, 10000)),
            (25, "GET /api/users/{id}/profile", lambda r: "/api/users/%d/profile" % r.randint(1, 20000)),
            (15, "GET /api/categories", lambda r: "/api/categories"),
            (10, "GET /api/health", lambda r: "/api/health"),
        ],
    ),
    # Workers busy (~85–90 % of the time) without a runaway queue: every route is slow by its
    # own ~40 ms database statement, not by waiting for a worker.
    "slow_db": (
        16,
        0.15,
        [
            (15, "GET /api/customers/{id}/orders", lambda r: "/api/customers/%d/orders" % r.randint(1, 60000)),
            (15, "GET /api/orders/{id}", lambda r: "/api/orders/%d" % r.randint(1, 100_000)),
            (25, "GET /api/items/{id}", lambda r: "/api/items/%d" % r.randint(1, 10000)),
            (20, "GET /api/users/{id}/profile", lambda r: "/api/users/%d/profile" % r.randint(1, 20000)),
            (10, "GET /api/categories", lambda r: "/api/categories"),
            (15, "GET /api/health", lambda r: "/api/health"),
        ],
    ),
}


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(q / 100.0 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def client(host, port, seconds, think, mix, seed, out, lock):
    r = random.Random(seed)
    weights = [w for w, _, _ in mix]
    # Each client is one logged-in user (slow_db checks the session; the others ignore it).
    headers = {"Cookie": "session=tok-%d" % (1 + seed % SESSIONS)}
    deadline = time.monotonic() + seconds
    conn = None
    mine = []
    # Stagger the start so the clients do not arrive in one burst.
    time.sleep(r.random() * think)
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            break
        _, route, make = r.choices(mix, weights)[0]
        path = make(r)
        start = time.time()
        t0 = time.perf_counter()
        status = 0
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            status = 599
            if conn is not None:
                conn.close()
            conn = None
        mine.append((start, route, (time.perf_counter() - t0) * 1000.0, status))
        time.sleep(min(r.expovariate(1.0 / think), 4 * think))
    if conn is not None:
        conn.close()
    with lock:
        out.extend(mine)


def summarize(records, seconds, clients, think):
    by_route = {}
    for _, route, ms, status in records:
        by_route.setdefault(route, []).append((ms, status))
    routes = {}
    for route, rows in sorted(by_route.items()):
        values = sorted(ms for ms, _ in rows)
        routes[route] = {
            "requests": len(values),
            "mean_ms": round(sum(values) / len(values), 2),
            "p50_ms": round(percentile(values, 50), 2),
            "p95_ms": round(percentile(values, 95), 2),
            "p99_ms": round(percentile(values, 99), 2),
            "max_ms": round(values[-1], 2),
            "errors": sum(1 for _, s in rows if s >= 500),
        }
    all_ms = sorted(ms for _, _, ms, _ in records)
    first = min((s for s, _, _, _ in records), default=0.0)
    last = max((s + ms / 1000.0 for s, _, ms, _ in records), default=0.0)
    span = max(last - first, 1e-9)
    return {
        "clients": clients,
        "think_mean_s": think,
        "seconds": seconds,
        "requests": len(records),
        "errors": sum(1 for _, _, _, s in records if s >= 500),
        "started_at": first,
        "ended_at": last,
        "throughput_rps": round(len(records) / span, 2),
        "mean_ms": round(sum(all_ms) / len(all_ms), 2) if all_ms else None,
        "p99_ms": round(percentile(all_ms, 99), 2) if all_ms else None,
        "routes": routes,
    }


def main():
    base, scenario, out_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
    clients, think, mix = SCENARIOS[scenario]
    url = urlsplit(base)
    assert url.hostname in ("127.0.0.1", "localhost", "::1"), "load goes to loopback only"
    records, lock = [], threading.Lock()
    threads = [
        threading.Thread(target=client, args=(url.hostname, url.port, seconds, think, mix, i, records, lock))
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records.sort()
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "requests.tsv"), "w", encoding="utf-8") as f:
        for start, route, ms, status in records:
            f.write("%.6f\t%s\t%.3f\t%d\n" % (start, route, ms, status))
    summary = summarize(records, seconds, clients, think)
    with open(os.path.join(out_dir, "load.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(
        "load %s: %d requests in %.0f s, %.1f rps, %d errors, p99 %.0f ms"
        % (scenario, summary["requests"], seconds, summary["throughput_rps"], summary["errors"], summary["p99_ms"] or 0),
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
