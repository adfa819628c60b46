"""The welcome email travels the real path: outbox → Redis → Celery worker → SMTP."""

import pytest
from django.core.management import call_command

from provisioning.models import Notification
from tests.mail import notification_sent


@pytest.mark.celery
def test_create_tenant_welcome_email_is_delivered_by_the_worker(celery_worker, smtp_server, monkeypatch):
    monkeypatch.setenv("TENANT_ADMIN_PASSWORD", "a-long-enough-secret")
    call_command("create_tenant", "initech", "--name", "Initech", "--admin-email", "peter@initech.example",
                 "--noinput")
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "peter@initech.example"
    assert message["Subject"] == "Welcome to SpaceIQ, Initech is ready"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in message.walk()
             if not part.is_multipart()}
    assert "http://127.0.0.1:8000/accounts/sign-in/" in parts["text/plain"]
    assert "Third Party Integrations" in parts["text/html"]
    assert "provisioning.tasks.notification_deliver" in celery_worker.log
    notification = notification_sent(Notification.objects.get(kind="welcome").pk)
    assert notification.sent_at is not None and notification.attempts == 1
