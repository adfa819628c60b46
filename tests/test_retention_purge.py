"""Retention: request logs and audit events past their age are purged, in batches."""

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.models import AuditEvent
from provisioning import tasks
from provisioning.models import ScimRequest
from provisioning.retention import retention_purge
from tests.scim_traffic import active_integration


@pytest.mark.django_db
def test_old_request_logs_and_audit_events_are_purged_in_batches(tenant, admin, settings):
    settings.SCIM_REQUEST_LOG_RETENTION_DAYS = 30
    settings.AUDIT_RETENTION_DAYS = 365
    integration = active_integration(tenant)
    now = timezone.now()
    ScimRequest.objects.bulk_create([
        ScimRequest(integration=integration, tenant=tenant, received_at=now - timedelta(days=age), method="GET",
                    path="/scim/v2/Users", status=200)
        for age in [1, 29, 31, 31, 31, 31, 31, 400]
    ])
    old_events = AuditEvent.objects.bulk_create([
        AuditEvent(tenant=tenant, actor_label="seed", action="person.updated") for _ in range(5)
    ])
    AuditEvent.objects.filter(pk__in=[e.pk for e in old_events[:3]]).update(occurred_at=now - timedelta(days=366))
    AuditEvent.objects.filter(pk=old_events[3].pk).update(occurred_at=now - timedelta(days=364))
    kept_events = AuditEvent.objects.count() - 3

    result = retention_purge(now=now, batch_size=2)
    assert result == {"scim_requests": 6, "audit_events": 3}
    assert sorted((now - r).days for r in ScimRequest.objects.values_list("received_at", flat=True)) == [1, 29]
    assert AuditEvent.objects.count() == kept_events
    assert tasks.retention_purge() == {"scim_requests": 0, "audit_events": 0}
