"""Gunicorn settings for the live test: worker-state gauges through the server hooks.

Each worker sets `gunicorn_workers{state="working"}` to 1 in pre_request and back to 0 in
post_request (and the reverse for `idle`); prometheus_client's multiprocess mode adds the
live workers' values up, and the master serves them on METRICS_PORT, so the gauges can be
read while every worker is busy. The busy state's label value is `working` unless
WORKER_BUSY_STATE says otherwise (the fleet test uses `busy`, the other spelling the tool
knows).
"""

import os

from prometheus_client import CollectorRegistry, Gauge, multiprocess, start_http_server

BUSY = os.environ.get("WORKER_BUSY_STATE", "working")

WORKERS = Gauge(
    "gunicorn_workers",
    "Gunicorn workers by state.",
    ["state"],
    multiprocess_mode="livesum",
)


def when_ready(server):
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(int(os.environ["METRICS_PORT"]), addr="127.0.0.1", registry=registry)


def post_fork(server, worker):
    WORKERS.labels("idle").set(1)
    WORKERS.labels(BUSY).set(0)


def pre_request(worker, req):
    WORKERS.labels(BUSY).set(1)
    WORKERS.labels("idle").set(0)


def post_request(worker, req, environ, resp):
    WORKERS.labels(BUSY).set(0)
    WORKERS.labels("idle").set(1)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
