"""People who are not admins land on their own profile and the people directory, never on a bare 403.

Personas (conftest): ``member`` of ``tenant``, ``admin`` of the same tenant,
``outsider`` the admin of ``other_tenant``. Every directory test asks whether
the outsider (or a deactivated colleague) shows up; neither may.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from directory import services
from directory.audit import Actor
from tests.conftest import make_person

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("test")
MY_PROFILE = reverse("directory:my-profile")
DIRECTORY = reverse("directory:people-directory")


def card_url(person) -> str:
    return reverse("directory:directory-person", args=[person.pk])


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def boss(tenant):
    return make_person(tenant, "bea.boss@acme.example", display_name="Bea Boss", title="Head of Ops",
                       department="Operations")


@pytest.fixture
def provisioned_member(tenant, member, boss):
    """The member as an identity provider fills them in: title, department, phones, manager, groups."""
    services.person_update(person=member, actor=ACTOR, changes={
        "title": "Facilities Coordinator", "department": "Operations", "employee_number": "E-1042",
        "phone_numbers": [{"value": "+44 20 7946 0001", "type": "work"}], "manager_id": boss.pk,
    })
    for name in ("Building Access", "All Staff"):
        services.group_create(tenant=tenant, actor=ACTOR, display_name=name, member_ids=[member.pk])
    return member


def test_a_member_lands_on_their_profile(member_client, provisioned_member, boss):
    response = member_client.get("/", follow=True)
    assert response.redirect_chain == [(MY_PROFILE, 302)]
    html = response.content.decode()
    assert "<title>\u2068Mo Member\u2069 · SpaceIQ</title>" in html and "<h1><bdi>Mo Member</bdi></h1>" in html
    for shown in ("mo.member@acme.example", "Facilities Coordinator", "Operations", "E-1042",
                  "+44 20 7946 0001", "All Staff", "Building Access"):
        assert shown in html, shown
    assert f'<a href="{card_url(boss)}"><bdi>Bea Boss</bdi></a>' in html  # the manager, by their label
    assert 'aria-current="page">My profile</a>' in html and ">People directory</a>" in html
    assert ">Groups</a>" not in html and "Settings</a>" not in html  # no console entries


def test_a_member_sees_their_groups_only(member_client, provisioned_member, tenant, admin):
    services.group_create(tenant=tenant, actor=ACTOR, display_name="Admins Only", member_ids=[admin.pk])
    html = member_client.get(MY_PROFILE).content.decode()
    assert "All Staff" in html and "Admins Only" not in html


def test_the_profile_is_read_only(member_client, member):
    assert member_client.post(MY_PROFILE, {"title": "CEO"}).status_code == 405
    html = member_client.get(MY_PROFILE).content.decode()
    assert html.count("<form") == 1 and "Edit</a>" not in html  # the one form is the account menu's sign-out


def test_an_admin_still_lands_on_the_console_home(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "active people" in html and ">People</a>" in html and ">Groups</a>" in html
    assert ">People directory</a>" not in html  # the admins' main navigation is unchanged


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for url in (MY_PROFILE, DIRECTORY, reverse("directory:directory-person", args=[uuid.uuid4()])):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:sign-in")), url


def test_the_directory_lists_the_active_people_of_the_members_tenant_only(
    member_client, member, admin, boss, outsider, tenant
):
    gone = make_person(tenant, "gus.gone@acme.example", display_name="Gus Gone")
    services.person_deactivate(person=gone, actor=ACTOR)
    response = member_client.get(DIRECTORY)
    assert response.status_code == 200
    html = response.content.decode()
    for person in (member, admin, boss):
        assert f'<a href="{card_url(person)}"><bdi>{person.label}</bdi></a>' in html
    assert "3 people" in html
    assert "Head of Ops" in html and "bea.boss@acme.example" in html
    assert "Gus Gone" not in html and "Olga Outsider" not in html and "globex" not in html


def test_a_colleagues_card(member_client, boss, tenant):
    services.person_update(person=boss, actor=ACTOR, changes={
        "phone_numbers": [{"value": "+44 20 7946 0999", "type": "mobile"}]})
    services.group_create(tenant=tenant, actor=ACTOR, display_name="Leadership", member_ids=[boss.pk])
    response = member_client.get(card_url(boss))
    assert response.status_code == 200
    html = response.content.decode()
    for shown in ("<h1><bdi>Bea Boss</bdi></h1>", "Head of Ops", "Operations", "mailto:bea.boss@acme.example",
                  "+44 20 7946 0999", "Leadership"):
        assert shown in html, shown


def test_outsiders_and_deactivated_people_have_no_card(member_client, outsider, tenant):
    gone = make_person(tenant, "gus.gone@acme.example", display_name="Gus Gone")
    services.person_deactivate(person=gone, actor=ACTOR)
    assert member_client.get(card_url(outsider)).status_code == 404
    assert member_client.get(card_url(gone)).status_code == 404
    assert member_client.get("/directory/not-a-uuid/").status_code == 404


def test_the_outsider_cannot_see_the_members_tenant_either(client, outsider, member):
    client.force_login(outsider)
    assert client.get(card_url(member)).status_code == 404
    html = client.get(DIRECTORY).content.decode()
    assert "Mo Member" not in html and "Olga Outsider" in html


@pytest.mark.parametrize("query, found", [
    ("bea", ["Bea Boss"]),                      # name
    ("BEA.BOSS@", ["Bea Boss"]),                # user name / email, ignoring case
    ("operations", ["Bea Boss", "Mo Member"]),  # department
    ("coordinator", ["Mo Member"]),             # title
    ("olga", []),                               # another tenant's: never
])
def test_search(member_client, provisioned_member, admin, outsider, query, found):
    html = member_client.get(DIRECTORY, {"q": query}).content.decode()
    names = [name for name in ("Ada Admin", "Bea Boss", "Mo Member", "Olga Outsider") if f">{name}</bdi></a>" in html]
    assert names == found
    assert f'value="{query}"' in html


def test_the_directory_is_paginated_in_a_fixed_number_of_queries(
    member_client, tenant, boss, django_assert_max_num_queries
):
    for i in range(60):
        make_person(tenant, f"p{i:02d}@acme.example", password=None, display_name=f"Person {i:02d}",
                    title="Engineer", department="R&D", manager_id=boss.pk)
    # The session, the person, the count, the page, and the session saved (SESSION_SAVE_EVERY_REQUEST)
    # in a transaction of its own (here a savepoint and its release): none per row, no manager read.
    with django_assert_max_num_queries(7):
        first = member_client.get(DIRECTORY)
    assert first.status_code == 200 and "62 people" in first.content.decode()
    assert first.content.decode().count('<td data-label="Name">') == 50
    with django_assert_max_num_queries(7):
        second = member_client.get(DIRECTORY, {"page": 2})
    assert second.content.decode().count('<td data-label="Name">') == 12


def test_a_member_opening_a_console_page_is_pointed_to_what_they_can_open(member_client, admin):
    for url in (reverse("directory:people"), reverse("directory:person-detail", args=[admin.pk]),
                reverse("provisioning:settings")):
        response = member_client.get(url)
        assert response.status_code == 403, url
        html = response.content.decode()
        assert "for administrators" in html
        assert f'<a href="{MY_PROFILE}">My profile</a>' in html
        assert f'<a href="{DIRECTORY}">People directory</a>' in html


def test_the_account_menu_names_the_person_and_links_their_profile(member_client):
    html = member_client.get(DIRECTORY).content.decode()
    assert '<p class="menu-who"><bdi>Mo Member</bdi><br><small><bdi>mo.member@acme.example</bdi></small></p>' in html
    assert f'<a href="{MY_PROFILE}">My profile</a>' in html
