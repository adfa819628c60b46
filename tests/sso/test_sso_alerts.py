"""SSO alerts: certificate expiry notices at 30, 7 and 1 days, and the failure / recovery state machine.

Each notice is claimed once whatever how often (or how concurrently) the checks
run; refusals about one person never count as single sign-on failing.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from directory.audit import Actor
from directory.models import AuditEvent
from provisioning import services as provisioning_services
from provisioning.models import Notification, SsoConfig, SsoSignIn
from provisioning.sso import alerts, services
from provisioning.sso.certificates import certificate_read
from provisioning.sso.reasons import REASONS
from tests.conftest import make_person
from tests.scim_traffic import active_integration
from tests.sso.conftest import configure_sso, post_acs, sp_for_config
from tests.sso.idp import EntraIdP, SigningCertificate

ADA = Actor(label="Ada Admin (ada.admin@acme.example)", source_ip="198.51.100.4")
IDP = Actor(label="Microsoft Entra ID (single sign-on)", source_ip="20.190.128.9")
DAY = timedelta(days=1)


# --- Fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def expiring_soon() -> SigningCertificate:
    """Entra's signing certificate, 40 days from its end (RSA keys are slow: one per module)."""
    return SigningCertificate.make(valid_days=40)


@pytest.fixture(scope="module")
def successor() -> SigningCertificate:
    return SigningCertificate.make(valid_days=3 * 365)


@pytest.fixture
def integration(tenant, admins):
    return active_integration(tenant)  # Notification Email ops@acme.example, notify on failure


@pytest.fixture
def sso(tenant, integration, expiring_soon):
    return configure_sso(tenant, EntraIdP(certificate=expiring_soon))


def notices(kind: str | None = None) -> list[Notification]:
    rows = Notification.objects.order_by("id")
    return list(rows.filter(kind=kind) if kind else rows.filter(kind__startswith="sso_"))


def certificates_set(config, *certs: SigningCertificate, replace: bool = False) -> None:
    services.sso_settings_save(
        integration=config.integration, actor=ADA, idp_entity_id=config.idp_entity_id, login_url=config.login_url,
        require_sso=False, create_people=False, certificates=[certificate_read(c.pem) for c in certs],
        replace_certificates=replace,
    )


@pytest.fixture
def enqueued(monkeypatch):
    """The tasks the sign-in path queues (on commit), instead of sending them to Redis."""
    calls = []
    monkeypatch.setattr(alerts, "_enqueue_on_commit", lambda name, *args, countdown: calls.append((name, args)))
    return calls


def loaded(config) -> SsoConfig:
    """The configuration as a POST to the ACS URL loads it."""
    return SsoConfig.objects.select_related("integration__tenant").get(pk=config.pk)


def record(config, outcome: str = "refused", reason: str = "signature", flow: str = "idp") -> SsoSignIn:
    return services.sso_signin_record(
        config=config, actor=IDP, flow=flow, outcome=outcome, reason="" if outcome != "refused" else reason,
        name_id="alice.smith@contoso.com",
    )


def signin(config, outcome: str = "refused", reason: str = "signature", flow: str = "idp") -> SsoSignIn:
    """One SSO log row; the configuration is loaded afresh, as each sign-in does."""
    return record(loaded(config), outcome, reason, flow)


def succeeded(config) -> SsoSignIn:
    return signin(config, outcome="succeeded")


def reload(config) -> SsoConfig:
    return SsoConfig.objects.get(pk=config.pk)


# --- Certificate expiry ------------------------------------------------------------------


@pytest.mark.parametrize(("left", "expected"), [
    (timedelta(days=31), None), (timedelta(days=30), 30), (timedelta(days=8), 30), (timedelta(days=7), 7),
    (timedelta(days=2), 7), (DAY, 1), (timedelta(hours=1), 1), (timedelta(0), alerts.EXPIRED),
    (-timedelta(days=400), alerts.EXPIRED),
])
def test_the_most_urgent_threshold_reached(left, expected):
    now = timezone.now()
    assert alerts.expiry_threshold(not_after=now + left, now=now) == expected


@pytest.mark.django_db
def test_each_threshold_is_sent_once_as_the_days_pass(sso, expiring_soon):
    not_after = expiring_soon.cert.not_valid_after_utc
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=31)) == 0
    for days_left, expected_subject in [
        (30, "expires in 30 days"), (7, "expires in 7 days"), (1, "expires within a day"),
    ]:
        now = not_after - timedelta(days=days_left) + timedelta(minutes=5)
        assert alerts.certificate_expiry_check(now=now) == 1
        # Hourly runs (and retries) until the next threshold: nothing new.
        assert alerts.certificate_expiry_check(now=now) == 0
        assert alerts.certificate_expiry_check(now=now + timedelta(hours=1)) == 0
        assert notices("sso_certificate_expiring")[-1].subject == (
            f"Azure single sign-on for Acme Corp: the signing certificate {expected_subject}")
    assert alerts.certificate_expiry_check(now=not_after + timedelta(minutes=1)) == 1
    assert alerts.certificate_expiry_check(now=not_after + timedelta(days=30)) == 0
    [expired] = notices("sso_certificate_expired")
    assert expired.subject == "Azure single sign-on for Acme Corp: the signing certificate has expired"
    assert "This is the last reminder about this certificate." in expired.body_text
    thumb = expiring_soon.thumbprint
    assert [n.dedupe_key for n in notices()] == [
        f"sso-cert-expiry:{sso.pk}:{thumb}:{threshold}" for threshold in (30, 7, 1, 0)]


@pytest.mark.django_db
def test_the_notice_says_which_certificate_what_happens_and_what_to_do(sso, expiring_soon):
    not_after = expiring_soon.cert.not_valid_after_utc
    alerts.certificate_expiry_check(now=not_after - timedelta(days=6, hours=12))
    [notice] = notices()
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example", "ops@acme.example"]
    assert notice.tenant_id == sso.integration.tenant_id
    assert notice.subject == "Azure single sign-on for Acme Corp: the signing certificate expires in 7 days"
    text = notice.body_text
    assert "Microsoft Entra ID" in text and "Azure integration of Acme Corp" in text
    assert "CN=Microsoft Azure Federated SSO Certificate" in text
    assert expiring_soon.thumbprint in text
    assert f"{not_after:%-d %b %Y, %H:%M} UTC" in text
    assert "sign-ins signed with it are refused" in text
    assert "create a new signing certificate" in text and "Do not make it active yet." in text
    assert "SpaceIQ trusts two certificates at once" in text
    assert f"Remove the old certificate (thumbprint {expiring_soon.thumbprint})" in text
    assert "SSO tab: http://127.0.0.1:8000/settings/integrations/azure/?tab=sso" in text
    assert 'href="http://127.0.0.1:8000/settings/integrations/azure/?tab=sso"' in notice.body_html
    assert expiring_soon.thumbprint in notice.body_html


@pytest.mark.django_db
def test_a_late_check_sends_only_the_most_urgent_notice(sso, expiring_soon):
    """The check did not run while 30 days were left: the 7-day notice alone, never a stale 30-day one."""
    not_after = expiring_soon.cert.not_valid_after_utc
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=5)) == 1
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=5)) == 0
    [notice] = notices()
    assert notice.dedupe_key.endswith(":7") and "expires in 5 days" in notice.subject


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_send_each_notice_once(sso, expiring_soon):
    now = expiring_soon.cert.not_valid_after_utc - timedelta(days=20)
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(alerts.certificate_expiry_check(now=now))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(results) == 1
    assert len(notices("sso_certificate_expiring")) == 1


@pytest.mark.django_db
def test_a_removed_certificate_gets_no_more_notices(sso, expiring_soon, successor):
    not_after = expiring_soon.cert.not_valid_after_utc
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=29)) == 1
    [old] = sso.certificates.all()
    assert services.sso_certificate_remove(integration=sso.integration, actor=ADA, certificate_id=old.pk)
    certificates_set(sso, successor)
    for days_left in (6, 0.5, -1):
        assert alerts.certificate_expiry_check(now=not_after - timedelta(days=days_left)) == 0
    assert len(notices()) == 1


@pytest.mark.django_db
def test_a_certificate_replaced_from_federation_metadata_gets_no_more_notices(sso, expiring_soon, successor):
    not_after = expiring_soon.cert.not_valid_after_utc
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=29)) == 1
    certificates_set(sso, successor, replace=True)
    assert alerts.certificate_expiry_check(now=not_after - timedelta(days=6)) == 0
    assert len(notices()) == 1


@pytest.mark.django_db
def test_removing_and_adding_the_same_certificate_again_repeats_no_notice(sso, expiring_soon):
    not_after = expiring_soon.cert.not_valid_after_utc
    now = not_after - timedelta(days=6)
    assert alerts.certificate_expiry_check(now=now) == 1
    [old] = sso.certificates.all()
    services.sso_certificate_remove(integration=sso.integration, actor=ADA, certificate_id=old.pk)
    certificates_set(sso, expiring_soon)
    assert alerts.certificate_expiry_check(now=now) == 0
    assert alerts.certificate_expiry_check(now=not_after - timedelta(hours=3)) == 1  # the 1-day notice still comes


@pytest.mark.django_db
def test_with_a_newer_certificate_trusted_the_notice_says_to_make_it_active(sso, expiring_soon, successor):
    certificates_set(sso, successor)  # added beside the old one, as the SSO tab advises
    alerts.certificate_expiry_check(now=expiring_soon.cert.not_valid_after_utc - timedelta(days=6))
    [notice] = notices()  # about the old one only: the newer one is years away
    assert expiring_soon.thumbprint in notice.subject + notice.body_text
    assert "SpaceIQ already trusts a newer certificate" in notice.body_text
    assert f"make the newer certificate (thumbprint {successor.thumbprint}) the active" in notice.body_text
    assert "create a new signing certificate" not in notice.body_text


@pytest.mark.django_db
def test_a_deactivated_integration_gets_no_notice(sso, expiring_soon):
    provisioning_services.integration_deactivate(integration=sso.integration, actor=ADA)
    Notification.objects.all().delete()  # the deactivation notice
    not_after = expiring_soon.cert.not_valid_after_utc
    for days_left in (29, 6, 0.5, -1):
        assert alerts.certificate_expiry_check(now=not_after - timedelta(days=days_left)) == 0
    assert notices() == []


@pytest.mark.django_db
def test_a_pending_integration_with_sso_is_reminded(tenant, admin, expiring_soon):
    """SSO works before provisioning is activated, so its certificate matters as much."""
    config = configure_sso(tenant, EntraIdP(certificate=expiring_soon), activate=False)
    assert config.integration.state == "pending"
    assert alerts.certificate_expiry_check(now=expiring_soon.cert.not_valid_after_utc - timedelta(days=6)) == 1
    [notice] = notices()
    assert notice.to == ["ada.admin@acme.example"]  # no Notification Email set yet


@pytest.mark.django_db
def test_each_tenant_hears_about_its_own_certificate_only(sso, expiring_soon, other_tenant, outsider, successor):
    configure_sso(other_tenant, EntraIdP(certificate=successor))
    other_config = configure_sso(other_tenant, EntraIdP(certificate=SigningCertificate.make(valid_days=5)),
                                 kind="okta")
    now = expiring_soon.cert.not_valid_after_utc - timedelta(days=6)
    assert alerts.certificate_expiry_check(now=now) == 2
    by_tenant = {n.tenant_id: n for n in notices()}
    assert by_tenant[sso.integration.tenant_id].to == [
        "ada.admin@acme.example", "sam.second@acme.example", "ops@acme.example"]
    assert by_tenant[other_tenant.pk].to == ["olga.outsider@globex.example"]
    assert by_tenant[other_tenant.pk].subject.startswith("Okta single sign-on for Globex Corporation")
    assert str(other_config.pk) in by_tenant[other_tenant.pk].dedupe_key


@pytest.mark.django_db
def test_the_notification_email_of_an_admin_is_not_sent_twice(tenant, admins, expiring_soon):
    integration = active_integration(tenant, email="Ada.Admin@acme.example")
    configure_sso(tenant, EntraIdP(certificate=expiring_soon))
    alerts.certificate_expiry_check(now=expiring_soon.cert.not_valid_after_utc - timedelta(days=6))
    [notice] = notices()
    assert integration.notification_email == "Ada.Admin@acme.example"
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]


# --- Failures: the sign-in path ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_burst_of_refusals_claims_one_summary(sso, enqueued):
    for _ in range(50):
        signin(sso)
    assert [name for name, _ in enqueued] == ["sso_failure_summary_send"]
    fresh = reload(sso)
    assert fresh.failing_since is not None and fresh.failure_summary_at is not None
    assert fresh.recovered_at is None


@pytest.mark.django_db
def test_healthy_sign_ins_and_mid_burst_refusals_cost_no_alerting_query(sso, enqueued):
    def alerting_queries(outcome: str) -> list[str]:
        config = loaded(sso)
        with CaptureQueriesContext(connection) as queries:
            record(config, outcome)
        return [q["sql"] for q in queries.captured_queries if "failing_since" in q["sql"] or "recovered_at" in q["sql"]]

    assert alerting_queries("succeeded") == []
    assert len(alerting_queries("refused")) == 1  # the first refusal claims the summary
    assert alerting_queries("refused") == []
    assert alerting_queries("refused") == []


@pytest.mark.parametrize("reason", sorted(alerts.NOT_COUNTED_REASONS))
@pytest.mark.django_db
def test_refusals_about_one_person_or_spaceiqs_own_cache_do_not_count(sso, enqueued, reason):
    for _ in range(5):
        signin(sso, reason=reason)
    assert enqueued == []
    assert reload(sso).failing_since is None


@pytest.mark.django_db
def test_test_single_sign_on_neither_fails_nor_recovers(sso, enqueued):
    for _ in range(5):
        signin(sso, flow="test")
    assert enqueued == [] and reload(sso).failing_since is None
    signin(sso)
    signin(sso, outcome="tested", flow="test")
    assert reload(sso).recovered_at is None


@pytest.mark.django_db
def test_real_responses_feed_the_state(client, tenant, integration, enqueued):
    entra = EntraIdP()
    config = configure_sso(tenant, entra)
    sp = sp_for_config(config)
    make_person(tenant, "alice.smith@contoso.com", password=None)
    # Nobody called Bob exists here: a person's problem, not single sign-on's.
    post_acs(client, sp, entra.response(name_id="bob@contoso.com", sp=sp))
    assert enqueued == [] and reload(config).failing_since is None
    # Entra rolled over its certificate and SpaceIQ does not trust the new one yet.
    rolled_over = entra.response(name_id="alice.smith@contoso.com", sp=sp, certificate=SigningCertificate.make())
    assert post_acs(client, sp, rolled_over).status_code == 403
    assert SsoSignIn.objects.order_by("-id").first().reason == "signature"
    assert [name for name, _ in enqueued] == ["sso_failure_summary_send"]
    assert post_acs(client, sp, entra.response(name_id="alice.smith@contoso.com", sp=sp)).status_code == 303
    assert [name for name, _ in enqueued] == ["sso_failure_summary_send", "sso_recovery_notice_send"]


@pytest.mark.django_db
def test_a_deactivated_integration_is_not_summarised(sso, enqueued):
    provisioning_services.integration_deactivate(integration=sso.integration, actor=ADA)
    for _ in range(3):
        signin(sso, reason="integration_inactive")
    assert enqueued == [] and reload(sso).failing_since is None


@pytest.mark.django_db
def test_alerting_errors_never_refuse_a_sign_in(sso, monkeypatch):
    def broken(*args):
        raise RuntimeError("template missing")

    monkeypatch.setattr(alerts, "_note_failure", broken)
    row = signin(sso)
    assert SsoSignIn.objects.filter(pk=row.pk).exists()
    assert AuditEvent.objects.filter(action="sso.signin_refused", details__reference=row.reference).exists()


# --- Failures: summaries and recovery -----------------------------------------------------------


@pytest.mark.django_db
def test_the_summary_counts_by_reason_in_plain_words_and_covers_each_refusal_once(sso, enqueued, clock):
    for _ in range(4):
        signin(sso, reason="signature")
    signin(sso, reason="audience")
    signin(sso, reason="unknown_person")  # not counted
    last = signin(sso, reason="signature")
    clock.advance(seconds=60)
    notification = alerts.failure_summary_send(config_id=sso.pk)
    assert notification is not None
    assert notification.to == ["ada.admin@acme.example", "sam.second@acme.example", "ops@acme.example"]
    assert notification.subject == "Azure single sign-on is failing for Acme Corp: 6 sign-ins refused"
    text = notification.body_text
    assert f"5 refused: {REASONS['signature'].admin}" in text
    assert f"1 refused: {REASONS['audience'].admin}" in text
    assert REASONS["unknown_person"].admin not in text
    assert last.reference in text
    assert "http://127.0.0.1:8000/settings/integrations/azure/sso-log/?outcome=refused" in text
    assert "http://127.0.0.1:8000/settings/integrations/azure/sso-log/?outcome=refused&amp;q=signature" in (
        notification.body_html)
    assert "http://127.0.0.1:8000/settings/integrations/azure/?tab=sso" in text
    # The same task again (a retry, a duplicate) finds nothing pending.
    assert alerts.failure_summary_send(config_id=sso.pk) is None
    assert len(notices("sso_failing")) == 1


@pytest.mark.django_db
def test_quiet_period_then_a_new_summary_if_refusals_continue(sso, enqueued, settings, clock):
    signin(sso)
    clock.advance(seconds=60)
    alerts.failure_summary_send(config_id=sso.pk)
    for _ in range(5):
        clock.advance(minutes=5)
        signin(sso)  # within the quiet period: nothing claimed
    assert len(enqueued) == 1
    clock.advance(minutes=settings.SSO_FAILURE_QUIET_MINUTES)
    signin(sso, reason="issuer")
    assert [name for name, _ in enqueued] == ["sso_failure_summary_send"] * 2
    clock.advance(seconds=60)
    second = alerts.failure_summary_send(config_id=sso.pk)
    # It reports what the first did not: the 5 quiet-period refusals and the new one.
    assert second.subject == "Azure single sign-on is failing for Acme Corp: 6 sign-ins refused"
    assert len(notices("sso_failing")) == 2


@pytest.mark.django_db
def test_no_failure_emails_when_notifications_are_off(tenant, admins, enqueued, expiring_soon):
    active_integration(tenant, notify=False)
    config = configure_sso(tenant, EntraIdP(certificate=expiring_soon))
    for _ in range(5):
        signin(config)
    assert enqueued == []
    assert reload(config).failing_since is not None
    succeeded(config)
    assert alerts.alerts_sweep(now=timezone.now() + timedelta(hours=2)) == 0
    assert notices("sso_failing") == notices("sso_recovered") == []


@pytest.mark.django_db
def test_recovery_is_announced_once_after_a_summary(sso, enqueued, clock):
    signin(sso)
    signin(sso)
    clock.advance(seconds=60)
    alerts.failure_summary_send(config_id=sso.pk)
    clock.advance(seconds=10)
    succeeded(sso)
    succeeded(sso)
    assert [name for name, _ in enqueued] == ["sso_failure_summary_send", "sso_recovery_notice_send"]
    recovered_at = reload(sso).recovered_at
    notification = alerts.recovery_notice_send(config_id=sso.pk, recovered_at=recovered_at)
    assert notification.subject == "Azure single sign-on recovered for Acme Corp"
    assert notification.to == ["ada.admin@acme.example", "sam.second@acme.example", "ops@acme.example"]
    assert "succeed again since" in notification.body_text and "(2 refused sign-ins)" in notification.body_text
    assert alerts.recovery_notice_send(config_id=sso.pk, recovered_at=recovered_at) is None
    fresh = reload(sso)
    assert fresh.failing_since is None and fresh.recovered_at is None


@pytest.mark.django_db
def test_a_refusal_before_the_recovery_is_confirmed_cancels_it(sso, enqueued, clock):
    signin(sso)
    clock.advance(seconds=60)
    alerts.failure_summary_send(config_id=sso.pk)
    clock.advance(seconds=10)
    succeeded(sso)
    recovered_at = reload(sso).recovered_at
    clock.advance(seconds=10)
    signin(sso)  # still failing after all
    assert alerts.recovery_notice_send(config_id=sso.pk, recovered_at=recovered_at) is None
    assert reload(sso).failing_since is not None
    assert notices("sso_recovered") == []


@pytest.mark.django_db
def test_a_refusal_the_sign_in_path_did_not_see_still_cancels_the_recovery(sso, enqueued, clock):
    """Two responses at once: the refusal's request loaded the configuration before the
    success claimed the recovery, so it skipped its write. The log still has the refusal."""
    signin(sso)
    stale = SsoConfig.objects.select_related("integration__tenant").get(pk=sso.pk)  # "failing", no recovery
    clock.advance(seconds=60)
    alerts.failure_summary_send(config_id=sso.pk)
    clock.advance(seconds=10)
    succeeded(sso)
    clock.advance(seconds=1)
    services.sso_signin_record(config=stale, actor=IDP, flow="idp", outcome="refused", reason="signature")
    assert reload(sso).recovered_at is not None  # the path did not clear it...
    clock.advance(minutes=30)
    assert alerts.alerts_sweep() == 0  # ...but the recovery is not announced
    assert reload(sso).recovered_at is None and reload(sso).failing_since is not None
    assert notices("sso_recovered") == []


@pytest.mark.django_db
def test_recovery_before_the_summary_sends_the_summary_first(sso, enqueued, clock):
    signin(sso)
    clock.advance(seconds=10)
    succeeded(sso)
    clock.advance(minutes=10)
    alerts.recovery_notice_send(config_id=sso.pk, recovered_at=reload(sso).recovered_at)
    assert [n.kind for n in notices()] == ["sso_failing", "sso_recovered"]


@pytest.mark.django_db
def test_the_sweep_sends_what_a_lost_enqueue_would_have(sso, monkeypatch, settings, clock):
    """Broker down: the enqueue fails silently, the sign-in goes on, the beat sweep catches up."""
    from provisioning import tasks

    def broker_down(*args, **kwargs):
        assert kwargs["retry"] is False  # a person at the browser never waits for a dead broker
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.sso_failure_summary_send, "apply_async", broker_down)
    monkeypatch.setattr(tasks.sso_recovery_notice_send, "apply_async", broker_down)
    with TestCase.captureOnCommitCallbacks(execute=True):
        signin(sso)
    assert notices() == []
    assert alerts.alerts_sweep() == 0  # not due yet
    clock.advance(seconds=settings.SSO_FAILURE_SUMMARY_DELAY_SECONDS + 1)
    assert alerts.alerts_sweep() == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        succeeded(sso)
    assert alerts.alerts_sweep() == 0  # a recovery is confirmed only after a calm period
    clock.advance(minutes=settings.SSO_RECOVERY_MINUTES, seconds=1)
    assert alerts.alerts_sweep() == 1
    assert [n.kind for n in notices()] == ["sso_failing", "sso_recovered"]
    assert alerts.alerts_sweep() == 0


@pytest.mark.django_db
def test_each_tenants_failures_stay_its_own(sso, enqueued, clock, other_tenant, outsider, successor):
    active_integration(other_tenant, email="it@globex.example")
    other = configure_sso(other_tenant, EntraIdP(certificate=successor))
    for _ in range(3):
        signin(sso)
    signin(other, reason="issuer")
    clock.advance(seconds=60)
    mine = alerts.failure_summary_send(config_id=sso.pk)
    theirs = alerts.failure_summary_send(config_id=other.pk)
    assert "3 sign-ins refused" in mine.subject and "olga.outsider@globex.example" not in mine.to
    assert theirs.to == ["olga.outsider@globex.example", "it@globex.example"]
    assert theirs.subject == "Azure single sign-on is failing for Globex Corporation: 1 sign-in refused"
    assert REASONS["signature"].admin not in theirs.body_text
