"""Third Party Integrations in the console: the catalogue, activation, tokens, deactivation."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Integration, ScimToken
from provisioning.tokens import token_verify
from tests.conftest import PASSWORD, make_person
from tests.console_helpers import activate, draft_id, enter_sudo, leave_sudo, tokens_in

pytestmark = pytest.mark.django_db

INTEGRATIONS = reverse("provisioning:integrations")


def detail(kind: str = "azure") -> str:
    return reverse("provisioning:integration-detail", args=[kind])


def test_settings_lists_third_party_integrations(admin_client):
    response = admin_client.get(reverse("provisioning:settings"))
    assert b"Third Party Integrations" in response.content
    assert INTEGRATIONS.encode() in response.content


def test_catalogue_shows_every_provider_with_logo_description_and_activate(admin_client):
    html = admin_client.get(INTEGRATIONS).content.decode()
    assert "Provisioning and SSO" in html
    assert ">Search integrations</label>" in html
    for name, logo in [("Azure", "azure"), ("Okta", "okta"), ("OneLogin", "onelogin"), ("Google Workspace", "google"),
                       ("JumpCloud", "jumpcloud"), ("Custom SAML &amp; SCIM", "custom")]:
        assert f">{name}</h2>" in html
        assert f"img/integrations/{logo}" in html
    assert html.count('aria-label="Activate ') == 6
    assert "<script>" not in html and "onclick" not in html  # a strict CSP comes later


def test_search_works_without_javascript(admin_client):
    html = admin_client.get(INTEGRATIONS, {"q": "azure"}).content.decode()
    azure = html.split('id="tile-azure"')[1].split(">")[0]
    okta = html.split('id="tile-okta"')[1].split(">")[0]
    assert "hidden" not in azure and "hidden" in okta
    assert "1 of 6 integrations match" in html
    html = admin_client.get(INTEGRATIONS, {"q": "entra"}).content.decode()
    assert "hidden" not in html.split('id="tile-azure"')[1].split(">")[0]
    html = admin_client.get(INTEGRATIONS, {"q": "nothing-like-this"}).content.decode()
    assert "No integration matches" in html


def test_activation_dialog_shows_url_and_a_draft_token_that_does_not_work_yet(admin_client, settings):
    response = admin_client.get(reverse("provisioning:integration-activate", args=["azure"]))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert f'value="{settings.SITE_URL}/scim"' in html
    assert ">Tenant URL</label>" in html and ">SCIM Bearer Token</label>" in html
    assert ">Notification Email</label>" in html
    assert ">Send an email notification when a failure occurs</label>" in html
    assert "Test Connection" in html and "40 minutes" in html and "Provisioning Mode" in html
    assert 'role="tab"' in html and ">SSO</a>" in html and "SAML CallBack Endpoint URL" in html
    [raw] = set(tokens_in(html))
    assert len(raw) >= len("siq_scim_") + 43
    assert token_verify(raw) is None  # a draft until Activate is pressed
    assert not Integration.objects.get(kind="azure").is_active


def test_pressing_activate_makes_the_token_work(admin_client, admin):
    raw = activate(admin_client)
    token = token_verify(raw)
    assert token is not None and token.integration.kind == "azure"
    integration = Integration.objects.get(tenant=admin.tenant, kind="azure")
    assert integration.is_active
    assert integration.notification_email == "it@acme.example" and integration.notify_on_failure
    html = admin_client.get(INTEGRATIONS).content.decode()
    assert "Waiting for the first request from Microsoft Entra ID" in html


def test_with_two_dialogs_open_activate_confirms_the_token_of_the_dialog_it_was_pressed_in(admin_client):
    url = reverse("provisioning:integration-activate", args=["azure"])
    first, second = admin_client.get(url).content, admin_client.get(url).content
    response = admin_client.post(url, {"draft": draft_id(first), "notification_email": ""})
    assert response.status_code == 302
    assert token_verify(tokens_in(first)[0]) is not None
    assert token_verify(tokens_in(second)[0]) is None


def test_a_draft_this_session_did_not_open_cannot_be_activated(admin_client, client, admin):
    url = reverse("provisioning:integration-activate", args=["azure"])
    html = admin_client.get(url).content
    other_session = type(client)()
    other_session.force_login(admin)
    response = other_session.post(url, {"draft": draft_id(html), "notification_email": ""})
    assert response.status_code == 400 and b"out of date" in response.content
    assert token_verify(tokens_in(html)[0]) is None


def test_abandoned_dialogs_leave_nothing_usable(admin_client):
    url = reverse("provisioning:integration-activate", args=["okta"])
    [abandoned] = set(tokens_in(admin_client.get(url).content))
    raw = activate(admin_client, "okta")
    assert token_verify(abandoned) is None
    assert token_verify(raw) is not None
    assert ScimToken.objects.filter(confirmed=False).count() == 0


def test_every_provider_activates_the_same_way_with_its_own_instructions(admin_client):
    for kind, words in [("okta", "Test Connector Configuration"), ("onelogin", "SCIM Base URL"),
                        ("google", "Auto-provisioning"), ("jumpcloud", "Identity Management"),
                        ("custom", "Authorization: Bearer")]:
        html = admin_client.get(reverse("provisioning:integration-activate", args=[kind])).content.decode()
        assert words in html, kind
    raw = activate(admin_client, "jumpcloud")
    assert token_verify(raw).integration.kind == "jumpcloud"


def test_activation_form_errors_are_shown_next_to_the_field_and_the_token_is_not_shown_again(admin_client):
    url = reverse("provisioning:integration-activate", args=["azure"])
    dialog = admin_client.get(url).content
    [raw], draft = set(tokens_in(dialog)), draft_id(dialog)
    response = admin_client.post(url, {"draft": draft, "notification_email": "", "notify_on_failure": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="notification-email-error"' in html and "Enter the address to notify" in html
    assert raw not in html and not tokens_in(html)
    response = admin_client.post(url, {"draft": draft, "notification_email": "not-an-email"})
    assert "Enter a valid email address" in response.content.decode()
    assert token_verify(raw) is None
    # Corrected, the same dialog activates the token it showed.
    assert admin_client.post(url, {"draft": draft, "notification_email": "it@acme.example"}).status_code == 302
    assert token_verify(raw) is not None


def test_activation_needs_the_dialog_csrf_token(client, admin):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(admin)
    url = reverse("provisioning:integration-activate", args=["azure"])
    client.get(url)
    assert client.post(url, {"notification_email": "it@acme.example"}).status_code == 403


def test_generate_rotate_and_revoke_need_a_recent_password(admin_client, admin):
    activate(admin_client)
    leave_sudo(admin_client)
    url = reverse("provisioning:token-generate", args=["azure"])
    response = admin_client.post(url, {"label": "Backup"})
    assert response.status_code == 200 and b"Confirm your password" in response.content
    assert b'name="label" value="Backup"' in response.content  # the request is carried through
    assert not ScimToken.objects.filter(label="Backup").exists()
    response = admin_client.post(url, {"label": "Backup", "sudo_password": "wrong"})
    assert response.status_code == 400 and b"That is not your password" in response.content
    assert not ScimToken.objects.filter(label="Backup").exists()
    response = admin_client.post(url, {"label": "Backup", "sudo_password": PASSWORD})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [raw] = set(tokens_in(response.content))
    assert token_verify(raw).label == "Backup"
    # Within ten minutes the password is not asked again.
    response = admin_client.post(url, {"label": "Second"})
    assert len(set(tokens_in(response.content))) == 1


def test_signing_in_counts_as_entering_the_password(client, admin):
    client.post(reverse("accounts:sign-in"), {"email": admin.user_name, "password": PASSWORD})
    activate(client)
    response = client.post(reverse("provisioning:token-generate", args=["azure"]), {"label": "x"})
    assert len(set(tokens_in(response.content))) == 1


def test_rotation_keeps_the_old_token_for_the_grace_period(admin_client):
    old_raw = activate(admin_client)
    enter_sudo(admin_client)
    old = token_verify(old_raw)
    response = admin_client.post(reverse("provisioning:token-rotate", args=["azure", old.pk]), {"grace": "1d"})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    [new_raw] = set(tokens_in(response.content))
    assert token_verify(new_raw) is not None and token_verify(old_raw) is not None
    old.refresh_from_db()
    assert abs(old.expires_at - (timezone.now() + timedelta(days=1))) < timedelta(minutes=1)
    assert "keeps working until" in response.content.decode()


def test_rotation_without_grace_stops_the_old_token_now(admin_client):
    old_raw = activate(admin_client)
    enter_sudo(admin_client)
    old = token_verify(old_raw)
    response = admin_client.post(reverse("provisioning:token-rotate", args=["azure", old.pk]), {"grace": "0"})
    [new_raw] = set(tokens_in(response.content))
    assert token_verify(old_raw) is None and token_verify(new_raw) is not None


def test_rotation_rejects_an_unknown_grace_period(admin_client):
    old_raw = activate(admin_client)
    enter_sudo(admin_client)
    old = token_verify(old_raw)
    response = admin_client.post(reverse("provisioning:token-rotate", args=["azure", old.pk]), {"grace": "30d"})
    assert response.status_code == 400 and not tokens_in(response.content)


def test_revoke_is_immediate(admin_client):
    raw = activate(admin_client)
    enter_sudo(admin_client)
    token = token_verify(raw)
    response = admin_client.post(reverse("provisioning:token-revoke", args=["azure", token.pk]))
    assert response.status_code == 302
    assert token_verify(raw) is None
    html = admin_client.get(detail()).content.decode()
    assert "Revoked" in html


def test_deactivate_stops_every_token_and_reactivation_needs_a_new_one(admin_client):
    first = activate(admin_client)
    enter_sudo(admin_client)
    response = admin_client.post(reverse("provisioning:token-generate", args=["azure"]), {"label": "second"})
    [second] = set(tokens_in(response.content))
    confirm = admin_client.get(reverse("provisioning:integration-deactivate", args=["azure"]))
    assert b"All 2 working tokens stop" in confirm.content
    assert admin_client.post(reverse("provisioning:integration-deactivate", args=["azure"])).status_code == 302
    assert token_verify(first) is None and token_verify(second) is None
    html = admin_client.get(INTEGRATIONS).content.decode()
    assert 'aria-label="Activate Azure"' in html
    third = activate(admin_client)
    assert token_verify(third) is not None
    assert token_verify(first) is None and token_verify(second) is None


def test_notification_settings_are_validated_and_saved(admin_client, admin):
    activate(admin_client)
    url = reverse("provisioning:integration-notifications", args=["azure"])
    response = admin_client.post(url, {"notification_email": "nope", "notify_on_failure": "on"})
    assert response.status_code == 400 and b"Enter a valid email address" in response.content
    assert admin_client.post(url, {"notification_email": "ops@acme.example"}).status_code == 302
    integration = Integration.objects.get(tenant=admin.tenant, kind="azure")
    assert integration.notification_email == "ops@acme.example" and not integration.notify_on_failure


def test_integration_page_lists_tokens_with_their_details(admin_client, admin):
    raw = activate(admin_client)
    token = token_verify(raw)
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now(), last_used_ip="203.0.113.7")
    html = admin_client.get(detail()).content.decode()
    assert token.display in html and "Created at activation" in html
    assert "Ada Admin" in html and "203.0.113.7" in html and ">Active<" in html
    assert "active provisioned people" in html


def test_the_token_never_appears_in_any_other_response(admin_client, admin, tenant, caplog):
    """After a token is shown once, no console page, export, message, log line or stored row contains it."""
    from directory.models import AuditEvent
    from provisioning.models import Notification, ScimRequest

    caplog.set_level(logging.DEBUG)
    person = make_person(tenant, "pat@acme.example")
    shown = [activate(admin_client)]
    enter_sudo(admin_client)
    response = admin_client.post(reverse("provisioning:token-generate", args=["azure"]), {"label": "x"})
    shown += tokens_in(response.content)
    rotated = admin_client.post(
        reverse("provisioning:token-rotate", args=["azure", token_verify(shown[0]).pk]), {"grace": "1h"}
    )
    shown += tokens_in(rotated.content)
    assert len(set(shown)) == 3
    pages = [
        reverse("directory:home"), reverse("provisioning:settings"), INTEGRATIONS, INTEGRATIONS + "?q=azure",
        detail(), reverse("provisioning:integration-deactivate", args=["azure"]),
        reverse("directory:people"), reverse("directory:person-detail", args=[person.pk]),
        reverse("directory:person-detail", args=[admin.pk]), reverse("directory:groups"),
        reverse("provisioning:integration-logs", args=["azure"]), reverse("provisioning:audit-log"),
        reverse("provisioning:audit-log-export"),
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert not tokens_in(body), url
    session = admin_client.session
    stored = " ".join(str(v) for v in session.values())
    stored += " ".join(str(e.details) for e in AuditEvent.objects.all())
    stored += " ".join(n.body_text + n.body_html + n.subject for n in Notification.objects.all())
    stored += " ".join(r.request_body for r in ScimRequest.objects.all())
    stored += caplog.text
    for raw in shown:
        assert raw not in stored


def test_tokens_of_another_tenant_cannot_be_touched(admin_client, client, admin, outsider):
    raw = activate(admin_client)
    token = token_verify(raw)
    client.force_login(outsider)
    enter_sudo(client)
    activate(client)  # the outsider has their own Azure integration
    for name in ("token-rotate", "token-revoke"):
        response = client.post(reverse(f"provisioning:{name}", args=["azure", token.pk]), {"grace": "0"})
        assert response.status_code == 404, name
    assert token_verify(raw) is not None
    html = client.get(detail()).content.decode()
    assert token.display not in html
    client.post(reverse("provisioning:integration-deactivate", args=["azure"]))
    assert token_verify(raw) is not None  # only the outsider's own integration stopped


def test_pages_of_an_integration_never_activated_are_not_found(admin_client):
    assert admin_client.get(detail("okta")).status_code == 404
    assert admin_client.get(detail("no-such-kind")).status_code == 404
    assert admin_client.get(reverse("provisioning:integration-activate", args=["no-such-kind"])).status_code == 404


@pytest.mark.parametrize("name,args,method", [
    ("integrations", [], "get"),
    ("integration-activate", ["azure"], "get"),
    ("integration-activate", ["azure"], "post"),
    ("integration-detail", ["azure"], "get"),
    ("integration-deactivate", ["azure"], "get"),
    ("integration-deactivate", ["azure"], "post"),
    ("integration-notifications", ["azure"], "post"),
    ("token-generate", ["azure"], "post"),
    ("token-rotate", ["azure", 1], "post"),
    ("token-revoke", ["azure", 1], "post"),
])
def test_non_admins_get_403_everywhere(client, member, name, args, method):
    client.force_login(member)
    response = getattr(client, method)(reverse(f"provisioning:{name}", args=args))
    assert response.status_code == 403
