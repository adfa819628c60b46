"""Instructions per request, ours against stock django-scim2: a figure this machine's noise cannot move.

``make bench`` times both servers under load, and on this shared 2-core
machine one turn's CPU per request moves by a third from the next
(docs/benchmark.md). This counts instead what the server process executes
per request of each kind of the common replay (bench/replay.py), under
valgrind's cachegrind (instruction counts, no cache simulation): the Python
process only, its request-log writer thread included, PostgreSQL not.

Each kind runs in a process of its own, in process (one WSGI call per
request, no HTTP), on a fresh database holding ``--setup`` users. The same
process is run twice, with ``--low`` and ``--high`` requests; the difference
divided by ``high - low`` is the count per request, without start-up and
setup. Counts repeat within a few per cent (the writer's batches follow the
clock). A server that is twice as slow under valgrind is not the point:
what moves the count is work that was added or removed.

Usage (valgrind from Debian: ``apt-get install -y valgrind``)::

    python bench/instructions.py                    # every kind, both servers
    python bench/instructions.py --kinds create get --servers ours
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import harness  # noqa: E402
from bench.replay import common_patch, user_document, user_name_filter  # noqa: E402

KINDS = ("lookup", "create", "get", "patch")  # the common replay's four kinds, 2,000 requests each
SERVERS = ("ours", "stock")
PREFIX = {"ours": "/scim", "stock": "/scim/v2"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--low", type=int, default=20)
    parser.add_argument("--high", type=int, default=120)
    parser.add_argument("--setup", type=int, default=150, help="users created before the counted requests")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--parallel", type=int, default=2, help="valgrind processes at a time")
    parser.add_argument("--child", nargs=3, metavar=("SERVER", "KIND", "N"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the child: one server, one kind, N requests, in process -------------------------------------


def application_for(server: str, database_url: str) -> tuple[Callable, str]:
    """Migrate a fresh database, then load ``server``'s WSGI application; returns it and its token."""
    harness.recreate_database(database_url)
    if server == "ours":
        redis = os.environ["REDIS_URL"]
        env = harness.app_environment(database_url, "http://127.0.0.1:8000", redis,
                                      os.environ.get("CELERY_BROKER_URL", redis), "bench-instructions")
        harness.run(env, "manage.py", "migrate", "--noinput", "-v0")
        token = harness.issue_token(env, "bench-common", "Bench common")
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "spaceiq_site.settings"
        from spaceiq_site.wsgi import application
    else:
        token = "stock-" + uuid.uuid4().hex
        os.environ.update({"STOCK_DATABASE_URL": database_url, "STOCK_SCIM_TOKEN": token,
                           "DJANGO_SETTINGS_MODULE": "bench.stock_server.settings"})
        harness.run({**os.environ, "PYTHONPATH": str(ROOT)}, "-m", "django", "migrate", "--noinput", "-v0")
        from bench.stock_server.wsgi import application
    return application, token


class InProcess:
    """SCIM requests as WSGI calls, with the headers the replay's HTTP client sends."""

    def __init__(self, application: Callable, prefix: str, token: str) -> None:
        self.application, self.prefix = application, prefix
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_ACCEPT": "application/scim+json"}

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, str] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": self.prefix + path, "SERVER_NAME": "127.0.0.1",
            "QUERY_STRING": "&".join(f"{k}={quote(v, safe='')}" for k, v in (params or {}).items()),
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO(data), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.version": (1, 0), **self.headers,
        }
        if data:
            environ["CONTENT_TYPE"] = "application/scim+json; charset=utf-8"
            environ["CONTENT_LENGTH"] = str(len(data))
        status: list[str] = []
        result = self.application(environ, lambda s, headers, exc_info=None: status.append(s))
        payload = b"".join(result)
        result.close()
        return int(status[0][:3]), json.loads(payload) if payload else None


def child(server: str, kind: str, count: int, database_url: str, setup: int) -> None:
    application, token = application_for(server, database_url)
    client = InProcess(application, PREFIX[server], token)
    ids = []
    for i in range(setup):
        status, doc = client.request("POST", "/Users", user_document(i, "seeded"))
        if status != 201:
            raise SystemExit(f"seeding user {i}: {status} {doc}")
        ids.append(doc["id"])
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    requests: dict[str, Callable[[int], tuple[int, Any]]] = {
        "lookup": lambda i: client.request("GET", "/Users", params=user_name_filter(f"nobody{i}@x.example")),
        "create": lambda i: client.request("POST", "/Users", user_document(setup + i, "counted")),
        "get": lambda i: client.request("GET", f"/Users/{ids[i % setup]}"),
        "patch": lambda i: client.request("PATCH", f"/Users/{ids[i % setup]}", common_patch(i)),
    }
    for i in range(count):
        status, doc = requests[kind](i)
        if status not in (200, 201):
            raise SystemExit(f"{kind} {i}: {status} {doc}")
    if server == "ours":
        from provisioning.request_log_writer import writer

        writer.flush()  # the rows of these requests are part of their cost
    connection.close()


# --- the parent: valgrind around the children ----------------------------------------------------


def instructions(server: str, kind: str, count: int, args: argparse.Namespace) -> int:
    url = f"{args.database_url.rsplit('/', 1)[0]}/bench_instructions_{server}_{kind}_{count}_{os.getpid()}"
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
               sys.executable, __file__, "--child", server, kind, str(count), "--setup", str(args.setup),
               "--database-url", url]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    finally:
        harness.drop_database(url)
    found = re.search(r"I\s+refs:\s+([\d,]+)", result.stderr)
    if result.returncode != 0 or not found:
        raise SystemExit(f"{server} {kind} x{count} failed:\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return int(found.group(1).replace(",", ""))


def per_request(server: str, kind: str, args: argparse.Namespace) -> float:
    low, high = (instructions(server, kind, n, args) for n in (args.low, args.high))
    return (high - low) / (args.high - args.low)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        server, kind, count = args.child
        child(server, kind, int(count), args.database_url, args.setup)
        return 0
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    started = time.time()
    pairs = [(server, kind) for kind in args.kinds for server in args.servers]
    with ThreadPoolExecutor(args.parallel) as pool:
        counts = dict(zip(pairs, pool.map(lambda pair: per_request(*pair, args), pairs), strict=True))
    print(f"Instructions per request (millions), {args.high - args.low} requests of each kind after {args.setup} users")
    both = len(args.servers) == 2
    print(f"  {'kind':<8}" + "".join(f"{s:>10}" for s in args.servers) + ("  stock/ours" if both else ""))
    for kind in args.kinds:
        row = [counts[(s, kind)] for s in args.servers]
        ratio = f"  {row[1] / row[0]:9.2f}x" if both else ""
        print(f"  {kind:<8}" + "".join(f"{c / 1e6:10.3f}" for c in row) + ratio)
    if both:
        # The common replay sends as many requests of each of these kinds.
        ours, stock = (sum(counts[(s, k)] for k in args.kinds) for s in SERVERS)
        print(f"  {'mix':<8}{ours / 1e6:10.3f}{stock / 1e6:10.3f}  {stock / ours:9.2f}x")
    print(f"({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
