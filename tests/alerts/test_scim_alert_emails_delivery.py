"""Failure summaries, recovery and silence emails travel the real path:
request log → outbox → Redis → Celery worker → SMTP (aiosmtpd on localhost)."""

import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from provisioning import tasks
from provisioning.models import Integration, Notification
from tests.mail import notification_sent
from tests.processes import concurrently
from tests.scim_traffic import active_integration, conflict, scim_request

pytestmark = pytest.mark.celery


@pytest.fixture
def integration(tenant, admin):
    return active_integration(tenant)


def parts(message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk() if not part.is_multipart()
    }


def no_more_mail(smtp_server, expected: int, seconds: float = 3.0) -> None:
    time.sleep(seconds)
    assert len(smtp_server.messages) == expected, [m["Subject"] for m in smtp_server.messages]


def test_failing_requests_produce_one_summary_with_the_right_content(celery_worker, smtp_server, integration, settings):
    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 3
    for _ in range(3):
        conflict(integration)
    failed = scim_request(integration, 400, scim_type="invalidValue", detail="title: must be at most 255 characters")
    scim_request(integration, 201)  # successes in between do not end the run at once
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "ops@acme.example"
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert message["Subject"] == "Azure provisioning: 4 failed requests for Acme Corp"
    body = parts(message)
    assert "userName already exists (409): 3" in body["text/plain"]
    assert "Invalid value (400): 1" in body["text/plain"]
    assert "title: must be at most 255 characters" in body["text/plain"]
    assert f"http://127.0.0.1:8000/settings/integrations/azure/logs/{failed.pk}/" in body["text/plain"]
    assert "http://127.0.0.1:8000/settings/integrations/azure/logs/?status=failed" in body["text/html"]
    assert "provisioning.tasks.failure_summary_send" in celery_worker.log
    no_more_mail(smtp_server, 1)


def test_a_burst_of_1000_failures_produces_one_email(celery_worker, smtp_server, integration, settings):
    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 8
    started = time.monotonic()

    def burst(count: int) -> None:
        try:
            for _ in range(count):
                conflict(integration)
        finally:
            connections.close_all()

    # Eight concurrent "SCIM requests" at a time, as a busy Entra cycle sends.
    concurrently(burst, threads=8, args=(125,))
    burst_seconds = time.monotonic() - started
    [message] = smtp_server.wait_for(1, timeout=40)
    if burst_seconds < 6:  # the summary waited for the whole burst
        assert message["Subject"] == "Azure provisioning: 1000 failed requests for Acme Corp"
        assert "userName already exists (409): 1000" in parts(message)["text/plain"]
    no_more_mail(smtp_server, 1)
    assert Notification.objects.filter(kind="scim_failure_summary").count() == 1


def test_a_recovery_email_follows_success(celery_worker, smtp_server, integration, settings):
    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 1
    settings.SCIM_RECOVERY_MINUTES = 0
    conflict(integration)
    smtp_server.wait_for(1)
    scim_request(integration, 200)
    summary, recovery = smtp_server.wait_for(2)
    assert summary["Subject"].startswith("Azure provisioning: 1 failed request ")
    assert recovery["Subject"] == "Azure provisioning recovered for Acme Corp"
    assert "succeed again since" in parts(recovery)["text/plain"]
    scim_request(integration, 200)
    no_more_mail(smtp_server, 2)
    fresh = Integration.objects.get(pk=integration.pk)
    assert fresh.failing_since is None and fresh.recovered_at is None


def test_the_silence_email_fires_once_per_silence(celery_worker, smtp_server, integration):
    scim_request(integration, 200)
    Integration.objects.filter(pk=integration.pk).update(
        activated_at=timezone.now() - timedelta(days=2), last_request_at=timezone.now() - timedelta(hours=4)
    )
    assert tasks.silence_check() == 1  # the beat task, called directly
    assert tasks.silence_check() == 0
    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Azure provisioning appears to have stopped for Acme Corp"
    assert message["To"] == "ops@acme.example"
    assert "more than 3 hours ago" in parts(message)["text/plain"]
    no_more_mail(smtp_server, 1, seconds=2)
    # Requests resume, then stop again: a new episode, a new email.
    scim_request(integration, 200)
    assert tasks.silence_check() == 0
    Integration.objects.filter(pk=integration.pk).update(last_request_at=timezone.now() - timedelta(hours=5))
    assert tasks.silence_check() == 1
    smtp_server.wait_for(2)


def test_an_smtp_outage_delays_the_email_but_neither_loses_nor_duplicates_it(
    celery_worker, smtp_server, integration, settings
):
    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 1
    smtp_server.stop()
    conflict(integration)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        notification = Notification.objects.filter(kind="scim_failure_summary").first()
        if notification and notification.attempts >= 1 and notification.last_error:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the worker never tried to send:\n" + celery_worker.log[-3000:])
    assert notification.sent_at is None and smtp_server.messages == []
    smtp_server.start()
    [message] = smtp_server.wait_for(1, timeout=60)
    assert message["Subject"] == "Azure provisioning: 1 failed request for Acme Corp"
    # The outbox drain (beat) finds nothing left to send.
    assert tasks.outbox_drain() == 0
    no_more_mail(smtp_server, 1)
    notification = notification_sent(notification.pk)
    assert notification.sent_at is not None and notification.attempts >= 2
    assert "Retry in" in celery_worker.log
