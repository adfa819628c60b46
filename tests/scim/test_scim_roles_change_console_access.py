"""End to end: Entra gives someone Admin over SCIM, in each of its shapes; they sign in with a password
and reach Settings; Entra takes the role away, and their very next request gets the Member page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from directory import services
from directory.audit import Actor
from directory.models import Group, Person, Role
from tests.entra import requests as entra

pytestmark = [pytest.mark.django_db, pytest.mark.e2e]
PASSWORD = "a-password-for-the-e2e-test"
ADA = Actor(label="Ada Admin (ada.admin@acme.example)")


@dataclass(frozen=True)
class Shape:
    name: str
    grant: Callable[..., str]  # (scim, user name) -> the user's id, once Entra has given them Admin
    revoke: Callable[..., None]  # (scim, user id) -> Entra takes Admin away


def _created(scim, body: dict) -> str:
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _patched(scim, user_id: str, body: dict) -> None:
    response = scim.patch(f"/Users/{user_id}", body)
    assert response.status_code == 200, response.content


def _complex_grant(scim, user_name: str) -> str:
    user_id = _created(scim, entra.create_user_app_role_assignments_complex(user_name, "User"))
    _patched(scim, user_id, entra.app_role_assignments_complex_add((entra.ADMIN_ROLE_ID, "Admin")))
    return user_id


def _group_grant(scim, user_name: str) -> str:
    gid = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": "SpaceIQ Admins"}).json()["id"]
    services.group_role_set(group=Group.objects.get(pk=gid), role=Role.ADMIN, actor=ADA)
    user_id = _created(scim, entra.create_user_assertive(user_name))
    assert scim.patch(f"/Groups/{gid}", entra.add_members(user_id)).status_code == 204
    return user_id


def _group_revoke(scim, user_id: str) -> None:
    [gid] = Group.objects.filter(display_name="SpaceIQ Admins").values_list("pk", flat=True)
    assert scim.patch(f"/Groups/{gid}", entra.remove_members_default(user_id)).status_code == 204


SHAPES = [
    Shape("SingleAppRoleAssignment",
          lambda scim, name: _created(scim, entra.create_user_single_app_role(name)),
          lambda scim, uid: _patched(scim, uid, entra.single_app_role_update("User"))),
    # AppRoleAssignmentsComplex only ever adds: Entra takes a role away once the mapping is Assertive,
    # which is what Microsoft recommends.
    Shape("AppRoleAssignmentsComplex", _complex_grant,
          lambda scim, uid: _patched(scim, uid, entra.assertive_replace("User"))),
    Shape("AssertiveAppRoleAssignmentsComplex",
          lambda scim, name: _created(scim, entra.create_user_assertive(name, "Admin", "User")),
          lambda scim, uid: _patched(scim, uid, entra.assertive_replace("User"))),
    Shape("group mapped to Admin", _group_grant, _group_revoke),
]


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_an_admin_given_by_entra_reaches_settings_until_entra_takes_the_role(scim, admin, shape):
    user_id = shape.grant(scim, "pat@contoso.com")
    pat = Person.objects.get(pk=user_id)
    assert pat.role == Role.ADMIN
    services.person_password_set(person=pat, password=PASSWORD, actor=ADA)

    browser = Client()
    signed_in = browser.post(reverse("accounts:sign-in"), {"email": "pat@contoso.com", "password": PASSWORD})
    assert signed_in.status_code == 302
    settings_page = browser.get(reverse("provisioning:settings"))
    assert settings_page.status_code == 200 and b"<h1>Settings</h1>" in settings_page.content

    shape.revoke(scim, user_id)
    assert Person.objects.get(pk=user_id).role == Role.MEMBER
    # The same session, the next request: the role is read afresh, nothing cached.
    assert browser.get(reverse("provisioning:settings")).status_code == 403
    home = browser.get(reverse("directory:home"))
    assert home.status_code == 302 and home["Location"] == reverse("directory:my-profile")
    assert browser.get(reverse("directory:my-profile")).status_code == 200
