"""Bounded load through nginx for the fleet test, and the ground truth it measured.

    python load.py BASE_URL SECONDS CLIENTS OUT.json

CLIENTS threads send requests for SECONDS: 70 % `/api/orders/<id>`, 15 % `/api/items/<id>`,
10 % `/api/report` (slow), 5 % `/api/fail`. Each request's own time (client side) and its
handler's time (X-Handler-Seconds) are kept per route template; OUT.json gets per route the
count, the 5xx count, both p99s, and the handler times' sum, with the window's start and end.
"""

import json
import random
import sys
import threading
import time
import urllib.error
import urllib.request

base, seconds, clients, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

ROUTES = [
    (0.70, "/api/orders/{id}", lambda: f"/api/orders/{random.randint(1, 99999)}"),
    (0.15, "/api/items/{id}", lambda: f"/api/items/{random.randint(1, 99999)}"),
    (0.10, "/api/report", lambda: "/api/report"),
    (0.05, "/api/fail", lambda: "/api/fail"),
]

lock = threading.Lock()
seen = {}


def pick():
    r = random.random()
    for share, template, make in ROUTES:
        if r < share:
            return template, make()
        r -= share
    return ROUTES[0][1], ROUTES[0][2]()


def client(stop_at):
    while time.time() < stop_at:
        template, path = pick()
        start = time.perf_counter()
        status = 200
        try:
            with urllib.request.urlopen(base + path, timeout=30) as r:
                r.read()
                handler = float(r.headers.get("X-Handler-Seconds", "nan"))
        except urllib.error.HTTPError as e:
            status = e.code
            handler = float(e.headers.get("X-Handler-Seconds", "nan"))
            e.read()
        took = time.perf_counter() - start
        with lock:
            s = seen.setdefault(template, {"client": [], "handler": [], "errors": 0})
            s["client"].append(took)
            s["handler"].append(handler)
            s["errors"] += status >= 500


def p99(v):
    v = sorted(v)
    return v[min(len(v) - 1, int(0.99 * len(v)))] if v else None


started = time.time()
threads = [threading.Thread(target=client, args=(started + seconds,)) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ended = time.time()
report = {
    "started": started,
    "ended": ended,
    "routes": {
        "GET " + k: {
            "count": len(v["client"]),
            "errors": v["errors"],
            "client_p99_ms": p99(v["client"]) * 1000,
            "handler_p99_ms": p99(v["handler"]) * 1000,
            "handler_seconds": sum(h for h in v["handler"] if h == h),
        }
        for k, v in seen.items()
    },
}
with open(out, "w") as f:
    json.dump(report, f, indent=1)
print(
    " ".join(f"{k}: {v['count']} req p99 {v['handler_p99_ms']:.0f} ms" for k, v in report["routes"].items()),
    file=sys.stderr,
)
