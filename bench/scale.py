"""Scale mode: the same operations on a tenant of 1,000 and one of 100,000 people.

Both tenants are seeded through the directory services (bench/seed.py) into
one database, the small one first, so the small measurement runs on a small
table. Each operation runs sequentially (latency, not throughput) a number of
times; the ratio large/small compares medians of the time inside the
application (``X-Server-Time-Ms``) and of the client's time.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench import harness
from bench.client import Client, Recorder, percentile, timed
from bench.replay import PATCH_OP

OPERATIONS = [
    ("filter userName", "lookup"),
    ("filter externalId", "lookup"),
    ("filter work email", "lookup"),
    ("GET /Users/{id}", "single"),
    ("GET /Users page of 100", "page"),
    ("GET /Users full listing (per page)", "listing"),
    ("GET /Groups/{big} excludedAttributes=members", "single"),
    ("GET /Groups/{big} with members", "size"),
    ("PATCH +100 members to {big}", "single"),
]


def _measure(client: Client, name: str, repeat: int,
             request: Callable[[Recorder, int], None]) -> dict[str, Any]:
    recorder = Recorder(name)
    recorder.started = time.perf_counter()
    for n in range(repeat):
        request(recorder, n)
    recorder.ended = time.perf_counter()
    samples = recorder.samples
    server = [s.server_ms for s in samples if s.server_ms is not None]
    return {
        "requests": len(samples), "errors": sum(1 for s in samples if s.error),
        "error_examples": [s.error for s in samples if s.error][:3],
        "client_ms_p50": round(percentile([s.ms for s in samples], 0.5), 2),
        "client_ms_p95": round(percentile([s.ms for s in samples], 0.95), 2),
        "server_ms_p50": round(percentile(server, 0.5), 2) if server else None,
        "queries_max": max((s.queries or 0 for s in samples), default=0),
        "seconds": round(recorder.ended - recorder.started, 2),
    }


def measure_tenant(client: Client, seeded: dict[str, Any], slug: str, repeat: int) -> dict[str, dict[str, Any]]:
    rng = random.Random(7)
    sample = seeded["sample"]
    people = seeded["people"]
    big = seeded["big_group"]
    results: dict[str, dict[str, Any]] = {}

    def pick_index() -> int:
        return rng.randrange(people)

    def lookup(kind: str) -> Callable[[Recorder, int], None]:
        def request(rec: Recorder, _n: int) -> None:
            i = pick_index()
            text = {
                "userName": f'userName eq "p{i:07d}@{slug}.example"',
                "externalId": f'externalId eq "x-{slug}-{i}"',
                "email": f'emails[type eq "work"].value eq "p{i:07d}@{slug}.example"',
            }[kind]
            status, doc = timed(rec, client, kind, "GET", "/Users", params={"filter": text})
            if status == 200 and doc and doc.get("totalResults") != 1:
                rec.samples[-1].error = f"{text}: {doc.get('totalResults')} results"
        return request

    _measure(client, "warm-up", 20, lookup("userName"))  # every worker's first requests are not measured
    results["filter userName"] = _measure(client, "userName", repeat, lookup("userName"))
    results["filter externalId"] = _measure(client, "externalId", repeat, lookup("externalId"))
    results["filter work email"] = _measure(client, "email", repeat, lookup("email"))
    results["GET /Users/{id}"] = _measure(
        client, "get", repeat, lambda rec, n: timed(rec, client, "get", "GET", f"/Users/{sample[n % len(sample)]}"))
    results["GET /Users page of 100"] = _measure(
        client, "page", repeat, lambda rec, n: timed(rec, client, "page", "GET", "/Users",
                                                     params={"startIndex": "1", "count": "100"}))

    def listing(rec: Recorder, _n: int) -> None:
        start = 1
        while True:
            status, doc = timed(rec, client, "listing", "GET", "/Users",
                                params={"startIndex": str(start), "count": "100"})
            if status != 200 or not doc or not doc.get("Resources"):
                return
            start += len(doc["Resources"])
            if start > doc["totalResults"]:
                return

    full = _measure(client, "listing", 1, listing)
    full["pages"] = full["requests"]
    results["GET /Users full listing (per page)"] = full
    results["GET /Groups/{big} excludedAttributes=members"] = _measure(
        client, "group", repeat, lambda rec, n: timed(rec, client, "group", "GET", f"/Groups/{big}",
                                                      params={"excludedAttributes": "members"}))
    results["GET /Groups/{big} with members"] = _measure(
        client, "group-members", max(3, repeat // 10),
        lambda rec, n: timed(rec, client, "group-members", "GET", f"/Groups/{big}"))
    outside = seeded["non_members"]
    patches = max(1, min(5, len(outside) // 100))

    def add100(rec: Recorder, n: int) -> None:
        batch = outside[n * 100:(n + 1) * 100]
        timed(rec, client, "add100", "PATCH", f"/Groups/{big}", expect=(204,), body={
            "schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "members",
                                                   "value": [{"value": m} for m in batch]}]})

    results["PATCH +100 members to {big}"] = _measure(client, "add100", patches, add100)
    return results


def _seed(env: dict[str, str], slug: str, people: int, groups: int, big: int) -> dict[str, Any]:
    out = harness.run(env, "-m", "bench.seed", slug, "--people", str(people), "--groups", str(groups),
                      "--big-group", str(big))
    return json.loads(out.strip().splitlines()[-1])


def run_scale(args: Any, start_ours: Callable) -> dict[str, Any]:
    queue = f"spaceiq-bench-{uuid.uuid4().hex[:8]}"
    small_n, large_n = args.scale_small, args.scale_people
    big_small = max(1, min(args.scale_big_group * small_n // max(large_n, 1), small_n))
    big_large = min(args.scale_big_group, large_n)
    env, token, worker, server = start_ours(args, args.database_url, queue, "scale-small")
    sizes: dict[str, Any] = {}
    try:
        for slug, n, big in (("scale-small", small_n, big_small), ("scale-large", large_n, big_large)):
            if slug != "scale-small":
                token = harness.issue_token(env, slug, f"Scale {n}")
            print(f"Seeding {slug}: {n} people, {args.scale_groups} groups (one of {big} members) ...", flush=True)
            seeded = _seed(env, slug, n, args.scale_groups, big)
            print(f"  seeded in {seeded['seconds']} s; measuring ...", flush=True)
            client = Client("127.0.0.1", server.port, "/scim", token, count=True)
            try:
                sizes[slug] = {"people": n, "big_group": big, "seed_seconds": seeded["seconds"],
                               "operations": measure_tenant(client, seeded, slug, args.scale_repeat)}
            finally:
                client.close()
        server.memory.stop()
        memory = {"ours": server.memory.summary()}
    finally:
        server.stop()
        worker.stop()
        if not args.keep_database:
            harness.drop_database(args.database_url)

    small, large = sizes["scale-small"]["operations"], sizes["scale-large"]["operations"]
    ratios: dict[str, Any] = {}
    print(f"\nScale: {large_n} vs {small_n} people (big group {big_large} vs {big_small} members); "
          "times in ms, p50 (server = inside the app)")
    print(f"  {'operation':<46}{'server small':>13}{'server large':>13}{'ratio':>7}"
          f"{'client small':>13}{'client large':>13}{'queries':>9}{'errors':>8}")
    errors = 0
    for name, kind in OPERATIONS:
        s, lg = small[name], large[name]
        errors += s["errors"] + lg["errors"]
        ratio = (lg["server_ms_p50"] / s["server_ms_p50"]) if s.get("server_ms_p50") and lg.get("server_ms_p50") \
            else (lg["client_ms_p50"] / s["client_ms_p50"] if s["client_ms_p50"] else None)
        ratios[name] = {"kind": kind, "ratio": round(ratio, 2) if ratio is not None else None}
        sv = lambda d: "-" if d.get("server_ms_p50") is None else f"{d['server_ms_p50']:.1f}"  # noqa: E731
        print(f"  {name:<46}{sv(s):>13}{sv(lg):>13}{(ratio or 0):>6.2f}x{s['client_ms_p50']:>13.1f}"
              f"{lg['client_ms_p50']:>13.1f}{lg['queries_max']:>9}{s['errors'] + lg['errors']:>8}")
        for example in s["error_examples"] + lg["error_examples"]:
            print(f"      ! {example}")
    lst = large["GET /Users full listing (per page)"]
    print(f"  full listing: {lst['pages']} pages in {lst['seconds']} s at {large_n} people "
          f"({small['GET /Users full listing (per page)']['seconds']} s at {small_n})")
    page = large["GET /Users page of 100"]["server_ms_p50"]
    add = large["PATCH +100 members to {big}"]["server_ms_p50"]
    flat = [n for n, k in OPERATIONS if k in ("lookup", "single", "page")]
    worst = max(ratios[n]["ratio"] or 0 for n in flat)
    print(f"Targets: lookups and single-resource operations within 1.3x: worst {worst:.2f}x; page of 100 <= 30 ms "
          f"server: {page} ms; +100 members to the big group <= 100 ms: {add} ms; worker RSS < 150 MB: "
          f"{memory['ours']['peak_rss_mb_max']:.0f} MB")
    ratios["_worst_flat"] = {"kind": "summary", "ratio": worst}
    return {"mode": "scale", "scale": {"sizes": sizes, "ratios": ratios}, "memory": memory, "errors": errors}
