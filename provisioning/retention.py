"""Retention: old request logs and audit events are purged in batches.

Batches keep each DELETE short, so the purge never holds locks or bloats a
transaction while SCIM traffic and the console keep writing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from directory.audit import audit_events_purge
from directory.batches import delete_in_batches
from provisioning.models import ScimRequest

BATCH_SIZE = 5000


def scim_requests_purge(*, before: datetime, batch_size: int = BATCH_SIZE) -> int:
    """Delete request-log rows received before ``before``; returns how many."""
    return delete_in_batches(ScimRequest.objects.filter(received_at__lt=before), batch_size=batch_size)


def retention_purge(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    now = now or timezone.now()
    return {
        "scim_requests": scim_requests_purge(
            before=now - timedelta(days=settings.SCIM_REQUEST_LOG_RETENTION_DAYS), batch_size=batch_size
        ),
        "audit_events": audit_events_purge(
            before=now - timedelta(days=settings.AUDIT_RETENTION_DAYS), batch_size=batch_size
        ),
    }
