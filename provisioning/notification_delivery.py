"""Delivering the outbox (provisioning.notifications): send a queued notification once.

Run by the Celery task that ``notification_queue`` queues on commit
(provisioning.notification_tasks) and by the beat's outbox drain
(provisioning.tasks), which sends what the broker never delivered.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from provisioning.models import Notification


class DeliveryFailed(Exception):
    pass


def notification_deliver(*, notification_id: int) -> bool:
    """Send one notification if it has not been sent. Returns True when sent now.

    The row is locked for the duration of the send so two workers (a retry and
    the outbox drain, say) never send the same email twice.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, sent_at__isnull=True)
            .first()
        )
        if notification is None:
            return False
        message = EmailMultiAlternatives(
            subject=notification.subject,
            body=notification.body_text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=notification.to,
        )
        if notification.body_html:
            message.attach_alternative(notification.body_html, "text/html")
        notification.attempts += 1
        try:
            message.send(fail_silently=False)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            notification.sent_at = timezone.now()
            notification.last_error = ""
            notification.save(update_fields=["sent_at", "attempts", "last_error"])
            return True
    # Recorded after the locking transaction ended: raising inside it would
    # roll the record of this attempt back along with it.
    Notification.objects.filter(pk=notification_id, sent_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=error
    )
    raise DeliveryFailed(error)


def pending_notification_ids(*, older_than: timedelta, limit: int = 500) -> list[Any]:
    cutoff = timezone.now() - older_than
    return list(
        Notification.objects.filter(sent_at__isnull=True, created__lte=cutoff)
        .order_by("created")
        .values_list("pk", flat=True)[:limit]
    )
