"""Alerting on SCIM traffic: failure summaries, recovery, silence, invalid tokens.

The SCIM request path only moves a little state on ``Integration`` (one UPDATE
at most, usually none on success) and, when that state says an email is due,
queues a task on commit (provisioning.tasks). The tasks and a beat sweep call
the services in provisioning.alert_notices, which decide and write the email
into the outbox with a dedupe key, so each email is sent at most once whatever
retries, worker deaths or broker outages happen. When the broker is down the
sweep finds the same work from the state alone once it is back.

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
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from provisioning import emails, tasks
from provisioning.alert_notices import (
    alerts_sweep,
    failure_summary_send,
    recovery_delay,
    recovery_notice_send,
    silence_check,
    summary_delay,
    wants_failure_emails,
)
from provisioning.failure_reasons import is_failure
from provisioning.models import Integration, Notification, ScimRequest, ScimToken

# Callers find SCIM alerting here: the request path, and what the tasks run. The latter lives in
# provisioning.alert_notices so that provisioning.tasks, which this module imports to queue them,
# does not import this module.
__all__ = [
    "alerts_sweep",
    "failure_summary_send",
    "invalid_tokens_from_ip_check",
    "recovery_notice_send",
    "request_recorded",
    "silence_check",
]

logger = logging.getLogger(__name__)

# last_request_at is for humans and the silence check: updating it on every
# request of a burst buys nothing and costs a write each.
LAST_REQUEST_PRECISION = timedelta(seconds=5)
INVALID_TOKEN_WINDOW = timedelta(hours=1)


def quiet_period() -> timedelta:
    return timedelta(minutes=settings.SCIM_FAILURE_QUIET_MINUTES)


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
    no_recovery_due = integration.failing_since is None or integration.recovered_at is not None
    if no_recovery_due and _fresh(integration.last_request_at, now):
        return  # most successes: no query, and no QuerySet built either (filter() alone costs ~50 µs)
    rows = Integration.objects.filter(pk=integration.pk)
    if no_recovery_due:
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


# The tasks the request path queues, by the name _enqueue_on_commit is given.
_QUEUED_TASKS = {
    "failure_summary_send": tasks.failure_summary_send,
    "recovery_notice_send": tasks.recovery_notice_send,
}


def _enqueue_on_commit(task_name: str, *args: Any, countdown: timedelta) -> None:
    """Queue a task after commit; never raise into the request if the broker is down.

    The beat sweep (alerts_sweep) finds the same work from the state, so a
    lost enqueue only delays the email.
    """
    task = _QUEUED_TASKS[task_name]

    def send() -> None:
        try:
            # retry=False: a SCIM response must not wait for a dead broker.
            task.apply_async(args=args, countdown=countdown.total_seconds(), retry=False)
        except Exception:
            logger.warning("Broker unavailable; %s for %s left to the sweep", task_name, args[0])

    transaction.on_commit(send)
