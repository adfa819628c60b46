"""Scale mode's audit-events part: ``GET /api/v1/audit-events/`` in a tenant of a million events.

Issue 15: a SIEM polls often, so a page of 100 must answer in at most 50 ms of
server time with 1,000,000 events in the tenant and other tenants' events in
the same table. bench/seed_audit.py writes the events (COPY, one transaction
per COPY so ``commit_order`` is filled as the app's own rows are; then VACUUM
ANALYZE, the state autovacuum reaches on its own). This module then sends
sequential requests to the run's gunicorn server with API keys of scope
"logs", the cases taking turns (first page, middle, tail, filters, then again)
so all meet the machine in the same state:

- **first page**: no cursor, the oldest events.
- **middle pages**: a cursor half-way through the tenant's events, taken from
  a real next link (the first page of ``since=<the middle event's time>``),
  then each request follows the next link of the one before: a poller catching
  up, a new page every time. The cursor is a position in commit order, the
  same with or without filters; its link's ``since`` is dropped.
- **tail poll**: the next link of the last page (found by following next links
  from ``since=<1 day before the newest event>`` until a page is empty), as a
  poller that has read everything asks it again and again: an empty page.
- **filtered first pages**: ``action=person.updated`` (a third of the events),
  ``since=`` a day before the newest event (~0.5 % of them), both, and ``since=`` a
  week before it (~4 %): the first request of a SIEM that starts from a time, and
  every request of one that asks for a time window on each poll.

Times are the server's (``X-Server-Time-Ms``, bench/wsgi.py: the WSGI
application's time, so API key authentication, the throttle and
serialisation included) and the client's; the target is met when each case's
p95 server time is at most ``TARGET_MS``. "app CPU" is the CPU time of the
worker's thread in the application (``X-Server-Cpu-Ms``): on a shared machine
the server time includes waiting for a core, the CPU time does not (nor
PostgreSQL's work, which runs in its own process). The throttle counts requests per key
(600/minute by default), so the requests take turns among a few keys.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bench import harness
from bench.client import Client, Recorder, percentile, timed

TARGET_MS = 50.0
PREFIX = "/api/v1"
PATH = "/audit-events/"
FIRST, MIDDLE, TAIL = "first page", "middle pages (following next)", "tail poll (empty page)"
ACTION, SINCE, BOTH = "action=person.updated", "since=1 day ago", "action=person.updated&since=1 day ago"
WEEK = "since=7 days ago"
CASES = [FIRST, MIDDLE, TAIL, ACTION, SINCE, BOTH, WEEK]
SHORT = {FIRST: "first", MIDDLE: "middle", TAIL: "tail", ACTION: "action", SINCE: "since", BOTH: "action+since",
         WEEK: "since 7d"}
REQUESTS_PER_KEY = 400  # under the default throttle of 600 a minute per key, whatever the pace


class Keys:
    """Clients of the API, one per key, taking turns (one connection each)."""

    def __init__(self, port: int, keys: list[str]) -> None:
        self.clients = [Client("127.0.0.1", port, PREFIX, key, count=True, accept="application/json")
                        for key in keys]
        self.sent = 0

    def next(self) -> Client:
        client = self.clients[self.sent % len(self.clients)]
        self.sent += 1
        return client

    def get(self, rec: Recorder, kind: str, params: dict[str, str]) -> dict[str, Any] | None:
        status, doc = timed(rec, self.next(), kind, "GET", PATH, params=params)
        if status == 200 and not (isinstance(doc, dict) and "results" in doc and doc.get("next")):
            rec.samples[-1].error = f"GET {PATH} {params}: no results or no next link"
            return None
        return doc if status == 200 else None

    def close(self) -> None:
        for client in self.clients:
            client.close()


def link_params(url: str) -> dict[str, str]:
    """The query parameters of a next link (every next link is this list's own)."""
    parts = urlsplit(url)
    if not parts.path.endswith(PREFIX + PATH):
        raise ValueError(f"next link of another list: {url}")
    return dict(parse_qsl(parts.query))


def seed(env: dict[str, str], slug: str, events: int, others: int, other_events: int, keys: int) -> dict[str, Any]:
    out = harness.run(env, "-m", "bench.seed_audit", slug, "--events", str(events), "--others", str(others),
                      "--other-events", str(other_events), "--keys", str(keys))
    return json.loads(out.strip().splitlines()[-1])


def _iso(text: str, **delta: float) -> str:
    return (dt.datetime.fromisoformat(text) + dt.timedelta(**delta)).isoformat()


def positions(keys: Keys, seeded: dict[str, Any], nav: Recorder) -> dict[str, dict[str, str]]:
    """The parameters of each case's first request; the cursors come from real next links."""
    recent = _iso(seeded["last_at"], days=-1)
    middle = keys.get(nav, "navigate", {"since": seeded["middle_at"]})
    middle_cursor = link_params(middle["next"])["cursor"] if middle else ""
    # The last page: from a day before the newest event, follow next links until a page is empty.
    params: dict[str, str] = {"since": recent, "limit": "500"}
    tail_cursor = ""
    for _ in range(10_000):
        doc = keys.get(nav, "navigate", params)
        if doc is None:
            break
        params = link_params(doc["next"])
        if not doc["results"]:
            tail_cursor = params["cursor"]
            break
    return {
        FIRST: {}, MIDDLE: {"cursor": middle_cursor}, TAIL: {"cursor": tail_cursor},
        ACTION: {"action": "person.updated"}, SINCE: {"since": recent},
        BOTH: {"action": "person.updated", "since": recent}, WEEK: {"since": _iso(seeded["last_at"], days=-7)},
    }


def link_header_matches(keys: Keys) -> bool:
    """The next link is in the ``Link`` header too, the same as in the body."""
    status, payload, headers, _ms = keys.next().request("GET", PATH)
    doc = json.loads(payload) if status == 200 else {}
    return bool(doc.get("next")) and headers.get("link") == f'<{doc["next"]}>; rel="next"'


def _summary(rec: Recorder, rows: list[int]) -> dict[str, Any]:
    samples = rec.samples
    server = [s.server_ms for s in samples if s.server_ms is not None]
    cpu = [s.server_cpu_ms for s in samples if s.server_cpu_ms is not None]
    client = [s.ms for s in samples]

    def figures(values: list[float]) -> dict[str, float | None]:
        if not values:
            return {"p50": None, "p95": None, "max": None}
        return {"p50": round(percentile(values, 0.5), 2), "p95": round(percentile(values, 0.95), 2),
                "max": round(max(values), 2)}

    server_ms = figures(server)
    return {
        "requests": len(samples), "errors": sum(1 for s in samples if s.error),
        "error_examples": [s.error for s in samples if s.error][:3],
        "rows_per_page": round(sum(rows) / len(rows), 1) if rows else 0,
        "server_ms": server_ms, "client_ms": figures(client), "server_cpu_ms": figures(cpu),
        "queries_max": max((s.queries or 0 for s in samples), default=0),
        "target_met": server_ms["p95"] is not None and server_ms["p95"] <= TARGET_MS,
    }


def measure(keys: Keys, start: dict[str, dict[str, str]], repeat: int) -> dict[str, dict[str, Any]]:
    """``repeat`` requests of every case, the cases taking turns; the middle case follows its next links."""
    recorders = {case: Recorder(case) for case in CASES}
    rows: dict[str, list[int]] = {case: [] for case in CASES}
    warm = Recorder("warm-up")
    for _ in range(20):  # every worker's first requests are not measured
        keys.get(warm, "warm-up", {})
    middle = dict(start[MIDDLE])
    for _ in range(repeat):
        for case in CASES:
            params = middle if case == MIDDLE else start[case]
            doc = keys.get(recorders[case], SHORT[case], params)
            if doc is None:
                continue
            rows[case].append(len(doc["results"]))
            if case == MIDDLE and doc["results"]:
                middle = link_params(doc["next"])
            if case == TAIL and doc["results"]:
                recorders[case].samples[-1].error = f"the tail returned {len(doc['results'])} events"
    return {case: _summary(recorders[case], rows[case]) for case in CASES}


def run(env: dict[str, str], port: int, *, slug: str, events: int, others: int, other_events: int,
        repeat: int) -> dict[str, Any]:
    """Seed, measure and print the audit-events part; its figures for the run's JSON."""
    key_count = 1 + (repeat * len(CASES) + 200) // REQUESTS_PER_KEY
    print(f"Seeding audit events: {events} in {slug}, {others} other tenants x {other_events} ...", flush=True)
    seeded = seed(env, slug, events, others, other_events, key_count)
    keys_raw = seeded.pop("keys")
    print(f"  {seeded['seeded_tenants_rows']} rows in {seeded['transactions']} transactions ({seeded['table_rows']} "
          f"in the table, {seeded['table_mb']} MB with indexes), seeded in {seeded['seed_seconds']} s, "
          f"then VACUUM ANALYZE in {seeded['vacuum_analyze_seconds']} s", flush=True)
    keys = Keys(port, keys_raw)
    nav = Recorder("navigate")
    try:
        start = positions(keys, seeded, nav)
        link_ok = link_header_matches(keys)
        cases = measure(keys, start, repeat)
    finally:
        keys.close()
    nav_errors = [s.error for s in nav.samples if s.error]
    if not start[MIDDLE]["cursor"]:
        nav_errors.append("no middle cursor")
    if not start[TAIL]["cursor"]:
        nav_errors.append("no tail cursor")
    if not link_ok:
        nav_errors.append("the Link header is not the body's next link")
    errors = len(nav_errors) + sum(c["errors"] for c in cases.values())
    worst = max((c["server_ms"]["p95"] or 0.0 for c in cases.values()), default=0.0)
    met = all(c["target_met"] for c in cases.values())

    print(f"\nAudit events: GET {PREFIX}{PATH}, {events} events in the tenant, {others} other tenants x {other_events};"
          f" {repeat} sequential requests per case, ms (server = inside the app)")
    print(f"  {'case':<40}{'rows':>5}{'server p50':>11}{'p95':>7}{'max':>7}{'client p50':>11}{'p95':>7}{'max':>7}"
          f"{'app CPU p50':>12}{'queries':>8}{'errors':>7}  <= {TARGET_MS:g} ms")
    for case in CASES:
        c = cases[case]
        s, cl = c["server_ms"], c["client_ms"]
        cell = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        print(f"  {case:<40}{c['rows_per_page']:>5g}{cell(s['p50']):>11}{cell(s['p95']):>7}{cell(s['max']):>7}"
              f"{cell(cl['p50']):>11}{cell(cl['p95']):>7}{cell(cl['max']):>7}{cell(c['server_cpu_ms']['p50']):>12}"
              f"{c['queries_max']:>8}{c['errors']:>7}  {'pass' if c['target_met'] else 'FAIL'}")
        for example in c["error_examples"]:
            print(f"      ! {example}")
    for error in nav_errors[:5]:
        print(f"      ! finding the cursors: {error}")
    print(f"Target: audit-events page <= {TARGET_MS:g} ms server time (p95 of each case): worst p95 {worst:.1f} ms: "
          f"{'pass' if met else 'FAIL'}", flush=True)
    return {"seeded": seeded, "repeat": repeat, "keys": key_count, "cases": cases, "navigation_errors": nav_errors,
            "target_ms": TARGET_MS, "worst_server_ms_p95": worst, "target_met": met, "errors": errors}


def results_cell(audit: dict[str, Any] | None) -> str:
    """bench/RESULTS.md's audit-events cell: p95 server ms per case, and the target."""
    if not audit:
        return "-"
    cases = audit["cases"]
    p95 = " / ".join("-" if cases[c]["server_ms"]["p95"] is None else f"{cases[c]['server_ms']['p95']:.1f}"
                     for c in CASES)
    seeded = audit["seeded"]
    return (f"{p95} ms: {'pass' if audit['target_met'] else 'FAIL'} ({seeded['events']} events + "
            f"{seeded['others']} x {seeded['other_events']})")
