"""The emails SSO alerting sends: certificate expiry notices, failure summaries, recoveries.

Certificate expiry. ``certificate_expiry_check`` (beat, hourly) queues one
email per trusted certificate for the most urgent threshold it has reached (30,
7 or 1 days before ``not_after``, then once when it has expired) unless that
one was sent already. A run that comes late therefore never sends a stale
30-day notice after the 7-day one, and the dedupe key makes any number of runs,
concurrent ones too, send each notice once. Only trusted rows are read:
removing or replacing a certificate stops its notices.

Failures. provisioning.sso.alerts moves the alerting state on ``SsoConfig``
on the sign-in path and queues a task on commit when that state says an email
is due. The tasks (provisioning.tasks) and the beat sweep call the services
below, which decide and write the email into the outbox with a dedupe key, so
each email is sent at most once; when the broker is down the sweep finds the
same work from the state alone.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from provisioning import emails
from provisioning.alert_notices import MAX_SUMMARY_WINDOW, SUMMARY_SLACK
from provisioning.models import Integration, Notification, SsoCertificate, SsoConfig, SsoSignIn
from provisioning.sso.alert_digests import failure_digest

# --- Certificate expiry -------------------------------------------------------------

EXPIRY_THRESHOLDS_DAYS = (30, 7, 1)
# The threshold of the notice sent once a certificate has expired.
EXPIRED = 0


def expiry_threshold(*, not_after: datetime, now: datetime) -> int | None:
    """The most urgent threshold reached, in days (EXPIRED once past); None before the first."""
    left = not_after - now
    if left <= timedelta(0):
        return EXPIRED
    reached = [days for days in EXPIRY_THRESHOLDS_DAYS if left <= timedelta(days=days)]
    return min(reached) if reached else None


def expiry_dedupe_key(*, certificate: SsoCertificate, threshold: int) -> str:
    # The configuration and the thumbprint rather than the row's id: removing a
    # certificate by mistake and adding it again must not repeat a notice.
    return f"sso-cert-expiry:{certificate.config_id}:{certificate.thumbprint}:{threshold}"


def certificate_expiry_check(*, now: datetime | None = None) -> int:
    """Queue every due expiry notice; returns how many were queued (beat; idempotent)."""
    now = now or timezone.now()
    certificates = (
        SsoCertificate.objects.filter(not_after__lte=now + timedelta(days=max(EXPIRY_THRESHOLDS_DAYS)))
        .exclude(config__integration__state=Integration.State.INACTIVE)
        .order_by("not_after", "pk")
    )
    queued = 0
    for certificate in certificates:
        threshold = expiry_threshold(not_after=certificate.not_after, now=now)
        if threshold is None:
            continue
        key = expiry_dedupe_key(certificate=certificate, threshold=threshold)
        if Notification.objects.filter(dedupe_key=key).exists():
            continue  # the usual case on every run but the first: nothing to render
        queued += certificate_expiry_notice_send(
            certificate_id=certificate.pk, threshold=threshold, dedupe_key=key, now=now
        ) is not None
    return queued


@transaction.atomic
def certificate_expiry_notice_send(
    *, certificate_id: int, threshold: int, dedupe_key: str, now: datetime
) -> Notification | None:
    """Queue one expiry notice, if the certificate is still trusted.

    The row is locked so a removal in the SSO tab and the notice happen one
    after the other: an admin who removes the certificate gets no notice about
    it afterwards. The outbox's unique dedupe key settles concurrent runs.
    """
    certificate = (
        SsoCertificate.objects.select_for_update(of=("self",))
        .select_related("config__integration__tenant")
        .filter(pk=certificate_id)
        .first()
    )
    if certificate is None or certificate.config.integration.state == Integration.State.INACTIVE:
        return None
    integration = certificate.config.integration
    # A newer certificate trusted already changes the advice: make it active, remove this one.
    successor = (
        SsoCertificate.objects.filter(config_id=certificate.config_id, not_after__gt=certificate.not_after)
        .order_by("-not_after")
        .first()
    )
    if threshold == EXPIRED:
        return emails.sso_certificate_expired(
            integration=integration, certificate=certificate, successor=successor, dedupe_key=dedupe_key
        )
    return emails.sso_certificate_expiring(
        integration=integration, certificate=certificate, successor=successor,
        days_left=math.ceil((certificate.not_after - now) / timedelta(days=1)), dedupe_key=dedupe_key,
    )


# --- Failures: which rows count -------------------------------------------------------

# About one person, not about single sign-on: the SSO log shows them to the admin.
PERSON_REASONS = frozenset({"unknown_person", "inactive_person", "replayed"})
# SpaceIQ's own replay cache did not answer: its operators are told (a WARNING
# from provisioning.sso.signin); the tenant's admins can do nothing about it.
NOT_COUNTED_REASONS = PERSON_REASONS | {"replay_store_unavailable"}


def summary_delay() -> timedelta:
    return timedelta(seconds=settings.SSO_FAILURE_SUMMARY_DELAY_SECONDS)


def recovery_delay() -> timedelta:
    return timedelta(minutes=settings.SSO_RECOVERY_MINUTES)


def wants_failure_emails(integration: Integration) -> bool:
    """The integration's "Send an email notification when a failure occurs", as for SCIM.

    The admins receive these emails too, so a Notification Email is not required.
    """
    return bool(integration.notify_on_failure and integration.state != Integration.State.INACTIVE)



def counts_as_failure(row: SsoSignIn) -> bool:
    return (
        row.outcome == SsoSignIn.Outcome.REFUSED
        and row.flow != SsoSignIn.Flow.TEST
        and row.reason not in NOT_COUNTED_REASONS
    )


def counted_failures(*, config: SsoConfig) -> models.QuerySet[SsoSignIn]:
    """The refusals ``counts_as_failure`` accepts, as a query (index: integration, -occurred_at)."""
    return (
        SsoSignIn.objects.filter(integration_id=config.integration_id, outcome=SsoSignIn.Outcome.REFUSED)
        .exclude(flow=SsoSignIn.Flow.TEST)
        .exclude(reason__in=NOT_COUNTED_REASONS)
    )


# --- Failure summaries -----------------------------------------------------------------


def _summary_pending(config: SsoConfig) -> bool:
    return config.failure_summary_at is not None and (
        config.failures_reported_until is None or config.failures_reported_until < config.failure_summary_at
    )


def _locked(config_id: int) -> SsoConfig | None:
    return (
        SsoConfig.objects.select_for_update(of=("self",))
        .select_related("integration__tenant")
        .filter(pk=config_id)
        .first()
    )


@transaction.atomic
def failure_summary_send(*, config_id: int, now: datetime | None = None) -> Notification | None:
    """Queue the summary of the refusals not reported yet, if one is pending.

    Idempotent: the configuration row is locked, and the outbox row and the
    new ``failures_reported_until`` commit together, so a retried or
    duplicated task finds nothing pending.
    """
    now = now or timezone.now()
    config = _locked(config_id)
    if config is None or not _summary_pending(config):
        return None
    end = max(now - SUMMARY_SLACK, config.failure_summary_at)
    start = max(config.failures_reported_until or end - MAX_SUMMARY_WINDOW, end - MAX_SUMMARY_WINDOW)
    digest = failure_digest(counted_failures(config=config).filter(occurred_at__gt=start, occurred_at__lte=end))
    SsoConfig.objects.filter(pk=config.pk).update(failures_reported_until=end)
    if not digest.total or not wants_failure_emails(config.integration):
        return None
    return emails.sso_failing(
        integration=config.integration, digest=digest,
        dedupe_key=f"sso-failures:{config.pk}:{config.failure_summary_at.isoformat()}",
    )


@transaction.atomic
def recovery_notice_send(
    *, config_id: int, recovered_at: datetime | None = None, now: datetime | None = None
) -> Notification | None:
    """Announce that sign-ins succeed again, if that is still true.

    ``recovered_at`` is the value the task was queued for: a refusal since then
    cleared or replaced it, and this (now stale) task does nothing. The sweep
    passes None and takes the current value.
    """
    now = now or timezone.now()
    config = _locked(config_id)
    if config is None or config.recovered_at is None or config.failing_since is None:
        return None
    if recovered_at is not None and config.recovered_at != recovered_at:
        return None
    # The sign-in path skips its write when the configuration it loaded already
    # said "failing"; a success may have claimed the recovery in between. The
    # log has the last word: a refusal after the recovery cancels it.
    if counted_failures(config=config).filter(occurred_at__gt=config.recovered_at).exists():
        SsoConfig.objects.filter(pk=config.pk).update(recovered_at=None)
        return None
    # The admin hears about the refusals before hearing that they ended.
    if _summary_pending(config):
        failure_summary_send(config_id=config.pk, now=now)
        config.refresh_from_db(fields=["failure_summary_at", "failures_reported_until"])
    failing_since, recovered = config.failing_since, config.recovered_at
    SsoConfig.objects.filter(pk=config.pk).update(failing_since=None, recovered_at=None)
    # Only a run the admin was told about gets a recovery email.
    told = config.failure_summary_at is not None and config.failure_summary_at >= failing_since
    if not (told and wants_failure_emails(config.integration)):
        return None
    failures = counted_failures(config=config).filter(occurred_at__gte=failing_since, occurred_at__lte=recovered)
    return emails.sso_recovered(
        integration=config.integration, failing_since=failing_since, recovered_at=recovered,
        failures=failures.count(), dedupe_key=f"sso-recovered:{config.pk}:{failing_since.isoformat()}",
    )


def alerts_sweep(*, now: datetime | None = None) -> int:
    """Send every due summary and confirmed recovery (beat; covers lost enqueues)."""
    now = now or timezone.now()
    done = 0
    due_summaries = SsoConfig.objects.filter(failure_summary_at__lte=now - summary_delay()).filter(
        Q(failures_reported_until__isnull=True) | Q(failures_reported_until__lt=F("failure_summary_at"))
    )
    for config_id in due_summaries.values_list("pk", flat=True):
        done += failure_summary_send(config_id=config_id, now=now) is not None
    recovered = SsoConfig.objects.filter(failing_since__isnull=False, recovered_at__lte=now - recovery_delay())
    for config_id in recovered.values_list("pk", flat=True):
        done += recovery_notice_send(config_id=config_id, now=now) is not None
    return done
