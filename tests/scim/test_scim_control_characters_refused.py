"""Control characters in userName and email addresses are refused on every write (issue 17).

A line break in an address would break the emails SpaceIQ sends to a person,
and Entra never sends one. POST, PUT and PATCH (every path form Entra uses)
answer 400 ``invalidValue`` naming the attribute, and change nothing. Every
other attribute keeps any printable Unicode, and all of it comes back verbatim.
"""

from __future__ import annotations

import json

import pytest

from directory.models import Person
from tests.entra import requests as entra

pytestmark = pytest.mark.django_db

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = entra.PATCH_OP
# CR, LF, NUL, tab, escape, unit separator (C0); DEL; NEL (C1, a line break to Python's splitlines).
CONTROLS = ["\r", "\n", "\r\n", "\x00", "\t", "\x1b", "\x1f", "\x7f", "\x85"]


def code_point(text: str) -> str:
    return f"U+{ord(text[0]):04X}"


def refusal(attribute: str, control: str) -> dict:
    """The whole error document for ``control`` in ``attribute``."""
    refused = f"must not contain control characters such as line breaks (found {code_point(control)})"
    if control == "\x00":  # caught as the body is read: PostgreSQL stores no NUL in any attribute
        detail = f"{attribute}: must not contain NUL characters (U+0000)."
    elif attribute.startswith("emails"):
        detail = f"emails: an address {refused}"
    else:
        detail = f"{attribute}: {refused}"
    return {"schemas": [ERROR], "status": "400", "scimType": "invalidValue", "detail": detail}


def assert_refused(response, attribute: str, control: str) -> None:
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == refusal(attribute, control)


@pytest.fixture
def alice(scim) -> dict:
    created = scim.post("/Users", entra.CREATE_USER)
    assert created.status_code == 201, created.content
    return created.json()


def stored(alice: dict) -> tuple:
    person = Person.objects.get(pk=alice["id"])
    return person.user_name, person.emails, person.work_email, person.version


@pytest.mark.parametrize("control", CONTROLS)
def test_post_refuses_a_user_name_with_a_control_character(scim, control):
    body = {**entra.CREATE_USER, "userName": f"alice{control}@contoso.com"}
    assert_refused(scim.post("/Users", body), "userName", control)
    assert not Person.objects.exists()


@pytest.mark.parametrize("control", CONTROLS)
def test_post_refuses_an_email_address_with_a_control_character(scim, control):
    address = f"alice@contoso.com{control}Bcc: x@evil.example"
    body = {**entra.CREATE_USER, "emails": [{"primary": True, "type": "work", "value": address}]}
    assert_refused(scim.post("/Users", body), "emails.value" if control == "\x00" else "emails", control)
    assert not Person.objects.exists()


@pytest.mark.parametrize("control", CONTROLS)
def test_put_refuses_them_and_changes_nothing(scim, alice, control):
    before = stored(alice)
    user = {**entra.CREATE_USER, "userName": f"alice{control}@contoso.com"}
    assert_refused(scim.put(f"/Users/{alice['id']}", user), "userName", control)
    mail = {**entra.CREATE_USER, "emails": [{"type": "work", "value": f"a{control}lice@contoso.com"}]}
    assert_refused(scim.put(f"/Users/{alice['id']}", mail), "emails.value" if control == "\x00" else "emails", control)
    assert stored(alice) == before


@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("operation, attribute", [
    # Entra's default mode: one operation per attribute, with a path.
    ({"op": "Replace", "path": "userName", "value": "alice{}@contoso.com"}, "userName"),
    ({"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alice{}@contoso.com"},
     'emails[type eq "work"].value'),
    # An Add on a filtered path whose element does not exist yet creates it.
    ({"op": "Add", "path": 'emails[type eq "home"].value', "value": "alice{}@home.example"},
     'emails[type eq "home"].value'),
    ({"op": "Add", "path": "emails", "value": [{"type": "other", "value": "alice{}@other.example"}]}, "emails.value"),
    # With ?aadOptscim062020: path-less, the value an object of attributes.
    ({"op": "replace", "value": {"userName": "alice{}@contoso.com", "displayName": "Alice"}}, "userName"),
])
def test_patch_refuses_them_on_every_path_form_and_changes_nothing(scim, alice, operation, attribute, control):
    before = stored(alice)
    operation = json.loads(json.dumps(operation).replace("{}", json.dumps(control)[1:-1]))
    response = scim.patch(f"/Users/{alice['id']}", {"schemas": [PATCH_OP], "Operations": [operation]})
    named = attribute if control == "\x00" else ("userName" if attribute == "userName" else "emails")
    assert_refused(response, named, control)
    assert stored(alice) == before


def test_other_attributes_keep_any_printable_unicode_and_come_back_verbatim(scim):
    """Direction marks, zero-width characters and long unbroken strings are data: stored and returned as
    sent. (The console isolates and wraps them: tests/browser/test_browser_hostile_values.py.)"""
    hostile = "\u202eevil\u200b\u200d\u2060\ufeff" + "x" * 400
    body = {
        **entra.CREATE_USER,
        "userName": "\u202ealice\u200b@contoso.com",  # no control character: a user name may hold these
        "displayName": hostile, "title": "line one\nline two\ttabbed",  # only userName and emails are refused
        "emails": [{"primary": True, "type": "work", "value": "\u202ealice\u200d@contoso.com"}],
        "name": {"givenName": "\u05d0\u05dc\u05d9\u05e1", "familyName": "\u202e" + "y" * 254},
    }
    created = scim.post("/Users", body)
    assert created.status_code == 201, created.content
    doc = created.json()
    fetched = scim.get(f"/Users/{doc['id']}").json()
    for returned in (doc, fetched):
        assert returned["userName"] == body["userName"]
        assert returned["displayName"] == hostile
        assert returned["title"] == body["title"]
        assert returned["emails"] == body["emails"]
        assert returned["name"] == body["name"]
    patched = scim.patch(f"/Users/{doc['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "userName", "value": "\u202ebob\ufeff@contoso.com"}]})
    assert patched.status_code == 200 and patched.json()["userName"] == "\u202ebob\ufeff@contoso.com"
