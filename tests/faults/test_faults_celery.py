"""A Celery worker killed with SIGKILL in the middle of a task (issue 7, "Faults").

The task (deliver one notification email) is made to block at a known point:
the SMTP server holds the first DATA command until the test has killed the
worker. The task is acknowledged late, so the broker still holds it; with
Redis it becomes visible again after the visibility timeout (made short here
through CELERY_VISIBILITY_TIMEOUT) and a fresh worker runs it. The effect, one
email, must happen exactly once: the killed attempt rolled back with its
connection, and the delivery is idempotent.

The worker uses a Redis database of its own, so its short visibility timeout
never redelivers other test runs' unacknowledged tasks.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import notifications, tasks
from provisioning.emails import RenderedEmail
from provisioning.models import Notification
from tests.conftest import TEST_QUEUE
from tests.mail import SmtpServer
from tests.processes import free_port
from tests.worker import CeleryWorker, worker_env

pytestmark = [pytest.mark.faults, pytest.mark.celery]

BROKER = "redis://127.0.0.1:6379/11"
VISIBILITY_TIMEOUT = 5


class StallingSmtpServer(SmtpServer):
    """Holds the first message's DATA until released, then refuses it (the sender is dead by then)."""

    def __init__(self) -> None:
        super().__init__(host="127.0.0.1", port=free_port())
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.attempts = 0

    async def deliver(self, envelope) -> str:
        self.attempts += 1
        if self.attempts == 1:
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Sender went away"
        return await super().deliver(envelope)

    def stop(self) -> None:
        self.release.set()
        super().stop()


def test_a_worker_killed_mid_delivery_sends_the_email_exactly_once(transactional_db, monkeypatch):
    from spaceiq_site.celery import app

    smtp = StallingSmtpServer()
    smtp.start()
    env = worker_env(smtp, CELERY_BROKER_URL=BROKER, CELERY_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))
    first, second = CeleryWorker(env), CeleryWorker(env)
    try:
        first.start()
        # Queue the email in the outbox and publish its task to this test's broker database.
        monkeypatch.setattr(notifications, "_enqueue", lambda notification_id: None)
        notification = notifications.notification_queue(
            tenant=None, kind="fault_test", dedupe_key="worker-killed-mid-task", to=["ops@acme.example"],
            email=RenderedEmail(subject="Exactly once", text="Sent once, whatever happens.", html=""))
        with app.connection_for_write(BROKER) as connection:
            tasks.notification_deliver.apply_async((notification.pk,), connection=connection)

        assert smtp.stalled.wait(60), "the worker never reached the SMTP server:\n" + first.log[-3000:]
        stalled_at = time.monotonic()
        os.kill(first.process.pid, signal.SIGKILL)  # mid-task: inside the send, the row locked
        first.process.wait(timeout=30)
        smtp.release.set()
        assert "notification_deliver" in first.log and "succeeded" not in first.log

        # The killed attempt left nothing behind: its transaction died with its connection.
        notification.refresh_from_db()
        assert notification.sent_at is None and notification.attempts == 0
        assert smtp.messages == []

        # After the visibility timeout a fresh worker gets the task again (late acknowledgement).
        time.sleep(max(0.0, VISIBILITY_TIMEOUT + 1 - (time.monotonic() - stalled_at)))
        second.start()
        [message] = smtp.wait_for(1, timeout=60)
        assert message["Subject"] == "Exactly once"
        # No second copy: not from a further redelivery, nor from the outbox drain.
        time.sleep(VISIBILITY_TIMEOUT + 2)
        Notification.objects.filter(pk=notification.pk).update(created=timezone.now() - timedelta(minutes=3))
        assert tasks.outbox_drain() == 0
        assert len(smtp.messages) == 1
        notification.refresh_from_db()
        assert notification.sent_at is not None and notification.attempts == 1
        assert Notification.objects.filter(dedupe_key="worker-killed-mid-task").count() == 1
        assert "provisioning.tasks.notification_deliver" in second.log and "succeeded" in second.log
    finally:
        first.stop(kill=True)
        second.stop()
        smtp.stop()
        try:
            with app.connection_for_write(BROKER) as connection:
                connection.default_channel.client.delete(TEST_QUEUE)
        except Exception:  # cleanup only
            pass


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return children


def test_a_pool_process_killed_mid_delivery_is_redelivered_at_once_and_sends_once(transactional_db, monkeypatch):
    """The prefork pool (the production default): SIGKILL of the pool process running the task.
    The worker itself survives, sees WorkerLostError and, with acks_late and
    reject_on_worker_lost, requeues the task at once (no visibility timeout to wait for)."""
    from spaceiq_site.celery import app

    smtp = StallingSmtpServer()
    smtp.start()
    worker = CeleryWorker(worker_env(smtp, CELERY_BROKER_URL=BROKER), pool="prefork")
    try:
        worker.start()
        monkeypatch.setattr(notifications, "_enqueue", lambda notification_id: None)
        notification = notifications.notification_queue(
            tenant=None, kind="fault_test", dedupe_key="pool-process-killed", to=["ops@acme.example"],
            email=RenderedEmail(subject="Exactly once (prefork)", text="Once.", html=""))
        with app.connection_for_write(BROKER) as connection:
            tasks.notification_deliver.apply_async((notification.pk,), connection=connection)
        assert smtp.stalled.wait(60), worker.log[-3000:]
        [child] = _children(worker.process.pid)
        os.kill(child, signal.SIGKILL)
        smtp.release.set()
        [message] = smtp.wait_for(1, timeout=60)
        assert message["Subject"] == "Exactly once (prefork)"
        time.sleep(3)
        assert len(smtp.messages) == 1
        notification.refresh_from_db()
        assert notification.sent_at is not None and notification.attempts == 1
        assert "WorkerLostError" in worker.log, worker.log[-3000:]
    finally:
        worker.stop()
        smtp.stop()
        try:
            with app.connection_for_write(BROKER) as connection:
                connection.default_channel.client.delete(TEST_QUEUE)
        except Exception:  # cleanup only
            pass
