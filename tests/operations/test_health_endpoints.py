"""/healthz and /readyz for load balancers (provisioning/health.py, docs/operations.md).

A dependency is taken down by pointing its setting at a local port nothing
listens on, in an app process of its own: the machine's PostgreSQL and Redis
stay up for everyone else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from django.core.cache import cache
from django.test import Client

from provisioning import health, tasks
from tests.conftest import ROOT
from tests.processes import database_url_for_subprocess, free_port

CHECKS = ["database", "cache", "celery_broker", "celery_worker"]
SECRET = "hunter2-not-for-any-body"


def get(client: Client, path: str, **extra):
    response = client.get(path, **extra)
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    return response


def statuses(body: dict) -> dict[str, str]:
    return {name: check["status"] for name, check in body["checks"].items()}


@pytest.fixture(autouse=True)
def _the_app_processes_cache_keys(settings):
    """This process's cache keys as the worker and app processes it starts write them.

    They take CACHE_KEY_PREFIX from the environment conftest sets, which this
    process's settings were read before.
    """
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": os.environ["CACHE_KEY_PREFIX"]}}


@pytest.fixture
def heartbeat_now(db):
    cache.set(health.HEARTBEAT_KEY, time.time(), timeout=600)
    yield
    cache.delete(health.HEARTBEAT_KEY)


# --- /healthz ---------------------------------------------------------------------------------


def test_healthz_answers_without_the_database_a_session_or_a_known_host(db, admin, django_assert_num_queries):
    client = Client()
    client.force_login(admin)  # a session cookie: never read, never saved again
    with django_assert_num_queries(0):
        response = get(client, "/healthz", HTTP_HOST="10.0.3.17:8000")  # a load balancer probes the address
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


def test_health_endpoints_take_get_and_head_only(db, admin):
    client = Client()
    client.force_login(admin)
    assert client.head("/healthz").status_code == 200
    for path in ("/healthz", "/readyz"):
        refused = client.post(path)  # no CSRF token: still no 403, and no sign-in redirect
        assert refused.status_code == 405 and refused["Allow"] == "GET, HEAD"


# --- /readyz, in this process -------------------------------------------------------------------


@pytest.mark.celery
def test_readyz_with_everything_up_and_a_real_worker(celery_worker, client):
    """The heartbeat takes a task's path: queued on the broker, run by the worker, written to the cache."""
    cache.delete(health.HEARTBEAT_KEY)
    assert get(client, "/readyz").status_code == 503
    tasks.worker_heartbeat.delay()
    deadline = time.monotonic() + 30
    while (response := get(client, "/readyz")).status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert statuses(body) == dict.fromkeys(CHECKS, "ok")
    assert body["checks"]["celery_worker"]["detail"].startswith("last heartbeat ")


def test_readyz_fails_without_a_recent_worker_heartbeat(db, client):
    cache.set(health.HEARTBEAT_KEY, time.time() - 600, timeout=600)
    response = get(client, "/readyz")
    body = response.json()
    assert response.status_code == 503 and body["status"] == "failed"
    assert statuses(body) == {"database": "ok", "cache": "ok", "celery_broker": "ok", "celery_worker": "failed"}
    assert body["checks"]["celery_worker"]["detail"].startswith("last heartbeat 60")  # 600 s, give or take
    cache.delete(health.HEARTBEAT_KEY)
    body = get(client, "/readyz").json()
    assert body["checks"]["celery_worker"] == {
        "status": "failed", "detail": "no heartbeat recorded (is a worker and beat running?)"}


def test_a_failing_readyz_logs_what_failed_not_djangos_error(db, client, caplog):
    cache.delete(health.HEARTBEAT_KEY)
    with caplog.at_level("INFO"):
        assert get(client, "/readyz").status_code == 503
    lines = [(r.name, r.levelname, r.getMessage()) for r in caplog.records]
    assert ("provisioning.health", "WARNING",
            "Not ready: celery_worker no heartbeat recorded (is a worker and beat running?)") in lines
    assert not [line for line in lines if line[0] == "django.request"]


# --- /readyz with a dependency down, in an app process of its own --------------------------------

PROBE = """
import json, os, django
django.setup()
from django.core.management import call_command
from django.test import Client
if os.environ.get("PROBE_SETUP"):
    call_command(os.environ["PROBE_SETUP"])
client = Client()
out = {}
for path in ("/healthz", "/readyz"):
    response = client.get(path)
    out[path] = [response.status_code, response.content.decode()]
print(json.dumps(out))
"""


def probe(**env: str) -> dict[str, tuple[int, str]]:
    """/healthz and /readyz of a fresh app process with the test run's settings, changed by ``env``."""
    from django.conf import settings

    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SPACEIQ_", "DATABASE_"))}
    base.update({
        "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings", "DJANGO_SECRET_KEY": "k",
        "DATABASE_URL": database_url_for_subprocess(), "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, "LOG_LEVEL": "ERROR", **env,
    })
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("down, setting", [
    ("database", "DATABASE_URL=postgres://spaceiq:{secret}@127.0.0.1:{port}/spaceiq"),
    ("cache", "REDIS_URL=redis://:{secret}@127.0.0.1:{port}/0"),
    ("celery_broker", "CELERY_BROKER_URL=redis://:{secret}@127.0.0.1:{port}/1"),
])
def test_readyz_names_the_dependency_that_is_down(heartbeat_now, down, setting):
    port = free_port()  # bound and closed again: nothing listens on it
    name, url = setting.format(secret=SECRET, port=port).split("=", 1)
    out = probe(**{name: url})
    assert out["/healthz"] == [200, '{"status": "ok"}']  # the process answers whatever is down
    status, text = out["/readyz"]
    body = json.loads(text)
    assert status == 503 and body["status"] == "failed"
    expected = dict.fromkeys(CHECKS, "ok")
    expected[down] = "failed"
    if down == "cache":
        expected["celery_worker"] = "failed"  # the heartbeat lives in the cache
    assert statuses(body) == expected
    assert body["checks"][down]["detail"].startswith("unreachable (")
    assert SECRET not in text and str(port) not in text  # no URL, no password, no exception text


def test_demo_mode_runs_tasks_in_process_and_is_ready_without_a_broker(tmp_path):
    """make run: SQLite, the database cache, no broker and no worker."""
    out = probe(
        SPACEIQ_DEMO="1", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}", REDIS_URL="", CELERY_BROKER_URL="",
        PROBE_SETUP="createcachetable",
    )
    status, text = out["/readyz"]
    assert status == 200, text
    assert json.loads(text) == {"status": "ok", "checks": {
        "database": {"status": "ok"},
        "cache": {"status": "ok"},
        "celery_broker": {"status": "ok", "detail": "not used (tasks run in-process)"},
        "celery_worker": {"status": "ok", "detail": "not used (tasks run in-process)"},
    }}
