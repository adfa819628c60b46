"""The email outbox: queue a notification in the caller's transaction, deliver it once.

Queueing is here; delivering is provisioning.notification_delivery, run by the
task queued on commit (provisioning.notification_tasks).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from directory.models import Tenant
from provisioning import notification_tasks
from provisioning.models import Notification
from provisioning.notification_delivery import notification_deliver

__all__ = ["RenderedEmail", "notification_deliver", "notification_queue"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderedEmail:
    """One email as the outbox stores it (rendered by provisioning.emails)."""

    subject: str
    text: str
    html: str


def notification_queue(
    *, tenant: Tenant | None, kind: str, dedupe_key: str, to: list[str], email: RenderedEmail
) -> Notification | None:
    """Record an email to send; returns None when one with this key exists already."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                tenant=tenant, kind=kind, dedupe_key=dedupe_key[:200], to=to,
                subject=email.subject[:300], body_text=email.text, body_html=email.html,
            )
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _enqueue(notification.pk))
    return notification


def _enqueue(notification_id: int) -> None:
    try:
        notification_tasks.notification_deliver.delay(notification_id)
    except Exception:  # broker down: the outbox drain sends it later
        logger.warning("Broker unavailable; notification %s stays in the outbox", notification_id)
