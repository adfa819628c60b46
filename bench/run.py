#!/usr/bin/env python3
"""The Entra replay benchmark (``make bench``; scale mode: ``make bench-scale``).

Starts the app the way production runs it (gunicorn with the production
settings of gunicorn.conf.py, PostgreSQL in a
database of its own recreated on every run, a Celery worker on Redis with a
queue of this run's own), creates a tenant and a SCIM token with the app's
management commands, and replays Microsoft Entra ID's traffic over real HTTP
(bench/replay.py). The stock django-scim2 server (bench/stock_server/) answers
the part of the replay its defaults support, under the same gunicorn settings,
database server, client and connection settings, and our requests/second are
printed as a ratio to it. Last, the people the replay provisioned sign in
with SAML, all at once (bench/sso.py, ``--sso-signins``).

Planner statistics: where the PostgreSQL server runs without autovacuum
(this project's CI machine does), every table would keep the statistics it
had when empty, and PostgreSQL picks among equally costed indexes at random;
a database that has lived for a minute under autovacuum has none of that. So
when ``autovacuum`` is off, both servers' databases get one ``ANALYZE``
before each phase, untimed, the pass autovacuum would have made (printed).

Figures go to stdout, to ``bench/results/latest.json`` and as a dated row to
``bench/RESULTS.md``. The exit code is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import harness
from bench.client import Recorder
from bench.replay import Plan, Target, interleaved, overall, replay
from bench.sso import Storm, run_storm

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/spaceiq_bench"
KIND_ORDER = ["user.lookup", "user.create", "group.lookup", "group.create", "group.add_members", "user.get",
              "user.patch", "probe", "user.disable", "user.delete"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--groups", type=int, default=20)
    p.add_argument("--members", type=int, default=100, help="members per group, added in PATCHes of 50")
    p.add_argument("--concurrency", type=int, default=8)
    production = harness.gunicorn_production_settings()
    p.add_argument("--workers", type=int, default=production["workers"],
                   help=f"gunicorn workers (default: gunicorn.conf.py's, {production['workers']} here)")
    p.add_argument("--worker-class", default=production["worker_class"],
                   help=f"(default: gunicorn.conf.py's, {production['worker_class']})")
    p.add_argument("--threads", type=int, default=production["threads"],
                   help=f"threads per worker (default: gunicorn.conf.py's, {production['threads']})")
    p.add_argument("--sso-signins", type=int, default=None,
                   help="SAML sign-ins of the SSO storm after the replay (default: one per active person the "
                        "replay provisioned; 0 skips the storm)")
    p.add_argument("--no-stock", action="store_true", help="skip the django-scim2 baseline")
    p.add_argument("--no-query-count", action="store_true",
                   help="skip the small counted pass (SQL per request kind) before each timed replay")
    p.add_argument("--scale", action="store_true", help="scale mode: 100,000 vs 1,000 people (bench/scale.py)")
    p.add_argument("--scale-people", type=int, default=100_000)
    p.add_argument("--scale-small", type=int, default=1_000)
    p.add_argument("--scale-groups", type=int, default=500)
    p.add_argument("--scale-big-group", type=int, default=10_000)
    p.add_argument("--scale-repeat", type=int, default=60,
                   help="samples per operation in scale mode (p50 reported; sub-millisecond ones need many)")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    p.add_argument("--broker-url", default=os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/1")
    p.add_argument("--json", default=str(BENCH_DIR / "results" / "latest.json"))
    p.add_argument("--results-md", default=str(BENCH_DIR / "RESULTS.md"))
    p.add_argument("--no-record", action="store_true", help="do not append a row to RESULTS.md")
    p.add_argument("--keep-database", action="store_true", help="leave the benchmark databases behind")
    return p.parse_args(argv)


# --- reporting ------------------------------------------------------------------------


def cpu_per_request(seconds: dict[str, float], requests: int) -> dict[str, float]:
    per = 1000 / requests if requests else 0.0
    workers, postgres = seconds["workers_s"] * per, seconds["postgres_s"] * per
    total = workers + postgres
    return {"workers_ms": round(workers, 3), "postgres_ms": round(postgres, 3), "total_ms": round(total, 3)}


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


def report(title: str, recorders: list[Recorder], counted: list[Recorder] | None = None) -> dict[str, Any]:
    """Figures of a timed replay; SQL counts and server time come from its ``counted`` pass."""
    phases = [r.summary() for r in recorders]
    total = overall(recorders).summary()
    if counted:
        counts = overall(counted).summary()["kinds"]
        for kind, figures in total["kinds"].items():
            for name in COUNTED_FIELDS:
                figures[name] = counts.get(kind, {}).get(name)
    print(f"\n{title}")
    for s in phases:
        print_phase(s)
    print_phase(total)
    print_kinds(total)
    return {"phases": phases, "overall": total}


def counted_pass(target: Target, plan: Plan, flavour: str) -> list[Recorder]:
    """The same cycle at a small size with per-request SQL counting, before the timed run.

    Counting wraps every query in Python, and a server answering more queries
    pays more for it: timed requests run unwrapped, as in production (bench/wsgi.py).
    It also warms both servers up alike.
    """
    small = Plan(users=min(plan.users, 200), groups=min(plan.groups, 2), members=min(plan.members, 100),
                 concurrency=plan.concurrency, label=f"{plan.label}-counted")
    recorders, _ = replay(dataclasses.replace(target, count_queries=True), small, flavour=flavour)
    return recorders


def ratio_cell(comparison: dict[str, Any]) -> str:
    if not comparison:
        return "-"
    cpu = comparison.get("cpu_ms_per_request")
    return f"{comparison['ratio']:.2f}x" + (f" (server CPU per request {cpu['stock_over_ours']:.2f}x)" if cpu else "")


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


def append_results_row(path: Path, result: dict[str, Any]) -> None:
    header = (
        "# Benchmark results\n\n"
        "One row per `make bench` / `make bench-scale` run (appended by bench/run.py). Figures are noisy on a\n"
        "shared machine: compare runs of the same machine and load; `load` is the 1-minute load average at start.\n\n"
        "| date (UTC) | mode | machine | load | sizes | gunicorn | req/s | p99 ms | errors"
        " | stock req/s (same requests) | ours/stock | peak worker RSS MB"
        " | scale: worst lookup/single-resource ratio large/small; page of 100 ms; +100 members ms"
        f" | {SSO_COLUMN} |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    if not path.exists():
        path.write_text(header)
    m = result["machine"]
    machine = f"{m['nproc']} cores, {m['memory_gb']} GB, {m['cpu']}, Python {m['python']}, PostgreSQL {m['postgres']}"
    if m.get("autovacuum") == "off":
        machine += " (autovacuum off: ANALYZE before each phase)"
    cfg = result["config"]
    gun = f"{cfg['workers']} x {cfg['worker_class']}" + (f" x {cfg['threads']} threads" if cfg["threads"] > 1 else "")
    if result["mode"] == "replay":
        ours = result["ours"]["overall"]
        cmp_ = result.get("comparison") or {}
        sizes = f"{cfg['users']} users, {cfg['groups']} groups x {cfg['members']}, c={cfg['concurrency']}"
        row = [result["date"], "replay", machine, m["load_avg_at_start"].split()[0], sizes, gun,
               f"{ours['rps']:.0f}", f"{ours['latency_ms']['p99']:.1f}", str(result["errors"]),
               f"{cmp_['stock_rps']:.0f}" if cmp_ else "-", ratio_cell(cmp_),
               f"{result['memory']['ours']['peak_rss_mb_max']:.0f}", "-", sso_cell(result.get("sso"))]
    else:
        scale = result["scale"]
        worst = scale["ratios"]["_worst_flat"]["ratio"]
        large = scale["sizes"]["scale-large"]["operations"]
        page = large["GET /Users page of 100"]["server_ms_p50"]
        add = large["PATCH +100 members to {big}"]["server_ms_p50"]
        sizes = f"{cfg['scale_people']} vs {cfg['scale_small']} people, {cfg['scale_groups']} groups"
        row = [result["date"], "scale", machine, m["load_avg_at_start"].split()[0], sizes, gun, "-", "-",
               str(result["errors"]), "-", "-", f"{result['memory']['ours']['peak_rss_mb_max']:.0f}",
               f"{worst:.2f}x; {page} ms; {add} ms", "-"]
    with path.open("a") as fh:
        fh.write("| " + " | ".join(row) + " |\n")


# --- the run -------------------------------------------------------------------------


def statistics_pass(database_url: str):
    """ANALYZE before each phase when the server's autovacuum is off (module docstring); else None."""
    if harness.autovacuum_enabled(database_url):
        return None
    return lambda: harness.analyze(database_url)


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


def run_replay(args: argparse.Namespace, machine: dict[str, str]) -> dict[str, Any]:
    queue = f"spaceiq-bench-{uuid.uuid4().hex[:8]}"
    plan = Plan(users=args.users, groups=args.groups, members=args.members, concurrency=args.concurrency)
    common_plan = Plan(**{**plan.__dict__, "label": "common"})
    result: dict[str, Any] = {"mode": "replay"}
    stock: harness.Server | None = None
    stock_url = harness.with_database(args.database_url, harness.database_name(args.database_url) + "_stock")
    count = not args.no_query_count
    env, token, worker, server = start_ours(args, args.database_url, queue, "bench")
    try:
        target = Target("ours", "127.0.0.1", server.port, "/scim", token,
                        before_phase=statistics_pass(args.database_url))
        print(f"Ours: gunicorn {args.workers} x {args.worker_class} on :{server.port}, database "
              f"{harness.database_name(args.database_url)}, Celery queue {queue}; concurrency {args.concurrency}")
        counted = counted_pass(target, plan, "full") if count else None
        recorders, _ = replay(target, plan, flavour="full")
        result["ours"] = report("Ours: the Entra replay (initial, incremental, deprovisioning)", recorders, counted)
        # Every request must have its request-log row (the log is part of what is measured).
        sent = result["ours"]["overall"]["requests"] + (overall(counted).summary()["requests"] if counted else 0)
        logged = harness.request_log_rows(args.database_url, "bench", expected=sent + 1)
        result["request_log"] = {"requests": sent, "rows": logged, "missing": max(sent - logged, 0)}
        print(f"Request log: {logged} rows for {sent} requests (and the start-up probe)")
        if not args.no_stock:
            # The common subset, byte for byte alike, on a fresh tenant of ours and on the stock
            # server, phase by phase in alternation so both meet the machine in the same state.
            common_token = harness.issue_token(env, "bench-common", "Bench common")
            common_target = Target("ours", "127.0.0.1", server.port, "/scim", common_token,
                                   before_phase=statistics_pass(args.database_url))
            stock, stock_target = start_stock(args, stock_url)
            print(f"Stock django-scim2: gunicorn {args.workers} x {args.worker_class} on :{stock.port}, database "
                  f"{harness.database_name(stock_url)}")
            counted_ours = counted_pass(common_target, common_plan, "common") if count else None
            counted_stock = counted_pass(stock_target, common_plan, "common") if count else None
            meters = (harness.CpuMeter(server.process.pid, args.database_url),
                      harness.CpuMeter(stock.process.pid, stock_url))
            common_ours, common_stock = interleaved((common_target, common_plan), (stock_target, common_plan),
                                                    flavour="common", meters=meters)
            for name, meter in zip(("ours", "stock"), meters, strict=True):
                meter.close()
                result[f"cpu_{name}"] = {"workers_s": round(meter.workers, 2), "postgres_s": round(meter.postgres, 2)}
            result["common_ours"] = report("Ours: the requests django-scim2 can answer", common_ours, counted_ours)
            result["stock"] = report("Stock django-scim2: the same requests", common_stock, counted_stock)
            stock.memory.stop()
        if args.sso_signins != 0:
            # Last, so every SCIM figure above is measured as it was before sign-ins existed; the
            # people who sign in are those the replay provisioned in the tenant "bench".
            result["sso"] = run_storm(Storm(
                env=env, slug="bench", port=server.port, master_pid=server.process.pid,
                database_url=args.database_url, signins=args.sso_signins, concurrency=args.concurrency,
                count=count, before_phase=statistics_pass(args.database_url)))
        server.memory.stop()
        result["memory"] = {"ours": server.memory.summary()}
        if stock is not None:
            result["memory"]["stock"] = stock.memory.summary()
    finally:
        server.stop()
        worker.stop()
        if stock is not None:
            stock.stop()
        if not args.keep_database:
            harness.drop_database(args.database_url)
            if not args.no_stock:
                harness.drop_database(stock_url)

    if "stock" in result:
        ours_rps = result["common_ours"]["overall"]["rps"]
        stock_rps = result["stock"]["overall"]["rps"]
        ratio = ours_rps / stock_rps if stock_rps else 0.0
        per_phase = {
            o["phase"]: round(o["rps"] / s["rps"], 2) if s["rps"] else None
            for o, s in zip(result["common_ours"]["phases"], result["stock"]["phases"], strict=True)
        }
        result["comparison"] = {"ours_rps": ours_rps, "stock_rps": stock_rps, "ratio": round(ratio, 2),
                                "per_phase": per_phase}
        print(f"\nOurs vs stock django-scim2 on the same requests: {ours_rps:.1f} / {stock_rps:.1f} req/s = "
              f"{ratio:.2f}x  (per phase: " + ", ".join(f"{k} {v}x" for k, v in per_phase.items()) + ")")
        cpu = {name: cpu_per_request(result[f"cpu_{name}"], result[key]["overall"]["requests"])
               for name, key in (("ours", "common_ours"), ("stock", "stock"))}
        cpu_ratio = cpu["stock"]["total_ms"] / cpu["ours"]["total_ms"] if cpu["ours"]["total_ms"] else 0.0
        result["comparison"]["cpu_ms_per_request"] = {**cpu, "stock_over_ours": round(cpu_ratio, 2)}
        print("Server CPU per request (gunicorn workers + PostgreSQL backends; the client, gunicorn's "
              "master and the kernel's loopback left out): " + "; ".join(
                  f"{name} {c['total_ms']:.2f} ms ({c['workers_ms']:.2f} + {c['postgres_ms']:.2f})"
                  for name, c in cpu.items()) + f"; stock / ours = {cpu_ratio:.2f}x")
    errors = result["ours"]["overall"]["errors"] + result["request_log"]["missing"]
    if "stock" in result:
        errors += result["common_ours"]["overall"]["errors"] + result["stock"]["overall"]["errors"]
    if "sso" in result:
        errors += result["sso"]["errors"]
    result["errors"] = errors
    mem = result["memory"]
    print(f"\nPeak RSS per gunicorn worker: ours {mem['ours']['peak_rss_mb_each']} MB"
          + (f"; stock {mem['stock']['peak_rss_mb_each']} MB" if "stock" in mem else ""))
    ours = result["ours"]["overall"]
    print(f"Targets: >= 600 req/s: {ours['rps']:.0f}; p99 <= 50 ms: {ours['latency_ms']['p99']:.1f}; errors 0: {errors}"
          + (f"; >= 1.5x stock: {result['comparison']['ratio']:.2f}x" if "comparison" in result else "")
          + f"; worker RSS < 150 MB: {mem['ours']['peak_rss_mb_max']:.0f}")
    if "sso" in result:
        sso = result["sso"]
        print(f"SSO targets (5 sync workers on 2 cores): >= 150 sign-ins/s: {sso['signins_per_s']:.0f}; "
              f"p99 < 100 ms: {sso['latency_ms']['p99']:.1f}; errors 0: {sso['errors']}")
    return result


def start_stock(args: argparse.Namespace, database_url: str) -> tuple[harness.Server, Target]:
    """The django-scim2 baseline under the same gunicorn settings, in a database of its own."""
    token = "stock-" + uuid.uuid4().hex
    env = {**os.environ, "STOCK_DATABASE_URL": database_url, "STOCK_SCIM_TOKEN": token,
           "DJANGO_SETTINGS_MODULE": "bench.stock_server.settings", "PYTHONPATH": str(harness.ROOT),
           "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_CONN_MAX_AGE", None)
    harness.recreate_database(database_url)
    harness.run(env, "-m", "django", "migrate", "--noinput", "-v0")
    server = harness.Server("stock", "bench.stock_server.wsgi", env, workers=args.workers,
                            worker_class=args.worker_class, threads=args.threads,
                            query_count=not args.no_query_count)
    server.start("/scim/v2/ServiceProviderConfig", token)
    return server, Target("stock", "127.0.0.1", server.port, "/scim/v2", token, group_patch_status=(200, 204),
                          before_phase=statistics_pass(database_url))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = harness.machine()
    machine["postgres"] = harness.postgres_version(args.database_url)
    machine["autovacuum"] = "on" if harness.autovacuum_enabled(args.database_url) else "off"
    print(f"Machine: {machine['nproc']} cores, {machine['memory_gb']} GB, {machine['cpu']}, Python "
          f"{machine['python']}, PostgreSQL {machine['postgres']}, load average {machine['load_avg_at_start']}")
    if machine["autovacuum"] == "off":
        print("PostgreSQL autovacuum is off: both databases get an untimed ANALYZE before each phase "
              "(the statistics autovacuum would keep)")
    if args.scale:
        from bench.scale import run_scale

        result = run_scale(args, start_ours)
    else:
        result = run_replay(args, machine)
    result["date"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    result["machine"] = machine
    result["config"] = {k: v for k, v in vars(args).items() if k not in ("database_url", "redis_url", "broker_url")}
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nJSON: {out}")
    if not args.no_record:
        append_results_row(Path(args.results_md), result)
        print(f"Row appended to {args.results_md}")
    if result["errors"]:
        print(f"FAILED: {result['errors']} request(s) failed.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
