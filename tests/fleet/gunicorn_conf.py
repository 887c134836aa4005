"""Gunicorn settings of one fleet replica: the worker-state gauge set in the request hooks
and the app's histogram, added up over the workers by prometheus_client's multiprocess
mode and served by the master on METRICS_PORT (each replica has its own port and
PROMETHEUS_MULTIPROC_DIR)."""

import os

from prometheus_client import CollectorRegistry, Gauge, multiprocess, start_http_server

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
    WORKERS.labels("busy").set(0)


def pre_request(worker, req):
    WORKERS.labels("busy").set(1)
    WORKERS.labels("idle").set(0)


def post_request(worker, req, environ, resp):
    WORKERS.labels("busy").set(0)
    WORKERS.labels("idle").set(1)


def child_exit(server, worker):
    multiprocess.mark_process_dead(worker.pid)
