#!/usr/bin/env python3
"""The Entra replay benchmark (``make bench``; scale mode: ``make bench-scale``).

Starts the app the way production runs it (gunicorn with the production
settings of gunicorn.conf.py, PostgreSQL with its default settings, a cache
on Redis, a Celery worker on Redis with a queue of this run's own), creates a
tenant and a SCIM token with the app's management commands, and replays
Microsoft Entra ID's traffic over real HTTP (bench/replay.py). The stock
django-scim2 server (bench/stock_server/) answers the part of the replay its
defaults support, under the same gunicorn settings and worker count, with
``REDIS_URL`` set alike, on the same PostgreSQL, client and connection
settings, and our requests/second are printed as a ratio to it.

**Rounds.** One run of each server is too noisy on a shared 2-core machine,
so the servers take turns, ``--rounds`` times (5): ours, stock, ours, stock,
ours, stock. Each turn starts its server on a freshly migrated database of
its own, warms it up with the small counted pass, and replays the same plan;
the server's CPU is read around its own phases. Ours then also replays
Entra's full traffic in a tenant of its own (the p99 and requests/second
targets). Each round is printed in a line per server, then the median per
server of each figure, and the ratio of the medians. The servers run one at
a time and each turn's database is dropped when it ends, so the work
autovacuum does for one server is not done during the other's turn.

**PostgreSQL.** The run starts a throwaway PostgreSQL cluster of its own
(bench/postgres.py): PostgreSQL's defaults, autovacuum on as in production,
whatever the machine's own server is configured with; it is removed at the
end. ``--autovacuum-off`` keeps the shape of the rows before 2026-12-07 for
comparison: autovacuum off, and an untimed ``ANALYZE`` of the database before
each phase (the pass autovacuum would have made). The automatic vacuums and
analyzes of each turn, with their CPU, are printed and kept in the JSON.

**SSO.** Once, on ours' last turn after its replays (before its database is
dropped and the last stock turn runs), the people that turn provisioned sign
in with SAML, all at once (bench/sso.py, ``--sso-signins``).

Figures go to stdout, to ``bench/results/latest.json`` and as a dated row to
``bench/RESULTS.md``. The exit code is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.audit_events import TARGET_MS
from bench.audit_events import results_cell as audit_cell
from bench.client import Recorder
from bench.postgres import Cluster
from bench.replay import PHASES, Plan, Target, overall, replay
from bench.sso import Storm, run_storm

BENCH_DIR = Path(__file__).resolve().parent
DATABASE = "spaceiq_bench"
STOCK_DATABASE = "spaceiq_bench_stock"
KIND_ORDER = ["user.lookup", "user.create", "group.lookup", "group.create", "group.add_members", "user.get",
              "user.patch", "probe", "user.disable", "user.delete"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--groups", type=int, default=20)
    p.add_argument("--members", type=int, default=100, help="members per group, added in PATCHes of 50")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--rounds", type=int, default=5,
                   help="alternated rounds (ours, stock, ours, stock ...) whose medians are reported (default 5)")
    production = harness.gunicorn_production_settings()
    p.add_argument("--workers", type=int, default=production["workers"],
                   help=f"gunicorn workers of both servers (default: gunicorn.conf.py's, {production['workers']} here)")
    p.add_argument("--worker-class", default=production["worker_class"],
                   help=f"(default: gunicorn.conf.py's, {production['worker_class']})")
    p.add_argument("--threads", type=int, default=production["threads"],
                   help=f"threads per worker (default: gunicorn.conf.py's, {production['threads']})")
    p.add_argument("--autovacuum-off", action="store_true",
                   help="the shape of the rows before 2026-12-07: PostgreSQL's autovacuum off and an untimed ANALYZE "
                        "before each phase")
    p.add_argument("--sso-signins", type=int, default=None,
                   help="SAML sign-ins of the SSO storm after ours' last replay (default: one per active person the "
                        "replay provisioned; 0 skips the storm)")
    p.add_argument("--no-stock", action="store_true", help="skip the django-scim2 baseline")
    p.add_argument("--no-query-count", action="store_true",
                   help="skip the small counted pass (SQL per request kind, and the warm-up) before each timed replay")
    p.add_argument("--scale", action="store_true", help="scale mode: 100,000 vs 1,000 people (bench/scale.py)")
    p.add_argument("--scale-people", type=int, default=100_000)
    p.add_argument("--scale-small", type=int, default=1_000)
    p.add_argument("--scale-groups", type=int, default=500)
    p.add_argument("--scale-big-group", type=int, default=10_000)
    p.add_argument("--scale-repeat", type=int, default=60,
                   help="samples per operation in scale mode (p50 reported; sub-millisecond ones need many)")
    p.add_argument("--scale-audit-events", type=int, default=1_000_000,
                   help="scale mode's audit-events part (bench/audit_events.py): events of the polled tenant "
                        "(0 skips the part)")
    p.add_argument("--scale-audit-others", type=int, default=10, help="other tenants with audit events")
    p.add_argument("--scale-audit-other-events", type=int, default=100_000, help="audit events of each other tenant")
    p.add_argument("--scale-audit-only", action="store_true",
                   help="scale mode: only the audit-events part (no people seeded, no SCIM measured)")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    p.add_argument("--broker-url", default=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/1")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "latest.json"))
    p.add_argument("--results-md", default=str(BENCH_DIR / "RESULTS.md"))
    p.add_argument("--no-record", action="store_true", help="do not append a row to RESULTS.md")
    p.add_argument("--keep-cluster", action="store_true",
                   help="leave the PostgreSQL cluster running with the last turn's databases (its address and the "
                        "command that removes it are printed)")
    args = p.parse_args(argv)
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    if args.scale_audit_only and args.scale_audit_events < 1:
        p.error("--scale-audit-only needs --scale-audit-events of at least 1")
    return args


# --- reporting ------------------------------------------------------------------------


def print_phase(summary: dict[str, Any]) -> None:
    lat = summary["latency_ms"]
    print(f"  {summary['phase']:<15} {summary['requests']:>6} req {summary['seconds']:>7.2f} s "
          f"{summary['rps']:>8.1f} req/s  p50 {lat['p50']:>6.1f}  p95 {lat['p95']:>6.1f}  p99 {lat['p99']:>6.1f} ms"
          f"  errors {summary['errors']}")
    for example in summary["error_examples"]:
        print(f"      ! {example}")


def print_kinds(summary: dict[str, Any]) -> None:
    print(f"    {'kind':<18}{'requests':>9}{'p50':>8}{'p95':>8}{'p99':>8}{'queries':>9}{'q max':>7}"
          f"{'server p50':>12}{'errors':>8}")
    kinds = summary["kinds"]
    for kind in sorted(kinds, key=lambda k: (KIND_ORDER.index(k) if k in KIND_ORDER else 99, k)):
        k = kinds[kind]
        q = "-" if k["queries_mean"] is None else f"{k['queries_mean']:.1f}"
        qm = "-" if k["queries_max"] is None else str(k["queries_max"])
        sv = "-" if k["server_ms_p50"] is None else f"{k['server_ms_p50']:.1f}"
        print(f"    {kind:<18}{k['requests']:>9}{k['p50']:>8.1f}{k['p95']:>8.1f}{k['p99']:>8.1f}{q:>9}{qm:>7}"
              f"{sv:>12}{k['errors']:>8}")


COUNTED_FIELDS = ("queries_mean", "queries_max", "server_ms_p50")


def summarize(recorders: list[Recorder], counted: list[Recorder] | None, meter: harness.CpuMeter) -> dict[str, Any]:
    """Figures of a timed replay; SQL counts and server time come from its ``counted`` pass."""
    phases = [r.summary() for r in recorders]
    total = overall(recorders).summary()
    if counted:
        counts = overall(counted).summary()["kinds"]
        for kind, figures in total["kinds"].items():
            for name in COUNTED_FIELDS:
                figures[name] = counts.get(kind, {}).get(name)
    return {"phases": phases, "overall": total, "cpu_s": meter.seconds(),
            "cpu_ms_per_request": meter.per_request(total["requests"]),
            "windows": meter.windows}


def print_detail(title: str, replayed: dict[str, Any]) -> None:
    print(f"\n{title}")
    for s in replayed["phases"]:
        print_phase(s)
    print_phase(replayed["overall"])
    print_kinds(replayed["overall"])


def brief(replayed: dict[str, Any]) -> str:
    o, cpu = replayed["overall"], replayed["cpu_ms_per_request"]
    return (f"{o['rps']:>7.1f} req/s  p99 {o['latency_ms']['p99']:>5.1f} ms  errors {o['errors']}  server CPU "
            f"{cpu['total_ms']:.2f} ms/req (workers {cpu['workers_ms']:.2f} + PostgreSQL {cpu['postgres_ms']:.2f}); "
            f"load generator {cpu['client_ms']:.2f}")


def autovacuum_brief(actions: list[dict[str, Any]]) -> str:
    if not actions:
        return "autovacuum: nothing"
    kinds = Counter(a["kind"] for a in actions)
    cpu = sum(a["cpu_s"] for a in actions) * 1000
    timed = [a for a in actions if a["phase"] != "-"]
    return (f"autovacuum: {kinds['analyze']} analyzes, {kinds['vacuum']} vacuums, {cpu:.0f} ms CPU "
            f"({len(timed)} during timed phases)")


def ratio_cell(comparison: dict[str, Any]) -> str:
    if not comparison:
        return "-"
    cpu = comparison["cpu_ms_per_request"]["stock_over_ours"]
    paired = comparison.get("median_round_ratio")
    return (f"{comparison['ratio']:.2f}x (server CPU per request {cpu:.2f}x; medians of {comparison['rounds']} rounds"
            + (f"; median of the rounds' own ratios {paired:.2f}x" if paired else "") + ")")


SSO_COLUMN = ("SSO storm: sign-ins/s; p99 ms; server CPU ms per sign-in (workers + PostgreSQL); SQL per sign-in;"
              " python3-saml alone, CPU ms per validation: as shipped / compiled schema / provisioning.sso.saml")


def sso_cell(sso: dict[str, Any] | None) -> str:
    if not sso:
        return "-"
    cpu, bare, counted = sso["cpu_ms_per_signin"], sso["bare"], sso["counted"]
    queries = "-" if counted["queries_mean"] is None else f"{counted['queries_mean']:g}"
    return (f"{sso['signins_per_s']:.0f}; {sso['latency_ms']['p99']:.1f}; {cpu['total_ms']:.1f} "
            f"({cpu['workers_ms']:.1f} + {cpu['postgres_ms']:.1f}); {queries}; {bare['library_ms']:.2f} / "
            f"{bare['library_compiled_schema_ms']:.2f} / {bare['ours_saml_ms']:.2f}"
            f" ({sso['signins']} sign-ins, c={sso['concurrency']})")


SCALE_COLUMN = ("scale: worst lookup/single-resource ratio large/small; page of 100 ms; +100 members ms;"
                " audit-events p95 server ms: first / middle / tail / action / since 1 day / action+since /"
                f" since 7 days, target <= {TARGET_MS:g} ms (events in the tenant + other tenants x events)")


RESULTS_HEADER = (
    "# Benchmark results\n\n"
    "One row per `make bench` / `make bench-scale` run (appended by bench/run.py). Figures are noisy on a\n"
    "shared machine: compare runs of the same machine and load; `load` is the 1-minute load average at start.\n\n"
    "From 2026-12-07 09:00 on, a replay row gives medians of alternated rounds (ours, stock, ours, stock ...;\n"
    "how many is in the ours/stock cell), each on a fresh database of the run's own PostgreSQL cluster with\n"
    "PostgreSQL's defaults, autovacuum on (the machine cell says which). Earlier rows are one round on the\n"
    "machine's shared server, which runs with autovacuum off, so from 2026-11-26 09:40 with an untimed ANALYZE\n"
    "before each phase (`--autovacuum-off` runs that shape again); in them ours answered the stock comparison's\n"
    "requests in the database the full replay had just filled. docs/benchmark.md says what the change moved.\n\n"
    "| date (UTC) | mode | machine | load | sizes | gunicorn | req/s | p99 ms | errors"
    " | stock req/s (same requests) | ours/stock | peak worker RSS MB"
    f" | {SCALE_COLUMN}"
    f" | {SSO_COLUMN} |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def append_results_row(path: Path, result: dict[str, Any]) -> None:
    if not path.exists():
        path.write_text(RESULTS_HEADER)
    m = result["machine"]
    machine = f"{m['nproc']} cores, {m['memory_gb']} GB, {m['cpu']}, Python {m['python']}, PostgreSQL {m['postgres']}"
    machine += (" (own cluster, autovacuum off: ANALYZE before each phase)" if m["autovacuum"] == "off"
                else " (own cluster, autovacuum on)")
    cfg = result["config"]
    gun = f"{cfg['workers']} x {cfg['worker_class']}" + (f" x {cfg['threads']} threads" if cfg["threads"] > 1 else "")
    if result["mode"] == "replay":
        full = result["median"]["ours_full"]
        cmp_ = result.get("comparison") or {}
        sizes = f"{cfg['users']} users, {cfg['groups']} groups x {cfg['members']}, c={cfg['concurrency']}"
        row = [result["date"], "replay", machine, m["load_avg_at_start"].split()[0], sizes, gun,
               f"{full['rps']:.0f}", f"{full['p99_ms']:.1f}", str(result["errors"]),
               f"{cmp_['stock_rps']:.0f}" if cmp_ else "-", ratio_cell(cmp_),
               f"{result['memory']['ours']['peak_rss_mb_max']:.0f}", "-", sso_cell(result.get("sso"))]
    else:
        scale = result["scale"]
        if scale["sizes"]:
            worst = scale["ratios"]["_worst_flat"]["ratio"]
            large = scale["sizes"]["scale-large"]["operations"]
            page = large["GET /Users page of 100"]["server_ms_p50"]
            add = large["PATCH +100 members to {big}"]["server_ms_p50"]
            people = f"{worst:.2f}x; {page} ms; {add} ms"
            sizes = f"{cfg['scale_people']} vs {cfg['scale_small']} people, {cfg['scale_groups']} groups"
        else:  # --scale-audit-only
            people, sizes = "-; -; -", "audit events only"
        row = [result["date"], "scale", machine, m["load_avg_at_start"].split()[0], sizes, gun, "-", "-",
               str(result["errors"]), "-", "-", f"{result['memory']['ours']['peak_rss_mb_max']:.0f}",
               f"{people}; {audit_cell(scale.get('audit_events'))}", "-"]
    with path.open("a") as fh:
        fh.write("| " + " | ".join(row) + " |\n")


# --- one server's turn -----------------------------------------------------------------


def statistics_pass(args: argparse.Namespace, database_url: str):
    """``--autovacuum-off``: ANALYZE before each phase (module docstring); else None."""
    if not args.autovacuum_off:
        return None
    return lambda: harness.analyze(database_url)


def counted_pass(target: Target, plan: Plan, flavour: str) -> list[Recorder]:
    """The same cycle at a small size with per-request SQL counting, before the timed run.

    Counting wraps every query in Python, and a server answering more queries
    pays more for it: timed requests run unwrapped, as in production (bench/wsgi.py).
    It also warms both servers up alike.
    """
    small = Plan(users=min(plan.users, 200), groups=min(plan.groups, 2), members=min(plan.members, 100),
                 concurrency=plan.concurrency, label=f"{plan.label}-counted")
    return replay(dataclasses.replace(target, count_queries=True), small, flavour=flavour)


def timed_replay(target: Target, plan: Plan, flavour: str, *, count: bool, meter: harness.CpuMeter) -> dict[str, Any]:
    """Counted pass (unless ``count`` is false), then the timed replay with the server's CPU read around its phases."""
    counted = counted_pass(target, plan, flavour) if count else None
    recorders = replay(target, plan, flavour=flavour, meter=meter)
    replayed = summarize(recorders, counted, meter)
    replayed["counted_requests"] = overall(counted).summary()["requests"] if counted else 0
    return replayed


def autovacuum_during(cluster: Cluster, since: int, started: float, windows: dict[str, list]) -> list[dict[str, Any]]:
    """The automatic vacuums and analyzes logged since ``since``, each with the phase it ended in."""
    actions = []
    for action in cluster.autovacuum_actions(since):
        phase = "-"  # between phases: start-up, a counted pass, an ANALYZE, the request-log check
        for name, spans in windows.items():
            for i, (t0, t1) in enumerate(spans):
                if t0 <= action.ended_at <= t1:
                    phase = f"{name} {PHASES[i]}"
        actions.append({**dataclasses.asdict(action), "ended_at": round(action.ended_at - started, 2),
                        "phase": phase})
    return actions


def start_ours(args: argparse.Namespace, database_url: str, queue: str, slug: str):
    port = harness.free_port()
    site_url = f"http://127.0.0.1:{port}"
    env = harness.app_environment(database_url, site_url, args.redis_url, args.broker_url, queue)
    harness.recreate_database(database_url)
    harness.run(env, "manage.py", "migrate", "--noinput", "-v0")
    token = harness.issue_token(env, slug, f"Bench {slug}")
    worker = harness.CeleryWorker(env, queue)
    worker.start()
    server = harness.Server("ours", "spaceiq_site.wsgi", env, workers=args.workers, worker_class=args.worker_class,
                            threads=args.threads, query_count=not args.no_query_count, port=port)
    try:
        server.start("/scim/ServiceProviderConfig", token)
    except BaseException:
        worker.stop()
        raise
    return env, token, worker, server


def ours_turn(args: argparse.Namespace, cluster: Cluster, plan: Plan, *, storm: bool) -> dict[str, Any]:
    """Ours on a fresh database: the common requests (tenant bench-common), then Entra's full traffic (bench)."""
    url = cluster.url(DATABASE)
    queue = f"spaceiq-bench-{uuid.uuid4().hex[:8]}"
    count = not args.no_query_count
    started, mark = time.time(), cluster.log_offset()
    env, token, worker, server = start_ours(args, url, queue, "bench")
    turn: dict[str, Any] = {"server": "ours", "processes": server.running_workers()}
    windows: dict[str, list] = {}
    try:
        sent: dict[str, int] = {"bench": 1}  # the start-up probe
        if not args.no_stock:
            common_token = harness.issue_token(env, "bench-common", "Bench common")
            target = Target("ours", "127.0.0.1", server.port, "/scim", common_token,
                            before_phase=statistics_pass(args, url))
            meter = harness.CpuMeter(server.process.pid, url, cluster.cpu_seconds)
            turn["common"] = timed_replay(target, dataclasses.replace(plan, label="common"), "common", count=count,
                                          meter=meter)
            meter.close()
            windows["common"] = turn["common"]["windows"]
            sent["bench-common"] = turn["common"]["overall"]["requests"] + turn["common"]["counted_requests"]
        target = Target("ours", "127.0.0.1", server.port, "/scim", token, before_phase=statistics_pass(args, url))
        meter = harness.CpuMeter(server.process.pid, url, cluster.cpu_seconds)
        turn["full"] = timed_replay(target, plan, "full", count=count, meter=meter)
        meter.close()
        windows["full"] = turn["full"]["windows"]
        sent["bench"] += turn["full"]["overall"]["requests"] + turn["full"]["counted_requests"]
        # Every request must have its request-log row (the log is part of what is measured).
        logged = {slug: harness.request_log_rows(url, slug, expected=n) for slug, n in sent.items()}
        turn["request_log"] = {"requests": sum(sent.values()), "rows": sum(logged.values()),
                               "missing": sum(max(n - logged[slug], 0) for slug, n in sent.items())}
        turn["autovacuum"] = autovacuum_during(cluster, mark, started, windows)
        if "common" in turn:
            print(f"  ours  common {brief(turn['common'])}")
        print(f"  ours  full   {brief(turn['full'])}")
        turn["seconds"] = round(time.time() - started, 1)
        print(f"        {autovacuum_brief(turn['autovacuum'])}; request log: {turn['request_log']['rows']} rows for "
              f"{turn['request_log']['requests']} requests; turn {turn['seconds']:.0f} s", flush=True)
        if storm and args.sso_signins != 0:
            # After every SCIM figure of ours, so none is measured with sign-ins in the tables; its
            # people are those the full replay provisioned in the tenant "bench".
            turn["sso"] = run_storm(Storm(
                env=env, slug="bench", port=server.port, master_pid=server.process.pid, database_url=url,
                signins=args.sso_signins, concurrency=args.concurrency, count=count,
                before_phase=statistics_pass(args, url), postgres_cpu=cluster.cpu_seconds))
        server.memory.stop()
        turn["memory"] = server.memory.summary()
    finally:
        server.stop()
        worker.stop()
        if not args.keep_cluster:
            harness.drop_database(url)
    return turn


def start_stock(args: argparse.Namespace, database_url: str) -> tuple[harness.Server, Target]:
    """The django-scim2 baseline under the same gunicorn settings, in a database of its own."""
    token = "stock-" + uuid.uuid4().hex
    env = {**os.environ, "STOCK_DATABASE_URL": database_url, "STOCK_SCIM_TOKEN": token,
           "DJANGO_SETTINGS_MODULE": "bench.stock_server.settings", "PYTHONPATH": str(harness.ROOT),
           "PYTHONUNBUFFERED": "1", "REDIS_URL": args.redis_url}  # set as for ours (the baseline has no cache)
    env.pop("DATABASE_CONN_MAX_AGE", None)
    harness.recreate_database(database_url)
    harness.run(env, "-m", "django", "migrate", "--noinput", "-v0")
    server = harness.Server("stock", "bench.stock_server.wsgi", env, workers=args.workers,
                            worker_class=args.worker_class, threads=args.threads,
                            query_count=not args.no_query_count)
    server.start("/scim/v2/ServiceProviderConfig", token)
    return server, Target("stock", "127.0.0.1", server.port, "/scim/v2", token, group_patch_status=(200, 204),
                          before_phase=statistics_pass(args, database_url))


def stock_turn(args: argparse.Namespace, cluster: Cluster, plan: Plan) -> dict[str, Any]:
    """The stock server on a fresh database: the common requests."""
    url = cluster.url(STOCK_DATABASE)
    started, mark = time.time(), cluster.log_offset()
    server, target = start_stock(args, url)
    turn: dict[str, Any] = {"server": "stock", "processes": server.running_workers()}
    try:
        meter = harness.CpuMeter(server.process.pid, url, cluster.cpu_seconds)
        turn["common"] = timed_replay(target, dataclasses.replace(plan, label="common"), "common",
                                      count=not args.no_query_count, meter=meter)
        meter.close()
        turn["autovacuum"] = autovacuum_during(cluster, mark, started, {"common": turn["common"]["windows"]})
        turn["seconds"] = round(time.time() - started, 1)
        print(f"  stock common {brief(turn['common'])}")
        print(f"        {autovacuum_brief(turn['autovacuum'])}; turn {turn['seconds']:.0f} s", flush=True)
        server.memory.stop()
        turn["memory"] = server.memory.summary()
    finally:
        server.stop()
        if not args.keep_cluster:
            harness.drop_database(url)
    return turn


# --- the rounds --------------------------------------------------------------------------


def median_figures(replays: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds (each figure on its own)."""
    med = statistics.median
    return {
        "rps": round(med(r["overall"]["rps"] for r in replays), 1),
        "p99_ms": round(med(r["overall"]["latency_ms"]["p99"] for r in replays), 2),
        "errors": med(r["overall"]["errors"] for r in replays),
        "phase_rps": [round(med(r["phases"][i]["rps"] for r in replays), 1) for i in range(len(PHASES))],
        "cpu_ms_per_request": {key: round(med(r["cpu_ms_per_request"][key] for r in replays), 3)
                               for key in replays[0]["cpu_ms_per_request"]},
    }


def run_replay(args: argparse.Namespace, cluster: Cluster) -> dict[str, Any]:
    plan = Plan(users=args.users, groups=args.groups, members=args.members, concurrency=args.concurrency)
    gunicorn = f"{args.workers} x {args.worker_class}" + (f" x {args.threads} threads" if args.threads > 1 else "")
    print(f"{args.rounds} rounds of: ours (the common requests, then Entra's full traffic), "
          + ("" if args.no_stock else "stock (the common requests); ")
          + f"gunicorn {gunicorn} each, concurrency {args.concurrency}", flush=True)
    rounds: list[dict[str, Any]] = []
    for n in range(1, args.rounds + 1):
        print(f"\nRound {n}/{args.rounds}", flush=True)
        ours = ours_turn(args, cluster, plan, storm=n == args.rounds)
        record: dict[str, Any] = {"round": n, "ours": ours}
        if not args.no_stock:
            stock = stock_turn(args, cluster, plan)
            record["stock"] = stock
            ratio = ours["common"]["overall"]["rps"] / stock["common"]["overall"]["rps"]
            print(f"  ours/stock {ratio:.2f}x", flush=True)
            record["ratio"] = round(ratio, 2)
        rounds.append(record)

    result: dict[str, Any] = {"mode": "replay", "rounds": rounds}
    median: dict[str, Any] = {"ours_full": median_figures([r["ours"]["full"] for r in rounds])}
    if not args.no_stock:
        median["ours"] = median_figures([r["ours"]["common"] for r in rounds])
        median["stock"] = median_figures([r["stock"]["common"] for r in rounds])
    result["median"] = median
    # The detail (phases, kinds, SQL per kind) of the round whose ratio is the median one.
    order = sorted(rounds, key=lambda r: r.get("ratio", r["ours"]["full"]["overall"]["rps"]))
    shown = order[(len(order) - 1) // 2]
    print_detail(f"Ours, round {shown['round']}: Entra's full traffic (initial, incremental, deprovisioning)",
                 shown["ours"]["full"])
    if not args.no_stock:
        print_detail(f"Ours, round {shown['round']}: the requests django-scim2 can answer", shown["ours"]["common"])
        print_detail(f"Stock django-scim2, round {shown['round']}: the same requests", shown["stock"]["common"])

    print(f"\nMedians of {args.rounds} rounds")
    for name, key in (("ours  full  ", "ours_full"), ("ours  common", "ours"), ("stock common", "stock")):
        if key in median:
            m, cpu = median[key], median[key]["cpu_ms_per_request"]
            print(f"  {name} {m['rps']:>7.1f} req/s  p99 {m['p99_ms']:>5.1f} ms  errors {m['errors']:g}  server CPU "
                  f"{cpu['total_ms']:.2f} ms/req (workers {cpu['workers_ms']:.2f} + PostgreSQL "
                  f"{cpu['postgres_ms']:.2f}, of which its database's backends {cpu['postgres_backends_ms']:.2f})")
    if not args.no_stock:
        ours, stock = median["ours"], median["stock"]
        ratio = ours["rps"] / stock["rps"] if stock["rps"] else 0.0
        cpu_ratio = (stock["cpu_ms_per_request"]["total_ms"] / ours["cpu_ms_per_request"]["total_ms"]
                     if ours["cpu_ms_per_request"]["total_ms"] else 0.0)
        per_phase = {name: round(o / s, 2) if s else None
                     for name, o, s in zip(PHASES, ours["phase_rps"], stock["phase_rps"], strict=True)}
        # Each round's two turns run a minute apart, so a round's own ratio cancels how fast the
        # machine happened to be then; the median of those ratios is printed beside the ratio of medians.
        paired = statistics.median(r["ratio"] for r in rounds)
        result["comparison"] = {
            "rounds": args.rounds, "ours_rps": ours["rps"], "stock_rps": stock["rps"], "ratio": round(ratio, 2),
            "median_round_ratio": round(paired, 2),
            "ratio_per_round": [r["ratio"] for r in rounds], "per_phase": per_phase,
            "cpu_ms_per_request": {"ours": ours["cpu_ms_per_request"], "stock": stock["cpu_ms_per_request"],
                                   "stock_over_ours": round(cpu_ratio, 2)},
        }
        print(f"Ours vs stock django-scim2 on the same requests, ratio of the medians: {ours['rps']:.1f} / "
              f"{stock['rps']:.1f} req/s = {ratio:.2f}x (rounds: "
              + ", ".join(f"{r['ratio']:.2f}x" for r in rounds) + f"; their median {paired:.2f}x; per phase: "
              + ", ".join(f"{k} {v}x" for k, v in per_phase.items()) + ")")
        print(f"Server CPU per request (gunicorn workers + every PostgreSQL process, autovacuum included; the client, "
              f"gunicorn's master and the kernel's loopback left out): stock / ours = {cpu_ratio:.2f}x")

    sso = rounds[-1]["ours"].get("sso")
    if sso:
        result["sso"] = sso
    errors = 0
    for r in rounds:
        errors += r["ours"]["full"]["overall"]["errors"] + r["ours"]["request_log"]["missing"]
        turns = (r["ours"], r.get("stock", {}))
        errors += sum(turn["common"]["overall"]["errors"] for turn in turns if "common" in turn)
    errors += sso["errors"] if sso else 0
    result["errors"] = errors
    result["request_log"] = {key: sum(r["ours"]["request_log"][key] for r in rounds)
                             for key in ("requests", "rows", "missing")}
    result["memory"] = {name: max((r[name]["memory"] for r in rounds if name in r),
                                  key=lambda m: m["peak_rss_mb_max"])
                        for name in ("ours", "stock") if name in rounds[0]}
    result["processes"] = {name: rounds[0][name]["processes"] for name in ("ours", "stock") if name in rounds[0]}
    procs = result["processes"]
    print("gunicorn workers running: " + "; ".join(
        f"{name} {p['workers']} (REDIS_URL {'set' if p['redis_url_set'] else 'NOT set'})" for name, p in procs.items()))
    mem = result["memory"]
    print(f"Peak RSS per gunicorn worker: ours {mem['ours']['peak_rss_mb_each']} MB"
          + (f"; stock {mem['stock']['peak_rss_mb_each']} MB" if "stock" in mem else ""))
    full = median["ours_full"]
    print(f"Targets (medians of {args.rounds} rounds): >= 600 req/s: {full['rps']:.0f}; p99 <= 50 ms: "
          f"{full['p99_ms']:.1f}; errors 0: {errors}"
          + (f"; >= 1.5x stock: {result['comparison']['ratio']:.2f}x (median of the rounds' own ratios "
             f"{result['comparison']['median_round_ratio']:.2f}x)" if "comparison" in result else "")
          + f"; worker RSS < 150 MB: {mem['ours']['peak_rss_mb_max']:.0f}")
    if sso:
        print(f"SSO targets (5 sync workers on 2 cores): >= 150 sign-ins/s: {sso['signins_per_s']:.0f}; "
              f"p99 < 100 ms: {sso['latency_ms']['p99']:.1f}; errors 0: {sso['errors']}")
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A plain `kill` must not leave the run's PostgreSQL cluster behind: let the `finally`s run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    machine = harness.machine()
    started = time.monotonic()
    cluster = Cluster({"autovacuum": "off"} if args.autovacuum_off else None)
    cluster.start()
    postgres_cluster = {"directory": str(cluster.directory), "port": cluster.port, "kept": args.keep_cluster}
    try:
        admin = cluster.url("postgres")
        machine["postgres"] = harness.setting(admin, "server_version")
        machine["autovacuum"] = harness.setting(admin, "autovacuum")
        print(f"Machine: {machine['nproc']} cores, {machine['memory_gb']} GB, {machine['cpu']}, Python "
              f"{machine['python']}, load average {machine['load_avg_at_start']}")
        print(f"PostgreSQL {machine['postgres']}: the run's own cluster on port {cluster.port} ({cluster.directory}), "
              f"default settings, autovacuum {machine['autovacuum']}"
              + (", an untimed ANALYZE before each phase" if args.autovacuum_off else ""), flush=True)
        if args.scale:
            from bench.scale import run_scale

            result = run_scale(args, start_ours, cluster.url(DATABASE))
        else:
            result = run_replay(args, cluster)
    finally:
        if args.keep_cluster:
            print(f"\nPostgreSQL cluster kept: {cluster.url(DATABASE)}; remove it with: {cluster.removal_command()}")
        else:
            cluster.stop()
    result["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    result["seconds"] = round(time.monotonic() - started, 1)
    result["machine"] = machine
    result["postgres_cluster"] = postgres_cluster
    result["config"] = {k: v for k, v in vars(args).items() if k not in ("redis_url", "broker_url")}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {out}  (run time {result['seconds']:.0f} s)")
    if not args.no_record:
        append_results_row(Path(args.results_md), result)
        print(f"Row appended to {args.results_md}")
    if result["errors"]:
        print(f"FAILED: {result['errors']} request(s) failed.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
