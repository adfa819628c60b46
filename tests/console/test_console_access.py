"""Sign-in, sign-out and who may reach Settings."""

import pytest
from django.urls import reverse

from directory import services
from directory.audit import Actor
from tests.conftest import PASSWORD


@pytest.mark.django_db
def test_admin_signs_in_and_reaches_settings(client, admin):
    response = client.post(reverse("accounts:sign-in"), {"email": "ADA.ADMIN@acme.example", "password": PASSWORD})
    assert response.status_code == 302
    response = client.get(reverse("provisioning:settings"))
    assert response.status_code == 200
    assert b"<h1>Settings</h1>" in response.content
    assert b"Acme Corp" in response.content


@pytest.mark.django_db
def test_failed_sign_in_does_not_say_which_part_was_wrong(client, admin):
    wrong_password = client.post(reverse("accounts:sign-in"), {"email": admin.user_name, "password": "nope"})
    unknown_email = client.post(reverse("accounts:sign-in"), {"email": "nobody@acme.example", "password": "nope"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.content.count(b"do not match") == 1
    assert unknown_email.content.count(b"do not match") == 1
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_deactivated_person_cannot_sign_in(client, admin, tenant):
    from tests.conftest import make_person

    make_person(tenant, "second@acme.example", admin=True)
    services.person_deactivate(person=admin, actor=Actor.system("test"))
    response = client.post(reverse("accounts:sign-in"), {"email": admin.user_name, "password": PASSWORD})
    assert response.status_code == 401


@pytest.mark.django_db
def test_deactivation_ends_an_existing_session(client, admin, tenant):
    client.force_login(admin)
    services.person_deactivate(person=admin, actor=Actor.system("test"))
    response = client.get(reverse("provisioning:settings"))
    assert response.status_code == 302 and reverse("accounts:sign-in") in response["Location"]


@pytest.mark.django_db
def test_sign_in_rotates_the_session_key(client, admin):
    client.get(reverse("accounts:sign-in"))
    client.session["probe"] = 1
    before = client.session.session_key
    client.post(reverse("accounts:sign-in"), {"email": admin.user_name, "password": PASSWORD})
    assert client.session.session_key != before


@pytest.mark.django_db
def test_settings_is_forbidden_to_a_non_admin(client, member):
    client.force_login(member)
    response = client.get(reverse("provisioning:settings"))
    assert response.status_code == 403
    assert b"<h1>Settings</h1>" not in response.content


@pytest.mark.django_db
def test_an_admin_of_another_tenant_only_ever_sees_their_own_settings(client, admin, outsider):
    client.force_login(outsider)
    response = client.get(reverse("provisioning:settings"))
    assert response.status_code == 200
    assert b"Globex Corporation" in response.content
    assert b"Acme Corp" not in response.content


@pytest.mark.django_db
def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("provisioning:settings"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:sign-in"))


@pytest.mark.django_db
def test_sign_out_requires_post_and_ends_the_session(admin_client):
    assert admin_client.get(reverse("accounts:sign-out")).status_code == 405
    admin_client.post(reverse("accounts:sign-out"))
    assert admin_client.get(reverse("provisioning:settings")).status_code == 302


@pytest.mark.django_db
def test_sign_in_ignores_an_offsite_next_url(client, admin):
    response = client.post(
        reverse("accounts:sign-in") + "?next=https://evil.example/",
        {"email": admin.user_name, "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("directory:home")
