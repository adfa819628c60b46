"""Through the real SCIM endpoint: failed requests are logged and move the alerting state."""

from datetime import timedelta

import pytest
from django.test import TestCase

from directory.audit import Actor
from provisioning import alerts, services
from provisioning.models import Integration, Notification, ScimRequest, ScimToken

ADMIN = Actor(label="Ada Admin")
USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.example", "active": True}


@pytest.fixture
def integration(scim, tenant, admin):
    found = Integration.objects.get(tenant=tenant, kind="azure")
    return services.notification_settings_update(
        integration=found, actor=ADMIN, notification_email="ops@acme.example", notify_on_failure=True
    )


@pytest.mark.django_db
def test_a_conflict_over_scim_is_logged_and_claims_a_summary(scim, integration, monkeypatch):
    queued = []
    monkeypatch.setattr(alerts, "_enqueue_on_commit", lambda name, *args, countdown: queued.append(name))
    assert scim.post("/v2/Users", USER).status_code == 201
    assert scim.post("/v2/Users", USER).status_code == 409
    failed = ScimRequest.objects.get(integration=integration, status=409)
    assert failed.scim_type == "uniqueness"
    assert queued == ["failure_summary_send"]
    summary = alerts.failure_summary_send(integration_id=integration.pk)
    assert summary is not None and "userName already exists (409): 1" in summary.body_text


@pytest.mark.django_db
def test_a_revoked_token_still_used_reaches_the_tenants_log_and_admins(client, tenant, admin, settings):
    settings.SCIM_INVALID_TOKEN_ALERT_THRESHOLD = 2
    integration = services.integration_for(tenant=tenant, kind="azure")
    services.integration_activate(integration=integration, actor=ADMIN)
    token, raw = services.token_issue(integration=integration, actor=ADMIN)
    services.token_rotate(token=token, actor=ADMIN, grace=timedelta(0))
    with TestCase.captureOnCommitCallbacks(execute=False):
        for _ in range(2):
            response = client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {raw}")
            assert response.status_code == 401
    logged = ScimRequest.objects.filter(status=401)
    assert logged.count() == 2 and {r.integration_id for r in logged} == {integration.pk}
    [notice] = Notification.objects.filter(kind="invalid_token_used")
    assert notice.to == ["ada.admin@acme.example"]
    assert raw not in notice.body_text and ScimToken.objects.get(pk=token.pk).display in notice.body_text
