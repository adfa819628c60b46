"""Security notices to the tenant's admins: token lifecycle, deactivation, old tokens still in use."""

from datetime import timedelta

import pytest
from django.utils import timezone

from directory.audit import Actor
from provisioning import services
from provisioning.models import Notification
from tests.scim_traffic import active_integration, scim_request

ADA = Actor(label="Ada Admin (ada.admin@acme.example)", source_ip="198.51.100.4")


@pytest.fixture
def integration(tenant, admins):
    return active_integration(tenant)


def notices(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("id"))


@pytest.mark.django_db
def test_token_generated_goes_to_every_admin_and_never_contains_the_token(integration):
    token, raw = services.token_issue(integration=integration, actor=ADA, label="Entra production")
    [notice] = notices("token_generated")
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]
    assert notice.subject == "Security notice: a new SCIM token was generated for Azure"
    assert "Ada Admin (ada.admin@acme.example) generated a new SCIM token" in notice.body_text
    assert token.display in notice.body_text and "198.51.100.4" in notice.body_text
    assert raw not in notice.body_text and raw not in notice.body_html


@pytest.mark.django_db
def test_activation_with_the_dialogs_token_announces_it(tenant, admins):
    integration = services.integration_for(tenant=tenant, kind="okta")
    draft, _ = services.token_issue(integration=integration, actor=ADA, confirmed=False)
    assert notices("token_generated") == []  # a draft is nothing yet
    services.integration_activate(integration=integration, actor=ADA, draft_token=draft)
    [notice] = notices("token_generated")
    assert draft.display in notice.body_text and "Okta" in notice.subject


@pytest.mark.django_db
def test_rotation_is_one_notice_naming_both_tokens(integration):
    old, _ = services.token_issue(integration=integration, actor=ADA)
    new, raw = services.token_rotate(token=old, actor=ADA, grace=timedelta(days=1))
    assert len(notices("token_generated")) == 1  # the first token only
    [notice] = notices("token_rotated")
    assert old.display in notice.body_text and new.display in notice.body_text
    assert "works until" in notice.body_text and raw not in notice.body_text


@pytest.mark.django_db
def test_revocation_and_deactivation_are_announced(integration):
    token, _ = services.token_issue(integration=integration, actor=ADA)
    services.token_revoke(token=token, actor=ADA)
    services.token_revoke(token=token, actor=ADA)  # already revoked: nothing new
    [revoked] = notices("token_revoked")
    assert "stopped working immediately" in revoked.body_text
    services.integration_deactivate(integration=integration, actor=ADA)
    [deactivated] = notices("integration_deactivated")
    assert deactivated.subject == "Security notice: the Azure integration was deactivated"
    assert deactivated.to == ["ada.admin@acme.example", "sam.second@acme.example"]


@pytest.mark.django_db
def test_a_failed_service_call_queues_no_notice(integration, monkeypatch):
    from provisioning import services as provisioning_services

    def broken(**kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(provisioning_services, "audit_event_record", broken)
    with pytest.raises(RuntimeError):
        services.token_issue(integration=integration, actor=ADA)
    assert notices("token_generated") == []


@pytest.mark.django_db
def test_an_old_token_still_in_use_is_reported_once_a_day(integration, settings, outsider):
    settings.SCIM_INVALID_TOKEN_ALERT_THRESHOLD = 3
    token, _ = services.token_issue(integration=integration, actor=ADA)
    services.token_rotate(token=token, actor=ADA, grace=timedelta(0))
    for _ in range(2):
        scim_request(None, 401, token_prefix=token.prefix, source_ip="20.190.128.9")
    assert notices("invalid_token_used") == []
    for _ in range(5):
        scim_request(None, 401, token_prefix=token.prefix, source_ip="20.190.128.9")
    [notice] = notices("invalid_token_used")
    assert notice.tenant_id == integration.tenant_id
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]
    assert token.display in notice.body_text and "revoked on" in notice.body_text
    assert "20.190.128.9" in notice.body_text
    assert "olga.outsider@globex.example" not in notice.to


@pytest.mark.django_db
def test_unknown_tokens_from_one_address_are_logged_for_operators(caplog, settings, integration):
    settings.SCIM_INVALID_TOKEN_ALERT_THRESHOLD = 3
    for i in range(6):
        entry = scim_request(None, 401, token_prefix=f"zz{i:06d}", source_ip="192.0.2.66")
        assert entry.integration_id is None
    warnings = [r for r in caplog.records if "Repeated SCIM requests with invalid tokens" in r.getMessage()]
    assert len(warnings) == 1 and "192.0.2.66" in warnings[0].getMessage()
    assert notices("invalid_token_used") == []


@pytest.mark.django_db
def test_silence_notice_goes_to_admins_when_no_notification_address(tenant, admins):
    from provisioning import alerts

    integration = active_integration(tenant, email="", notify=False)
    assert alerts.silence_check(now=timezone.now() + timedelta(hours=4)) == 1
    [notice] = notices("scim_silent")
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]
    assert "has not received any request from Microsoft Entra ID since" in notice.body_text
    assert alerts.silence_check(now=timezone.now() + timedelta(hours=5)) == 0
    assert integration


@pytest.mark.django_db
def test_plain_text_is_not_html_escaped_and_html_is(integration, tenant):
    tenant.name = "O'Brien & <Sons>"
    tenant.save()
    integration.refresh_from_db()
    services.token_issue(integration=integration, actor=Actor(label="Zoë <admin>"))
    [notice] = notices("token_generated")
    assert "O'Brien & <Sons>" in notice.body_text and "Zoë <admin> generated" in notice.body_text
    assert "O&#x27;Brien &amp; &lt;Sons&gt;" in notice.body_html and "<admin>" not in notice.body_html
