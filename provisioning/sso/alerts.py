"""Alerting on single sign-on failures, on the sign-in path.

The mirror of provisioning.alerts (SCIM requests) on ``SsoConfig``.
``sso_signin_record`` calls ``signin_recorded`` for every SSO log row, inside
its transaction. It moves a little state (a successful sign-in while healthy:
no query) and, when that state says an email is due, queues a task on commit
(provisioning.tasks). The tasks and a beat sweep call the services in
provisioning.sso.alert_notices (the certificate expiry notices too), which
decide and write the email into the outbox with a dedupe key, so each email
is sent at most once; when the broker is down the sweep finds the same work
from the state alone.

State on ``SsoConfig``, as on ``Integration`` for SCIM:

- ``failing_since``: the first counted refusal of the current run; None while
  healthy.
- ``recovered_at``: the first successful sign-in after it; a counted refusal
  clears it again. A recovery is announced once no refusal has followed for
  SSO_RECOVERY_MINUTES.
- ``failure_summary_at``: when the latest summary was claimed; no new one is
  claimed for SSO_FAILURE_QUIET_MINUTES after it.
- ``failures_reported_until``: the end of what the latest summary covered. A
  summary is pending while this is older than ``failure_summary_at``.

Counted refusals are the ones that point at the configuration or the identity
provider. A refusal about one person (not provisioned, deactivated, a replayed
assertion) says nothing about single sign-on as a whole, and Test single
sign-on shows its own result to the admin who ran it: neither counts as a
failure or a success here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from provisioning import tasks
from provisioning.models import Integration, SsoConfig, SsoSignIn
from provisioning.sso.alert_notices import (
    EXPIRED,
    NOT_COUNTED_REASONS,
    alerts_sweep,
    certificate_expiry_check,
    counts_as_failure,
    expiry_threshold,
    failure_summary_send,
    recovery_delay,
    recovery_notice_send,
    summary_delay,
    wants_failure_emails,
)

# Callers find SSO alerting here: the sign-in path, and what the tasks run. The latter lives in
# provisioning.sso.alert_notices so that provisioning.tasks, which this module imports to queue
# them, does not import this module.
__all__ = [
    "EXPIRED",
    "NOT_COUNTED_REASONS",
    "alerts_sweep",
    "certificate_expiry_check",
    "expiry_threshold",
    "failure_summary_send",
    "recovery_notice_send",
    "signin_recorded",
]

logger = logging.getLogger(__name__)


def quiet_period() -> timedelta:
    return timedelta(minutes=settings.SSO_FAILURE_QUIET_MINUTES)



# --- The sign-in path --------------------------------------------------------------------


def signin_recorded(*, config: SsoConfig, row: SsoSignIn, now: datetime | None = None) -> None:
    """Move the configuration's alerting state after one SSO log row.

    Called by ``sso_signin_record`` inside its transaction, with the
    configuration loaded when the response arrived: its (possibly slightly
    stale) values only decide whether a query is needed; every transition is a
    conditional UPDATE, so concurrent sign-ins never claim the same email twice.
    Never raises: alerting is a side effect and must not refuse a sign-in.
    """
    integration = config.integration
    if row.flow == SsoSignIn.Flow.TEST or integration.state == Integration.State.INACTIVE:
        return
    now = now or timezone.now()
    transition: Callable[[SsoConfig, SsoSignIn, datetime], None]
    if row.outcome == SsoSignIn.Outcome.SUCCEEDED:
        if config.failing_since is None or config.recovered_at is not None:
            return  # healthy, or a recovery already claimed: most sign-ins end here, with no query
        transition = _note_success
    elif counts_as_failure(row):
        if _already_failing(config) and not _may_claim_summary(config, now):
            return  # mid-burst: the state already says "failing"
        transition = _note_failure
    else:
        return
    try:
        # A savepoint: a failed bookkeeping write must not take the log row and
        # its audit event down with it.
        with transaction.atomic():
            transition(config, row, now)
    except Exception:
        logger.exception("SSO alerting failed for sign-in %s", row.reference)


def _already_failing(config: SsoConfig) -> bool:
    return config.failing_since is not None and config.recovered_at is None


def _may_claim_summary(config: SsoConfig, now: datetime) -> bool:
    return wants_failure_emails(config.integration) and (
        config.failure_summary_at is None or config.failure_summary_at <= now - quiet_period()
    )


def _note_success(config: SsoConfig, row: SsoSignIn, now: datetime) -> None:
    claimed = SsoConfig.objects.filter(pk=config.pk, failing_since__isnull=False, recovered_at__isnull=True).update(
        recovered_at=now
    )
    if claimed:
        _enqueue_on_commit("sso_recovery_notice_send", config.pk, now.isoformat(), countdown=recovery_delay())


def _note_failure(config: SsoConfig, row: SsoSignIn, now: datetime) -> None:
    rows = SsoConfig.objects.filter(pk=config.pk)
    # A refusal continues the run (or starts one) and cancels an unconfirmed recovery.
    changes: dict[str, Any] = {
        "recovered_at": None,
        "failing_since": Coalesce(F("failing_since"), Value(row.occurred_at, output_field=models.DateTimeField())),
    }
    if _may_claim_summary(config, now):
        quiet_since = now - quiet_period()
        claimed = rows.filter(Q(failure_summary_at__isnull=True) | Q(failure_summary_at__lte=quiet_since)).update(
            failure_summary_at=now, **changes
        )
        if claimed:
            _enqueue_on_commit("sso_failure_summary_send", config.pk, countdown=summary_delay())
            return
    rows.update(**changes)


# The tasks the sign-in path queues, by the name _enqueue_on_commit is given.
_QUEUED_TASKS = {
    "sso_failure_summary_send": tasks.sso_failure_summary_send,
    "sso_recovery_notice_send": tasks.sso_recovery_notice_send,
}


def _enqueue_on_commit(task_name: str, *args: Any, countdown: timedelta) -> None:
    """Queue a task after commit; never raise into the sign-in if the broker is down.

    ``alerts_sweep`` finds the same work from the state, so a lost enqueue only
    delays the email.
    """
    task = _QUEUED_TASKS[task_name]

    def send() -> None:
        try:
            # retry=False: a person at the browser must not wait for a dead broker.
            task.apply_async(args=args, countdown=countdown.total_seconds(), retry=False)
        except Exception:
            logger.warning("Broker unavailable; %s for SSO configuration %s left to the sweep", task_name, args[0])

    transaction.on_commit(send)
