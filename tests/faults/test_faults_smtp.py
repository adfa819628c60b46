"""The SMTP server failing (issue 7, "Faults"), beyond the outage test of issue 5.

tests/alerts/test_scim_alert_emails_delivery.py already stops the SMTP server (connection
refused) and starts it again. Here the server is up but refuses: it answers
DATA with a temporary error (451) a few times, as a mail relay under load or in
maintenance does. The worker must retry with a growing delay, deliver once the
server accepts, and never send a second copy.
"""

from __future__ import annotations

import re
import time
from datetime import datetime

import pytest

from provisioning import notifications
from provisioning.emails import RenderedEmail
from provisioning.models import Notification
from tests.mail import SmtpServer
from tests.processes import free_port
from tests.worker import CeleryWorker, worker_env

pytestmark = [pytest.mark.faults, pytest.mark.celery]

REFUSALS = 2


class RefusingSmtpServer(SmtpServer):
    """Answers 451 to the first ``refusals`` messages, then accepts."""

    def __init__(self, refusals: int) -> None:
        super().__init__(host="127.0.0.1", port=free_port())
        self.refusals = refusals
        self.attempts: list[float] = []

    async def deliver(self, envelope) -> str:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.refusals:
            return "451 4.3.2 System not accepting network messages, try later"
        return await super().deliver(envelope)


def test_temporary_smtp_refusals_are_retried_with_backoff_and_delivered_once(transactional_db):
    smtp = RefusingSmtpServer(REFUSALS)
    smtp.start()
    worker = CeleryWorker(worker_env(smtp))
    try:
        worker.start()
        notification = notifications.notification_queue(
            tenant=None, kind="fault_test", dedupe_key="smtp-refuses-twice", to=["ops@acme.example"],
            email=RenderedEmail(subject="Delivered after refusals", text="Once.", html="<p>Once.</p>"))
        [message] = smtp.wait_for(1, timeout=90)
        assert message["Subject"] == "Delivered after refusals"
        assert len(smtp.attempts) == REFUSALS + 1
        time.sleep(3)
        assert len(smtp.messages) == 1 and len(smtp.attempts) == REFUSALS + 1
        notification.refresh_from_db()
        assert notification.sent_at is not None and notification.attempts == REFUSALS + 1
        assert notification.last_error == ""
        # Each failure was retried later through the broker (retry_backoff), not in a tight loop.
        retries = re.findall(r"Retry in (\d+(?:\.\d+)?)s", worker.log)
        assert len(retries) == REFUSALS, worker.log[-3000:]
        assert Notification.objects.filter(dedupe_key="smtp-refuses-twice").count() == 1
        assert isinstance(notification.sent_at, datetime)
    finally:
        worker.stop()
        smtp.stop()
