"""Signing in with a SAML response: both flows, the person match, the session, the log."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from directory.models import AuditEvent, Person
from provisioning.models import SsoAuthnRequest, SsoSignIn
from tests.conftest import make_person
from tests.sso.conftest import configure_sso, post_acs, sp_for_config
from tests.sso.idp import authn_request_from

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(tenant):
    # Provisioned as Entra sends a UPN: its case kept.
    return make_person(tenant, "Alice.Smith@Contoso.com", password=None, display_name="Alice Smith")


def signed_in_as(client) -> str | None:
    response = client.get("/")
    return response.wsgi_request.user.user_name if response.wsgi_request.user.is_authenticated else None


def test_idp_initiated_sign_in_lands_signed_in_with_a_new_session(client, entra, sp, sso, alice):
    client.get("/accounts/sign-in/")
    before = client.cookies.get("sessionid")
    response = post_acs(client, sp, entra.response(name_id="alice.smith@contoso.com", sp=sp))
    assert response.status_code == 303
    assert response["Location"] == "/"
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert signed_in_as(client) == "Alice.Smith@Contoso.com"
    row = SsoSignIn.objects.get()
    assert (row.outcome, row.flow, row.person_id, row.name_id) == ("succeeded", "idp", alice.pk,
                                                                   "alice.smith@contoso.com")
    event = AuditEvent.objects.get(action="sso.signin_succeeded")
    assert event.target_id == str(alice.pk) and event.details["reference"] == row.reference
    sso.refresh_from_db()
    assert sso.last_signin_at is not None


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_each_of_entras_signing_options_is_accepted(client, entra, sp, sso, alice, sign):
    response = post_acs(client, sp, entra.response(name_id=alice.user_name, sp=sp, sign=sign))
    assert response.status_code == 303, response.content


def test_sp_initiated_sign_in_with_the_sign_on_url(client, entra, sp, sso, alice):
    response = client.get(urlsplit(sp.sign_on_url).path, {"next": "/me/"})
    assert response.status_code == 302
    assert response["Location"].startswith(entra.login_url + "?SAMLRequest=")
    request = authn_request_from(response["Location"])
    assert request.issuer == sp.entity_id and request.acs_url == sp.acs_url
    assert not request.id[0].isdigit()
    pending = SsoAuthnRequest.objects.get(request_id=request.id)
    assert pending.relay_state == "/me/" and pending.answered_at is None
    saml = entra.response(name_id=alice.user_name, sp=sp, in_response_to=request.id)
    answered = post_acs(client, sp, saml)
    assert answered.status_code == 303 and answered["Location"] == "/me/"
    assert SsoSignIn.objects.get().flow == "sp"
    pending.refresh_from_db()
    assert pending.answered_at is not None


def test_sign_in_with_sso_finds_the_organisation_by_work_email(client, entra, sp, sso, alice):
    page = client.get("/sso/")
    assert b"Work email" in page.content and b"Continue" in page.content
    response = client.post("/sso/", {"email": "ALICE.SMITH@contoso.com"})
    assert response.status_code == 302
    assert authn_request_from(response["Location"]).issuer == sp.entity_id


def test_sign_in_with_sso_asks_which_organisation_when_several_match(client, entra, other_entra, sso, alice,
                                                                     other_tenant):
    make_person(other_tenant, "alice.smith@contoso.com", password=None)
    configure_sso(other_tenant, other_entra)
    response = client.post("/sso/", {"email": "alice.smith@contoso.com"})
    assert response.status_code == 200
    assert b"Acme Corp" in response.content and b"Globex Corporation" in response.content
    assert b"/sso/acme/azure/" in response.content and b"/sso/globex/azure/" in response.content


def test_sign_in_with_sso_for_an_unknown_email_says_so(client, sso):
    response = client.post("/sso/", {"email": "nobody@nowhere.example"})
    assert response.status_code == 404
    assert b"No organisation on SpaceIQ signs this email in" in response.content


def test_unknown_person_sees_a_plain_page_with_a_reference(client, entra, sp, sso):
    response = post_acs(client, sp, entra.response(name_id="stranger@contoso.com", sp=sp))
    assert response.status_code == 403
    row = SsoSignIn.objects.get()
    assert row.outcome == "refused" and row.reason == "unknown_person"
    text = response.content.decode()
    assert "has no account for you yet" in text and row.reference in text
    assert signed_in_as(client) is None


def test_deactivated_person_is_refused(client, entra, sp, sso, alice):
    Person.objects.filter(pk=alice.pk).update(is_active=False)
    response = post_acs(client, sp, entra.response(name_id=alice.user_name, sp=sp))
    assert response.status_code == 403
    assert "deactivated" in response.content.decode()
    assert SsoSignIn.objects.get().reason == "inactive_person"
    assert signed_in_as(client) is None


def test_people_are_created_just_in_time_only_when_the_setting_is_on(client, entra, tenant):
    config = configure_sso(tenant, entra, create_people=True)
    sp = sp_for_config(config)
    response = post_acs(client, sp, entra.response(name_id="newbie@contoso.com", sp=sp))
    assert response.status_code == 303
    person = Person.objects.get(user_name="newbie@contoso.com")
    assert (person.source, person.given_name, person.family_name, person.work_email) == (
        "sso", "Ada", "Lovelace", "newbie@contoso.com")
    assert not person.has_usable_password() and not person.is_tenant_admin


@pytest.mark.parametrize("relay, expected", [
    ("/groups/", "/groups/"),
    ("https://evil.example/phish", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_relay_state_only_sends_people_to_our_own_paths(client, entra, sp, sso, alice, relay, expected):
    response = post_acs(client, sp, entra.response(name_id=alice.user_name, sp=sp), relay_state=relay)
    assert response.status_code == 303 and response["Location"] == expected


def test_a_member_lands_on_a_page_of_their_own(client, entra, sp, sso, alice):
    response = post_acs(client, sp, entra.response(name_id=alice.user_name, sp=sp))
    landing = client.get(response["Location"], follow=True)
    assert landing.status_code == 200
    assert "Alice Smith" in landing.content.decode()


def test_sp_metadata_names_our_entity_id_and_acs(client, sp, sso):
    response = client.get(urlsplit(sp.metadata_url).path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/samlmetadata+xml")
    body = response.content.decode()
    assert f'entityID="{sp.entity_id}"' in body and f'Location="{sp.acs_url}"' in body
    assert client.get("/sso/nope/azure/metadata/").status_code == 404


def test_each_tenant_and_integration_has_its_own_values(sso, other_sso):
    from provisioning import services as provisioning_services
    from provisioning.sso.selectors import sp_for

    a = sp_for_config(sso)
    b = sp_for_config(other_sso)
    okta = sp_for(integration=provisioning_services.integration_for(tenant=sso.integration.tenant, kind="okta"))
    assert len({a.entity_id, b.entity_id, okta.entity_id}) == 3
    assert len({a.acs_url, b.acs_url, okta.acs_url}) == 3


def test_deleting_a_signed_in_person_keeps_the_log_and_costs_no_extra_statement(client, entra, sp, sso, alice,
                                                                                 scim, django_assert_max_num_queries):
    from django.test import Client

    from provisioning.models import SsoAuthnRequest

    browser = Client()
    assert post_acs(browser, sp, entra.response(name_id=alice.user_name, sp=sp)).status_code == 303
    SsoAuthnRequest.objects.create(request_id="ONELOGIN_x", config=sso, purpose="test", requested_by=alice,
                                   expires_at=alice.created)
    # The SSO tables point at people without a database constraint: deleting a person runs no
    # statement for them (Django's deletion collector would otherwise visit each table).
    with django_assert_max_num_queries(17) as captured:
        assert scim.delete(f"/Users/{alice.pk}").status_code == 204
    assert not any("provisioning_sso" in q["sql"] for q in captured.captured_queries)
    # The person's sessions are ended once, by person_delete, not again by the collector.
    assert sum("DELETE FROM \"directory_personsession\"" in q["sql"] for q in captured.captured_queries) == 1
    row = SsoSignIn.objects.select_related("person").get()
    assert row.person is None and row.name_id == alice.user_name
    assert not browser.get("/").wsgi_request.user.is_authenticated
