"""Roles on the console's pages (issue 14): a person's role and where it comes from, the console
role an admin grants, a group's "Role for members", an integration's Role mapping.

Personas: ``admin`` and ``member`` of ``tenant``, ``auditor`` (tests/console/conftest.py), and
``outsider``, the admin of ``other_tenant``. Admins change roles; auditors see them read-only.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from directory import services
from directory.audit import Actor
from directory.models import AppRoleMapping, AuditEvent, Person, Role, Source
from tests.conftest import make_person
from tests.console_helpers import enter_sudo
from tests.scim_client import issue_token

pytestmark = pytest.mark.django_db

ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)", integration_kind="azure")
ENTRA_ADMIN_ROLE = [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": "Admin"}]


def app_roles(person: Person, *values: str) -> Person:
    """``person`` as Entra sends them with these app roles (AppRoleAssignmentsComplex's shape)."""
    roles = [{"primary": False, "value": value, "displayName": value} for value in values]
    return services.person_app_roles_set(person=person, roles=roles, integration_kind="azure", actor=ENTRA,
                                         provider="Microsoft Entra ID")


def options(html: str, select_id: str) -> list[tuple[str, str, bool]]:
    """(value, label, selected) of each option of the select ``select_id``."""
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select #{select_id}"
    return [(value, label, bool(selected)) for value, selected, label in
            re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select.group(1))]


def signed_in(person) -> Client:
    """A client of ``person``'s, with their password just entered (sudo mode)."""
    client = Client()
    client.force_login(person)
    enter_sudo(client)
    return client


def label_for(html: str, field_id: str) -> str:
    found = re.search(rf'<label for="{field_id}">(.*?)</label>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


# --- A person's role and its sources ----------------------------------------------------------


@pytest.fixture
def scim_person(tenant, admin):
    return services.person_create(tenant=tenant, actor=ENTRA, user_name="sam.scim@acme.example",
                                  source=Source.SCIM, display_name="Sam Scim")


def test_the_person_page_shows_the_role_and_every_source(admin_client, admin, tenant, scim_person):
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="SpaceIQ Auditors", source=Source.SCIM,
                                  member_ids=[scim_person.pk])
    services.group_role_set(group=group, role=Role.AUDITOR, actor=Actor.system("test"))
    app_roles(scim_person, "Admin", "msiam_access")
    granter = Actor(label="Ada Admin (ada.admin@acme.example)", person_id=admin.pk)
    services.console_role_set(person=scim_person, role=Role.MEMBER, actor=granter)

    html = admin_client.get(reverse("directory:person-detail", args=[scim_person.pk])).content.decode()
    assert "Role: <span class=\"badge\">Admin</span>" in html
    sources = re.search(r'<ul class="role-sources">(.*?)</ul>', html, re.S).group(1)
    lines = [unescape(" ".join(re.sub(r"<[^>]+>", " ", re.sub(r"</?bdi>", "", li)).split()))
             for li in re.findall(r"<li[^>]*>(.*?)</li>", sources, re.S)]
    day = f"{scim_person.console_role_at.day} {scim_person.console_role_at:%b %Y}"
    assert lines == [
        "Admin App role 'Admin' from Microsoft Entra ID",
        "Auditor Member of group 'SpaceIQ Auditors'",
        f"Member Granted in the console by Ada Admin on {day}",
        "Member App role 'msiam_access' from Microsoft Entra ID",
    ]
    assert f'href="{reverse("directory:group-detail", args=[group.pk])}"' in sources
    # The admin's console-role select: None, Member, Auditor, Admin, with the granted one selected.
    assert label_for(html, "console-role") == "Console role"
    assert options(html, "console-role") == [("", "None", False), ("member", "Member", True),
                                             ("auditor", "Auditor", False), ("admin", "Admin", False)]
    assert ">Save console role</button>" in html
    assert "Make admin" not in html and "Remove admin role" not in html


def test_a_person_without_a_source_is_a_member(admin_client, member):
    html = admin_client.get(reverse("directory:person-detail", args=[member.pk])).content.decode()
    assert "No role source: <bdi>Mo Member</bdi> is a Member." in html
    assert options(html, "console-role")[0] == ("", "None", True)


def test_the_last_admin_kept_by_the_rule_is_flagged_on_their_page(admin_client, client, tenant, admin, scim_person):
    app_roles(scim_person, "Admin")  # a second admin, through Entra
    granter = Actor(label="Ada Admin (ada.admin@acme.example)", person_id=admin.pk)
    services.console_role_set(person=admin, role=None, actor=granter)  # Ada steps down
    app_roles(scim_person, "User")  # Entra takes Sam's Admin away: Sam is the last admin
    scim_person.refresh_from_db()
    assert scim_person.role == Role.ADMIN and scim_person.kept_as_last_admin_since is not None

    client.force_login(scim_person)
    html = client.get(reverse("directory:person-detail", args=[scim_person.pk])).content.decode()
    assert 'id="kept-as-last-admin"' in html and "<strong>Kept as the last admin</strong>" in html
    kept = r'<li class="role-source-kept"><span class="badge badge-warn">Admin</span>\s*Kept as the last admin'
    assert re.search(kept, html)


def test_the_people_list_shows_each_persons_role(admin_client, admin, member, tenant):
    audrey = make_person(tenant, "audrey@acme.example", display_name="Audrey")
    services.console_role_set(person=audrey, role=Role.AUDITOR, actor=Actor.system("test"))
    html = admin_client.get(reverse("directory:people")).content.decode()
    assert '<th scope="col">Role</th>' in html
    rows = {re.sub(r"<[^>]+>", "", name).strip(): re.sub(r"<[^>]+>", "", role).strip() for name, role in
            re.findall(r'<td data-label="Name">(.*?)</td>.*?<td data-label="Role">(.*?)</td>', html, re.S)}
    assert rows == {"Ada Admin": "Admin", "Mo Member": "Member", "Audrey": "Auditor"}


def test_an_auditor_sees_the_role_and_its_sources_but_no_select(auditor_client, admin):
    html = auditor_client.get(reverse("directory:person-detail", args=[admin.pk])).content.decode()
    assert "Granted in the console" in html
    assert 'id="console-role"' not in html and "Save console role" not in html
    enter_sudo(auditor_client)
    assert auditor_client.post(reverse("directory:person-role", args=[admin.pk]), {"role": ""}).status_code == 403


def test_an_admin_who_makes_themself_an_auditor_lands_on_the_console_home(admin_client, admin, tenant):
    make_person(tenant, "second@acme.example", admin=True)
    enter_sudo(admin_client)
    response = admin_client.post(reverse("directory:person-role", args=[admin.pk]), {"role": "auditor"})
    assert response.status_code == 302 and response["Location"] == reverse("directory:home")
    assert admin_client.get(reverse("provisioning:audit-log")).status_code == 200
    assert admin_client.get(reverse("provisioning:integration-activate", args=["azure"])).status_code == 403


def test_an_unknown_role_is_refused(admin_client, member):
    enter_sudo(admin_client)
    response = admin_client.post(reverse("directory:person-role", args=[member.pk]), {"role": "owner"})
    assert response.status_code == 400
    member.refresh_from_db()
    assert member.console_role is None


# --- A group's "Role for members" ----------------------------------------------------------------


@pytest.fixture
def scim_group(tenant, admin, scim_person):
    return services.group_create(tenant=tenant, actor=ENTRA, display_name="SpaceIQ Admins", source=Source.SCIM,
                                 member_ids=[scim_person.pk])


def test_an_admin_gives_a_group_a_role_for_its_members(admin_client, admin, scim_group, scim_person):
    url = reverse("directory:group-detail", args=[scim_group.pk])
    html = admin_client.get(url).content.decode()
    assert label_for(html, "group-role") == "Role for members"
    assert options(html, "group-role") == [("", "None", True), ("member", "Member", False),
                                           ("auditor", "Auditor", False), ("admin", "Admin", False)]
    assert ">Save role</button>" in html

    enter_sudo(admin_client)
    response = admin_client.post(reverse("directory:group-role", args=[scim_group.pk]), {"role": "auditor"})
    assert response.status_code == 302 and response["Location"] == url
    scim_group.refresh_from_db()
    scim_person.refresh_from_db()
    assert scim_group.role == Role.AUDITOR and scim_person.role == Role.AUDITOR
    event = AuditEvent.objects.get(action="group.role_changed", target_id=str(scim_group.pk))
    assert event.actor_person_id == admin.pk and event.details == {"old": None, "new": "auditor"}
    changed = AuditEvent.objects.get(action="role.changed", target_id=str(scim_person.pk))
    assert changed.details["cause"].startswith("Auditor through group 'SpaceIQ Admins'")

    html = admin_client.get(url).content.decode()
    assert options(html, "group-role")[2] == ("auditor", "Auditor", True)
    listed = admin_client.get(reverse("directory:groups")).content.decode()
    assert '<th scope="col">Role for members</th>' in listed
    assert '<td data-label="Role for members"><span class="badge">Auditor</span></td>' in listed


def test_the_group_role_asks_for_the_password(admin_client, scim_group):
    response = admin_client.post(reverse("directory:group-role", args=[scim_group.pk]), {"role": "admin"})
    assert b"Confirm your password" in response.content
    scim_group.refresh_from_db()
    assert scim_group.role is None


def test_a_group_role_that_would_remove_the_last_admin_is_refused(admin_client, admin, tenant):
    group = services.group_create(tenant=tenant, actor=Actor.system("test"), display_name="Admins",
                                  member_ids=[admin.pk])
    services.group_role_set(group=group, role=Role.ADMIN, actor=Actor.system("test"))
    granter = Actor(label="Ada Admin (ada.admin@acme.example)", person_id=admin.pk)
    services.console_role_set(person=admin, role=None, actor=granter)  # Admin only through the group now
    enter_sudo(admin_client)
    response = admin_client.post(reverse("directory:group-role", args=[group.pk]), {"role": "member"})
    assert response.status_code == 400
    assert "last admin of this company" in response.content.decode()
    group.refresh_from_db()
    admin.refresh_from_db()
    assert group.role == Role.ADMIN and admin.role == Role.ADMIN


def test_an_auditor_sees_a_groups_role_read_only(auditor_client, scim_group):
    services.group_role_set(group=scim_group, role=Role.ADMIN, actor=Actor.system("test"))
    html = auditor_client.get(reverse("directory:group-detail", args=[scim_group.pk])).content.decode()
    assert "<dt>Role for members</dt><dd>Admin</dd>" in html
    assert 'id="group-role"' not in html and "Save role" not in html
    enter_sudo(auditor_client)
    response = auditor_client.post(reverse("directory:group-role", args=[scim_group.pk]), {"role": ""})
    assert response.status_code == 403
    scim_group.refresh_from_db()
    assert scim_group.role == Role.ADMIN


def test_another_tenants_admin_cannot_set_a_groups_role(client, outsider, scim_group):
    client.force_login(outsider)
    enter_sudo(client)
    response = client.post(reverse("directory:group-role", args=[scim_group.pk]), {"role": "admin"})
    assert response.status_code == 404
    scim_group.refresh_from_db()
    assert scim_group.role is None


# --- An integration's Role mapping --------------------------------------------------------------


@pytest.fixture
def azure(tenant, admin):
    issue_token(tenant)  # activates the tenant's Azure integration
    return reverse("provisioning:integration-detail", args=["azure"])


def mapping_rows(html: str) -> dict[str, str]:
    """App role value → the role shown (the selected option for admins, the text for auditors)."""
    table = re.search(r'<table class="role-mapping">(.*?)</table>', html, re.S).group(1)
    rows = {}
    row = r"<code><bdi>([^<]*)</bdi></code>.*?<td data-label=\"SpaceIQ role\">(.*?)</td>"
    for value, cell in re.findall(row, table, re.S):
        selected = re.search(r'<option value="[^"]*" selected>([^<]*)</option>', cell)
        rows[value] = selected.group(1) if selected else re.sub(r"<[^>]+>|\(default\)", "", cell).strip()
    return rows


def test_the_role_mapping_lists_the_defaults_and_every_value_sent(admin_client, tenant, azure, scim_person, member):
    app_roles(scim_person, "User", "Admin")
    app_roles(member, "msiam_access")
    okta_only = make_person(tenant, "olive@acme.example")
    services.person_app_roles_set(person=okta_only, roles=[{"value": "Okta.Viewer"}], integration_kind="okta",
                                  actor=Actor.system("test"), provider="Okta")
    html = admin_client.get(azure).content.decode()
    assert '<h2 id="role-mapping-title">Role mapping</h2>' in html
    assert mapping_rows(html) == {"Admin": "Admin", "Auditor": "Auditor", "msiam_access": "Member", "User": "Member"}
    assert "Okta.Viewer" not in html  # another integration's values are on its own page
    assert label_for(html, "role-map-1") == "Admin"
    assert ">Save role mapping</button>" in html


def test_an_admin_maps_an_app_role_and_the_people_sent_it_change_role(admin_client, admin, tenant, azure, scim_person):
    app_roles(scim_person, "User")
    enter_sudo(admin_client)
    url = reverse("provisioning:integration-role-mapping", args=["azure"])
    response = admin_client.post(url, {"value": ["Admin", "Auditor", "User"], "role": ["admin", "auditor", "auditor"],
                                       "new_value": "SpaceIQ.Reader", "new_role": "auditor"})
    assert response.status_code == 302 and response["Location"] == f"{azure}#role-mapping"
    assert set(AppRoleMapping.objects.filter(tenant=tenant).values_list("integration_kind", "value", "role")) == {
        ("azure", "user", "auditor"), ("azure", "spaceiq.reader", "auditor")}
    scim_person.refresh_from_db()
    assert scim_person.role == Role.AUDITOR
    events = AuditEvent.objects.filter(action="app_role_mapping.changed").order_by("id")
    assert [(e.details["value"], e.details["new"], e.actor_person_id) for e in events] == [
        ("User", "auditor", admin.pk), ("SpaceIQ.Reader", "auditor", admin.pk)]
    assert mapping_rows(admin_client.get(azure).content.decode())["User"] == "Auditor"

    # Back to the default: the mapping row goes, and Sam is a Member again.
    admin_client.post(url, {"value": ["User"], "role": ["member"]})
    assert not AppRoleMapping.objects.filter(value="user").exists()
    scim_person.refresh_from_db()
    assert scim_person.role == Role.MEMBER


def test_a_mapping_that_would_remove_the_last_admin_saves_nothing(admin_client, admin, tenant, azure, scim_person):
    app_roles(scim_person, "Admin")
    granter = Actor(label="Ada Admin (ada.admin@acme.example)", person_id=admin.pk)
    services.console_role_set(person=admin, role=None, actor=granter)  # Sam is the only admin, through "Admin"
    enter_sudo(admin_client)  # Ada is no admin any more: she is refused before anything else
    assert admin_client.post(reverse("provisioning:integration-role-mapping", args=["azure"]),
                             {"value": ["Admin"], "role": ["member"]}).status_code == 403
    sam = signed_in(scim_person)
    response = sam.post(reverse("provisioning:integration-role-mapping", args=["azure"]),
                        {"value": ["Auditor", "Admin"], "role": ["admin", "member"]})
    assert response.status_code == 400
    assert "last admin of this company, so nothing was saved" in response.content.decode()
    assert not AppRoleMapping.objects.filter(tenant=tenant).exists()  # not even the first change
    scim_person.refresh_from_db()
    assert scim_person.role == Role.ADMIN and scim_person.kept_as_last_admin_since is None


def test_the_role_mapping_asks_for_the_password_and_refuses_a_bad_form(admin_client, tenant, azure):
    url = reverse("provisioning:integration-role-mapping", args=["azure"])
    assert b"Confirm your password" in admin_client.post(url, {"value": ["User"], "role": ["admin"]}).content
    enter_sudo(admin_client)
    assert admin_client.post(url, {"value": ["User"], "role": ["owner"]}).status_code == 400
    assert admin_client.post(url, {"value": ["User", "Admin"], "role": ["admin"]}).status_code == 400
    assert not AppRoleMapping.objects.filter(tenant=tenant).exists()


def test_an_auditor_reads_the_role_mapping_and_cannot_change_it(auditor_client, tenant, azure, member):
    app_roles(member, "User")
    services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="User", role=Role.AUDITOR,
                                  actor=Actor.system("test"))
    html = auditor_client.get(azure).content.decode()
    assert mapping_rows(html) == {"Admin": "Admin", "Auditor": "Auditor", "User": "Auditor"}
    assert "Save role mapping" not in html and 'name="role"' not in html
    enter_sudo(auditor_client)
    response = auditor_client.post(reverse("provisioning:integration-role-mapping", args=["azure"]),
                                   {"value": ["User"], "role": ["admin"]})
    assert response.status_code == 403
    assert AppRoleMapping.objects.get(tenant=tenant, value="user").role == Role.AUDITOR


def test_another_tenants_admin_maps_only_their_own_integration(client, outsider, other_tenant, tenant, azure):
    issue_token(other_tenant)
    client.force_login(outsider)
    enter_sudo(client)
    client.post(reverse("provisioning:integration-role-mapping", args=["azure"]),
                {"value": ["User"], "role": ["admin"]})
    assert not AppRoleMapping.objects.filter(tenant=tenant).exists()
    assert AppRoleMapping.objects.get(tenant=other_tenant, value="user").role == Role.ADMIN
