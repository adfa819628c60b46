"""The outbox's Celery task: deliver one queued notification.

provisioning.notifications queues it on commit, so it cannot live in
provisioning.tasks: the tasks there run services that queue emails, and the
outbox importing them would close a cycle. It keeps the name it had there
(``provisioning.tasks.notification_deliver``), the name queued messages,
retries and worker logs carry.
"""

from __future__ import annotations

from celery import shared_task

from provisioning import notification_delivery


@shared_task(
    name="provisioning.tasks.notification_deliver",
    bind=True,
    autoretry_for=(notification_delivery.DeliveryFailed,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=12,
    acks_late=True,
)
def notification_deliver(self, notification_id: int) -> bool:
    return notification_delivery.notification_deliver(notification_id=notification_id)
