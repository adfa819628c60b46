"""Roles over SCIM: advertised in /Schemas, memberships and app roles Entra changes move the role in
the transaction of the change, the last admin is kept (Entra is never refused for it), and a token
of one tenant reaches no other tenant's roles or mappings."""

from __future__ import annotations

import pytest

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent, Membership, Person, Role
from provisioning import services as provisioning_services
from provisioning.models import Integration, Notification
from tests.entra import requests as entra

pytestmark = pytest.mark.django_db
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ADA = Actor(label="Ada Admin (ada.admin@acme.example)")


def person(user_id: str) -> Person:
    return Person.objects.get(pk=user_id)


def actions(user_id: str) -> list[str]:
    return list(AuditEvent.objects.filter(target_id=user_id).order_by("id").values_list("action", flat=True))


@pytest.fixture
def admins_group(scim, tenant, admin) -> str:
    """An Entra group the admin mapped to Admin on its page."""
    gid = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": "SpaceIQ Admins"}).json()["id"]
    services.group_role_set(group=services.groups.Group.objects.get(pk=gid), role=Role.ADMIN, actor=ADA)
    return gid


def test_roles_are_advertised_in_the_user_schema(scim):
    schema = scim.get(f"/Schemas/{USER_SCHEMA}").json()
    [roles] = [a for a in schema["attributes"] if a["name"] == "roles"]
    assert roles["type"] == "complex" and roles["multiValued"] is True and roles["mutability"] == "readWrite"
    assert [(s["name"], s["type"]) for s in roles["subAttributes"]] == [
        ("value", "string"), ("display", "string"), ("type", "string"), ("primary", "boolean")]


def test_group_membership_through_scim_gives_and_takes_the_role(scim, admins_group):
    user = scim.post("/Users", entra.create_user_assertive("gil@contoso.com")).json()
    assert scim.patch(f"/Groups/{admins_group}", entra.add_members(user["id"])).status_code == 204
    assert person(user["id"]).role == Role.ADMIN
    changed = AuditEvent.objects.get(action="role.changed", target_id=user["id"])
    assert changed.details["cause"] == "Admin through group 'SpaceIQ Admins', added by Microsoft Entra ID"
    assert changed.actor_label.startswith("Microsoft Entra ID (token siq_scim_")
    assert scim.patch(f"/Groups/{admins_group}", entra.remove_member_flag(user["id"])).status_code == 204
    assert person(user["id"]).role == Role.MEMBER


def test_a_membership_removal_and_the_role_it_takes_are_one_transaction(scim, admins_group, monkeypatch):
    """If the role cannot be written, the membership is not removed either: there is no moment at
    which a person Entra removed from the group still has the group's role, nor the reverse."""
    user = scim.post("/Users", entra.create_user_assertive("gil@contoso.com")).json()
    scim.patch(f"/Groups/{admins_group}", entra.add_members(user["id"]))
    real = services.roles.audit_event_record

    def failing(**fields):
        if fields["action"] == "role.changed":
            raise RuntimeError("the role's audit event could not be written")
        return real(**fields)

    monkeypatch.setattr(services.roles, "audit_event_record", failing)
    scim.client.raise_request_exception = False
    assert scim.patch(f"/Groups/{admins_group}", entra.remove_members_default(user["id"])).status_code == 500
    assert Membership.objects.filter(group_id=admins_group, person_id=user["id"]).exists()
    assert person(user["id"]).role == Role.ADMIN


def test_a_group_deleted_in_entra_takes_its_role_with_it(scim, admins_group):
    user = scim.post("/Users", entra.create_user_assertive("gil@contoso.com")).json()
    scim.patch(f"/Groups/{admins_group}", entra.add_members(user["id"]))
    assert scim.delete(f"/Groups/{admins_group}").status_code == 204
    assert person(user["id"]).role == Role.MEMBER


def test_a_sync_that_would_remove_the_last_admin_is_applied_and_the_admin_kept(scim, tenant, admin):
    integration = Integration.objects.get(tenant=tenant, kind="azure")
    provisioning_services.notification_settings_update(
        integration=integration, actor=ADA, notification_email="it@acme.example", notify_on_failure=True)
    user = scim.post("/Users", entra.create_user_assertive("kim@contoso.com", "Admin")).json()
    services.console_role_set(person=admin, role=None, actor=ADA)  # Kim is the only admin now

    response = scim.patch(f"/Users/{user['id']}", entra.assertive_replace("User"))
    assert response.status_code == 200  # Entra is never refused for it
    assert response.json()["roles"] == [{"primary": False, "type": entra.ROLE_TYPE, "display": "User",
                                         "value": "User"}]  # and stored as sent
    kim = person(user["id"])
    assert kim.role == Role.ADMIN and kim.kept_as_last_admin_since is not None
    assert actions(user["id"])[-2:] == ["person.updated", "role.kept_as_last_admin"]
    [notice] = Notification.objects.filter(kind="role_kept_as_last_admin")
    assert notice.to == ["kim@contoso.com", "it@acme.example"]
    assert notice.subject == "Action needed: Alice Smith is kept as the last admin of Acme Corp"
    assert "would have become Member, app roles sent by Microsoft Entra ID: 'User'" in notice.body_text

    # Entra sends the same again next cycle: nothing new, no second email.
    assert scim.patch(f"/Users/{user['id']}", entra.assertive_replace("User")).status_code == 200
    assert Notification.objects.filter(kind="role_kept_as_last_admin").count() == 1

    # Entra gives someone else Admin: Kim is kept no longer.
    other = scim.post("/Users", entra.create_user_assertive("lee@contoso.com", "Admin")).json()
    assert person(other["id"]).role == Role.ADMIN
    kim = person(user["id"])
    assert kim.role == Role.MEMBER and kim.kept_as_last_admin_since is None


def test_gaining_and_losing_admin_through_scim_queues_security_notices(scim, admins):
    user = scim.post("/Users", entra.create_user_assertive("ned@contoso.com", "Admin")).json()
    scim.patch(f"/Users/{user['id']}", entra.assertive_replace())
    gained, lost = Notification.objects.filter(kind="role_admin_changed").order_by("id")
    assert gained.to == ["ada.admin@acme.example", "ned@contoso.com", "sam.second@acme.example"]
    assert gained.subject == "Security notice: Alice Smith is now an admin of Acme Corp"
    assert "Why: Admin through app role 'Admin' from Microsoft Entra ID" in gained.body_text
    assert lost.to == ["ada.admin@acme.example", "sam.second@acme.example", "ned@contoso.com"]
    assert lost.subject == "Security notice: Alice Smith is no longer an admin of Acme Corp"
    assert "nina.nonadmin@acme.example" not in gained.to + lost.to


def test_an_auditor_role_is_audited_but_sends_no_security_notice(scim, admin):
    user = scim.post("/Users", entra.create_user_single_app_role("aud@contoso.com", "Auditor")).json()
    assert person(user["id"]).role == Role.AUDITOR
    assert "role.changed" in actions(user["id"])
    assert not Notification.objects.filter(kind__startswith="role_").exists()


def test_a_token_of_one_tenant_reaches_no_roles_of_another(scim, other_scim, tenant, other_tenant, admin, outsider):
    ours = scim.post("/Users", entra.create_user_assertive("own@contoso.com", "User")).json()
    # Another tenant's token: our user is as unknown as one that does not exist.
    assert other_scim.patch(f"/Users/{ours['id']}", entra.assertive_replace("Admin")).status_code == 404
    assert other_scim.get(f"/Users/{ours['id']}").status_code == 404
    assert person(ours["id"]).role == Role.MEMBER and person(ours["id"]).roles[0]["value"] == "User"
    # Each tenant's mapping applies to its own people only.
    services.app_role_mapping_set(tenant=other_tenant, integration_kind="azure", value="User", role=Role.ADMIN,
                                  actor=ADA)
    theirs = other_scim.post("/Users", entra.create_user_assertive("own@contoso.com", "User")).json()
    assert person(theirs["id"]).role == Role.ADMIN and person(theirs["id"]).tenant == other_tenant
    assert person(ours["id"]).role == Role.MEMBER
    # Their group of admins takes none of our people in.
    gid = other_scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    response = other_scim.patch(f"/Groups/{gid}", entra.add_members(ours["id"]))
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert person(ours["id"]).role == Role.MEMBER


@pytest.mark.django_db(transaction=True)
def test_two_syncs_removing_the_last_two_admins_at_once_keep_one(scim, scim_token, tenant, admin):
    """Each PATCH holds its own user's row; the tenant's row serialises the last-admin check, so the
    second one sees the first one's committed change and keeps its admin."""
    import threading

    from django.db import connections
    from django.test import Client

    from tests.scim_client import ScimClient

    ids = [scim.post("/Users", entra.create_user_assertive(f"{n}@contoso.com", "Admin")).json()["id"]
           for n in ("kim", "lee")]
    services.console_role_set(person=Person.objects.get(pk=admin.pk), role=None, actor=ADA)
    for _ in range(3):
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def remove_admin(user_id: str) -> None:
            try:
                client = ScimClient(Client(), scim_token)
                barrier.wait()
                statuses.append(client.patch(f"/Users/{user_id}", entra.assertive_replace("User")).status_code)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=remove_admin, args=(user_id,)) for user_id in ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200, 200]
        admins = Person.objects.filter(tenant=tenant, role=Role.ADMIN, is_active=True)
        assert admins.count() == 1 and admins.get().kept_as_last_admin_since is not None
        for user_id in ids:  # Entra gives both Admin again for the next round
            assert scim.patch(f"/Users/{user_id}", entra.assertive_replace("Admin")).status_code == 200
        assert not Person.objects.filter(tenant=tenant, kept_as_last_admin_since__isnull=False).exists()
