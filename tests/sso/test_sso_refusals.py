"""Every response SpaceIQ must refuse: no session, no 5xx, a logged reason and an audit event.

Responses are signed for real by the test identity provider (tests/sso/idp.py)
and then attacked the way published SAML attacks do.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from directory.models import AuditEvent
from provisioning.models import SsoAuthnRequest, SsoSignIn
from tests.conftest import make_person
from tests.sso.conftest import configure_sso, post_acs, sp_for_config
from tests.sso.idp import SigningCertificate, authn_request_from, encode

pytestmark = pytest.mark.django_db

NAME = "alice.smith@contoso.com"


@pytest.fixture
def alice(tenant):
    return make_person(tenant, NAME, password=None, display_name="Alice Smith")


def assert_refused(client, response, reason: str | tuple[str, ...], status: int | None = None) -> SsoSignIn:
    reasons = (reason,) if isinstance(reason, str) else reason
    # No 5xx, except the one honest answer when the replay store is down: retry shortly.
    assert response.status_code < 500 or (reasons == ("replay_store_unavailable",) and response["Retry-After"])
    if status is not None:
        assert response.status_code == status
    assert response.status_code in (400, 403, 404, 413, 503)
    assert "sessionid" not in response.cookies or not response.cookies["sessionid"].value
    assert not client.get("/").wsgi_request.user.is_authenticated
    row = SsoSignIn.objects.order_by("-id").first()
    assert row is not None and row.outcome == "refused", row
    assert row.reason in reasons, (row.reason, row.detail)
    assert row.reference in response.content.decode()
    event = AuditEvent.objects.filter(action="sso.signin_refused").order_by("-id").first()
    assert event is not None and event.details["reason"] == row.reason
    return row


def xml_of(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode()


# --- signatures ---------------------------------------------------------------------

def test_an_unsigned_response_is_refused(client, entra, sp, sso, alice):
    response = post_acs(client, sp, entra.response(name_id=NAME, sp=sp, sign="none"))
    assert_refused(client, response, "unsigned", 403)


def test_a_signature_by_another_key_is_refused_even_with_its_certificate_inside(client, entra, sp, sso, alice):
    attacker = SigningCertificate.make()  # its certificate travels in KeyInfo: never trusted
    for sign in ("assertion", "response"):
        response = post_acs(client, sp, entra.response(name_id=NAME, sp=sp, sign=sign, certificate=attacker))
        assert_refused(client, response, "signature", 403)


def test_a_response_altered_after_signing_is_refused(client, entra, sp, sso, alice, tenant):
    make_person(tenant, "mallory@contoso.com", password=None)
    xml = xml_of(entra.response(name_id="mallory@contoso.com", sp=sp))
    altered = xml.replace("mallory@contoso.com</NameID>", f"{NAME}</NameID>")
    assert altered != xml
    assert_refused(client, post_acs(client, sp, encode(altered)), "signature", 403)


def test_a_comment_inside_the_name_id_does_not_truncate_it(client, entra, sp, sso, alice):
    # CVE-2017-11427: an attacker owning alice.smith@contoso.com.evil.example gets it signed
    # with a comment inside; a parser reading the first text node would sign in Alice.
    saml = entra.response(name_id=NAME + ".evil.example", sp=sp,
                          name_id_xml="alice.smith@contoso.com<!---->.evil.example")
    row = assert_refused(client, post_acs(client, sp, saml), "unknown_person", 403)
    assert row.name_id == NAME + ".evil.example"


def test_a_certificate_past_its_expiry_is_no_longer_trusted(client, entra, sp, sso, alice):
    from provisioning.models import SsoCertificate

    SsoCertificate.objects.filter(config=sso).update(not_after=datetime.now(UTC) - timedelta(minutes=1))
    assert_refused(client, post_acs(client, sp, entra.response(name_id=NAME, sp=sp)), "certificate_expired", 403)


def test_during_a_rollover_the_expired_certificate_stops_and_the_new_one_works(client, entra, sp, sso, alice):
    from provisioning.models import SsoCertificate
    from provisioning.sso.certificates import certificate_read

    new = SigningCertificate.make()
    facts = certificate_read(new.pem)
    SsoCertificate.objects.create(config=sso, pem=facts.pem, subject=facts.subject, thumbprint=facts.thumbprint,
                                  not_before=facts.not_before, not_after=facts.not_after)
    SsoCertificate.objects.filter(thumbprint=entra.certificate.thumbprint).update(
        not_after=datetime.now(UTC) - timedelta(minutes=1))
    assert_refused(client, post_acs(client, sp, entra.response(name_id=NAME, sp=sp)), "signature", 403)
    assert post_acs(client, sp, entra.response(name_id=NAME, sp=sp, certificate=new)).status_code == 303


def test_sha1_signatures_are_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, algorithm=C.RSA_SHA1, digest=C.SHA1)
    assert_refused(client, post_acs(client, sp, saml), "weak_algorithm", 403)


# --- signature wrapping (XSW) ----------------------------------------------------------

def _signed_assertion(entra, sp, name_id: str) -> str:
    return entra.sign(entra.assertion_xml(name_id=name_id, audience=sp.entity_id, recipient=sp.acs_url))


def test_wrapping_a_forged_assertion_beside_the_signed_one_is_refused(client, entra, sp, sso, alice, tenant):
    make_person(tenant, "mallory@contoso.com", password=None)
    signed = _signed_assertion(entra, sp, "mallory@contoso.com")
    forged = entra.assertion_xml(name_id=NAME, audience=sp.entity_id, recipient=sp.acs_url)
    for assertions in (forged + signed, signed + forged):
        xml = entra.response_xml(assertion=assertions, destination=sp.acs_url)
        assert_refused(client, post_acs(client, sp, encode(xml)), ("wrapping", "unsigned", "signature", "schema"))


def test_a_forged_assertion_reusing_the_signed_ones_id_is_refused(client, entra, sp, sso, alice, tenant):
    make_person(tenant, "mallory@contoso.com", password=None)
    signed = _signed_assertion(entra, sp, "mallory@contoso.com")
    assertion_id = re.search(r'ID="(_[^"]+)"', signed).group(1)
    forged = entra.assertion_xml(name_id=NAME, audience=sp.entity_id, recipient=sp.acs_url, assertion_id=assertion_id)
    # XSW variant: the signed original hidden in the forged assertion's Subject.
    hidden = forged.replace("<Subject>", f"<Subject>{signed}", 1)
    for xml in (entra.response_xml(assertion=hidden, destination=sp.acs_url),
                entra.response_xml(assertion=forged, destination=sp.acs_url).replace(
                    "</samlp:Status>", f"</samlp:Status><samlp:Extensions>{signed}</samlp:Extensions>", 1)):
        assert_refused(client, post_acs(client, sp, encode(xml)), ("wrapping", "unsigned", "signature", "schema"))


def test_a_signed_response_whose_signature_points_elsewhere_is_refused(client, entra, sp, sso, alice, tenant):
    make_person(tenant, "mallory@contoso.com", password=None)
    signed = xml_of(entra.response(name_id="mallory@contoso.com", sp=sp, sign="response"))
    forged_assertion = entra.assertion_xml(name_id=NAME, audience=sp.entity_id, recipient=sp.acs_url)
    original_assertion = re.search(r"<Assertion .*?</Assertion>", signed, re.S).group(0)
    wrapped = signed.replace(original_assertion, forged_assertion)
    assert_refused(client, post_acs(client, sp, encode(wrapped)), ("signature", "wrapping"))


# --- conditions --------------------------------------------------------------------------

def test_another_tenants_audience_is_refused(client, entra, sp, sso, alice, other_sso):
    other = sp_for_config(other_sso)
    saml = entra.response(name_id=NAME, sp=sp, audience=other.entity_id)
    assert_refused(client, post_acs(client, sp, saml), "audience", 403)


def test_a_wrong_destination_is_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, destination="https://elsewhere.example/acs")
    assert_refused(client, post_acs(client, sp, saml), "destination", 403)


def test_a_wrong_recipient_is_refused(client, entra, sp, sso, alice):
    assertion = entra.sign(entra.assertion_xml(name_id=NAME, audience=sp.entity_id,
                                               recipient="https://elsewhere.example/acs"))
    xml = entra.response_xml(assertion=assertion, destination=sp.acs_url)
    assert_refused(client, post_acs(client, sp, encode(xml)), "recipient", 403)


def test_an_expired_assertion_is_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, issued=datetime.now(UTC) - timedelta(hours=2))
    assert_refused(client, post_acs(client, sp, saml), ("expired", "recipient"), 403)


def test_an_assertion_from_the_future_is_refused_beyond_five_minutes_of_skew(client, entra, sp, sso, alice):
    # The assertion's NotBefore is five minutes before its IssueInstant (as Entra does).
    saml = entra.response(name_id=NAME, sp=sp, issued=datetime.now(UTC) + timedelta(minutes=11))
    assert_refused(client, post_acs(client, sp, saml), ("not_yet_valid", "recipient"), 403)


def test_a_clock_a_few_minutes_ahead_is_tolerated(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, issued=datetime.now(UTC) + timedelta(minutes=8))
    assert post_acs(client, sp, saml).status_code == 303


def test_a_wrong_issuer_is_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, issuer="https://sts.windows.net/someone-else/")
    assert_refused(client, post_acs(client, sp, saml), "issuer", 403)


def test_a_status_other_than_success_is_refused(client, entra, sp, sso, alice):
    row = assert_refused(client, post_acs(client, sp, entra.failure_response(sp=sp)), "status", 403)
    assert "AADSTS50105" in row.detail or "RequestDenied" in row.detail or row.detail


# --- InResponseTo and replay ---------------------------------------------------------------

def test_an_in_response_to_we_never_issued_is_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp, in_response_to="ONELOGIN_never_sent")
    assert_refused(client, post_acs(client, sp, saml), "in_response_to_unknown", 403)


def test_a_request_is_answered_once(client, entra, sp, sso, alice):
    request = authn_request_from(client.get("/sso/acme/azure/")["Location"])
    first = entra.response(name_id=NAME, sp=sp, in_response_to=request.id)
    second = entra.response(name_id=NAME, sp=sp, in_response_to=request.id)
    assert post_acs(client, sp, first).status_code == 303
    client.logout()
    assert_refused(client, post_acs(client, sp, second), "in_response_to_answered", 403)


def test_an_expired_request_is_refused(client, entra, sp, sso, alice):
    request = authn_request_from(client.get("/sso/acme/azure/")["Location"])
    SsoAuthnRequest.objects.filter(request_id=request.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    saml = entra.response(name_id=NAME, sp=sp, in_response_to=request.id)
    assert_refused(client, post_acs(client, sp, saml), "in_response_to_unknown", 403)


def test_a_request_of_another_tenant_is_unknown_here(client, entra, other_entra, sp, sso, alice, other_sso):
    request = authn_request_from(client.get("/sso/globex/azure/")["Location"])
    saml = entra.response(name_id=NAME, sp=sp, in_response_to=request.id)
    assert_refused(client, post_acs(client, sp, saml), "in_response_to_unknown", 403)


def test_a_replayed_assertion_is_refused(client, entra, sp, sso, alice):
    saml = entra.response(name_id=NAME, sp=sp)
    assert post_acs(client, sp, saml).status_code == 303
    client.logout()
    assert_refused(client, post_acs(client, sp, saml), "replayed", 403)


def test_when_the_replay_store_is_down_the_sign_in_is_refused(client, entra, sp, sso, alice, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr("provisioning.sso.signin.cache.add", down)
    assert_refused(client, post_acs(client, sp, entra.response(name_id=NAME, sp=sp)),
                   "replay_store_unavailable", 503)


# --- hostile XML and bodies ------------------------------------------------------------------

@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE r [<!ENTITY x "alice">]>',
    '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
])
def test_doctypes_and_entities_are_refused(client, entra, sp, sso, alice, prolog):
    xml = xml_of(entra.response(name_id=NAME, sp=sp))
    assert_refused(client, post_acs(client, sp, encode(prolog + xml)), "forbidden_xml", 400)


@pytest.mark.parametrize("garbage", ["%%%not base64%%%", base64.b64encode(b"not xml at all").decode(),
                                     base64.b64encode(b"<unclosed").decode(), "AAAA"])
def test_garbage_is_refused_as_malformed(client, sp, sso, garbage):
    assert_refused(client, post_acs(client, sp, garbage), ("malformed", "schema"), 400)


def test_a_missing_saml_response_is_refused(client, sp, sso):
    assert_refused(client, client.post("/sso/acme/azure/acs/", {"RelayState": "/"}), "no_response", 400)


def test_an_oversized_body_gets_a_clear_413(client, sp, sso):
    response = client.post("/sso/acme/azure/acs/", {"SAMLResponse": "A" * (300 * 1024)})
    assert_refused(client, response, "too_large", 413)


def test_an_unconfigured_or_unknown_acs_is_a_plain_404(client, entra, tenant):
    from provisioning.sso.saml import service_provider

    sp = service_provider(tenant_slug="acme", kind="azure")
    response = client.post("/sso/acme/azure/acs/", {"SAMLResponse": entra.response(name_id=NAME, sp=sp)})
    assert response.status_code == 404
    assert client.post("/sso/nobody/azure/acs/", {"SAMLResponse": "x"}).status_code == 404
    assert client.post("/sso/acme/nokind/acs/", {"SAMLResponse": "x"}).status_code == 404
    assert client.get("/sso/acme/azure/acs/").status_code == 405


def test_a_deactivated_integration_signs_nobody_in(client, entra, sp, sso, alice):
    from provisioning.models import Integration

    Integration.objects.filter(pk=sso.integration_id).update(state=Integration.State.INACTIVE)
    assert_refused(client, post_acs(client, sp, entra.response(name_id=NAME, sp=sp)), "integration_inactive")


# --- tenant walls -------------------------------------------------------------------------------

def test_a_response_for_tenant_a_posted_to_tenant_bs_acs_is_refused(client, entra, sp, sso, alice, other_tenant,
                                                                     other_entra):
    make_person(other_tenant, NAME, password=None)
    other_config = configure_sso(other_tenant, other_entra)
    other_sp = sp_for_config(other_config)
    saml = entra.response(name_id=NAME, sp=sp)  # tenant A's response, signed by A's Entra
    response = post_acs(client, other_sp, saml)
    assert response.status_code == 403
    assert not client.get("/").wsgi_request.user.is_authenticated
    row = SsoSignIn.objects.get()
    assert row.tenant_id == other_tenant.pk and row.reason in ("destination", "audience", "issuer", "signature")


def test_a_person_of_tenant_b_named_in_tenant_as_response_is_unknown(client, entra, sp, sso, other_tenant):
    make_person(other_tenant, "bob@globex.example", password=None)
    saml = entra.response(name_id="bob@globex.example", sp=sp)
    row = assert_refused(client, post_acs(client, sp, saml), "unknown_person", 403)
    assert row.tenant_id == sso.integration.tenant_id and row.person_id is None


def test_a_shared_entra_directory_cannot_cross_tenants_by_audience(client, entra, tenant, other_tenant):
    # Two SpaceIQ tenants as two apps in ONE Entra directory: same issuer and certificate.
    make_person(other_tenant, NAME, password=None)
    a = configure_sso(tenant, entra)
    b = configure_sso(other_tenant, entra)
    a_sp, b_sp = sp_for_config(a), sp_for_config(b)
    saml = entra.response(name_id=NAME, sp=a_sp, destination=b_sp.acs_url)  # audience still A's
    row = assert_refused(client, post_acs(client, b_sp, saml), "audience", 403)
    assert row.tenant_id == other_tenant.pk
