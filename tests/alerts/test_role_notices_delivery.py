"""Role changes Entra makes reach people by email on the real path: the change and its audit event
and outbox row in one transaction → Redis → Celery worker → SMTP (aiosmtpd on localhost)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent, Group, Person, Role
from provisioning import role_notices
from provisioning import services as provisioning_services
from provisioning.models import Integration, Notification
from tests.entra import requests as entra
from tests.mail import notification_sent

pytestmark = pytest.mark.celery
ADA = Actor(label="Ada Admin (ada.admin@acme.example)")


def text_of(message) -> str:
    return next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")


def no_more_mail(smtp_server, expected: int, seconds: float = 2.0) -> None:
    time.sleep(seconds)
    assert len(smtp_server.messages) == expected, [m["Subject"] for m in smtp_server.messages]


def test_admin_through_an_entra_group_is_announced_to_the_admins(celery_worker, smtp_server, scim, admins):
    gid = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": "SpaceIQ Admins"}).json()["id"]
    services.group_role_set(group=Group.objects.get(pk=gid), role=Role.ADMIN, actor=ADA)
    user = scim.post("/Users", entra.create_user_assertive("ivy@contoso.com")).json()
    assert scim.patch(f"/Groups/{gid}", entra.add_members(user["id"])).status_code == 204

    [message] = smtp_server.wait_for(1)
    assert message["Subject"] == "Security notice: Alice Smith is now an admin of Acme Corp"
    assert message["To"] == "ada.admin@acme.example, ivy@contoso.com, sam.second@acme.example"
    body = text_of(message)
    assert "Their role changed from Member to Admin." in body
    assert "Why: Admin through group 'SpaceIQ Admins', added by Microsoft Entra ID" in body
    assert f"http://127.0.0.1:8000/people/{user['id']}/" in body
    event = AuditEvent.objects.get(action="role.changed", target_id=user["id"])
    assert event.details["new"] == "admin"
    notice = Notification.objects.get(kind="role_admin_changed")
    assert notification_sent(notice.pk).sent_at is not None

    # Entra removes them from the group: the admins, and the person, are told.
    assert scim.patch(f"/Groups/{gid}", entra.remove_members_default(user["id"])).status_code == 204
    lost = smtp_server.wait_for(2)[1]
    assert lost["Subject"] == "Security notice: Alice Smith is no longer an admin of Acme Corp"
    assert lost["To"] == "ada.admin@acme.example, sam.second@acme.example, ivy@contoso.com"
    assert ("Why: Member (no role source left), removed from group 'SpaceIQ Admins' by Microsoft Entra ID"
            in text_of(lost))
    no_more_mail(smtp_server, 2)


def test_the_last_admin_is_kept_flagged_and_emailed_until_another_admin_exists(celery_worker, smtp_server, scim,
                                                                              tenant, admin):
    integration = Integration.objects.get(tenant=tenant, kind="azure")
    provisioning_services.notification_settings_update(
        integration=integration, actor=ADA, notification_email="it@acme.example", notify_on_failure=False)
    kim = scim.post("/Users", entra.create_user_assertive("kim@contoso.com", "Admin")).json()
    smtp_server.wait_for(1)  # Kim gained Admin
    services.console_role_set(person=admin, role=None, actor=ADA)
    smtp_server.wait_for(2)  # Ada lost it

    # Entra takes the Admin app role away from the only admin left.
    assert scim.patch(f"/Users/{kim['id']}", entra.assertive_replace("User")).status_code == 200
    kept = smtp_server.wait_for(3)[2]
    assert kept["Subject"] == "Action needed: Alice Smith is kept as the last admin of Acme Corp"
    assert kept["To"] == "kim@contoso.com, it@acme.example"
    body = text_of(kept)
    assert "the last active admin of Acme Corp" in body
    assert "What happened: Kept as the last admin: would have become Member" in body
    assert "Notification Email of Acme Corp's Azure integration" in body
    person = Person.objects.get(pk=kim["id"])
    assert person.role == Role.ADMIN and person.kept_as_last_admin_since is not None
    assert person.roles == [{"primary": False, "type": entra.ROLE_TYPE, "display": "User", "value": "User"}]
    assert AuditEvent.objects.filter(action="role.kept_as_last_admin", target_id=kim["id"]).count() == 1
    no_more_mail(smtp_server, 3)

    # Until another admin exists, a reminder a day (the hourly beat task finds nothing new within the day).
    assert role_notices.kept_admins_remind(now=timezone.now() + timedelta(hours=12)) == 0
    tomorrow = timezone.now() + timedelta(days=1, hours=1)
    assert role_notices.kept_admins_remind(now=tomorrow) == 1
    # Later the same (UTC) day, whatever the hour the test runs at: an hour later could be the next day.
    later_that_day = max(tomorrow, tomorrow.replace(hour=23, minute=59, second=0, microsecond=0))
    assert role_notices.kept_admins_remind(now=later_that_day) == 0
    reminder = smtp_server.wait_for(4)[3]
    # A long subject arrives folded over two header lines.
    assert " ".join(reminder["Subject"].split()) == (
        "Reminder: Action needed: Alice Smith is kept as the last admin of Acme Corp")
    assert reminder["To"] == "kim@contoso.com, it@acme.example"
    assert "This is a daily reminder" in text_of(reminder) and "Microsoft Entra ID made a change" in text_of(reminder)

    # Another admin appears (Entra again): Kim gets the role the change intended, and the admins hear of it.
    lee = scim.post("/Users", entra.create_user_assertive("lee@contoso.com", "Admin")).json()
    messages = smtp_server.wait_for(6)
    subjects = sorted(m["Subject"] for m in messages[4:])
    assert subjects == ["Security notice: Alice Smith is no longer an admin of Acme Corp",
                        "Security notice: Alice Smith is now an admin of Acme Corp"]
    person.refresh_from_db()
    assert person.role == Role.MEMBER and person.kept_as_last_admin_since is None
    assert Person.objects.get(pk=lee["id"]).role == Role.ADMIN
    assert role_notices.kept_admins_remind(now=tomorrow + timedelta(days=1)) == 0  # nobody kept: no reminder
    no_more_mail(smtp_server, 6)
