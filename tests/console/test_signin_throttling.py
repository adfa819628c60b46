"""Console sign-in is throttled per account and per address (django-axes); the
lockout expires, is shown on the sign-in page, and is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client

from directory.models import AuditEvent
from tests.conftest import PASSWORD, make_person

SIGN_IN = "/accounts/sign-in/"


def attempt(email: str, password: str, ip: str = "203.0.113.10", **headers) -> object:
    return Client(REMOTE_ADDR=ip).post(SIGN_IN, {"email": email, "password": password}, **headers)


def actions(tenant) -> list[str]:
    return list(AuditEvent.objects.filter(tenant=tenant, action__startswith="signin.")
                .order_by("occurred_at", "id").values_list("action", flat=True))


@pytest.fixture(autouse=True)
def limits(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60


def test_five_wrong_passwords_lock_the_account_and_the_lockout_is_audited(db, admin, tenant):
    statuses = [attempt(admin.user_name, "wrong-password").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]

    # Now even the right password is refused, with the lockout on the sign-in page.
    response = attempt(admin.user_name, PASSWORD)
    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    page = response.content.decode()
    assert "data-locked-out" in page and "Sign-in is paused for 15 minutes" in page
    assert "_auth_user_id" not in response.client.session

    # The lockout is recorded while the fifth password is being checked.
    assert actions(tenant) == ["signin.failed"] * 4 + ["signin.locked_out", "signin.failed"]
    locked = AuditEvent.objects.get(tenant=tenant, action="signin.locked_out")
    assert (locked.target_type, locked.target_id, locked.source_ip) == ("person", str(admin.pk), "203.0.113.10")
    assert locked.details == {"lockout_minutes": 15, "failure_limit": 5}


def test_the_lockout_expires_after_the_cool_off_even_if_the_attacker_keeps_trying(db, admin):
    for _ in range(5):
        attempt(admin.user_name, "wrong-password")
    for _ in range(3):  # refused during the lockout, and not counted
        assert attempt(admin.user_name, "wrong-password").status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=15, seconds=1))

    response = attempt(admin.user_name, PASSWORD)
    assert response.status_code == 302
    assert response.client.session["_auth_user_id"] == str(admin.pk)


def test_one_address_guessing_many_accounts_is_locked_out(db, admin, tenant):
    attacker = "198.51.100.20"
    for n in range(5):
        attempt(f"nobody{n}@acme.example", "guess", ip=attacker)
    assert attempt(admin.user_name, PASSWORD, ip=attacker).status_code == 429
    # The admin elsewhere is unaffected.
    assert attempt(admin.user_name, PASSWORD, ip="192.0.2.50").status_code == 302


def test_one_account_guessed_from_many_addresses_is_locked_out(db, admin, member):
    for n in range(5):
        attempt(admin.user_name, "wrong-password", ip=f"192.0.2.{n + 1}")
    assert attempt(admin.user_name, PASSWORD, ip="192.0.2.99").status_code == 429
    # Someone else signing in from one of those addresses is not locked out.
    assert attempt(member.user_name, PASSWORD, ip="192.0.2.1").status_code in (302, 200)


def test_changing_the_case_of_the_email_or_forging_x_forwarded_for_buys_no_attempts(db, admin):
    variants = [admin.user_name, admin.user_name.upper(), admin.user_name.title(), f" {admin.user_name} "]
    for n, email in enumerate([*variants, admin.user_name]):
        attempt(email, "wrong-password", ip="203.0.113.30", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert attempt(admin.user_name, PASSWORD, ip="192.0.2.77").status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.30"}
    assert set(AccessAttempt.objects.values_list("username", flat=True)) == {admin.user_name}


def test_sign_ins_are_audited(db, admin, tenant):
    assert attempt(admin.user_name, "wrong-password").status_code == 401
    assert attempt(admin.user_name, PASSWORD).status_code == 302
    assert actions(tenant) == ["signin.failed", "signin.succeeded"]
    succeeded = AuditEvent.objects.get(tenant=tenant, action="signin.succeeded")
    assert succeeded.actor_person_id == admin.pk and succeeded.source_ip == "203.0.113.10"
    failed = AuditEvent.objects.get(tenant=tenant, action="signin.failed")
    assert failed.actor_person_id is None and failed.details == {"account_active": True}
    assert all("password" not in str(e.details).lower() for e in AuditEvent.objects.all())


def test_signing_in_to_your_own_account_between_guesses_does_not_reset_them(db, admin, outsider):
    attacker = "198.51.100.66"
    for _ in range(2):
        for _ in range(2):
            assert attempt(admin.user_name, "guess", ip=attacker).status_code == 401
        assert attempt(outsider.user_name, PASSWORD, ip=attacker).status_code == 302
    assert attempt(admin.user_name, "guess", ip=attacker).status_code == 429


def test_a_failure_is_filed_with_every_tenant_the_email_belongs_to(db, admin, tenant, other_tenant):
    make_person(other_tenant, admin.user_name, admin=True)
    attempt(admin.user_name, "wrong-password")
    assert actions(tenant) == ["signin.failed"]
    assert actions(other_tenant) == ["signin.failed"]
    attempt("nobody@nowhere.example", "wrong-password")
    assert AuditEvent.objects.filter(action="signin.failed").count() == 2


def test_behind_trusted_proxies_each_client_has_its_own_budget(db, admin, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    proxy = "10.0.0.1"
    for n in range(5):
        attempt(f"nobody{n}@acme.example", "guess", ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.70")
    assert attempt(admin.user_name, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.70").status_code == 429
    # A colleague behind the same load balancer signs in.
    assert attempt(admin.user_name, PASSWORD, ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.71").status_code == 302
