#!/usr/bin/env python3
"""SCIM conformance: scim2-tester's ``check_server`` against a live server of the app.

``make conformance`` runs this script. It

1. drops and recreates a PostgreSQL database (its name must contain
   "conformance": this script drops it),
2. migrates it, creates a tenant and issues a SCIM token with the app's own
   management commands,
3. starts the app with gunicorn on a free local port (Celery tasks in-process,
   emails printed, the cache on Redis: ``REDIS_URL``, else the local default),
4. runs scim2-tester's ``check_server`` on ``/scim`` for the discovery
   endpoints, Users and Groups,
5. prints the results grouped by status with their counts, and every
   failure with its reason,
6. stops gunicorn and exits 1 if any check failed (status ERROR or CRITICAL).

The database URL comes from ``--database-url``, else ``CONFORMANCE_DATABASE_URL``,
else ``postgres://postgres@127.0.0.1:5432/spaceiq_conformance``. ``DATABASE_URL``
is deliberately not read: this script drops its database.

scim2-client ships its network engine for ``httpx2``, which the app does not
install; :class:`HTTPSCIMClient` below is the same engine on the standard
library's ``http.client`` (it reuses scim2-client's own request preparation).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/spaceiq_conformance"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"  # REDIS_URL overrides it
TENANT_SLUG = "conformance"
# No Date-time one: scim2-tester fills a dateTime with a random UUID string, which its own model then
# refuses before anything is sent (tests/scim/test_scim_custom_attributes.py covers dateTime).
CUSTOM_ATTRIBUTES = (("badgeNumber", "integer"), ("building", "string"), ("deskBooking", "boolean"))
# Statuses that mean the server broke a MUST of RFC 7643/7644.
FAILING = ("ERROR", "CRITICAL")
# Checker tags excluded from the run, each with the reason. Keep this empty
# unless scim2-tester is demonstrably wrong about a check; never hide a real
# failure of our server here. (scim2-tester 0.5.2 can only exclude whole
# checkers by tag, never one attribute of one checker.)
#
# Nothing is excluded. Notes on what the run reports:
# - search_with_attributes is SKIPPED for User and Group: it POSTs to the
#   root /.search (all resource types at once), which RFC 7644 §3.4.3 makes
#   optional; we answer 501 as §3.12 prescribes, and scim2-tester counts that
#   as "not supported", not as a failure. /Users/.search and /Groups/.search work.
# - check_remove_attribute does not try to remove `active`: /Schemas marks it
#   required, because the server always assigns it (Entra rule 9) and answers
#   a remove with 400 mutability instead of leaving it assigned.
EXCLUDED_TAGS: dict[str, str] = {}


# --- The HTTP engine ---------------------------------------------------------------


def _make_client(base_url: str, token: str) -> Any:
    from scim2_client import BaseSyncSCIMClient
    from scim2_client.engines.inprocess import (
        InProcessResponse,
        _check_base_url,
        _prepare_request,
        _stays_under_base_url,
    )
    from scim2_client.errors import RequestNetworkException

    class HTTPSCIMClient(BaseSyncSCIMClient):
        """scim2-client's sync client over ``http.client`` (a real socket, a real server)."""

        def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 30, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.base_url = _check_base_url(base_url)
            self.headers = headers
            self.timeout = timeout

        def _stays_under_base_url(self, endpoint: str) -> bool:
            return _stays_under_base_url(self.base_url, endpoint)

        def _parse_json(self, response: Any) -> Any:
            return response.json()

        def request(self, method: str, url: str, **kwargs: Any) -> Any:
            prepared = _prepare_request(self.base_url, self.headers, method, url, **kwargs)
            target = prepared.url
            path = urlunsplit(("", "", target.path or "/", target.query, ""))
            connection_class = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
            connection = connection_class(target.hostname or "", target.port, timeout=self.timeout)
            try:
                connection.putrequest(prepared.method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in prepared.headers:
                    connection.putheader(name, value)
                connection.endheaders(prepared.body or None)
                response = connection.getresponse()
                from wsgiref.headers import Headers

                return InProcessResponse(
                    status_code=response.status,
                    headers=Headers(list(response.getheaders())),
                    content=response.read(),
                )
            except OSError as exc:
                network_exc = RequestNetworkException()
                network_exc.add_note(f"{method} {url}: {exc}")
                raise network_exc from exc
            finally:
                connection.close()

    return HTTPSCIMClient(base_url, {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"})


# --- Database and app set-up -----------------------------------------------------------


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def recreate_database(url: str) -> None:
    """DROP and CREATE the database of ``url``, connected to the server's ``postgres`` database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = _database_name(url)
    admin_url = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    admin_url = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(_database_name(url))))


def app_environment(database_url: str, site_url: str) -> dict[str, str]:
    """The environment of the management commands and of gunicorn (one secret: tokens hash with it)."""
    env = dict(os.environ)
    # No broker: tasks run in-process. No SMTP: emails are printed.
    # Production-like otherwise: DEBUG off, so REDIS_URL is required (the
    # cache of rate limits), with a key prefix no other run shares.
    for name in ("CELERY_BROKER_URL", "EMAIL_HOST", "DJANGO_DEBUG", "SPACEIQ_DEMO"):
        env.pop(name, None)
    env.update({
        "REDIS_URL": env.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "CACHE_KEY_PREFIX": f"conformance-{secrets.token_hex(4)}",
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": env.get("CONFORMANCE_SECRET_KEY") or secrets.token_urlsafe(48),
        "SITE_URL": site_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "TENANT_ADMIN_PASSWORD": env.get("TENANT_ADMIN_PASSWORD") or secrets.token_urlsafe(24),
        "PYTHONUNBUFFERED": "1",
    })
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(server: subprocess.Popen, host: str, port: int, token: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with code {server.returncode} before answering")
        try:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("GET", "/scim/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
            status = connection.getresponse().status
            connection.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer on {host}:{port} within {timeout:.0f}s")


# --- Running and reporting -----------------------------------------------------------


def run_checks(base_url: str, token: str) -> list[Any]:
    from scim2_tester import check_server

    client = _make_client(base_url, token)
    return check_server(client, resource_types=["User", "Group"], exclude_tags=set(EXCLUDED_TAGS) or None)


def _short(data: Any, limit: int = 1500) -> str:
    try:
        text = json.dumps(data, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(data)
    return text if len(text) <= limit else text[:limit] + " …"


def report(results: list[Any], verbose: bool) -> int:
    """Print the results grouped by status; return the number of failures."""
    from scim2_tester import Status

    counts = Counter(r.status.name for r in results)
    print()
    for status in Status:
        group = [r for r in results if r.status is status]
        if not group:
            continue
        show_details = status.name in FAILING or status.name == "DEVIATION" or verbose
        print(f"== {status.name} ({len(group)})")
        for r in group:
            where = f"[{r.resource_type}] " if r.resource_type else ""
            line = f"  - {where}{r.title}"
            if show_details and r.reason:
                line += f": {r.reason}"
            print(line)
            if status.name in FAILING and r.data is not None:
                print(f"      data: {_short(r.data)}")
    if EXCLUDED_TAGS:
        print("\nExcluded checker tags:")
        for tag, why in EXCLUDED_TAGS.items():
            print(f"  - {tag}: {why}")
    failures = sum(counts[name] for name in FAILING)
    summary = ", ".join(f"{s.name}: {counts.get(s.name, 0)}" for s in Status)
    print(f"\nscim2-tester results: {summary}")
    print(f"Total checks: {len(results)}, failures: {failures}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("CONFORMANCE_DATABASE_URL") or DEFAULT_DATABASE_URL)
    parser.add_argument("--drop-database", action="store_true", help="drop the database when done")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("-v", "--verbose", action="store_true", help="print the reason of every check")
    args = parser.parse_args(argv)

    database_url = args.database_url
    if urlsplit(database_url).scheme not in ("postgres", "postgresql"):
        parser.error("the database URL must be a postgres:// URL")
    if "conformance" not in _database_name(database_url):
        parser.error(f"refusing to drop database {_database_name(database_url)!r}: its name must contain 'conformance'")

    # A terminated run still stops gunicorn (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    port = free_port()
    host = "127.0.0.1"
    site_url = f"http://{host}:{port}"
    env = app_environment(database_url, site_url)
    print(f"Database: {_database_name(database_url)} (recreated)")
    recreate_database(database_url)
    server: subprocess.Popen | None = None
    log = tempfile.NamedTemporaryFile(prefix="spaceiq-conformance-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "create_tenant", TENANT_SLUG, "--name", "Conformance",
               "--admin-email", "admin@conformance.example", "--noinput")
        # Without EMAIL_HOST the console email backend prints the "new token"
        # security notice to stdout too; the token is the last line.
        output = manage(env, "issue_scim_token", TENANT_SLUG).strip().splitlines()
        token = output[-1].strip() if output else ""
        if not token or " " in token:
            raise SystemExit(f"issue_scim_token printed no token: {output[-5:]!r}")
        # Custom attributes of every type, so /Schemas and /ResourceTypes advertise an extension of the
        # tenant's own and the checker writes and reads it back (issue 16).
        for name, kind in CUSTOM_ATTRIBUTES:
            manage(env, "declare_custom_attribute", TENANT_SLUG, name, "--type", kind)

        server = subprocess.Popen(  # noqa: S603 - our own interpreter and gunicorn
            [sys.executable, "-m", "gunicorn", "spaceiq_site.wsgi", "-b", f"{host}:{port}", "-w", str(args.workers),
             "--timeout", "60", "--access-logfile", "-"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_until_up(server, host, port, token)
        print(f"App: {site_url} (gunicorn, {args.workers} workers, log {log.name})")
        print(f"Running scim2-tester check_server on {site_url}/scim for User and Group ...")
        results = run_checks(f"{site_url}/scim", token)
        failures = report(results, args.verbose)
    except BaseException:
        if server is not None:
            print(f"\n--- tail of the gunicorn log ({log.name}) ---", file=sys.stderr)
            sys.stderr.write(Path(log.name).read_text(errors="replace")[-4000:])
        raise
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
        if args.drop_database:
            drop_database(database_url)

    if failures:
        print(f"\nFAILED: {failures} check(s) failed. Server log: {log.name}")
        tracebacks = Path(log.name).read_text(errors="replace").count("Traceback (most recent call last)")
        if tracebacks:
            print(f"The server logged {tracebacks} traceback(s).")
        return 1
    print("\nOK: no check failed.")
    Path(log.name).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
