"""Alerting on SCIM traffic: failure summaries, recovery, silence, invalid tokens.

The SCIM request path only moves a little state on ``Integration`` (one UPDATE
at most, usually none on success) and, when that state says an email is due,
queues a task on commit. The tasks and a beat sweep call the services below,
which decide and write the email into the outbox with a dedupe key, so each
email is sent at most once whatever retries, worker deaths or broker outages
happen. When the broker is down the sweep finds the same work from the state
alone once it is back.

State on ``Integration``:

- ``failing_since``: the first failure of the current run; None while healthy.
- ``recovered_at``: the first success after it; a failure clears it again. A
  recovery is announced once no failure has followed for SCIM_RECOVERY_MINUTES.
- ``failure_summary_at``: when the latest summary was claimed; no new one is
  claimed for SCIM_FAILURE_QUIET_MINUTES after it.
- ``failures_reported_until``: the end of what the latest summary covered. A
  summary is pending while this is older than ``failure_summary_at``.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, F, Q, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from provisioning import emails
from provisioning.failure_reasons import explain, is_failure
from provisioning.models import Integration, Notification, ScimRequest, ScimToken

logger = logging.getLogger(__name__)

# last_request_at is for humans and the silence check: updating it on every
# request of a burst buys nothing and costs a write each.
LAST_REQUEST_PRECISION = timedelta(seconds=5)
# A summary never reaches further back than this, even after a long pause.
MAX_SUMMARY_WINDOW = timedelta(hours=24)
# Requests are logged after their response is built, so a row can land a
# moment after a summary's cut-off time; leave them for the next summary.
SUMMARY_SLACK = timedelta(seconds=2)
INVALID_TOKEN_WINDOW = timedelta(hours=1)
EXAMPLES = 5


def quiet_period() -> timedelta:
    return timedelta(minutes=settings.SCIM_FAILURE_QUIET_MINUTES)


def summary_delay() -> timedelta:
    return timedelta(seconds=settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS)


def recovery_delay() -> timedelta:
    return timedelta(minutes=settings.SCIM_RECOVERY_MINUTES)


def wants_failure_emails(integration: Integration) -> bool:
    return bool(integration.notify_on_failure and integration.notification_email)


# --- The request path ------------------------------------------------------------


def request_recorded(
    *, integration: Integration, entry: ScimRequest, token: ScimToken | None = None, now: datetime | None = None
) -> None:
    """Move the integration's alerting state after one logged request.

    ``integration`` is the instance loaded when the request was authenticated,
    usually the one this process's token cache keeps (provisioning.token_cache)
    across requests. Writing this state does not make the cache verify the
    token again (provisioning migration 0006), so what is written here is also
    set on the instance, and a conditional UPDATE that finds the row in another
    state than the instance says (another process moved it) reads it again.
    The instance's values only decide whether a query is needed; every
    transition is a conditional UPDATE, so concurrent requests never claim the
    same email twice.
    """
    now = now or timezone.now()
    if entry.status == 401 and token is not None:
        _note_invalid_token(integration, token, now)
    if not integration.is_active:
        return  # deactivated on purpose: its 401s are not a failure to summarise
    if is_failure(entry.status):
        _note_failure(integration, entry.received_at, now)
    else:
        _note_success(integration, now)


def _fresh(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and now - moment < LAST_REQUEST_PRECISION


# The alerting state on Integration, read again when another process turns out to have moved it.
ALERT_STATE = ("last_request_at", "failing_since", "recovered_at", "failure_summary_at", "failures_reported_until")
_RECOVERY_CLAIMABLE = Q(failing_since__isnull=False, recovered_at__isnull=True)


def _read_again(integration: Integration) -> None:
    """The row's alerting state onto the instance (a conditional UPDATE found the row elsewhere)."""
    # Deleted meanwhile: nothing to read, and the token cache forgets it on that notification.
    with contextlib.suppress(Integration.DoesNotExist):
        integration.refresh_from_db(fields=ALERT_STATE)


def _note_success(integration: Integration, now: datetime) -> None:
    # Most successes need no query at all: no QuerySet is built until one does.
    rows = Integration.objects.filter(pk=integration.pk)
    if integration.failing_since is None or integration.recovered_at is not None:
        if _fresh(integration.last_request_at, now):
            return
        # Written only while the row agrees that no recovery is to be claimed:
        # when another process has recorded failures since the instance was
        # read, nothing is written and this success claims their recovery.
        if rows.exclude(_RECOVERY_CLAIMABLE).update(last_request_at=now):
            integration.last_request_at = now
            return
        _read_again(integration)
    if rows.filter(_RECOVERY_CLAIMABLE).update(recovered_at=now, last_request_at=now):
        integration.recovered_at = integration.last_request_at = now
        _enqueue_on_commit("recovery_notice_send", integration.pk, now.isoformat(), countdown=recovery_delay())
        return
    _read_again(integration)  # another process claimed or announced the recovery


def _note_failure(integration: Integration, received_at: datetime, now: datetime) -> None:
    rows = Integration.objects.filter(pk=integration.pk)
    # A failure continues the run (or starts one) and cancels an unconfirmed recovery.
    changes: dict[str, Any] = {
        "last_request_at": now,
        "recovered_at": None,
        "failing_since": Coalesce(F("failing_since"), Value(received_at, output_field=models.DateTimeField())),
    }
    quiet_since = now - quiet_period()
    if wants_failure_emails(integration) and (
        integration.failure_summary_at is None or integration.failure_summary_at <= quiet_since
    ):
        claimed = rows.filter(Q(failure_summary_at__isnull=True) | Q(failure_summary_at__lte=quiet_since)).update(
            failure_summary_at=now, **changes
        )
        if claimed:
            integration.failure_summary_at = now
            _failure_written(integration, received_at, now)
            _enqueue_on_commit("failure_summary_send", integration.pk, countdown=summary_delay())
            return
        _read_again(integration)  # another process claimed this summary
    if (
        integration.failing_since is not None
        and integration.recovered_at is None
        and _fresh(integration.last_request_at, now)
    ):
        return  # mid-burst: the state already says "failing"
    rows.update(**changes)
    _failure_written(integration, received_at, now)


def _failure_written(integration: Integration, received_at: datetime, now: datetime) -> None:
    """Set on the instance what ``_note_failure``'s UPDATE wrote.

    The row keeps the earliest ``failing_since`` (another process may have
    started the run); the request path only asks whether it is set.
    """
    integration.last_request_at = now
    integration.recovered_at = None
    if integration.failing_since is None:
        integration.failing_since = received_at


def _note_invalid_token(integration: Integration, token: ScimToken, now: datetime) -> None:
    """Tell the tenant's admins when one of their old tokens keeps being tried."""
    threshold = settings.SCIM_INVALID_TOKEN_ALERT_THRESHOLD
    recent = ScimRequest.objects.filter(
        integration=integration, status=401, token_prefix=token.prefix, received_at__gte=now - INVALID_TOKEN_WINDOW
    )
    if recent.values("pk")[:threshold].count() < threshold:
        return
    # At most one notice per token per day, however long the old token is used.
    key = f"scim-invalid-token:{token.pk}:{now.date().isoformat()}"
    if Notification.objects.filter(dedupe_key=key).exists():
        return
    ips = sorted({ip for ip in recent.values_list("source_ip", flat=True)[:200] if ip})
    emails.invalid_token_used(
        integration=integration, token=token, count=recent.count(), source_ips=ips[:10], dedupe_key=key
    )


def invalid_tokens_from_ip_check(*, source_ip: str | None, now: datetime | None = None) -> bool:
    """Log once when one address keeps sending tokens that match no tenant.

    Nobody's admin can be told (the token belongs to no tenant), so this is
    for the operators; issue 7's rate limit is what stops the attempts.
    Returns True when the threshold was just reached.
    """
    if not source_ip:
        return False
    now = now or timezone.now()
    threshold = settings.SCIM_INVALID_TOKEN_ALERT_THRESHOLD
    count = (
        ScimRequest.objects.filter(
            integration__isnull=True, status=401, source_ip=source_ip, received_at__gte=now - INVALID_TOKEN_WINDOW
        )
        .values("pk")[: threshold + 1]
        .count()
    )
    if count == threshold:
        logger.warning("Repeated SCIM requests with invalid tokens from %s (%d in the last hour)", source_ip, count)
        return True
    return False


def _enqueue_on_commit(task_name: str, *args: Any, countdown: timedelta) -> None:
    """Queue a task after commit; never raise into the request if the broker is down.

    The beat sweep (alerts_sweep) finds the same work from the state, so a
    lost enqueue only delays the email.
    """

    def send() -> None:
        from provisioning import tasks

        try:
            # retry=False: a SCIM response must not wait for a dead broker.
            getattr(tasks, task_name).apply_async(args=args, countdown=countdown.total_seconds(), retry=False)
        except Exception:
            logger.warning("Broker unavailable; %s for %s left to the sweep", task_name, args[0])

    transaction.on_commit(send)


# --- Failure summaries ----------------------------------------------------------------


@dataclass(frozen=True)
class FailureExample:
    id: int
    received_at: datetime
    method: str
    path: str
    status: int
    reason: str
    detail: str


@dataclass(frozen=True)
class FailureDigest:
    total: int
    first_at: datetime | None
    last_at: datetime | None
    reasons: list[tuple[str, int]] = field(default_factory=list)
    examples: list[FailureExample] = field(default_factory=list)


def failure_digest(failures: models.QuerySet[ScimRequest], *, kind: str) -> FailureDigest:
    """Counts by reason and a few recent examples; a constant number of queries."""
    counts: Counter[str] = Counter()
    for row in failures.values("status", "scim_type", "resource_type").annotate(n=Count("id")):
        counts[explain(row["status"], row["scim_type"], kind=kind, resource_type=row["resource_type"]).reason] += row[
            "n"
        ]
    total = sum(counts.values())
    if not total:
        return FailureDigest(total=0, first_at=None, last_at=None)
    bounds = failures.aggregate(first=models.Min("received_at"), last=models.Max("received_at"))
    examples = [
        FailureExample(
            id=r.pk, received_at=r.received_at, method=r.method, path=r.path, status=r.status,
            reason=explain(r.status, r.scim_type, kind=kind, resource_type=r.resource_type).reason,
            detail=r.error_detail[:300],
        )
        for r in failures.order_by("-received_at", "-id").only(
            "received_at", "method", "path", "status", "scim_type", "resource_type", "error_detail"
        )[:EXAMPLES]
    ]
    return FailureDigest(
        total=total, first_at=bounds["first"], last_at=bounds["last"],
        reasons=sorted(counts.items(), key=lambda item: (-item[1], item[0])), examples=examples,
    )


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
