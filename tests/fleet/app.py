"""The app of the fleet test: a Flask service instrumented by prometheus-flask-exporter
(`group_by="url_rule"`: `flask_http_request_duration_seconds{method, status, url_rule}` with
Flask's rule such as `/api/orders/<int:id>`), in the exporter's Gunicorn multiprocess mode, so
the replica's master serves every worker's histogram with the worker gauges. Fast routes
carry ids in their paths, one route is slow (the long tail) and one fails now and then. Each
response says how long its handler took (X-Handler-Seconds), so the load generator can set the
engine's percentiles against the handlers' own timings."""

import os
import random
import time

from flask import Flask, g, jsonify, request
from prometheus_flask_exporter.multiprocess import GunicornPrometheusMetrics

# The bucket bounds, also written into the load report for the test to judge resolution.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
SLOW_SECONDS = (0.25, 0.35)

app = Flask(__name__)
metrics = GunicornPrometheusMetrics(app, group_by="url_rule", buckets=BUCKETS)


@app.before_request
def started():
    g.started = time.perf_counter()


@app.after_request
def timed(response):
    took = time.perf_counter() - g.started
    response.headers["X-Handler-Seconds"] = f"{took:.6f}"
    return response


def answer(status=200):
    return jsonify(path=request.path, replica=os.environ.get("REPLICA", "")), status


@app.get("/api/report")
def report():
    time.sleep(random.uniform(*SLOW_SECONDS))
    return answer()


@app.get("/api/fail")
def fail():
    time.sleep(0.002)
    return answer(500 if random.random() < 0.5 else 200)


@app.get("/api/orders/<int:id>")
def order(id):
    time.sleep(0.003)
    return answer()


@app.get("/api/items/<int:id>")
def item(id):
    time.sleep(0.003)
    return answer()


@app.get("/health")
@metrics.do_not_track()
def health():
    return answer()
