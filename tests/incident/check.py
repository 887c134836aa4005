"""Judges the tools' answers in a live incident the way an experienced SRE would.

    python check.py OUT_DIR

Reads OUT_DIR/<scenario>/{break_down_latency,match_symptom,slow_queries,capacity_math}.json
and ground_truth.json (written by agent.py), prints one line per check —
`PASS|FAIL [scenario] what  -- actual` — and closes with "N passed, N failed"; exits 1 on
any failure. Checks prefixed `setup:` judge the incident itself (was the scenario really
reproduced on this machine?), not the product.

The field names are the contract of issues 12 and 17 (head_of_line, app_service,
latency_includes_queueing, query_ids, full_scan, ...). Timings on a shared 2-core machine
are noisy, so figures are compared as shares (±15 points) and orders of magnitude
(a factor of 2), never as exact milliseconds.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

SLOW = "GET /api/customers/{id}/orders"
# "Adds capacity": more workers, more replicas, scaling out.
ADDS_CAPACITY = re.compile(r"add (more )?(replicas|workers)|scale out|more workers", re.I)
EXPLAIN = re.compile(r"EXPLAIN\s*\(\s*ANALYZE\s*,\s*BUFFERS\s*\)", re.I)
READ_REPLICA = re.compile(r"read[- ]replica", re.I)
TOOLS = ("break_down_latency", "match_symptom", "slow_queries", "capacity_math")

results: list[bool] = []


def check(scenario: str, name: str, ok, detail="") -> None:
    results.append(bool(ok))
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False, default=str)
    if len(text) > 600:
        text = text[:600] + "…"
    print(("PASS " if ok else "FAIL ") + f"[{scenario}] {name}" + (f"  -- {text}" if text else ""))


def load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"_missing": f"{path.name}: {exc}"}
    return data if isinstance(data, dict) else {"_missing": f"{path.name}: not an object"}


def first_step(result: dict) -> dict:
    steps = result.get("next_steps") or []
    return steps[0] if steps and isinstance(steps[0], dict) else {}


# "Do not add workers or replicas" advises against capacity: negated phrases are dropped
# before the test.
NEGATED = re.compile(r"\b(do not|don't|never|not|no need to|without)\b[^.;:]*", re.I)


def adds_capacity(step: dict) -> bool:
    return bool(ADDS_CAPACITY.search(NEGATED.sub("", step.get("action", ""))))


def step_text(step: dict) -> str:
    return f"{step.get('action', '-')!r} (tool {step.get('tool', '-')})"


def within_points(actual, truth, points=15.0) -> bool:
    return isinstance(actual, (int, float)) and truth is not None and abs(actual - truth) <= points


def within_factor(actual, truth, factor=2.0) -> bool:
    return (isinstance(actual, (int, float)) and truth is not None and truth > 0 and actual > 0
            and truth / factor <= actual <= truth * factor)


def layer(report: dict, name: str) -> dict:
    return next((l for l in report.get("layers") or [] if l.get("layer") == name), {})


def endpoint(report: dict, name: str) -> dict:
    return next((e for e in report.get("endpoints") or [] if e.get("endpoint") == name), {})


def count_ids(value) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, (int, float)):
        return int(value)
    return 0


def scans_of(statement: dict) -> list:
    fs = statement.get("full_scan")
    if isinstance(fs, dict):
        return [fs]
    if isinstance(fs, list):
        return [f for f in fs if isinstance(f, dict)]
    return []


def reserve_of(obj) -> float | None:
    """A memory reserve the result states, anywhere in the recommendation (…reserve…_mb)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if "reserve" in k and isinstance(v, (int, float)):
                return float(v)
            found = reserve_of(v)
            if found is not None:
                return found
    return None


def evidence_source(report: dict, pattern: str) -> list:
    rx = re.compile(pattern, re.I)
    return [e.get("source", "") for e in report.get("evidence") or [] if rx.search(e.get("metric", ""))]


# --------------------------------------------------------------------------- missing_index


def missing_index(out: Path) -> None:
    s = "missing_index"
    d = out / s
    truth = load(d / "ground_truth.json")
    b, m, q, c = (load(d / f"{t}.json") for t in TOOLS)
    share_truth = truth.get("slow_route_share_of_handler_time_percent")
    queue_truth = truth.get("queue_wait_ms")
    routes = (truth.get("service") or {}).get("routes") or {}
    fast = {k: v for k, v in routes.items() if k != SLOW}
    p99 = (truth.get("load_generator") or {}).get("p99_ms_by_route") or {}

    # The incident itself.
    check(s, "setup: the slow route holds most of the handler (service) time (>= 70 %)",
          (share_truth or 0) >= 70, f"{share_truth} %")
    check(s, "setup: the other routes are fast in the handler (mean < 15 ms)",
          fast and all(v["mean_service_ms"] < 15 for v in fast.values()),
          {k: v["mean_service_ms"] for k, v in fast.items()})
    # Queueing is the incident when a request waits for a worker longer than it is served.
    service_mean = (truth.get("service") or {}).get("mean_service_ms")
    check(s, "setup: requests wait in the backlog (queue wait >= the mean service time, and >= 25 ms)",
          service_mean is not None and (queue_truth or 0) >= max(service_mean, 25),
          f"queue wait {queue_truth} ms, service {service_mean} ms")
    check(s, "setup: every route is slow end to end (p99 >= 100 ms at the client)",
          p99 and all(v >= 100 for v in p99.values()), p99)
    pgss = [r for r in truth.get("pg_stat_statements") or [] if re.search(r"from orders where customer_id", r["query"], re.I)]
    check(s, "setup: pg_stat_statements holds two query ids for the orders statement (int2 and int4 binds)",
          len(pgss) >= 2, [(r["queryid"], r["calls"], r["mean_ms"]) for r in pgss])

    # break_down_latency.
    hol = b.get("head_of_line") or {}
    check(s, f"break_down_latency: head_of_line.endpoint is {SLOW}", hol.get("endpoint") == SLOW,
          b.get("_missing") or hol or "no head_of_line")
    check(s, "break_down_latency: head_of_line.share_of_service_time_percent within ±15 points of the handler-time share",
          within_points(hol.get("share_of_service_time_percent"), share_truth),
          f"tool {hol.get('share_of_service_time_percent')} %, truth {share_truth} %")
    ep = endpoint(b, SLOW)
    check(s, "break_down_latency: the slow route's share_of_worker_time_percent within ±15 points of the truth",
          within_points(ep.get("share_of_worker_time_percent"), share_truth),
          f"tool {ep.get('share_of_worker_time_percent')} %, truth {share_truth} %")
    qw, svc = layer(b, "queue_wait"), layer(b, "app_service")
    check(s, "break_down_latency: layers split queue_wait and app_service, derived (Little's law)",
          qw and svc and "derived" in qw.get("source", "") and "derived" in svc.get("source", ""),
          {"layers": [(l.get("layer"), l.get("ms"), l.get("source")) for l in b.get("layers") or []]})
    check(s, "break_down_latency: queue_wait within a factor 2 of the truth (mean upstream − mean service)",
          within_factor(qw.get("ms"), queue_truth), f"tool {qw.get('ms')} ms, truth {queue_truth} ms")
    check(s, "break_down_latency: latency_pattern is long_tail", b.get("latency_pattern") == "long_tail",
          b.get("latency_pattern"))
    obs = b.get("observations") or {}
    check(s, "break_down_latency: observations.head_of_line_endpoint is set to the slow route",
          obs.get("head_of_line_endpoint") == SLOW, obs.get("head_of_line_endpoint"))
    check(s, "break_down_latency: the first next step does not add capacity", not adds_capacity(first_step(b)),
          step_text(first_step(b)))

    # match_symptom.
    matches = m.get("matches") or []
    top = matches[0] if matches else {}
    ranked = [(x.get("symptom"), x.get("confidence")) for x in matches]
    check(s, "match_symptom: the top match is E (slow handlers hold the workers)", top.get("symptom") == "E",
          m.get("_missing") or ranked)
    check(s, "match_symptom: no match that adds replicas/workers ranks first",
          top and top.get("symptom") != "A" and not adds_capacity(top),
          f"top {top.get('symptom')}: {top.get('action')!r}")
    check(s, "match_symptom: the first next step does not add capacity", not adds_capacity(first_step(m)),
          step_text(first_step(m)))

    # slow_queries.
    stmts = [x for x in q.get("statements") or [] if re.search(r"from\s+orders\s+where\s+customer_id", x.get("query", ""), re.I)]
    st = stmts[0] if len(stmts) == 1 else {}
    check(s, "slow_queries: the orders statement appears once", len(stmts) == 1,
          q.get("_missing") or [(x.get("query", "")[:80], x.get("calls"), x.get("percent_of_db_time")) for x in stmts])
    check(s, "slow_queries: it carries query_ids >= 2 (the int2 and int4 plans)", count_ids(st.get("query_ids")) >= 2,
          st.get("query_ids"))
    pct = [x.get("percent_of_db_time") for x in stmts]
    check(s, "slow_queries: it holds >= 90 % of DB time",
          (st.get("percent_of_db_time") or 0) >= 90, f"percent_of_db_time {pct}")
    check(s, "slow_queries: it carries full_scan with table orders",
          any(f.get("table") == "orders" for f in scans_of(st)), st.get("full_scan"))
    check(s, "slow_queries: the first next step is EXPLAIN (ANALYZE, BUFFERS)",
          EXPLAIN.search(first_step(q).get("action", "") + " " + first_step(q).get("why", "")),
          step_text(first_step(q)))
    replica = [h for h in q.get("hints") or [] if h.get("symptom") == "C" or READ_REPLICA.search(h.get("reason", ""))]
    replica += [x for x in q.get("next_steps") or [] if READ_REPLICA.search(x.get("action", ""))]
    check(s, "slow_queries: no read-replica hint", not replica, replica)

    # capacity_math.
    args = load(d / "capacity_math.args.json")
    offered = (args.get("avg_latency_ms") or 0) / 1000.0 * (args.get("arrival_rps") or 0)
    slots = (args.get("replicas") or 0) * (args.get("workers_per_replica") or 0)
    check(s, "setup: avg_latency × arrival exceeds the worker slots (the latency passed includes queueing)",
          offered > slots, f"{args.get('avg_latency_ms')} ms × {args.get('arrival_rps')} rps = {offered:.2f} busy vs {slots} slots")
    queue_warn = [w for w in c.get("warnings") or [] if re.search(r"includ\w*[^.]{0,60}queu", w, re.I)]
    check(s, "capacity_math: says the latency includes queueing",
          c.get("latency_includes_queueing") is True or queue_warn,
          c.get("_missing") or {"latency_includes_queueing": c.get("latency_includes_queueing"),
                                "warnings": c.get("warnings")})
    check(s, "capacity_math: the first next step does not add workers/replicas", not adds_capacity(first_step(c)),
          step_text(first_step(c)))
    rec = c.get("recommended_workers_per_replica") or {}
    reserve = reserve_of(rec) if reserve_of(rec) is not None else reserve_of(c)
    workers = rec.get("workers")
    check(s, "capacity_math: recommended workers × 120 MB fit under 2048 MB less a stated reserve",
          workers is not None and reserve is not None and workers * 120 < 2048 - reserve,
          f"workers {workers}, reserve {reserve if reserve is not None else 'not stated'}")

    # Overall.
    firsts = {t: step_text(first_step(x)) for t, x in zip(TOOLS, (b, m, q, c))}
    check(s, "no tool's first next step adds capacity",
          not any(adds_capacity(first_step(x)) for x in (b, m, q, c)), firsts)


# --------------------------------------------------------------------------- cpu_bound


def cpu_bound(out: Path) -> None:
    s = "cpu_bound"
    d = out / s
    truth = load(d / "ground_truth.json")
    b, m, q, c = (load(d / f"{t}.json") for t in TOOLS)

    # The incident itself.
    cpu = (truth.get("service") or {}).get("mean_cpu_ms")
    check(s, "setup: every request costs ~18 ms of Python CPU (15–25 ms)", cpu and 15 <= cpu <= 25, f"{cpu} ms")
    app_stmts = [r for r in truth.get("pg_stat_statements") or [] if r["calls"] >= 20]
    check(s, "setup: the database is idle (every statement's mean < 0.5 ms)",
          app_stmts and all(r["mean_ms"] < 0.5 for r in app_stmts),
          [(r["query"][:50], r["mean_ms"]) for r in app_stmts])
    w = b.get("workers") or {}
    # A sample is an instant: it may catch a worker between two requests while the queue
    # still holds a dozen. Saturated means both busy in most samples, never both idle.
    busy = w.get("busy_samples") or []
    check(s, "setup: both workers busy in at least 4 of 5 samples, never both idle",
          busy and sum(x >= 2 for x in busy) >= 0.8 * len(busy) and min(busy) >= 1,
          b.get("_missing") or busy)
    aq = b.get("accept_queue") or {}
    check(s, "setup: the accept queue is non-empty in every sample",
          aq.get("samples") and all(x > 0 for x in aq["samples"]), aq.get("samples"))

    # match_symptom.
    matches = m.get("matches") or []
    top = matches[0] if matches else {}
    ranked = [(x.get("symptom"), x.get("confidence")) for x in matches]
    check(s, "match_symptom: the top match is A (app tier CPU-bound)", top.get("symptom") == "A",
          m.get("_missing") or ranked)
    a_conf = next((x.get("confidence") or 0 for x in matches if x.get("symptom") == "A"), None)
    opposite = [x for x in matches if x.get("symptom") == "F" and a_conf is not None
                and (x.get("confidence") or 0) >= a_conf]
    check(s, "match_symptom: no F match (do not add capacity) at A's confidence or above",
          a_conf is not None and not opposite, ranked)

    # capacity_math.
    double = next((x for x in c.get("what_if") or [] if re.search(r"double.*worker", x.get("scenario", "") + " " + x.get("change", ""), re.I)), {})
    check(s, "capacity_math: doubling workers on 2 cores gains <= 1.1×", (double.get("gain") or 99) <= 1.1,
          c.get("_missing") or {"gain": double.get("gain"), "change": double.get("change")})
    said = " ".join([double.get("change", ""), *double.get("side_effects", []), str(double.get("cap", ""))])
    check(s, "capacity_math: the doubling what-if states the cap by cores", re.search(r"\bcores?\b", said, re.I),
          said[:400])
    rec = (c.get("recommended_workers_per_replica") or {}).get("workers")
    check(s, "capacity_math: recommends no more than cores + 1 workers per replica", rec is not None and rec <= 3, rec)

    # slow_queries.
    hints = q.get("hints") or []
    replica = [x for x in q.get("next_steps") or [] if READ_REPLICA.search(x.get("action", ""))]
    check(s, "slow_queries: no DB hint (no C/D symptom, no read replica)", not q.get("_missing") and not hints and not replica,
          q.get("_missing") or {"hints": hints, "replica_steps": replica})
    means = [x.get("mean_ms") for x in q.get("statements") or []]
    explain = [x.get("action") for x in q.get("next_steps") or [] if re.search(r"EXPLAIN", x.get("action", ""))]
    check(s, "slow_queries: no EXPLAIN for sub-millisecond statements",
          not q.get("_missing") and (not explain or any((x or 0) >= 1 for x in means)),
          {"max_mean_ms": max([x for x in means if x is not None], default=None), "explain_steps": explain})

    # Sources kept from the measurement to the diagnosis.
    check(s, "break_down_latency: worker evidence from prometheus:, backlog from proc:",
          any(x.startswith("prometheus:") for x in evidence_source(b, r"worker|busy"))
          and any(x.startswith("proc:") for x in evidence_source(b, r"backlog|queue")),
          {"workers": evidence_source(b, r"worker|busy"), "backlog": evidence_source(b, r"backlog|queue")})
    check(s, "match_symptom: the observations' evidence keeps its sources (prometheus:, proc:)",
          any(x.startswith("prometheus:") for x in evidence_source(m, r"worker|busy"))
          and any(x.startswith("proc:") for x in evidence_source(m, r"backlog|queue")),
          {"workers": evidence_source(m, r"worker|busy"), "backlog": evidence_source(m, r"backlog|queue")})


# --------------------------------------------------------------------------- slow_db

SESSION = re.compile(r"from\s+sessions\b", re.I)


def slow_db(out: Path) -> None:
    s = "slow_db"
    d = out / s
    truth = load(d / "ground_truth.json")
    b, m, q, c = (load(d / f"{t}.json") for t in TOOLS)
    service = truth.get("service") or {}
    routes = service.get("routes") or {}
    session = truth.get("session_statement") or {}
    session = session if isinstance(session, dict) else {}

    # The incident itself.
    check(s, "setup: the session statement's mean is 30–60 ms (pg_stat_statements)",
          30 <= (session.get("mean_ms") or 0) <= 60,
          {k: session.get(k) for k in ("query", "calls", "mean_ms")} if session else truth.get("session_statement"))
    check(s, "setup: every route's handler mean is >= 30 ms",
          routes and all(v["mean_service_ms"] >= 30 for v in routes.values()),
          {k: v["mean_service_ms"] for k, v in routes.items()})
    cpu = service.get("mean_cpu_ms")
    check(s, "setup: the app's own CPU per request is < 5 ms", cpu is not None and cpu < 5, f"{cpu} ms")
    dbp = truth.get("db_percent_of_handler_time")
    check(s, "setup: the database holds most of the handler time (>= 80 %)", (dbp or 0) >= 80, f"{dbp} %")
    busy = truth.get("worker_busy_percent_by_handler_time")
    check(s, "setup: the workers are busy (>= 70 % of the time in handlers)", (busy or 0) >= 70, f"{busy} %")

    # break_down_latency, judged against the service's normal.
    args = load(d / "break_down_latency.args.json")
    check(s, "break_down_latency: latency_pattern is system_wide", b.get("latency_pattern") == "system_wide",
          b.get("_missing") or {"latency_pattern": b.get("latency_pattern"),
                                "slow": [(e.get("endpoint"), e.get("p99_ms")) for e in b.get("endpoints") or []
                                         if e.get("slow")]})
    check(s, "break_down_latency: judged against the baseline (slow_threshold_basis baseline)",
          b.get("slow_threshold_basis") == "baseline" and args.get("baseline"),
          {"basis": b.get("slow_threshold_basis"), "threshold_ms": b.get("slow_threshold_ms"),
           "baseline passed": args.get("baseline")})
    obs = b.get("observations") or {}
    check(s, "break_down_latency: no head_of_line (every route is slow by itself)",
          not b.get("head_of_line") and not obs.get("head_of_line_endpoint"),
          {"head_of_line": b.get("head_of_line"), "observations.head_of_line_endpoint": obs.get("head_of_line_endpoint")})
    svc = layer(b, "app_service")
    check(s, "break_down_latency: app_service within a factor 2 of the handler mean",
          within_factor(svc.get("ms"), service.get("mean_service_ms")),
          f"tool {svc.get('ms')} ms, truth {service.get('mean_service_ms')} ms")
    check(s, "break_down_latency: the first next step does not add capacity", not adds_capacity(first_step(b)),
          step_text(first_step(b)))

    # match_symptom.
    matches = m.get("matches") or []
    top = matches[0] if matches else {}
    ranked = [(x.get("symptom"), x.get("confidence")) for x in matches]
    check(s, "match_symptom: the top match is F (everything slow: systemic latency)", top.get("symptom") == "F",
          m.get("_missing") or ranked)
    check(s, "match_symptom: no match that adds replicas/workers ranks first",
          top and top.get("symptom") != "A" and not adds_capacity(top),
          f"top {top.get('symptom')}: {top.get('action')!r}")
    check(s, "match_symptom: the first next step does not add capacity", not adds_capacity(first_step(m)),
          step_text(first_step(m)))

    # slow_queries.
    stmts = q.get("statements") or []
    st = stmts[0] if stmts else {}
    check(s, "slow_queries: the session statement is listed first", SESSION.search(st.get("query", "")),
          q.get("_missing") or [(x.get("query", "")[:70], x.get("mean_ms")) for x in stmts[:3]])
    check(s, "slow_queries: it holds >= 80 % of DB time", (st.get("percent_of_db_time") or 0) >= 80,
          f"percent_of_db_time {st.get('percent_of_db_time')}")
    check(s, "slow_queries: its mean within a factor 2 of pg_stat_statements' (truth)",
          within_factor(st.get("mean_ms"), session.get("mean_ms")),
          f"tool {st.get('mean_ms')} ms, truth {session.get('mean_ms')} ms")
    fs = first_step(q)
    check(s, "slow_queries: the first next step is EXPLAIN (ANALYZE, BUFFERS) of the session statement",
          EXPLAIN.search(fs.get("action", "")) and SESSION.search(fs.get("action", "")), step_text(fs))
    replica = [h for h in q.get("hints") or [] if h.get("symptom") == "C" or READ_REPLICA.search(h.get("reason", ""))]
    replica += [x for x in q.get("next_steps") or [] if READ_REPLICA.search(x.get("action", ""))]
    check(s, "slow_queries: no read-replica hint", not q.get("_missing") and not replica, replica)

    # capacity_math.
    check(s, "capacity_math: the first next step does not add workers/replicas", not adds_capacity(first_step(c)),
          c.get("_missing") or step_text(first_step(c)))
    backlog = (b.get("accept_queue") or {}).get("samples") or []
    empty = bool(backlog) and all(v == 0 for v in backlog)
    check(s, "capacity_math: no 'queue grows without bound' while the accept queue was empty in every sample",
          not empty or c.get("stable") is not False or c.get("latency_includes_queueing") is True,
          {"accept_queue": backlog, "stable": c.get("stable"),
           "latency_includes_queueing": c.get("latency_includes_queueing")})

    # Overall.
    firsts = {t: step_text(first_step(x)) for t, x in zip(TOOLS, (b, m, q, c))}
    check(s, "no tool's first next step adds capacity",
          not any(adds_capacity(first_step(x)) for x in (b, m, q, c)), firsts)


def main() -> None:
    out = Path(sys.argv[1])
    ran = [p.name for p in sorted(out.iterdir()) if p.is_dir()] if out.is_dir() else []
    if "missing_index" in ran:
        missing_index(out)
    if "cpu_bound" in ran:
        cpu_bound(out)
    if "slow_db" in ran:
        slow_db(out)
    if not ran:
        check("-", "a scenario ran", False, f"no scenario output under {out}")
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
