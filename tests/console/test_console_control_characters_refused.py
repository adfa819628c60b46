"""The console's forms refuse control characters in user names and email addresses (issue 17).

A browser's text field drops line breaks by itself; a crafted POST does not.
The rule is the directory's (directory/validators.py): the person's page shows
the error next to the field and nothing is saved.
"""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from provisioning.models import Integration
from tests.console_helpers import activate

pytestmark = pytest.mark.django_db

REFUSED = "must not contain control characters such as line breaks"


def field_errors(response, field_id: str) -> str:
    """The text of the errors shown under one field of the person edit form."""
    page = html.unescape(response.content.decode())
    start = page.index(f'id="{field_id}"')
    return page[start:page.index("</div>", start)]


@pytest.mark.parametrize("user_name", ["mo\r\nBcc: all@acme.example", "mo\nmember@acme.example", "mo\x00@acme.example",
                                       "mo\x1b[2J@acme.example", "mo\x85@acme.example"])
def test_person_edit_refuses_a_user_name_with_a_control_character(admin_client, member, user_name):
    url = reverse("directory:person-edit", args=[member.pk])
    response = admin_client.post(url, {"user_name": user_name, "work_email": "mo.member@acme.example",
                                       "is_active": "on"})
    assert response.status_code == 400
    errors = field_errors(response, "id_user_name-error")
    assert REFUSED in errors or "Null characters are not allowed" in errors, errors
    member.refresh_from_db()
    assert member.user_name == "mo.member@acme.example" and member.version == 1


@pytest.mark.parametrize("address", ['"mo\x0bmember"@acme.example', '"mo\x01"@acme.example',
                                     '"mo\x7f"@acme.example'])
def test_person_edit_refuses_a_work_email_with_a_control_character(admin_client, member, address):
    """Django's address check lets these through in a quoted local part; the directory does not."""
    url = reverse("directory:person-edit", args=[member.pk])
    response = admin_client.post(url, {"user_name": "mo.member@acme.example", "work_email": address,
                                       "is_active": "on"})
    assert response.status_code == 400
    assert REFUSED in field_errors(response, "id_work_email-error")
    member.refresh_from_db()
    assert member.work_email == "mo.member@acme.example" and member.version == 1


def test_a_user_name_with_direction_marks_is_no_control_character(admin_client, member):
    url = reverse("directory:person-edit", args=[member.pk])
    response = admin_client.post(url, {"user_name": "\u202emo\u200b@acme.example", "is_active": "on",
                                       "work_email": "mo.member@acme.example"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.user_name == "\u202emo\u200b@acme.example"


@pytest.mark.parametrize("address", ['"ops\x0b"@acme.example', '"ops\x1f"@acme.example'])
def test_the_notification_email_refuses_control_characters(admin_client, admin, address):
    activate(admin_client)
    url = reverse("provisioning:integration-notifications", args=["azure"])
    response = admin_client.post(url, {"notification_email": address, "notify_on_failure": "on"})
    assert response.status_code == 400 and REFUSED in response.content.decode()
    assert Integration.objects.get(tenant=admin.tenant, kind="azure").notification_email != address
