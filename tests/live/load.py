"""Bounded load for the live test: every loop ends by count or by time, whichever first.

    python load.py BASE_URL PHASE

PHASE `mixed`: 2 clients for 4 s, mostly fast endpoints and one slow request in 40.
PHASE `saturate`: 10 clients calling the slow endpoint for 9 s (more clients than workers,
so requests queue in the app server's accept queue).
"""

import random
import sys
import threading
import time
import urllib.error
import urllib.request

MAX_REQUESTS_PER_CLIENT = 2000


def client(base, seconds, pick, seed):
    r = random.Random(seed)
    deadline = time.monotonic() + seconds
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= deadline:
            return
        try:
            with urllib.request.urlopen(base + pick(r), timeout=30) as resp:
                resp.read()
        except urllib.error.HTTPError:
            pass


def mixed(r):
    if r.random() < 1 / 40:
        return "/api/report?month=%d" % r.randint(1, 12)
    return r.choice(["/api/items/%d" % r.randint(1, 10**6), "/api/users/%d/orders" % r.randint(1, 5000), "/health"])


def main():
    base, phase = sys.argv[1], sys.argv[2]
    if phase == "mixed":
        clients, seconds, pick = 2, 4.0, mixed
    else:
        clients, seconds, pick = 10, 9.0, lambda r: "/api/report"
    threads = [threading.Thread(target=client, args=(base, seconds, pick, i)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
