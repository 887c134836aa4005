"""The app of the fleet test: a WSGI service instrumented the way prometheus-flask-exporter
does it with `group_by='url_rule'` (`flask_http_request_duration_seconds{method, url_rule,
status}`, Flask's rule such as `/api/orders/<int:id>`), with
fast routes that carry ids in their paths, one slow route (the long tail) and one route that
fails now and then. Each response says how long its handler took (X-Handler-Seconds), so
the load generator can set the engine's percentiles against the handlers' own timings."""

import json
import os
import random
import time

from prometheus_client import Histogram

# The bucket bounds, also written into the load report for the test to judge resolution.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
SLOW_SECONDS = (0.25, 0.35)

DURATION = Histogram(
    "flask_http_request_duration_seconds",
    "Flask HTTP request duration in seconds",
    ["method", "url_rule", "status"],
    buckets=BUCKETS,
)


def handle(path):
    """The response status and the Flask rule that matched."""
    if path.startswith("/api/report"):
        time.sleep(random.uniform(*SLOW_SECONDS))
        return "200 OK", "/api/report"
    if path.startswith("/api/fail"):
        time.sleep(0.002)
        return ("500 Internal Server Error" if random.random() < 0.5 else "200 OK"), "/api/fail"
    for prefix in ("/api/orders/", "/api/items/"):
        if path.startswith(prefix):
            time.sleep(0.003)
            return "200 OK", prefix + "<int:id>"
    if path == "/health":
        return "200 OK", None
    return "404 Not Found", None


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    start = time.perf_counter()
    status, rule = handle(path)
    took = time.perf_counter() - start
    if rule:
        DURATION.labels(environ["REQUEST_METHOD"], rule, status.split()[0]).observe(took)
    body = json.dumps({"path": path, "replica": os.environ.get("REPLICA", "")}).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("X-Handler-Seconds", f"{took:.6f}"),
        ],
    )
    return [body]
