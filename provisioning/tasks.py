"""Celery tasks: thin entry points that call services.

The request and sign-in paths that queue these tasks (provisioning.alerts,
provisioning.sso.alerts) import this module; the services the tasks run never
do. The outbox's own task, which those services queue when they write an
email, is provisioning.notification_tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task

from provisioning import alert_notices, health, notification_delivery, retention, role_notices
from provisioning.notification_tasks import notification_deliver
from provisioning.sso import alert_notices as sso_alert_notices

# notification_deliver is defined with the outbox (provisioning.notification_tasks) and named
# provisioning.tasks.notification_deliver; it is reachable here with the others.
__all__ = [
    "alerts_sweep",
    "failure_summary_send",
    "kept_admins_remind",
    "notification_deliver",
    "outbox_drain",
    "recovery_notice_send",
    "retention_purge",
    "silence_check",
    "sso_alerts_sweep",
    "sso_certificate_expiry_check",
    "sso_failure_summary_send",
    "sso_recovery_notice_send",
    "worker_heartbeat",
]


@shared_task(acks_late=True)
def outbox_drain() -> int:
    """Send what the broker never delivered (it was down when the email was queued)."""
    sent = 0
    for notification_id in notification_delivery.pending_notification_ids(older_than=timedelta(minutes=2)):
        try:
            if notification_delivery.notification_deliver(notification_id=notification_id):
                sent += 1
        except notification_delivery.DeliveryFailed:
            break  # SMTP is down; the next run tries again
    return sent


@shared_task(acks_late=True)
def failure_summary_send(integration_id: int) -> bool:
    return alert_notices.failure_summary_send(integration_id=integration_id) is not None


@shared_task(acks_late=True)
def recovery_notice_send(integration_id: int, recovered_at: str) -> bool:
    return alert_notices.recovery_notice_send(
        integration_id=integration_id, recovered_at=datetime.fromisoformat(recovered_at)
    ) is not None


@shared_task(acks_late=True)
def alerts_sweep() -> int:
    """Due summaries and recoveries whose task was lost (broker down, worker died)."""
    return alert_notices.alerts_sweep()


@shared_task(acks_late=True)
def silence_check() -> int:
    return alert_notices.silence_check()


@shared_task(acks_late=True)
def kept_admins_remind() -> int:
    return role_notices.kept_admins_remind()


@shared_task(acks_late=True)
def retention_purge() -> dict[str, int]:
    return retention.retention_purge()


@shared_task(acks_late=True)
def sso_certificate_expiry_check() -> int:
    return sso_alert_notices.certificate_expiry_check()


@shared_task(acks_late=True)
def sso_failure_summary_send(config_id: int) -> bool:
    return sso_alert_notices.failure_summary_send(config_id=config_id) is not None


@shared_task(acks_late=True)
def sso_recovery_notice_send(config_id: int, recovered_at: str) -> bool:
    return sso_alert_notices.recovery_notice_send(
        config_id=config_id, recovered_at=datetime.fromisoformat(recovered_at)
    ) is not None


@shared_task(acks_late=True)
def sso_alerts_sweep() -> int:
    """Due SSO failure summaries and recoveries whose task was lost (broker down, worker died)."""
    return sso_alert_notices.alerts_sweep()


@shared_task(ignore_result=True)
def worker_heartbeat() -> None:
    """Beat, every minute: a worker took this off the queue; /readyz checks it did so recently."""
    health.worker_heartbeat_record()
