"""A small WSGI app for the live test: fast JSON endpoints with ids in their paths, and one
deliberately slow endpoint (the long tail)."""

import json
import time

SLOW_SECONDS = 1.2


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path.startswith("/api/report"):
        time.sleep(SLOW_SECONDS)
    elif path.startswith("/api/"):
        time.sleep(0.003)
    body = json.dumps({"path": path}).encode()
    status = "404 Not Found" if path == "/missing" else "200 OK"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


# uWSGI looks for `application`.
application = app
