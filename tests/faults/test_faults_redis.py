"""Redis stopped during a sync (issue 7, "Faults"; issue 5, the outbox).

Redis is both the Celery broker and Django's cache. While it is down, SCIM
traffic must go on (the request log and the email outbox are in PostgreSQL; a
failed enqueue is swallowed), and once it is back the notifications queued
meanwhile are delivered by the worker, each exactly once.

This stops the machine's Redis: other test runs see a few seconds of outage. It
is always started again (finally) with the project's usual command, and the
test says so on stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from kombu.exceptions import OperationalError

from directory.audit import Actor
from directory.models import AuditEvent, Person
from provisioning import notifications, services, tasks
from provisioning.emails import RenderedEmail
from provisioning.models import Notification, ScimRequest
from provisioning.request_log_writer import writer
from tests.entra import requests as entra
from tests.faults.test_faults_postgres import NO_SERVICE_RESTARTS, say
from tests.processes import database_url_for_subprocess
from tests.scim_client import ScimClient
from tests.scim_traffic import active_integration

pytestmark = [
    pytest.mark.faults, pytest.mark.celery,
    pytest.mark.skipif(
        NO_SERVICE_RESTARTS or shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
        reason="needs the local redis-server (as .ci/run starts it), and SPACEIQ_NO_SERVICE_RESTARTS unset"),
]

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
               "--save", "", "--appendonly", "no"]
OUTAGE_SECONDS = 5


def redis_up() -> bool:
    result = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"], capture_output=True, text=True)
    return result.stdout.strip() == "PONG"


def redis_stop() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], capture_output=True,
                   timeout=30)
    deadline = time.monotonic() + 10
    while redis_up() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not redis_up(), "Redis did not stop"


def redis_start() -> None:
    if not redis_up():
        subprocess.run(REDIS_START, check=True, timeout=30, capture_output=True)
    deadline = time.monotonic() + 20
    while not redis_up():
        assert time.monotonic() < deadline, "Redis did not start"
        time.sleep(0.1)


@pytest.fixture
def worker_env(smtp_server) -> dict[str, str]:
    from tests.conftest import TEST_QUEUE

    return {**os.environ, "DATABASE_URL": database_url_for_subprocess(), "CELERY_TASK_DEFAULT_QUEUE": TEST_QUEUE,
            "EMAIL_HOST": smtp_server.host, "EMAIL_PORT": str(smtp_server.port), "EMAIL_USE_TLS": "false",
            "DATABASE_CONN_MAX_AGE": "0", "SCIM_FAILURE_SUMMARY_DELAY_SECONDS": "1"}


def beat_round() -> None:
    """What beat does every minute: the sweep finds due summaries, the drain finds notifications
    older than two minutes (made old here instead of waiting)."""
    Notification.objects.filter(sent_at__isnull=True).update(created=timezone.now() - timedelta(minutes=3))
    try:
        tasks.alerts_sweep.delay()
        tasks.outbox_drain.delay()
    except OperationalError:  # the broker is (again) unreachable: beat tries at its next tick
        pass


def test_scim_traffic_goes_on_without_redis_and_queued_emails_go_out_once_it_is_back(
    transactional_db, tenant, admin, smtp_server, worker_env, settings
):
    from tests.worker import CeleryWorker

    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 1
    integration = active_integration(tenant)
    _, raw = services.token_issue(integration=integration, actor=Actor.system("test"), announce=False)
    scim = ScimClient(Client(), raw)
    worker = CeleryWorker(worker_env)
    worker.start()
    stopped = False
    try:
        assert scim.post("/Users", {"userName": "before@contoso.com"}).status_code == 201
        assert writer.flush()  # log rows are written behind the responses (request_log_writer)
        logged_before = ScimRequest.objects.count()

        say(f"stopping Redis for ~{OUTAGE_SECONDS}s (tests/faults/test_faults_redis.py)")
        stopped = True
        redis_stop()
        down_at = time.monotonic()
        statuses, slowest = [], 0.0
        for i in range(20):
            started = time.monotonic()
            statuses.append(scim.post("/Users", {"userName": f"during{i}@contoso.com", "emails": [
                {"type": "work", "value": f"during{i}@contoso.com"}]}).status_code)
            statuses.append(scim.get("/Users", filter=f'userName eq "during{i}@contoso.com"').status_code)
            slowest = max(slowest, time.monotonic() - started)
        for _ in range(3):  # failures: a failure summary becomes due, and its enqueue fails
            statuses.append(scim.post("/Users", {"userName": "during0@contoso.com"}).status_code)
        # The invalid-token throttle keeps its counters in the Redis cache: without them it must
        # still answer with a SCIM error (fail open to 401, or 429), never a 500.
        intruder = ScimClient(Client(), "siq_scim_" + "x" * 43).get("/Users")
        assert intruder.status_code in (401, 429) and intruder["Content-Type"] == "application/scim+json"
        uid = scim.get("/Users", filter='userName eq "during1@contoso.com"').json()["Resources"][0]["id"]
        statuses.append(scim.patch(f"/Users/{uid}", entra.DISABLE_DEFAULT).status_code)
        # A notification queued by a service while the broker is down (e.g. a security notice).
        queued = notifications.notification_queue(
            tenant=tenant, kind="fault_test", dedupe_key=f"fault-test-{tenant.pk}", to=["ops@acme.example"],
            email=RenderedEmail(subject="Queued while Redis was down", text="hello", html=""))
        assert queued is not None
        remaining = OUTAGE_SECONDS - (time.monotonic() - down_at)
        if remaining > 0:
            time.sleep(remaining)
        redis_start()
        stopped = False
        say("Redis is running again")
    finally:
        if stopped:
            say("restarting Redis after a failure")
            redis_start()

    try:
        # SCIM carried on: every request answered as if nothing happened, promptly, and logged.
        assert statuses == [201, 200] * 20 + [409] * 3 + [200], statuses
        assert slowest < 5, f"a request took {slowest:.1f}s while Redis was down"
        assert writer.flush()
        assert ScimRequest.objects.count() == logged_before + len(statuses) + 2  # + intruder, lookup of uid
        assert Person.objects.filter(tenant=tenant, user_name__startswith="during").count() == 20
        assert AuditEvent.objects.filter(tenant=tenant, action="person.created").count() == 22  # + admin, before
        # Nothing could be sent yet: both emails wait in PostgreSQL.
        assert smtp_server.messages == []
        pending = Notification.objects.filter(sent_at__isnull=True)
        # Beat keeps firing; the first rounds may be published before the worker has reconnected and
        # declared its queue again (Redis lost every key), and those tasks are lost: the outbox is not.
        deadline = time.monotonic() + 90
        while len(smtp_server.messages) < 2 and time.monotonic() < deadline:
            if worker.process is not None and worker.process.poll() is not None:
                # kombu 5.7 can crash the worker while it closes a channel to a vanished Redis
                # (AttributeError in restore_unacked; celery/kombu issues on broker reconnects).
                # Production runs workers under a supervisor that starts them again, as here:
                # what this test pins is that nothing queued in PostgreSQL is lost or sent twice.
                say("the Celery worker exited during the outage; starting it again as a supervisor would")
                worker.start()
            beat_round()
            time.sleep(3)
        assert len(smtp_server.messages) >= 2, worker.log[-4000:]
        say(f"queued emails delivered {time.monotonic() - down_at:.1f}s after Redis went down")
        messages = list(smtp_server.messages)
        subjects = sorted(m["Subject"] for m in messages)
        assert subjects == ["Azure provisioning: 3 failed requests for Acme Corp", "Queued while Redis was down"], \
            subjects
        # Exactly once: a second beat round and a few seconds more send nothing new.
        for _ in range(2):
            beat_round()
            time.sleep(2)
        assert len(smtp_server.messages) == 2, [m["Subject"] for m in smtp_server.messages]
        assert not pending.filter(kind__in=["fault_test", "scim_failure_summary"]).exists()
        assert "provisioning.tasks.outbox_drain" in worker.log
    finally:
        worker.stop()
