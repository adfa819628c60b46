"""A person's effective role is the highest of their sources, recomputed whenever a source changes,
in the transaction of the change, with an audit event naming the cause; the last admin is kept."""

from __future__ import annotations

import pytest

from directory import services
from directory.audit import Actor
from directory.errors import LastAdminError
from directory.models import AppRoleMapping, AuditEvent, Person, Role
from tests.conftest import make_person

pytestmark = pytest.mark.django_db
ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)", integration_kind="azure")
ADA = Actor(label="Ada Admin (ada.admin@acme.example)")


def role_of(person: Person) -> str:
    return Person.objects.get(pk=person.pk).role


def events(action: str, person: Person | None = None) -> list[AuditEvent]:
    qs = AuditEvent.objects.filter(action=action).order_by("id")
    return list(qs.filter(target_id=str(person.pk)) if person else qs)


def app_roles(person: Person, *values: str, kind: str = "azure") -> None:
    services.person_app_roles_set(person=person, roles=[{"value": v} for v in values], integration_kind=kind,
                                  actor=ENTRA, provider="Microsoft Entra ID")


@pytest.fixture
def admins_group(tenant, admin):
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="SpaceIQ Admins")
    return services.group_role_set(group=group, role=Role.ADMIN, actor=ADA)


def test_the_effective_role_is_the_highest_source_and_each_source_is_named(tenant, admin, member, admins_group):
    auditors = services.group_create(tenant=tenant, actor=ENTRA, display_name="Auditors")
    services.group_role_set(group=auditors, role=Role.AUDITOR, actor=ADA)
    services.group_members_add(group=auditors, actor=ENTRA, person_ids=[member.pk])
    app_roles(member, "User", "Admin")
    services.console_role_set(person=member, role=Role.AUDITOR, actor=Actor(label="Ada", person_id=admin.pk))
    member.refresh_from_db()
    sources = services.role_sources(member)
    assert [(s.role, s.kind) for s in sources] == [
        (Role.ADMIN, "app_role"), (Role.AUDITOR, "console"), (Role.AUDITOR, "group"), (Role.MEMBER, "app_role"),
    ]
    assert sources[0].label == "App role 'Admin' from Microsoft Entra ID"
    assert sources[1].label.startswith("Granted in the console by Ada Admin on ")
    assert sources[2].label == "Member of group 'Auditors'"
    assert sources[3].label == "App role 'User' from Microsoft Entra ID"  # unmapped values are kept and shown
    assert services.effective_role(sources) == Role.ADMIN and member.role == Role.ADMIN
    assert services.effective_role([]) == Role.MEMBER


def test_app_roles_match_on_value_case_insensitively_through_the_mapping(tenant, admin, member):
    app_roles(member, "ADMIN")
    assert role_of(member) == Role.ADMIN
    app_roles(member, "msiam_access")  # Default Access, and anything unknown: Member
    assert role_of(member) == Role.MEMBER
    services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="SpaceIQ.Readers",
                                  role=Role.AUDITOR, actor=ADA)
    assert AppRoleMapping.objects.get().value == "spaceiq.readers"
    app_roles(member, "spaceiq.READERS")
    assert role_of(member) == Role.AUDITOR
    # A mapping of another integration kind does not apply to what Entra sent.
    app_roles(member, "Boss")
    services.app_role_mapping_set(tenant=tenant, integration_kind="okta", value="Boss", role=Role.ADMIN, actor=ADA)
    assert role_of(member) == Role.MEMBER


def test_a_mapping_change_recomputes_everyone_who_holds_the_value(tenant, admin, member):
    app_roles(member, "Approver")
    services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="approver", role=Role.ADMIN, actor=ADA)
    assert role_of(member) == Role.ADMIN
    [changed] = events("role.changed", member)
    assert changed.details["cause"] == (
        "Admin through app role 'Approver' from Microsoft Entra ID, app role 'approver' mapped to Admin by Ada Admin "
        "(ada.admin@acme.example)")
    services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="Approver", role=None, actor=ADA)
    assert role_of(member) == Role.MEMBER and not AppRoleMapping.objects.exists()


def test_membership_of_a_group_with_a_role_changes_the_role_in_the_same_transaction(tenant, admin, member,
                                                                                   admins_group):
    services.group_members_add(group=admins_group, actor=ENTRA, person_ids=[member.pk])
    assert role_of(member) == Role.ADMIN
    [gained] = events("role.changed", member)
    assert gained.details == {"old": "member", "new": "admin",
                              "cause": "Admin through group 'SpaceIQ Admins', added by Microsoft Entra ID"}
    assert gained.actor_label == ENTRA.label
    services.group_members_remove(group=admins_group, actor=ENTRA, person_ids=[member.pk])
    assert role_of(member) == Role.MEMBER
    lost = events("role.changed", member)[-1]
    assert lost.details == {"old": "admin", "new": "member", "cause": (
        "Member (no role source left), removed from group 'SpaceIQ Admins' by Microsoft Entra ID")}


def test_a_group_without_a_role_changes_nobodys(tenant, admin, member):
    plain = services.group_create(tenant=tenant, actor=ENTRA, display_name="Engineering")
    services.group_members_add(group=plain, actor=ENTRA, person_ids=[member.pk])
    assert role_of(member) == Role.MEMBER and events("role.changed", member) == []


def test_a_deleted_group_takes_its_role_with_it(tenant, admin, member, admins_group):
    services.group_members_add(group=admins_group, actor=ENTRA, person_ids=[member.pk])
    services.group_delete(group=admins_group, actor=ENTRA)
    assert role_of(member) == Role.MEMBER
    assert events("role.changed", member)[-1].details["cause"] == (
        "Member (no role source left), group 'SpaceIQ Admins' deleted by Microsoft Entra ID")


def test_a_group_role_change_recomputes_every_member_and_is_audited(tenant, admin, member):
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="Finance", member_ids=[member.pk])
    services.group_role_set(group=group, role="auditor", actor=ADA)
    assert role_of(member) == Role.AUDITOR
    [set_event] = events("group.role_changed")
    assert set_event.details == {"old": None, "new": "auditor"} and set_event.target_label == "Finance"
    services.group_role_set(group=group, role=None, actor=ADA)
    assert role_of(member) == Role.MEMBER


def test_the_last_admin_is_kept_when_a_sync_removes_their_role(tenant, admin):
    """Entra's change is applied (the membership goes), the person keeps Admin, flagged."""
    services.console_role_set(person=make_person(tenant, "tmp@acme.example"), role=Role.ADMIN, actor=ADA)
    entra_admin = make_person(tenant, "eve@acme.example", display_name="Eve Entra")
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="SpaceIQ Admins")
    services.group_role_set(group=group, role=Role.ADMIN, actor=ADA)
    services.group_members_add(group=group, actor=ENTRA, person_ids=[entra_admin.pk])
    # Eve becomes the only admin: the console admins step down.
    for person in Person.objects.filter(console_role=Role.ADMIN).order_by("user_name"):
        services.console_role_set(person=person, role=None, actor=ADA)
    assert list(Person.objects.filter(role=Role.ADMIN).values_list("user_name", flat=True)) == ["eve@acme.example"]

    services.group_members_remove(group=group, actor=ENTRA, person_ids=[entra_admin.pk])
    entra_admin.refresh_from_db()
    assert not group.memberships.exists()  # the directory change applied
    assert entra_admin.role == Role.ADMIN and entra_admin.kept_as_last_admin_since is not None
    assert [(s.kind, s.label) for s in services.role_sources(entra_admin)] == [("last_admin", "Kept as the last admin")]
    [kept] = events("role.kept_as_last_admin", entra_admin)
    assert kept.details == {"role": "admin", "without_keep": "member", "cause": (
        "Kept as the last admin: would have become Member, removed from group 'SpaceIQ Admins' by Microsoft Entra ID")}

    # Another admin appears: the keep ends and Eve gets the role the change intended.
    services.group_members_add(group=group, actor=ENTRA, person_ids=[admin.pk])
    entra_admin.refresh_from_db()
    assert entra_admin.role == Role.MEMBER and entra_admin.kept_as_last_admin_since is None
    assert events("role.changed", entra_admin)[-1].details["cause"] == (
        "Member (no role source left), no longer kept as the last admin: Ada Admin is an active admin")


def test_console_changes_that_would_remove_the_last_admin_are_refused(tenant, admin, member):
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="Admins", member_ids=[admin.pk])
    services.group_role_set(group=group, role=Role.ADMIN, actor=ADA)
    services.console_role_set(person=admin, role=None, actor=ADA)  # still Admin through the group
    assert role_of(admin) == Role.ADMIN
    with pytest.raises(LastAdminError):
        services.group_role_set(group=group, role=Role.AUDITOR, actor=ADA)
    group.refresh_from_db()
    assert group.role == Role.ADMIN and role_of(admin) == Role.ADMIN
    app_roles(admin, "Admin")
    services.group_role_set(group=group, role=None, actor=ADA)
    with pytest.raises(LastAdminError):
        services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="Admin", role=Role.MEMBER,
                                      actor=ADA)
    assert role_of(admin) == Role.ADMIN and not AppRoleMapping.objects.exists()


def test_a_reactivated_admin_releases_the_kept_one(tenant, admin):
    eve = make_person(tenant, "eve@acme.example")
    app_roles(eve, "Admin")
    services.person_deactivate(person=admin, actor=ENTRA)
    app_roles(eve, "User")
    eve.refresh_from_db()
    assert eve.kept_as_last_admin_since is not None and eve.role == Role.ADMIN
    admin.refresh_from_db()
    services.person_reactivate(person=admin, actor=ENTRA)
    eve.refresh_from_db()
    assert eve.kept_as_last_admin_since is None and eve.role == Role.MEMBER


def test_roles_of_one_tenant_never_count_in_another(tenant, admin, outsider, other_tenant):
    """The outsider is an admin of another tenant: not another admin of this one."""
    eve = make_person(tenant, "eve@acme.example")
    app_roles(eve, "Admin")
    services.console_role_set(person=admin, role=None, actor=ADA)
    app_roles(eve, "User")
    eve.refresh_from_db()
    assert eve.kept_as_last_admin_since is not None
    services.app_role_mapping_set(tenant=other_tenant, integration_kind="azure", value="User", role=Role.ADMIN,
                                  actor=ADA)
    eve.refresh_from_db()
    assert eve.role == Role.ADMIN and eve.kept_as_last_admin_since is not None  # globex's mapping is not acme's
    assert role_of(outsider) == Role.ADMIN


def test_a_created_admin_is_audited_with_its_console_role(tenant):
    person = make_person(tenant, "first@acme.example", admin=True)
    assert person.role == person.console_role == Role.ADMIN and person.is_tenant_admin
    [event] = events("role.changed", person)
    assert event.details == {"old": "member", "new": "admin",
                             "cause": "Admin through the console role, granted at creation by test"}
