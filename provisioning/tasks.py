"""Celery tasks: thin entry points that call services."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task

from provisioning import alerts, health, notifications, retention
from provisioning.sso import alerts as sso_alerts


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


@shared_task(acks_late=True)
def failure_summary_send(integration_id: int) -> bool:
    return alerts.failure_summary_send(integration_id=integration_id) is not None


@shared_task(acks_late=True)
def recovery_notice_send(integration_id: int, recovered_at: str) -> bool:
    return alerts.recovery_notice_send(
        integration_id=integration_id, recovered_at=datetime.fromisoformat(recovered_at)
    ) is not None


@shared_task(acks_late=True)
def alerts_sweep() -> int:
    """Due summaries and recoveries whose task was lost (broker down, worker died)."""
    return alerts.alerts_sweep()


@shared_task(acks_late=True)
def silence_check() -> int:
    return alerts.silence_check()


@shared_task(acks_late=True)
def retention_purge() -> dict[str, int]:
    return retention.retention_purge()


@shared_task(acks_late=True)
def sso_certificate_expiry_check() -> int:
    return sso_alerts.certificate_expiry_check()


@shared_task(acks_late=True)
def sso_failure_summary_send(config_id: int) -> bool:
    return sso_alerts.failure_summary_send(config_id=config_id) is not None


@shared_task(acks_late=True)
def sso_recovery_notice_send(config_id: int, recovered_at: str) -> bool:
    return sso_alerts.recovery_notice_send(
        config_id=config_id, recovered_at=datetime.fromisoformat(recovered_at)
    ) is not None


@shared_task(acks_late=True)
def sso_alerts_sweep() -> int:
    """Due SSO failure summaries and recoveries whose task was lost (broker down, worker died)."""
    return sso_alerts.alerts_sweep()


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Beat, every minute: a worker took this off the queue; /readyz checks it did so recently."""
    health.worker_heartbeat_record()
