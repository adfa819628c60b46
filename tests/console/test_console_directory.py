"""People and Groups as admins see them: lists, pages, editing, the console role, tenant walls."""

from __future__ import annotations

import pytest
from django.urls import reverse

from directory import services
from directory.audit import Actor
from directory.models import Person, Source
from tests.conftest import make_person
from tests.console_helpers import enter_sudo

pytestmark = pytest.mark.django_db
ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)")


@pytest.fixture
def scim_person(tenant, admin):
    manager = make_person(tenant, "boss@acme.example", display_name="Bea Boss", password=None)
    return services.person_create(
        tenant=tenant, actor=ENTRA, user_name="sam.scim@acme.example", source=Source.SCIM,
        given_name="Sam", family_name="Scim", display_name="Sam Scim", department="Finance",
        employee_number="E-42", cost_center="CC-7", manager_id=manager.pk,
        emails=[{"value": "sam.scim@acme.example", "type": "work", "primary": True}],
        phone_numbers=[{"value": "+1 555 0100", "type": "work"}],
        addresses=[{"locality": "Springfield", "country": "US", "type": "work"}],
    )


@pytest.fixture
def group(tenant, admin, scim_person):
    return services.group_create(
        tenant=tenant, actor=ENTRA, display_name="Finance", source=Source.SCIM, member_ids=[scim_person.pk]
    )


def test_people_list_shows_the_columns_and_filters(admin_client, scim_person, member):
    html = admin_client.get(reverse("directory:people")).content.decode()
    for text in ("Sam Scim", "sam.scim@acme.example", "Finance", "SCIM", "Console", "Mo Member"):
        assert text in html
    html = admin_client.get(reverse("directory:people"), {"source": "scim"}).content.decode()
    assert "Sam Scim" in html and "Mo Member" not in html
    html = admin_client.get(reverse("directory:people"), {"q": "mo.mem"}).content.decode()
    assert "Mo Member" in html and "Sam Scim" not in html
    services.person_deactivate(person=member, actor=Actor.system("test"))
    html = admin_client.get(reverse("directory:people"), {"status": "deactivated"}).content.decode()
    assert "Mo Member" in html and "Sam Scim" not in html


def test_people_list_is_paginated_with_a_bounded_number_of_queries(
    admin_client, tenant, django_assert_max_num_queries
):
    Person.objects.bulk_create([
        Person(tenant=tenant, user_name=f"p{i:04d}@acme.example", display_name=f"Person {i}", department="Ops",
               emails=[{"value": f"p{i:04d}@acme.example", "type": "work"}], source=Source.SCIM)
        for i in range(180)
    ])
    # Session read + user + the tenant's custom attributes (the filter's choices) + COUNT + one page,
    # plus the session save of SESSION_SAVE_EVERY_REQUEST (3 statements); never one per person.
    with django_assert_max_num_queries(8):
        response = admin_client.get(reverse("directory:people"), {"page": 2})
    html = response.content.decode()
    assert "Page 2 of 4" in html
    assert html.count('<td data-label="Name"><a href="/people/') == 50


def test_groups_list_and_group_page(admin_client, group, scim_person, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        html = admin_client.get(reverse("directory:groups")).content.decode()
    assert "Finance" in html and "<td data-label=\"Members\">1</td>" in html
    html = admin_client.get(reverse("directory:group-detail", args=[group.pk])).content.decode()
    assert "Sam Scim" in html and "Managed by Microsoft Entra ID" in html
    assert "group.members_added" in html  # its history


def test_person_page_shows_every_attribute_groups_and_history(admin_client, scim_person, group):
    html = admin_client.get(reverse("directory:person-detail", args=[scim_person.pk])).content.decode()
    for text in ("Sam", "Scim", "E-42", "CC-7", "Finance", "+1 555 0100", "Springfield", "Bea Boss",
                 "person.created", "Microsoft Entra ID (token siq_scim_abcd1234…)"):
        assert text in html, text
    assert reverse("directory:person-detail", args=[scim_person.manager_id]) in html
    assert reverse("directory:group-detail", args=[group.pk]) in html


def test_scim_people_are_read_only_with_a_note_naming_the_provider(admin_client, scim_person):
    html = admin_client.get(reverse("directory:person-detail", args=[scim_person.pk])).content.decode()
    assert "Managed by Microsoft Entra ID" in html
    assert reverse("directory:person-edit", args=[scim_person.pk]) not in html
    response = admin_client.post(reverse("directory:person-edit", args=[scim_person.pk]), {"user_name": "x"})
    assert response.status_code == 302
    scim_person.refresh_from_db()
    assert scim_person.user_name == "sam.scim@acme.example"


def test_console_people_can_be_edited_with_errors_next_to_fields(admin_client, member, admin):
    url = reverse("directory:person-edit", args=[member.pk])
    html = admin_client.get(url).content.decode()
    assert 'value="mo.member@acme.example"' in html
    response = admin_client.post(url, {"user_name": admin.user_name.upper(), "work_email": "mo@acme.example",
                                       "is_active": "on"})
    assert response.status_code == 400
    assert 'id="id_user_name-error"' in response.content.decode()
    response = admin_client.post(url, {"user_name": "mo@acme.example", "work_email": "mo@acme.example",
                                       "department": "Sales", "display_name": "Mo M", "is_active": "on"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.user_name, member.department, member.work_email) == ("mo@acme.example", "Sales", "mo@acme.example")
    response = admin_client.post(url, {"user_name": "mo@acme.example", "work_email": "bad"})
    assert response.status_code == 400 and "Enter a valid email address" in response.content.decode()


def test_console_role_grant_and_removal_and_the_last_admin(admin_client, admin, member):
    enter_sudo(admin_client)
    url = reverse("directory:person-role", args=[member.pk])
    assert admin_client.post(url, {"role": "admin"}).status_code == 302
    member.refresh_from_db()
    assert member.role == "admin" and member.console_role == "admin" and member.console_role_by_id == admin.pk
    assert admin_client.post(url, {"role": ""}).status_code == 302
    member.refresh_from_db()
    assert member.role == "member" and member.console_role is None
    response = admin_client.post(reverse("directory:person-role", args=[admin.pk]), {"role": "auditor"})
    assert response.status_code == 400
    assert "You are the last admin" in response.content.decode()
    admin.refresh_from_db()
    assert admin.role == "admin" and admin.console_role == "admin"


def test_console_role_changes_ask_for_the_password(admin_client, member):
    response = admin_client.post(reverse("directory:person-role", args=[member.pk]), {"role": "admin"})
    assert b"Confirm your password" in response.content
    member.refresh_from_db()
    assert member.role == "member"


def test_nothing_of_one_tenant_is_reachable_from_another(client, outsider, scim_person, group, member):
    client.force_login(outsider)
    enter_sudo(client)
    for url in (
        reverse("directory:person-detail", args=[scim_person.pk]),
        reverse("directory:person-edit", args=[member.pk]),
        reverse("directory:group-detail", args=[group.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("directory:person-edit", args=[member.pk]), {"user_name": "x"}).status_code == 404
    response = client.post(reverse("directory:person-role", args=[member.pk]), {"role": "admin"})
    assert response.status_code == 404
    member.refresh_from_db()
    assert member.role == "member" and member.user_name == "mo.member@acme.example"
    for url in (reverse("directory:people"), reverse("directory:groups")):
        html = client.get(url).content.decode()
        assert "Sam Scim" not in html and "Finance" not in html and "Mo Member" not in html


@pytest.mark.parametrize("name,needs_id", [
    ("people", False), ("person-detail", True), ("person-edit", True), ("groups", False),
])
def test_non_admins_get_403(client, member, admin, name, needs_id):
    client.force_login(member)
    args = [admin.pk] if needs_id else []
    assert client.get(reverse(f"directory:{name}", args=args)).status_code == 403


def test_non_admins_cannot_change_roles(client, member, admin):
    client.force_login(member)
    enter_sudo(client)
    response = client.post(reverse("directory:person-role", args=[member.pk]), {"role": "admin"})
    assert response.status_code == 403


def test_main_navigation_has_people_and_groups_for_admins_only(admin_client, client, member):
    html = admin_client.get(reverse("directory:home")).content.decode()
    assert ">People</a>" in html and ">Groups</a>" in html
    client.force_login(member)
    html = client.get(reverse("directory:home"), follow=True).content.decode()  # to their profile
    assert ">People</a>" not in html and ">Groups</a>" not in html
    assert ">My profile</a>" in html and ">People directory</a>" in html
