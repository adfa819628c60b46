"""The SSO tab: what the admin sees and saves, enforcement, Test single sign-on, the SSO log."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from directory.models import AuditEvent, Person
from provisioning.models import SsoCertificate, SsoConfig, SsoSignIn
from tests.conftest import PASSWORD, make_person
from tests.console_helpers import enter_sudo
from tests.sso.conftest import configure_sso, post_acs, sp_for_config
from tests.sso.idp import SigningCertificate, authn_request_from

pytestmark = pytest.mark.django_db

SAVE = "/settings/integrations/azure/sso/"


@pytest.fixture
def sudo_admin(admin_client):
    enter_sudo(admin_client)
    return admin_client


def save(client, **fields):
    data = {"idp_entity_id": "", "certificate": "", "login_url": "", "metadata_xml": ""}
    data.update({k: v for k, v in fields.items() if v is not None})
    return client.post(SAVE, data)


def test_the_sso_tab_shows_our_values_and_the_entra_steps(admin_client, tenant):
    page = admin_client.get("/settings/integrations/azure/activate/")
    text = page.content.decode()
    for label in ("SAML Issuer URL", "X.509 Certificate", "Login URL", "SAML CallBack Endpoint URL",
                  "SAML Audience URI", "Sign-on URL", "Federation Metadata XML", "Require single sign-on",
                  "Save SSO settings", "Basic SAML Configuration", "Test this application", "Users and groups"):
        assert label in text, label
    assert "http://127.0.0.1:8000/sso/acme/azure/acs/" in text
    assert "http://127.0.0.1:8000/sso/acme/azure/metadata/" in text
    assert "does not offer single sign-on" not in text


def test_saving_sso_settings_with_a_pem_certificate(sudo_admin, entra, tenant):
    response = save(sudo_admin, idp_entity_id=entra.entity_id, certificate=entra.certificate.pem,
                    login_url=entra.login_url)
    assert response.status_code == 302
    config = SsoConfig.objects.get(integration__tenant=tenant, integration__kind="azure")
    cert = SsoCertificate.objects.get(config=config)
    assert (config.idp_entity_id, config.login_url, cert.thumbprint) == (
        entra.entity_id, entra.login_url, entra.certificate.thumbprint)
    assert AuditEvent.objects.filter(action="sso.certificate_added", tenant=tenant).exists()
    assert AuditEvent.objects.filter(action="sso.settings_updated", tenant=tenant).exists()
    # The admin sees what was saved on the tab: subject, thumbprint, expiry.
    page = sudo_admin.get(response["Location"]).content.decode()
    assert entra.certificate.thumbprint in page and "Microsoft Azure Federated SSO Certificate" in page
    assert "Test single sign-on" in page


def test_a_cer_file_whose_last_byte_reads_as_whitespace_is_read_whole():
    """A .cer file is binary: its last byte (the signature's) is a space's or a newline's value about
    once in 43 certificates, and stripping it cut the certificate short."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from provisioning.sso.certificates import certificate_read

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Microsoft Azure Federated SSO Certificate")])
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365)))
    for serial in range(1, 100_000):  # ECDSA signatures differ each time: one in 43 ends on such a byte
        der = builder.serial_number(serial).sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        if der[-1:].isspace():
            break
    assert der[-1:].isspace()
    assert certificate_read(der).thumbprint == hashlib.sha1(der, usedforsecurity=False).hexdigest().upper()


@pytest.mark.parametrize("shape", ["base64", "der_upload", "pem_upload"])
def test_certificates_are_accepted_in_every_shape_entra_offers(sudo_admin, entra, tenant, shape):
    fields = {"idp_entity_id": entra.entity_id}
    if shape == "base64":
        fields["certificate"] = "\n".join(re.findall(".{1,64}", entra.certificate.base64))
    elif shape == "der_upload":
        fields["certificate_file"] = SimpleUploadedFile("SpaceIQ.cer", entra.certificate.der)
    else:
        fields["certificate_file"] = SimpleUploadedFile("SpaceIQ.pem", entra.certificate.pem.encode())
    response = save(sudo_admin, **fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SsoCertificate.objects.get().thumbprint == entra.certificate.thumbprint


def test_federation_metadata_fills_issuer_certificates_and_login_url(sudo_admin, entra, tenant):
    upcoming = SigningCertificate.make()
    metadata = entra.federation_metadata(entra.certificate, upcoming)
    response = save(sudo_admin, metadata_file=SimpleUploadedFile("SpaceIQ.xml", metadata.encode()))
    assert response.status_code == 302
    config = SsoConfig.objects.get()
    assert (config.idp_entity_id, config.login_url) == (entra.entity_id, entra.login_url)
    assert set(SsoCertificate.objects.values_list("thumbprint", flat=True)) == {
        entra.certificate.thumbprint, upcoming.thumbprint}


@pytest.mark.parametrize("fields, field, message", [
    ({"idp_entity_id": "not a url", "certificate": "PEM"}, "idp_entity_id", "Enter a URL"),
    ({"idp_entity_id": "https://sts.windows.net/x/", "certificate": "not a certificate"}, "certificate",
     "not an X.509 certificate"),
    ({"idp_entity_id": "https://sts.windows.net/x/", "certificate": base64.b64encode(b"0garbage").decode()},
     "certificate", "could not be parsed"),
    ({"idp_entity_id": "https://sts.windows.net/x/", "certificate": "-----BEGIN PRIVATE KEY-----\nAAAA\n"
      "-----END PRIVATE KEY-----"}, "certificate", "private key, not an X.509 certificate"),
    ({"idp_entity_id": "https://sts.windows.net/x/", "certificate": "PEM", "login_url": "http://insecure/"},
     "login_url", "https://"),
    ({"idp_entity_id": "https://sts.windows.net/x/"}, "certificate", "Add the certificate"),
    ({"metadata_xml": "<html>nope"}, "metadata_xml", "not SAML federation metadata"),
    ({"metadata_xml": '<!DOCTYPE x [<!ENTITY a "b">]><x/>'}, "metadata_xml", "DOCTYPE"),
])
def test_bad_values_are_shown_next_to_their_field_and_nothing_is_saved(sudo_admin, entra, tenant, fields, field,
                                                                       message):
    fields = {k: (entra.certificate.pem if v == "PEM" else v) for k, v in fields.items()}
    response = save(sudo_admin, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["sso_form"].errors[field]
    assert not SsoCertificate.objects.exists()
    assert not SsoConfig.objects.exclude(idp_entity_id="").exists()


def test_an_expired_certificate_is_refused(sudo_admin, entra, tenant):
    old = SigningCertificate.make(valid_days=-1, not_before_days=-400)
    response = save(sudo_admin, idp_entity_id=entra.entity_id, certificate=old.pem)
    assert response.status_code == 400
    assert "This certificate expired on" in response.content.decode()


def test_two_certificates_at_most_for_a_rollover(sudo_admin, entra, tenant):
    configure_sso(tenant, entra)
    second, third = SigningCertificate.make(), SigningCertificate.make()
    assert save(sudo_admin, idp_entity_id=entra.entity_id, certificate=second.pem,
                login_url=entra.login_url).status_code == 302
    assert SsoCertificate.objects.count() == 2
    response = save(sudo_admin, idp_entity_id=entra.entity_id, certificate=third.pem, login_url=entra.login_url)
    assert response.status_code == 400
    assert "at most two certificates" in response.content.decode()
    first = SsoCertificate.objects.get(thumbprint=entra.certificate.thumbprint)
    removed = sudo_admin.post(f"/settings/integrations/azure/sso/certificates/{first.pk}/remove/")
    assert removed.status_code == 302
    assert list(SsoCertificate.objects.values_list("thumbprint", flat=True)) == [second.thumbprint]
    assert AuditEvent.objects.filter(action="sso.certificate_removed").exists()


def test_both_certificates_are_trusted_during_a_rollover(client, entra, tenant):
    from directory.audit import Actor
    from provisioning.sso import services
    from provisioning.sso.certificates import certificate_read

    make_person(tenant, "alice@contoso.com", password=None)
    config = configure_sso(tenant, entra)
    upcoming = SigningCertificate.make()
    services.sso_settings_save(integration=config.integration, actor=Actor.system("test"),
                               idp_entity_id=entra.entity_id, login_url="", require_sso=False,
                               create_people=False, certificates=[certificate_read(upcoming.pem)])
    sp = sp_for_config(config)
    for cert in (entra.certificate, upcoming):
        client.logout()
        assert post_acs(client, sp, entra.response(name_id="alice@contoso.com", sp=sp, certificate=cert)
                        ).status_code == 303


def test_saving_needs_a_recent_password(admin_client, entra, tenant):
    response = save(admin_client, idp_entity_id=entra.entity_id, certificate=entra.certificate.pem)
    assert response.status_code == 200 and "sudo_password" in response.content.decode()
    assert not SsoCertificate.objects.exists()
    confirmed = admin_client.post(SAVE, {"idp_entity_id": entra.entity_id, "certificate": entra.certificate.pem,
                                         "login_url": "", "metadata_xml": "", "sudo_password": PASSWORD})
    assert confirmed.status_code == 302 and SsoCertificate.objects.exists()


def test_saving_from_the_activation_dialog_returns_to_it_with_the_same_draft(sudo_admin, entra, tenant):
    from tests.console_helpers import draft_id

    dialog = sudo_admin.get("/settings/integrations/azure/activate/")
    draft = draft_id(dialog.content)
    response = sudo_admin.post(SAVE, {"idp_entity_id": entra.entity_id, "certificate": entra.certificate.pem,
                                      "login_url": "", "metadata_xml": "", "dialog": "1", "draft": draft})
    assert response.status_code == 302
    assert response["Location"] == f"/settings/integrations/azure/activate/?tab=sso&draft={draft}"
    back = sudo_admin.get(response["Location"])
    assert back.status_code == 200 and back.context["selected_tab"] == "sso"
    assert back.context["draft"].pk == int(draft) and back.context["raw_token"] is None
    activated = sudo_admin.post("/settings/integrations/azure/activate/",
                                {"draft": draft, "notification_email": "it@acme.example"})
    assert activated.status_code == 302


# --- Require single sign-on ------------------------------------------------------------------

def password_sign_in(client, email: str):
    return client.post("/accounts/sign-in/", {"email": email, "password": PASSWORD})


def test_require_sso_refuses_password_sign_in_for_people_but_not_admins(client, entra, tenant, admin, member):
    configure_sso(tenant, entra, require_sso=True)
    refused = password_sign_in(client, member.user_name)
    assert refused.status_code == 403
    assert "signs in with single sign-on" in refused.content.decode()
    assert not client.get("/").wsgi_request.user.is_authenticated
    assert AuditEvent.objects.filter(action="signin.refused", target_id=str(member.pk)).exists()
    assert password_sign_in(client, admin.user_name).status_code == 302  # the way back in
    assert client.get("/").wsgi_request.user == admin


def test_require_sso_off_again_restores_passwords(client, entra, tenant, member):
    configure_sso(tenant, entra, require_sso=True)
    configure_sso(tenant, entra, require_sso=False)
    assert password_sign_in(client, member.user_name).status_code == 302


def test_require_sso_cannot_lock_the_tenant_out(client, entra, tenant, admin):
    # The only admin has no password (say, provisioned and made admin): requiring SSO is refused.
    Person.objects.filter(pk=admin.pk).update(password="!unusable")
    client.force_login(Person.objects.get(pk=admin.pk))
    enter_sudo(client)
    response = save(client, idp_entity_id=entra.entity_id, certificate=entra.certificate.pem,
                    require_sso="on")
    assert response.status_code == 400
    assert "no active administrator of this organisation has a password" in response.content.decode()
    assert not SsoConfig.objects.filter(require_sso=True).exists()


def test_require_sso_needs_sso_set_up(sudo_admin, tenant):
    response = save(sudo_admin, require_sso="on")
    assert response.status_code == 400
    assert "Finish setting up single sign-on before you require it" in response.content.decode()


def test_require_sso_in_one_tenant_leaves_others_alone(client, entra, tenant, other_tenant):
    configure_sso(tenant, entra, require_sso=True)
    outside = make_person(other_tenant, "bo@globex.example")
    assert password_sign_in(client, outside.user_name).status_code == 302


# --- Test single sign-on -----------------------------------------------------------------------

def test_test_single_sign_on_shows_what_entra_sent_without_touching_the_session(admin_client, entra, tenant, admin):
    client = Client()  # the browser's cross-site POST from Entra carries no SpaceIQ cookie
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    session_before = admin_client.cookies["sessionid"].value
    started = admin_client.post("/settings/integrations/azure/sso/test/")
    assert started.status_code == 302 and started["Location"].startswith(entra.login_url)
    request = authn_request_from(started["Location"])
    assert 'ForceAuthn="true"' in request.xml
    # Entra posts back from the browser: a cross-site POST that carries no SpaceIQ cookie.
    answer = post_acs(client, sp, entra.response(name_id=admin.user_name, sp=sp, in_response_to=request.id))
    assert answer.status_code == 303
    assert not client.get("/").wsgi_request.user.is_authenticated  # nobody was signed in
    result = admin_client.get(answer["Location"])
    assert result.status_code == 200
    text = result.content.decode()
    assert "Passed" in text and admin.user_name in text
    assert "givenname" in text and entra.entity_id in text
    assert all(check["state"] == "passed" for check in result.context["details"]["checks"])
    assert admin_client.cookies["sessionid"].value == session_before
    assert admin_client.get("/").wsgi_request.user == admin
    row = SsoSignIn.objects.get()
    assert (row.flow, row.outcome, row.person_id) == ("test", "tested", admin.pk)


def test_a_failing_test_names_the_failed_check(admin_client, entra, tenant, admin):
    client = Client()
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    request = authn_request_from(admin_client.post("/settings/integrations/azure/sso/test/")["Location"])
    wrong = entra.response(name_id=admin.user_name, sp=sp, in_response_to=request.id,
                           certificate=SigningCertificate.make())
    result = admin_client.get(post_acs(client, sp, wrong)["Location"])
    text = result.content.decode()
    assert "Failed" in text and "did not sign this response" in text
    states = {c["key"]: c["state"] for c in result.context["details"]["checks"]}
    assert states["signature"] == "failed" and states["person"] == "not_checked"


def test_test_needs_a_login_url(admin_client, entra, tenant):
    configure_sso(tenant, entra, login_url=False)
    response = admin_client.post("/settings/integrations/azure/sso/test/", follow=True)
    assert "the test starts at your identity provider" in response.content.decode()


# --- SSO log ------------------------------------------------------------------------------------

def test_the_sso_log_lists_attempts_with_reasons_in_plain_words_and_filters(admin_client, entra, tenant):
    client = Client()
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    make_person(tenant, "alice@contoso.com", password=None)
    post_acs(client, sp, entra.response(name_id="alice@contoso.com", sp=sp))
    client.logout()
    post_acs(client, sp, entra.response(name_id="alice@contoso.com", sp=sp, certificate=SigningCertificate.make()))
    page = admin_client.get("/settings/integrations/azure/sso-log/")
    text = page.content.decode()
    assert "Signed in" in text and "Refused" in text
    assert "Entra may have rolled over its signing certificate" in text
    refused = admin_client.get("/settings/integrations/azure/sso-log/", {"outcome": "refused"})
    assert [r.outcome for r, _ in refused.context["rows"]] == ["refused"]
    reference = SsoSignIn.objects.get(outcome="refused").reference
    found = admin_client.get("/settings/integrations/azure/sso-log/", {"q": reference})
    assert [r.reference for r, _ in found.context["rows"]] == [reference]


# --- tenant walls ----------------------------------------------------------------------------

def test_an_outsider_admin_reaches_none_of_acmes_sso(client, entra, other_entra, tenant, outsider, admin):
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    make_person(tenant, "alice@contoso.com", password=None)
    post_acs(client, sp, entra.response(name_id="alice@contoso.com", sp=sp))
    reference = SsoSignIn.objects.get().reference
    cert = SsoCertificate.objects.get()
    outsider_client = type(client)()
    outsider_client.force_login(outsider)
    enter_sudo(outsider_client)
    # Their own tenant's pages never show Acme's data.
    log = outsider_client.get("/settings/integrations/azure/sso-log/")
    assert log.status_code == 404 or reference not in log.content.decode()
    assert outsider_client.get(f"/settings/integrations/azure/sso/tests/{reference}/").status_code == 404
    assert outsider_client.post(
        f"/settings/integrations/azure/sso/certificates/{cert.pk}/remove/").status_code == 404
    assert SsoCertificate.objects.filter(pk=cert.pk).exists()
    # Saving SSO settings writes the outsider's own tenant, never Acme's.
    save(outsider_client, idp_entity_id=other_entra.entity_id, certificate=other_entra.certificate.pem)
    config.refresh_from_db()
    assert config.idp_entity_id == entra.entity_id
    assert SsoConfig.objects.get(integration__tenant=outsider.tenant).idp_entity_id == other_entra.entity_id


def test_members_cannot_open_the_sso_tab_or_log(client, member, tenant, entra):
    configure_sso(tenant, entra)
    client.force_login(member)
    for url in ("/settings/integrations/azure/sso-log/", "/settings/integrations/azure/"):
        assert client.get(url).status_code == 403
    assert client.post(SAVE, {}).status_code == 403
    assert client.post("/settings/integrations/azure/sso/test/").status_code == 403


def test_the_sign_on_url_of_an_unconfigured_integration_is_a_plain_page(client, tenant):
    response = client.get(urlsplit("http://x/sso/acme/azure/").path)
    assert response.status_code == 404
    assert "did not work this time" in response.content.decode()
