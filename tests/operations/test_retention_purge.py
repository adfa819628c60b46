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
    assert result == {"scim_requests": 6, "audit_events": 3, "sso_signins": 0, "sso_authn_requests": 0,
                      "session_records": 0}
    assert sorted((now - r).days for r in ScimRequest.objects.values_list("received_at", flat=True)) == [1, 29]
    assert AuditEvent.objects.count() == kept_events
    assert tasks.retention_purge() == {"scim_requests": 0, "audit_events": 0, "sso_signins": 0,
                                       "sso_authn_requests": 0, "session_records": 0}


@pytest.mark.django_db
def test_old_sso_log_rows_and_expired_authn_requests_are_purged(tenant, admin, other_tenant, settings):
    from provisioning.models import SsoAuthnRequest, SsoSignIn
    from provisioning.sso.services import authn_request_remember, reference_new
    from tests.sso.conftest import configure_sso
    from tests.sso.idp import EntraIdP

    settings.SSO_LOG_RETENTION_DAYS = 30
    now = timezone.now()
    configs = [configure_sso(tenant, EntraIdP()), configure_sso(other_tenant, EntraIdP())]
    for config in configs:
        rows = SsoSignIn.objects.bulk_create([
            SsoSignIn(tenant_id=config.integration.tenant_id, integration=config.integration, flow="idp",
                      outcome="succeeded", reference=reference_new())
            for _ in [1, 29, 31, 31, 400]
        ])
        for row, age in zip(rows, [1, 29, 31, 31, 400], strict=True):
            SsoSignIn.objects.filter(pk=row.pk).update(occurred_at=now - timedelta(days=age))
    pending = authn_request_remember(config=configs[0], request_id="_pending")
    expired = authn_request_remember(config=configs[1], request_id="_expired")
    SsoAuthnRequest.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(seconds=1))

    result = retention_purge(now=now, batch_size=2)
    assert (result["sso_signins"], result["sso_authn_requests"]) == (6, 1)
    for config in configs:
        ages = SsoSignIn.objects.filter(integration=config.integration).values_list("occurred_at", flat=True)
        assert sorted((now - at).days for at in ages) == [1, 29]
    assert list(SsoAuthnRequest.objects.values_list("pk", flat=True)) == [pending.pk]
