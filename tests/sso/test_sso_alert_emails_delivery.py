"""SSO alert emails travel the real path: SSO log / beat task → outbox → Redis → Celery
worker → SMTP (aiosmtpd on localhost), and each arrives exactly once."""

from __future__ import annotations

import time

import pytest
from django.db import connections

from directory.audit import Actor
from provisioning import tasks
from provisioning.models import Notification, SsoConfig
from provisioning.sso.certificates import certificate_read
from provisioning.sso.reasons import REASONS
from provisioning.sso.services import sso_settings_save, sso_signin_record
from tests.conftest import make_person
from tests.mail import notification_sent
from tests.processes import concurrently
from tests.scim_traffic import active_integration
from tests.sso.conftest import configure_sso, post_acs, sp_for_config
from tests.sso.idp import EntraIdP, SigningCertificate

pytestmark = pytest.mark.celery

RECIPIENTS = "ada.admin@acme.example, ops@acme.example"
ADA = Actor(label="Ada Admin (ada.admin@acme.example)", source_ip="198.51.100.4")


@pytest.fixture
def integration(tenant, admin):
    return active_integration(tenant)  # Notification Email ops@acme.example, notify on failure


def parts(message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk() if not part.is_multipart()
    }


def subject(message) -> str:
    """The Subject as a mail client shows it: a long one arrives folded (RFC 5322 §2.2.3)."""
    return message["Subject"].replace("\r\n", "").replace("\n", "")


def no_more_mail(smtp_server, expected: int, seconds: float = 3.0) -> None:
    time.sleep(seconds)
    assert len(smtp_server.messages) == expected, [m["Subject"] for m in smtp_server.messages]


def test_a_certificate_near_expiry_gets_one_notice(celery_worker, smtp_server, tenant, integration, settings):
    certificate = SigningCertificate.make(valid_days=6)
    configure_sso(tenant, EntraIdP(certificate=certificate))
    assert tasks.sso_certificate_expiry_check() == 1  # the beat task, called directly
    assert tasks.sso_certificate_expiry_check() == 0
    [message] = smtp_server.wait_for(1)
    assert message["To"] == RECIPIENTS
    assert message["From"] == settings.DEFAULT_FROM_EMAIL
    assert subject(message) == "Azure single sign-on for Acme Corp: the signing certificate expires in 6 days"
    body = parts(message)
    text = body["text/plain"]
    assert "Thumbprint:   " + certificate.thumbprint in text
    assert "CN=Microsoft Azure Federated SSO Certificate" in text
    assert f"{certificate.cert.not_valid_after_utc:%-d %b %Y, %H:%M} UTC" in text
    assert "sign-ins signed with it are refused" in text
    assert "SpaceIQ trusts two certificates at once" in text
    assert "http://127.0.0.1:8000/settings/integrations/azure/?tab=sso" in text
    assert 'href="http://127.0.0.1:8000/settings/integrations/azure/?tab=sso"' in body["text/html"]
    no_more_mail(smtp_server, 1)
    notification = notification_sent(Notification.objects.get(kind="sso_certificate_expiring").pk)
    assert notification.sent_at is not None and notification.attempts == 1


def test_failing_sign_ins_produce_one_summary_then_one_recovery(
    celery_worker, smtp_server, client, tenant, integration, settings
):
    settings.SSO_FAILURE_SUMMARY_DELAY_SECONDS = 3
    settings.SSO_RECOVERY_MINUTES = 0
    entra = EntraIdP()
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    make_person(tenant, "alice.smith@contoso.com", password=None)
    # Entra rolled its signing certificate over before SpaceIQ trusted the new one.
    rolled_over = SigningCertificate.make()
    for _ in range(3):
        response = post_acs(client, sp, entra.response(name_id="alice.smith@contoso.com", sp=sp,
                                                       certificate=rolled_over))
        assert response.status_code == 403
    # A person nobody provisioned: refused too, but not single sign-on failing.
    assert post_acs(client, sp, entra.response(name_id="bob@contoso.com", sp=sp)).status_code == 403
    [summary] = smtp_server.wait_for(1)
    assert summary["To"] == RECIPIENTS
    assert subject(summary) == "Azure single sign-on is failing for Acme Corp: 3 sign-ins refused"
    text = parts(summary)["text/plain"]
    assert f"3 refused: {REASONS['signature'].admin}" in text
    assert REASONS["unknown_person"].admin not in text
    assert "http://127.0.0.1:8000/settings/integrations/azure/sso-log/?outcome=refused" in text
    assert "http://127.0.0.1:8000/settings/integrations/azure/sso-log/" in parts(summary)["text/html"]
    assert "provisioning.tasks.sso_failure_summary_send" in celery_worker.log

    # The admin adds the new certificate; sign-ins work again.
    sso_settings_save(integration=config.integration, actor=ADA, idp_entity_id=entra.entity_id,
                      login_url=entra.login_url, require_sso=False, create_people=False,
                      certificates=[certificate_read(rolled_over.pem)])
    for _ in range(2):
        response = post_acs(client, sp, entra.response(name_id="alice.smith@contoso.com", sp=sp,
                                                       certificate=rolled_over))
        assert response.status_code == 303
        client.logout()
    summary, recovery = smtp_server.wait_for(2)
    assert recovery["To"] == RECIPIENTS
    assert subject(recovery) == "Azure single sign-on recovered for Acme Corp"
    assert "(3 refused sign-ins)" in parts(recovery)["text/plain"]
    no_more_mail(smtp_server, 2)
    for kind in ("sso_failing", "sso_recovered"):
        assert notification_sent(Notification.objects.get(kind=kind).pk).sent_at is not None
    fresh = SsoConfig.objects.get(pk=config.pk)
    assert fresh.failing_since is None and fresh.recovered_at is None


def test_concurrent_refusals_produce_one_summary(celery_worker, smtp_server, tenant, integration, settings):
    """Eight sign-in requests at a time, as at 9:00 after a certificate rollover."""
    settings.SSO_FAILURE_SUMMARY_DELAY_SECONDS = 6
    config = configure_sso(tenant, EntraIdP())
    idp = Actor(label="Microsoft Entra ID (single sign-on)", source_ip="20.190.128.9")
    started = time.monotonic()

    def burst(count: int) -> None:
        try:
            for _ in range(count):
                fresh = SsoConfig.objects.select_related("integration__tenant").get(pk=config.pk)
                sso_signin_record(config=fresh, actor=idp, flow="idp", outcome="refused", reason="signature")
        finally:
            connections.close_all()

    concurrently(burst, threads=8, args=(25,))
    burst_seconds = time.monotonic() - started
    [message] = smtp_server.wait_for(1, timeout=40)
    if burst_seconds < 4:  # the summary waited for the whole burst
        assert subject(message) == "Azure single sign-on is failing for Acme Corp: 200 sign-ins refused"
    no_more_mail(smtp_server, 1)
    assert Notification.objects.filter(kind="sso_failing").count() == 1
