"""Retention: old request logs, SSO logs and audit events are purged in batches.

Batches keep each DELETE short, so the purge never holds locks or bloats a
transaction while SCIM traffic and the console keep writing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from directory.audit import audit_events_purge
from directory.batches import delete_in_batches
from directory.services import person_session_records_purge
from provisioning.models import Integration, ScimRequest, SsoAuthnRequest, SsoSignIn

BATCH_SIZE = 5000


def scim_requests_purge(*, before: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete request-log rows received before ``before``; returns how many."""
    return delete_in_batches(ScimRequest.objects.filter(received_at__lt=before), batch_size=batch_size)


def sso_signins_purge(*, before: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete SSO log rows older than ``before``, one integration at a time; returns how many.

    The SSO log's indexes lead with the integration (or the tenant), none with
    the time alone: per integration each batch is a range scan of its index
    instead of a scan of the whole log.
    """
    deleted = 0
    for integration_id in Integration.objects.order_by("pk").values_list("pk", flat=True):
        deleted += delete_in_batches(
            SsoSignIn.objects.filter(integration_id=integration_id, occurred_at__lt=before), batch_size=batch_size
        )
    return deleted


def authn_requests_purge(*, before: Any) -> int:
    """Forget requests that expired unanswered, and answered ones: nothing can match them any more."""
    deleted, _ = SsoAuthnRequest.objects.filter(expires_at__lt=before).delete()
    return deleted


def retention_purge(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    now = now or timezone.now()
    return {
        "scim_requests": scim_requests_purge(
            before=now - timedelta(days=settings.SCIM_REQUEST_LOG_RETENTION_DAYS), batch_size=batch_size
        ),
        "audit_events": audit_events_purge(
            before=now - timedelta(days=settings.AUDIT_RETENTION_DAYS), batch_size=batch_size
        ),
        "sso_signins": sso_signins_purge(
            before=now - timedelta(days=settings.SSO_LOG_RETENTION_DAYS), batch_size=batch_size
        ),
        # Expired AuthnRequests can match no response any more (an answer to one is refused as unknown).
        "sso_authn_requests": authn_requests_purge(before=now),
        "session_records": person_session_records_purge(now=now),
    }
