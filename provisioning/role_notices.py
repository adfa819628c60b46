"""Security notices about roles: what ``directory.role_notices.role_changed`` announces, emailed, and
the daily reminder while a tenant's last admin is kept only to keep the tenant reachable.

The directory sends the signal inside the transaction of the change; the emails are queued in the
outbox in that same transaction (provisioning.notifications), so they go out once, on commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from directory.audit import Actor
from directory.role_notices import RoleChange, role_changed
from directory.selectors import audit_events_for, kept_last_admins
from provisioning import emails
from provisioning.models import Notification

# A kept admin and the Notification Email hear of it again once a day until another admin exists.
REMIND_EVERY = timedelta(days=1)


def role_change_announce(sender: Any, change: RoleChange, **kwargs: Any) -> None:
    """Admin gained or lost: the tenant's admins are told; a last admin kept: that admin and the
    integration's Notification Email. Other role changes are in the audit log only."""
    if change.kept_as_last_admin:
        person = change.person
        emails.role_kept_as_last_admin(
            person=person, summary=change.summary, actor_name=change.actor.name,
            since=person.kept_as_last_admin_since or timezone.now(), integration_kind=change.actor.integration_kind,
            dedupe_key=f"role-kept:{change.audit_event_id}",
        )
    elif change.admin_gained or change.admin_lost:
        emails.role_admin_changed(change=change)


def kept_admins_remind(*, now: datetime | None = None) -> int:
    """Remind every admin kept as the last admin for a day or more (and the Notification Email of
    their tenant's active integrations), once per day; returns how many reminders were queued."""
    now = now or timezone.now()
    queued = 0
    for person in kept_last_admins(kept_before=now - REMIND_EVERY):
        dedupe_key = f"role-kept-reminder:{person.pk}:{now:%Y-%m-%d}"
        if Notification.objects.filter(dedupe_key=dedupe_key).exists():
            continue  # reminded today: the hourly beat finds it queued
        event = audit_events_for(tenant=person.tenant, target_id=person.pk).filter(
            action="role.kept_as_last_admin").first()  # the latest
        notice = emails.role_kept_as_last_admin(
            person=person, summary=event.details.get("cause", "") if event else "",
            actor_name=Actor(label=event.actor_label).name if event else "A change",
            since=person.kept_as_last_admin_since, integration_kind="",
            dedupe_key=dedupe_key, reminder=True,
        )
        queued += notice is not None
    return queued


def connect() -> None:
    role_changed.connect(role_change_announce, dispatch_uid="provisioning.role_notices")
