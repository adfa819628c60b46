"""The emails SCIM alerting sends: failure summaries, recoveries, silence.

provisioning.alerts moves the alerting state on ``Integration`` on the
request path and queues a task on commit when that state says an email is
due. The tasks (provisioning.tasks) and the beat sweep call the services
below, which decide from the state and write the email into the outbox with a
dedupe key, so each email is sent at most once whatever retries, worker deaths
or broker outages happen.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from provisioning import emails
from provisioning.alert_digests import failure_digest
from provisioning.models import Integration, Notification, ScimRequest

# A summary never reaches further back than this, even after a long pause.
MAX_SUMMARY_WINDOW = timedelta(hours=24)
# Requests are logged after their response is built, so a row can land a
# moment after a summary's cut-off time; leave them for the next summary.
SUMMARY_SLACK = timedelta(seconds=2)


def summary_delay() -> timedelta:
    return timedelta(seconds=settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS)


def recovery_delay() -> timedelta:
    return timedelta(minutes=settings.SCIM_RECOVERY_MINUTES)


def wants_failure_emails(integration: Integration) -> bool:
    return bool(integration.notify_on_failure and integration.notification_email)


# --- Failure summaries ----------------------------------------------------------------


def _summary_pending(integration: Integration) -> bool:
    return integration.failure_summary_at is not None and (
        integration.failures_reported_until is None
        or integration.failures_reported_until < integration.failure_summary_at
    )


@transaction.atomic
def failure_summary_send(*, integration_id: int, now: datetime | None = None) -> Notification | None:
    """Queue the summary of the failures not reported yet, if one is pending.

    Idempotent: the integration row is locked, and the outbox row and the new
    ``failures_reported_until`` commit together, so a retried or duplicated
    task finds nothing pending.
    """
    now = now or timezone.now()
    integration = Integration.objects.select_for_update().select_related("tenant").filter(pk=integration_id).first()
    if integration is None or not _summary_pending(integration):
        return None
    end = max(now - SUMMARY_SLACK, integration.failure_summary_at)
    start = max(integration.failures_reported_until or end - MAX_SUMMARY_WINDOW, end - MAX_SUMMARY_WINDOW)
    failures = ScimRequest.objects.filter(
        integration=integration, status__gte=400, received_at__gt=start, received_at__lte=end
    )
    digest = failure_digest(failures, kind=integration.kind)
    Integration.objects.filter(pk=integration.pk).update(failures_reported_until=end)
    if not digest.total or not wants_failure_emails(integration):
        return None
    return emails.scim_failure_summary(
        integration=integration, digest=digest,
        dedupe_key=f"scim-failures:{integration.pk}:{integration.failure_summary_at.isoformat()}",
    )


@transaction.atomic
def recovery_notice_send(
    *, integration_id: int, recovered_at: datetime | None = None, now: datetime | None = None
) -> Notification | None:
    """Announce that requests succeed again, if that is still true.

    ``recovered_at`` is the value the task was queued for: a failure since
    then cleared or replaced it, and this (now stale) task does nothing. The
    sweep passes None and takes the current value.
    """
    now = now or timezone.now()
    integration = Integration.objects.select_for_update().select_related("tenant").filter(pk=integration_id).first()
    if integration is None or integration.recovered_at is None or integration.failing_since is None:
        return None
    if recovered_at is not None and integration.recovered_at != recovered_at:
        return None
    # The admin hears about the failures before hearing that they ended.
    if _summary_pending(integration):
        failure_summary_send(integration_id=integration.pk, now=now)
        integration.refresh_from_db()
    failing_since, recovered = integration.failing_since, integration.recovered_at
    Integration.objects.filter(pk=integration.pk).update(failing_since=None, recovered_at=None)
    # Only a run the admin was told about gets a recovery email.
    told = integration.failure_summary_at is not None and integration.failure_summary_at >= failing_since
    if not (told and wants_failure_emails(integration)):
        return None
    failures = ScimRequest.objects.filter(
        integration=integration, status__gte=400, received_at__gte=failing_since, received_at__lte=recovered
    ).count()
    return emails.scim_recovered(
        integration=integration, failing_since=failing_since, recovered_at=recovered, failures=failures,
        dedupe_key=f"scim-recovered:{integration.pk}:{failing_since.isoformat()}",
    )


def alerts_sweep(*, now: datetime | None = None) -> int:
    """Send every due summary and confirmed recovery (beat; covers lost enqueues)."""
    now = now or timezone.now()
    done = 0
    due_summaries = Integration.objects.filter(
        failure_summary_at__lte=now - summary_delay()
    ).filter(Q(failures_reported_until__isnull=True) | Q(failures_reported_until__lt=F("failure_summary_at")))
    for integration_id in due_summaries.values_list("pk", flat=True):
        done += failure_summary_send(integration_id=integration_id, now=now) is not None
    recovered = Integration.objects.filter(
        failing_since__isnull=False, recovered_at__lte=now - recovery_delay()
    )
    for integration_id in recovered.values_list("pk", flat=True):
        done += recovery_notice_send(integration_id=integration_id, now=now) is not None
    return done


# --- Silence ------------------------------------------------------------------------


def silence_threshold() -> timedelta:
    return timedelta(hours=settings.SCIM_SILENCE_HOURS)


def silence_check(*, now: datetime | None = None) -> int:
    """One "provisioning appears to have stopped" email per silence episode.

    An episode is identified by the last moment we heard from the provider
    (or the activation, if never): a new request starts a new episode, so the
    dedupe key needs no extra state.
    """
    now = now or timezone.now()
    last_seen = Greatest(
        Coalesce("last_request_at", "activated_at"), Coalesce("activated_at", "last_request_at")
    )
    silent = (
        Integration.objects.filter(state=Integration.State.ACTIVE)
        .annotate(last_seen=last_seen)
        .filter(last_seen__lt=now - silence_threshold())
        .select_related("tenant")
    )
    queued = 0
    for integration in silent:
        key = f"scim-silence:{integration.pk}:{integration.last_seen.isoformat()}"
        if Notification.objects.filter(dedupe_key=key).exists():
            continue
        with transaction.atomic():
            queued += emails.scim_silent(
                integration=integration, last_seen=integration.last_seen,
                never=integration.last_request_at is None or integration.last_request_at < integration.activated_at,
                dedupe_key=key,
            ) is not None
    return queued
