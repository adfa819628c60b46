"""Deprovisioning a person ends every session they signed in with, at once, in the change's transaction.

A person signs in with a password (their own browser: a test client of its
own), the identity provider deactivates or deletes them over SCIM (Entra's
requests), and their next request finds no session: it is sent to sign in.
The audit event of the change says how many sessions it ended.

Committed data (``transaction=True``): the SCIM PATCH takes the optimistic
path, which runs outside any transaction in production; here too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from directory import services
from directory.audit import Actor
from directory.errors import StaleWrite
from directory.models import AuditEvent, Person, PersonSession
from tests.conftest import PASSWORD, make_person
from tests.entra import requests as entra

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor.system("test")
SIGN_IN = reverse("accounts:sign-in")


def signed_in(person) -> Client:
    """A browser of the person's own, signed in through the sign-in form."""
    browser = Client()
    response = browser.post(SIGN_IN, {"email": person.user_name, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    assert browser.get("/").status_code in (200, 302)
    assert browser.get(reverse("directory:my-profile")).status_code == 200
    return browser


def session_key(browser: Client) -> str:
    return browser.cookies["sessionid"].value


def is_signed_out(browser: Client) -> bool:
    response = browser.get("/")
    return response.status_code == 302 and response["Location"].startswith(SIGN_IN)


def event(action: str, person) -> AuditEvent:
    return AuditEvent.objects.filter(action=action, target_id=str(person.pk)).latest("id")


def test_a_sign_in_records_its_session_and_a_sign_out_forgets_it(member):
    browser = signed_in(member)
    key = session_key(browser)
    assert list(PersonSession.objects.values_list("session_key", "person_id")) == [(key, member.pk)]
    browser.post(reverse("accounts:sign-out"))
    assert not PersonSession.objects.exists() and not Session.objects.filter(session_key=key).exists()


def test_retention_forgets_records_of_sessions_that_expired_or_went(member):
    from provisioning.retention import retention_purge

    old, gone, other = signed_in(member), signed_in(member), signed_in(member)
    Session.objects.filter(session_key=session_key(old)).update(expire_date=timezone.now() - timedelta(seconds=1))
    Session.objects.filter(session_key=session_key(gone)).delete()  # clearsessions
    assert retention_purge()["session_records"] == 2
    assert list(PersonSession.objects.values_list("session_key", flat=True)) == [session_key(other)]


def test_deactivation_over_scim_ends_the_session(member, scim):
    browser = signed_in(member)
    key = session_key(browser)
    response = scim.patch(f"/Users/{member.pk}", entra.DISABLE_DEFAULT)
    assert response.status_code == 200 and response.json()["active"] is False
    assert not Session.objects.filter(session_key=key).exists()
    assert not PersonSession.objects.filter(person=member).exists()
    assert event("person.deactivated", member).details == {"sessions_ended": 1}
    assert is_signed_out(browser)


def test_every_session_ends_not_just_one(member, scim):
    browsers = [signed_in(member), signed_in(member)]
    assert len({session_key(b) for b in browsers}) == 2
    assert scim.patch(f"/Users/{member.pk}", entra.DISABLE_FLAG).status_code == 200
    assert event("person.deactivated", member).details == {"sessions_ended": 2}
    assert all(is_signed_out(b) for b in browsers)


def test_deletion_over_scim_ends_the_session(member, scim):
    browser = signed_in(member)
    key = session_key(browser)
    assert scim.delete(f"/Users/{member.pk}").status_code == 204
    assert not Session.objects.filter(session_key=key).exists()
    assert not PersonSession.objects.exists()
    assert event("person.deleted", member).details == {"memberships_removed": 0, "sessions_ended": 1}
    assert is_signed_out(browser)


def test_a_full_replace_with_active_false_ends_the_session_too(member, scim):
    """PUT takes the locked path (single_transaction, then the transactional update)."""
    browser = signed_in(member)
    document = scim.get(f"/Users/{member.pk}").json()
    response = scim.put(f"/Users/{member.pk}", {**document, "active": False})
    assert response.status_code == 200 and response.json()["active"] is False
    assert event("person.deactivated", member).details == {"sessions_ended": 1}
    assert is_signed_out(browser)


def test_a_stale_optimistic_write_ends_no_session(member):
    browser = signed_in(member)
    read = Person.objects.get(pk=member.pk)  # read at version 1 ...
    services.person_update(person=Person.objects.get(pk=member.pk), actor=ACTOR, changes={"title": "Engineer"})
    with pytest.raises(StaleWrite):  # ... written after someone else wrote version 2
        services.person_update(person=read, actor=ACTOR, changes={"is_active": False}, expected_version=1)
    assert Person.objects.get(pk=member.pk).is_active
    assert PersonSession.objects.filter(person=member).count() == 1
    assert Session.objects.filter(session_key=session_key(browser)).exists()
    assert not AuditEvent.objects.filter(action="person.deactivated").exists()
    assert browser.get(reverse("directory:my-profile")).status_code == 200


def test_a_person_of_another_tenant_keeps_their_session(member, outsider, scim):
    mine, theirs = signed_in(member), signed_in(outsider)
    assert scim.patch(f"/Users/{member.pk}", entra.DISABLE_DEFAULT).status_code == 200
    assert is_signed_out(mine)
    assert theirs.get(reverse("provisioning:settings")).status_code == 200
    assert list(PersonSession.objects.values_list("person_id", flat=True)) == [outsider.pk]


def test_a_colleague_keeps_their_session(member, admin, scim):
    mine, colleague = signed_in(member), signed_in(admin)
    assert scim.delete(f"/Users/{member.pk}").status_code == 204
    assert is_signed_out(mine)
    assert colleague.get("/").status_code == 200


def test_deactivation_in_the_console_ends_the_session(member, admin):
    browser = signed_in(member)
    console = signed_in(admin)
    response = console.post(reverse("directory:person-edit", args=[member.pk]), {
        "user_name": member.user_name, "work_email": member.work_email, "display_name": "Mo Member"})  # not active
    assert response.status_code == 302
    assert event("person.deactivated", member).details == {"sessions_ended": 1}
    assert is_signed_out(browser)
    assert console.get("/").status_code == 200  # the admin who did it is still signed in


def test_the_service_ends_sessions_and_says_how_many(tenant, member):
    browsers = [signed_in(member), signed_in(member)]
    bystander = make_person(tenant, "bo.bystander@acme.example")
    kept = signed_in(bystander)
    assert services.person_sessions_end(person=member) == 2
    assert all(is_signed_out(b) for b in browsers)
    assert services.person_sessions_end(person=member) == 0
    assert kept.get(reverse("directory:my-profile")).status_code == 200


def test_deactivation_without_sessions_says_none_ended(member):
    services.person_deactivate(person=member, actor=ACTOR)
    assert event("person.deactivated", member).details == {"sessions_ended": 0}


@pytest.mark.parametrize("change", [
    lambda person: services.person_deactivate(person=person, actor=ACTOR),
    lambda person: services.person_delete(person=person, actor=ACTOR),
], ids=["deactivate", "delete"])
def test_a_change_that_fails_after_ending_sessions_ends_none(member, monkeypatch, change):
    """The sessions end in the change's own transaction: when its audit event fails, they are back."""
    browser = signed_in(member)

    def failing(**fields):
        raise RuntimeError("simulated failure while recording the event")

    monkeypatch.setattr(services.people, "audit_event_record", failing)
    with pytest.raises(RuntimeError, match="simulated failure"):
        change(Person.objects.get(pk=member.pk))
    assert Person.objects.get(pk=member.pk).is_active
    assert PersonSession.objects.filter(person=member).count() == 1
    assert browser.get(reverse("directory:my-profile")).status_code == 200
