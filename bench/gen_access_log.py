#!/usr/bin/env python3
"""Writes a realistic nginx access log in the `timed` format (combined + rt/uct/uht/urt).

    python3 bench/gen_access_log.py OUT_FILE SIZE_MB [SEED]

Lines average ~250 bytes: real-looking client addresses, user agents and referers, ~40 API
routes with numeric ids, UUIDs and hashes in their paths, query strings, static files
served by nginx itself (upstream `-`), 404s and a few 5xx, retries to a second upstream
("0.010, 0.020") and one slow endpoint (the long tail). Deterministic for a given seed.
"""

import random
import sys
import time

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "okhttp/4.12.0",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
]
REFS = ["-", "https://shop.example.com/", "https://shop.example.com/cart", "https://www.google.com/"]


def uuid(r):
    return "%08x-%04x-%04x-%04x-%012x" % (
        r.getrandbits(32), r.getrandbits(16), r.getrandbits(16), r.getrandbits(16), r.getrandbits(48))


# (weight, method, path maker, median seconds, slow tail probability)
ROUTES = [
    (18, "GET", lambda r: "/api/products/%d" % r.randint(1, 500000), 0.035, 0.002),
    (12, "GET", lambda r: "/api/products?page=%d&sort=price" % r.randint(1, 40), 0.060, 0.002),
    (10, "GET", lambda r: "/api/orders/%d" % r.randint(10**6, 10**7), 0.045, 0.002),
    (6, "POST", lambda r: "/api/orders", 0.120, 0.005),
    (5, "GET", lambda r: "/api/users/%d/orders" % r.randint(1, 90000), 0.080, 0.003),
    (4, "GET", lambda r: "/api/sessions/%s" % uuid(r), 0.020, 0.001),
    (4, "GET", lambda r: "/api/cart", 0.030, 0.001),
    (3, "PUT", lambda r: "/api/cart/items/%d" % r.randint(1, 10**5), 0.050, 0.002),
    (2, "GET", lambda r: "/api/search?q=%s" % r.choice(["shoes", "red+dress", "usb-c", "lamp"]), 0.150, 0.01),
    (1, "GET", lambda r: "/api/reports/export", 2.400, 0.05),
    (2, "GET", lambda r: "/health", 0.002, 0.0),
    (1, "GET", lambda r: "/api/files/%040x" % r.getrandbits(160), 0.070, 0.002),
    (1, "POST", lambda r: "/api/webhooks/stripe", 0.090, 0.004),
]
STATIC = [(10, "/static/js/app.%08x.js"), (6, "/static/css/site.%08x.css"), (4, "/favicon.ico")]


def main():
    out, size_mb = sys.argv[1], float(sys.argv[2])
    r = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    target = int(size_mb * 1024 * 1024)
    weights = [w for w, *_ in ROUTES] + [w for w, _ in STATIC]
    kinds = list(range(len(ROUTES))) + [-(i + 1) for i in range(len(STATIC))]
    t = 1_700_000_000
    written = 0
    buf = []
    with open(out, "w", encoding="ascii") as f:
        while written < target:
            kind = r.choices(kinds, weights, k=64)
            for k in kind:
                t += r.random() < 0.02
                ts = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))
                ip = "%d.%d.%d.%d" % (r.randint(1, 223), r.randint(0, 255), r.randint(0, 255), r.randint(1, 254))
                ua = r.choice(UAS)
                ref = r.choice(REFS)
                if k < 0:
                    pattern = STATIC[-k - 1][1]
                    path = pattern % r.getrandbits(32) if "%" in pattern else pattern
                    status = 200 if r.random() < 0.9 else 304
                    rt = "%.3f" % (r.random() * 0.004)
                    line = '%s - - [%s] "GET %s HTTP/2.0" %d %d "%s" "%s" rt=%s uct="-" uht="-" urt="-"\n' % (
                        ip, ts, path, status, r.randint(200, 90000), ref, ua, rt)
                else:
                    _, method, mk, median, tail = ROUTES[k]
                    path = mk(r)
                    secs = median * r.lognormvariate(0, 0.45)
                    if r.random() < tail:
                        secs *= r.uniform(3, 12)
                    x = r.random()
                    status = 200 if x < 0.93 else (404 if x < 0.985 else (502 if x < 0.995 else 500))
                    up = "%.3f" % secs
                    conn = "%.3f" % (r.random() * 0.002)
                    hdr = "%.3f" % (secs * 0.98)
                    if r.random() < 0.003:
                        up = "%.3f, %s" % (r.random() * 0.01, up)
                        conn = "0.001, " + conn
                        hdr = "-, " + hdr
                    rt = "%.3f" % (secs + r.random() * 0.003)
                    user = "-" if r.random() < 0.8 else "u%d" % r.randint(1, 9999)
                    line = '%s - %s [%s] "%s %s HTTP/1.1" %d %d "%s" "%s" rt=%s uct="%s" uht="%s" urt="%s"\n' % (
                        ip, user, ts, method, path, status, r.randint(80, 40000), ref, ua, rt, conn, hdr, up)
                buf.append(line)
                written += len(line)
            if len(buf) > 20000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    main()
