"""Celery tasks: thin entry points that call services."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task

from provisioning import notifications


@shared_task(
    bind=True,
    autoretry_for=(notifications.DeliveryFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=12,
    acks_late=True,
)
def notification_deliver(self, notification_id: int) -> bool:
    return notifications.notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True)
def outbox_drain() -> int:
    """Send what the broker never delivered (it was down when the email was queued)."""
    sent = 0
    for notification_id in notifications.pending_notification_ids(older_than=timedelta(minutes=2)):
        try:
            if notifications.notification_deliver(notification_id=notification_id):
                sent += 1
        except notifications.DeliveryFailed:
            break  # SMTP is down; the next run tries again
    return sent
