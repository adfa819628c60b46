"""Every request shape Microsoft Entra ID sends (tests/entra/requests.py), replayed:
status, full body, and directory state."""

import re

import pytest

from directory.models import Group, Membership, Person
from tests.entra import requests as entra

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
BASE = "http://testserver/scim"


def assert_meta(doc: dict, resource_type: str, version: int) -> None:
    meta = doc.pop("meta")
    assert ISO.match(meta.pop("created")) and ISO.match(meta.pop("lastModified"))
    assert meta == {"resourceType": resource_type, "location": f"{BASE}/{resource_type}s/{doc['id']}",
                    "version": f'W/"{version}"'}


def create_alice(scim) -> dict:
    response = scim.post("/Users", entra.CREATE_USER)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_test_connection_probe_answers_an_empty_list(scim):
    # Rule 1: a random GUID lookup is 200 with an empty ListResponse; unknown
    # query parameters (the ?aadOptscim062020 flag) are ignored.
    response = scim.get("/Users", filter='userName eq "2b5f4e0a-9d3c-4b8f-8f8e-6a1e2c3d4b5a"', aadOptscim062020="")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"
    assert response.json() == {"schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
                               "Resources": []}


@pytest.mark.django_db
def test_create_user_with_the_full_entra_attribute_set(scim, tenant):
    response = scim.post("/Users", entra.CREATE_USER)
    assert response.status_code == 201
    doc = response.json()
    assert response["Location"] == f"{BASE}/Users/{doc['id']}"
    assert_meta(doc, "User", 1)
    assert doc == {
        "schemas": [USER_SCHEMA, entra.ENTERPRISE],
        "id": doc["id"],
        "userName": "alice@contoso.com",
        "active": True,
        "externalId": "alice",
        "displayName": "Alice Smith",
        "title": "Engineer",
        "preferredLanguage": "en-US",
        "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
        "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
        "phoneNumbers": [{"type": "work", "value": "+1 206 555 0100"}, {"type": "mobile", "value": "+1 206 555 0101"}],
        "addresses": [{"type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St", "locality": "Seattle",
                       "region": "WA", "postalCode": "98101", "country": "US"}],
        "groups": [],
        entra.ENTERPRISE: {"employeeNumber": "4711", "department": "Retail"},
    }
    person = Person.objects.get(pk=doc["id"])
    assert person.tenant == tenant and person.source == "scim" and person.is_active
    assert person.work_email == "alice@contoso.com" and person.employee_number == "4711"


@pytest.mark.django_db
def test_create_user_accepts_string_booleans(scim):
    response = scim.post("/Users", entra.CREATE_USER_STRING_ACTIVE)
    assert response.status_code == 201
    doc = response.json()
    assert doc["active"] is True
    assert doc["emails"] == [{"primary": True, "type": "work", "value": "bob@contoso.com"}]


@pytest.mark.django_db
@pytest.mark.parametrize("filter_text", [
    'userName eq "alice@contoso.com"',
    'userName eq "ALICE@Contoso.com"',  # userName is case-insensitive (rule 8)
    'externalId eq "alice"',
    'emails[type eq "work"].value eq "alice@contoso.com"',
])
def test_entra_lookups_find_exactly_one(scim, filter_text):
    alice = create_alice(scim)
    scim.post("/Users", entra.CREATE_USER_STRING_ACTIVE)
    response = scim.get("/Users", filter=filter_text)
    assert response.status_code == 200
    body = response.json()
    assert body["totalResults"] == 1 and body["itemsPerPage"] == 1
    assert [r["id"] for r in body["Resources"]] == [alice["id"]]


@pytest.mark.django_db
def test_external_id_is_case_exact(scim):
    create_alice(scim)
    assert scim.get("/Users", filter='externalId eq "ALICE"').json()["totalResults"] == 0


@pytest.mark.django_db
def test_legacy_id_and_manager_lookup_with_attributes_id(scim):
    manager = scim.post("/Users", entra.CREATE_USER_STRING_ACTIVE).json()
    alice = create_alice(scim)
    assert scim.patch(f"/Users/{alice['id']}", entra.set_manager(manager["id"])).status_code == 200
    response = scim.get("/Users", filter=f'id eq "{alice["id"]}" and manager eq "{manager["id"]}"', attributes="id")
    assert response.json()["Resources"] == [{"schemas": [USER_SCHEMA, entra.ENTERPRISE], "id": alice["id"]}]


@pytest.mark.django_db
def test_default_mode_update(scim):
    alice = create_alice(scim)
    response = scim.patch(f"/Users/{alice['id']}", entra.DEFAULT_MODE_UPDATE)
    assert response.status_code == 200
    doc = response.json()
    assert doc["emails"] == [{"primary": True, "type": "work", "value": "alice.new@contoso.com"}]
    assert doc["name"] == {"formatted": "Alice Smith", "familyName": "Jones", "givenName": "Alice"}
    assert doc[entra.ENTERPRISE] == {"employeeNumber": "4711", "department": "Sales"}
    assert doc["meta"]["version"] == 'W/"2"'
    person = Person.objects.get(pk=alice["id"])
    assert person.work_email == "alice.new@contoso.com" and person.family_name == "Jones"


@pytest.mark.django_db
def test_flag_mode_pathless_update_with_dotted_and_urn_keys(scim):
    alice = create_alice(scim)
    doc = scim.patch(f"/Users/{alice['id']}", entra.FLAG_MODE_UPDATE).json()
    assert doc["displayName"] == "B J"
    assert doc["name"] == {"formatted": "Alice Smith", "familyName": "J", "givenName": "B"}
    assert doc["emails"][0]["value"] == "x@contoso.com"
    assert doc[entra.ENTERPRISE]["employeeNumber"] == "42"


@pytest.mark.django_db
def test_add_on_a_filtered_path_creates_the_element(scim):
    alice = create_alice(scim)
    doc = scim.patch(f"/Users/{alice['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Add", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 206 555 0199"},
        {"op": "Add", "path": 'addresses[type eq "home"].locality', "value": "Redmond"},
    ]}).json()
    assert {"type": "fax", "value": "+1 206 555 0199"} in doc["phoneNumbers"]
    assert {"type": "home", "locality": "Redmond"} in doc["addresses"]


@pytest.mark.django_db
@pytest.mark.parametrize("op", ["Add", "Replace", "add"])
def test_add_means_replace_on_single_valued_attributes(scim, op):
    alice = create_alice(scim)
    doc = scim.patch(f"/Users/{alice['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": op, "path": "title", "value": "Director"},
        {"op": op, "path": "externalId", "value": "alice-object-id"},
    ]}).json()
    assert doc["title"] == "Director" and doc["externalId"] == "alice-object-id"


@pytest.mark.django_db
@pytest.mark.parametrize("disable, enable", [
    (entra.DISABLE_DEFAULT, entra.ENABLE_DEFAULT), (entra.DISABLE_FLAG, entra.ENABLE_DEFAULT)])
def test_deactivated_user_stays_retrievable_and_can_be_reactivated(scim, disable, enable):
    alice = create_alice(scim)
    assert scim.patch(f"/Users/{alice['id']}", disable).json()["active"] is False
    assert Person.objects.get(pk=alice["id"]).is_active is False
    # Rule 12: still retrievable by id and by filter.
    assert scim.get(f"/Users/{alice['id']}").json()["active"] is False
    assert scim.get("/Users", filter='userName eq "alice@contoso.com"').json()["totalResults"] == 1
    assert scim.patch(f"/Users/{alice['id']}", enable).json()["active"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("shape", ["default", "legacy"])
def test_manager_is_set_from_a_bare_id_or_a_value_list_and_returned_as_an_object(scim, shape):
    manager = scim.post("/Users", entra.CREATE_USER_STRING_ACTIVE).json()
    alice = create_alice(scim)
    body = entra.set_manager(manager["id"]) if shape == "default" else entra.set_manager_legacy(manager["id"])
    doc = scim.patch(f"/Users/{alice['id']}", body).json()
    assert doc[entra.ENTERPRISE]["manager"] == {
        "value": manager["id"], "$ref": f"{BASE}/Users/{manager['id']}", "displayName": "Alice Smith"}
    removed = scim.patch(f"/Users/{alice['id']}", entra.REMOVE_MANAGER).json()
    assert "manager" not in removed[entra.ENTERPRISE]
    assert Person.objects.get(pk=alice["id"]).manager_id is None


@pytest.mark.django_db
def test_delete_user_removes_it_and_its_memberships(scim):
    alice = create_alice(scim)
    group = scim.post("/Groups", entra.CREATE_GROUP).json()
    scim.patch(f"/Groups/{group['id']}", entra.add_members(alice["id"]))
    assert scim.delete(f"/Users/{alice['id']}").status_code == 204
    response = scim.get(f"/Users/{alice['id']}")
    assert response.status_code == 404
    assert response.json() == {"schemas": [ERROR], "status": "404", "detail": f"User {alice['id']} not found"}
    assert not Membership.objects.exists() and Group.objects.filter(pk=group["id"]).exists()


@pytest.mark.django_db
def test_group_lifecycle(scim, tenant):
    a, b = create_alice(scim), scim.post("/Users", entra.CREATE_USER_STRING_ACTIVE).json()
    # group assigned: lookup, create (always empty), add members
    lookup = scim.get("/Groups", excludedAttributes="members", filter='displayName eq "Engineering"')
    assert lookup.json()["totalResults"] == 0
    response = scim.post("/Groups", entra.CREATE_GROUP)
    assert response.status_code == 201
    group = response.json()
    assert_meta(group, "Group", 1)
    assert group == {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": group["id"],
                     "displayName": "Engineering", "externalId": entra.CREATE_GROUP["externalId"], "members": []}
    gid = group["id"]
    assert scim.patch(f"/Groups/{gid}", entra.add_members(a["id"], b["id"])).status_code == 204
    read = scim.get(f"/Groups/{gid}", excludedAttributes="members").json()
    assert "members" not in read and read["displayName"] == "Engineering"
    full = scim.get(f"/Groups/{gid}").json()
    assert full["members"] == [
        {"value": a["id"], "$ref": f"{BASE}/Users/{a['id']}", "type": "User", "display": "Alice Smith"},
        {"value": b["id"], "$ref": f"{BASE}/Users/{b['id']}", "type": "User", "display": "Alice Smith"},
    ]
    # the user shows the group
    assert scim.get(f"/Users/{a['id']}").json()["groups"] == [
        {"value": gid, "$ref": f"{BASE}/Groups/{gid}", "display": "Engineering", "type": "direct"}]
    # renames never touch members
    for body, name in ((entra.RENAME_GROUP, "Eng-EU"), (entra.RENAME_GROUP_PATHLESS, "Eng-US")):
        assert scim.patch(f"/Groups/{gid}", body).status_code == 204
        assert Group.objects.get(pk=gid).display_name == name
    assert scim.patch(f"/Groups/{gid}", entra.REPLACE_GROUP_EXTERNAL_ID).status_code == 204
    assert Group.objects.get(pk=gid).external_id == "new-object-id"
    assert Membership.objects.filter(group_id=gid).count() == 2
    # group deleted: members stay
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.get(f"/Groups/{gid}").status_code == 404
    assert Person.objects.filter(tenant=tenant, pk__in=[a["id"], b["id"]]).count() == 2


@pytest.mark.django_db
def test_default_mode_member_removal_removes_only_the_listed_ids(scim):
    ids = [scim.post("/Users", {**entra.CREATE_USER, "userName": f"u{i}@contoso.com", "externalId": f"u{i}",
                                "emails": [{"type": "work", "value": f"u{i}@contoso.com"}]}).json()["id"]
           for i in range(3)]
    gid = scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    scim.patch(f"/Groups/{gid}", entra.add_members(*ids))
    assert scim.patch(f"/Groups/{gid}", entra.remove_members_default(ids[0])).status_code == 204
    assert {str(p) for p in Membership.objects.filter(group_id=gid).values_list("person_id", flat=True)} == set(ids[1:])
    assert scim.patch(f"/Groups/{gid}", entra.remove_member_flag(ids[1])).status_code == 204
    assert [str(p) for p in Membership.objects.filter(group_id=gid).values_list("person_id", flat=True)] == [ids[2]]
    assert scim.patch(f"/Groups/{gid}", entra.REMOVE_ALL_MEMBERS).status_code == 204
    assert not Membership.objects.filter(group_id=gid).exists()


@pytest.mark.django_db
def test_uniqueness_clash_is_409(scim):
    create_alice(scim)
    response = scim.post("/Users", {**entra.CREATE_USER, "userName": "ALICE@contoso.com"})
    assert response.status_code == 409
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == "409" and body["scimType"] == "uniqueness"
    scim.post("/Groups", entra.CREATE_GROUP)
    clash = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": "ENGINEERING"})
    assert clash.status_code == 409 and clash.json()["scimType"] == "uniqueness"


@pytest.mark.django_db
def test_v2_mount_and_trailing_and_double_slashes(scim):
    alice = create_alice(scim)
    for path in ("/v2/Users", "/Users/", "//Users", "/v2/Users/"):
        response = scim.get(path, filter='userName eq "alice@contoso.com"')
        assert response.status_code == 200, path
        assert response.json()["totalResults"] == 1
    assert scim.get(f"/v2/Users/{alice['id']}/").status_code == 200
    created = scim.post("/v2/Groups/", entra.CREATE_GROUP)
    assert created.status_code == 201  # no redirect on POST


@pytest.mark.django_db
def test_plus_encoded_spaces_and_percent_encoded_quotes(scim, client, scim_token):
    create_alice(scim)
    response = client.get("/scim/Users?filter=userName+eq+%22alice%40contoso.com%22",
                          HTTP_AUTHORIZATION=f"Bearer {scim_token}")
    assert response.json()["totalResults"] == 1


# --- App roles: Entra's three shapes (entra-scim.md §8) ----------------------------------------


def role_of(user_id: str) -> str:
    return Person.objects.get(pk=user_id).role


@pytest.mark.django_db
def test_single_app_role_assignment_post_and_patch_of_the_primary_role(scim, admin):
    response = scim.post("/Users", entra.create_user_single_app_role("ron@contoso.com"))
    assert response.status_code == 201, response.content
    doc = response.json()
    assert_meta(doc, "User", 3)  # three writes: the person, their app roles, the role those give them
    assert doc == {
        "schemas": [USER_SCHEMA, entra.ENTERPRISE], "id": doc["id"], "userName": "ron@contoso.com", "active": True,
        "externalId": "ron", "displayName": "Alice Smith", "title": "Engineer", "preferredLanguage": "en-US",
        "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
        "emails": [{"primary": True, "type": "work", "value": "ron@contoso.com"}],
        "phoneNumbers": [{"type": "work", "value": "+1 206 555 0100"}, {"type": "mobile", "value": "+1 206 555 0101"}],
        "addresses": [{"type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St", "locality": "Seattle",
                       "region": "WA", "postalCode": "98101", "country": "US"}],
        "roles": [{"primary": True, "type": entra.ROLE_TYPE, "value": "Admin"}],
        "groups": [],
        entra.ENTERPRISE: {"employeeNumber": "4711", "department": "Retail"},
    }
    assert role_of(doc["id"]) == "admin"
    # Returned as stored, so Entra's next cycle finds nothing to change.
    assert scim.get(f"/Users/{doc['id']}").json()["roles"] == doc["roles"]

    response = scim.patch(f"/Users/{doc['id']}", entra.single_app_role_update("Auditor"))
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == [
        {"primary": True, "type": entra.ROLE_TYPE, "value": "Auditor", "display": "Auditor"}]
    assert role_of(doc["id"]) == "auditor"


@pytest.mark.django_db
def test_app_role_assignments_complex_post_and_add_of_json_string_roles(scim, admin):
    response = scim.post("/Users", entra.create_user_app_role_assignments_complex("cara@contoso.com", "User"))
    assert response.status_code == 201, response.content
    user = response.json()
    user_role = {"primary": False, "type": entra.ROLE_TYPE, "displayName": "User", "value": "User"}
    assert user["roles"] == [user_role]
    assert role_of(user["id"]) == "member"

    add_admin = entra.app_role_assignments_complex_add((entra.ADMIN_ROLE_ID, "Admin"))
    assert isinstance(add_admin["Operations"][0]["value"][0]["value"], str)  # JSON inside a string, as Entra sends
    response = scim.patch(f"/Users/{user['id']}", add_admin)
    assert response.status_code == 200, response.content
    admin_role = {"id": entra.ADMIN_ROLE_ID, "value": "Admin", "displayName": "Admin"}
    assert response.json()["roles"] == [user_role, admin_role]
    assert scim.get(f"/Users/{user['id']}").json()["roles"] == [user_role, admin_role]
    assert role_of(user["id"]) == "admin"

    # Entra adds what it believes is missing; a role already there (any case) is not added twice.
    version = Person.objects.get(pk=user["id"]).version
    again = entra.app_role_assignments_complex_add((entra.ADMIN_ROLE_ID, "ADMIN"))
    assert scim.patch(f"/Users/{user['id']}", again).json()["roles"] == [user_role, admin_role]
    assert Person.objects.get(pk=user["id"]).version == version


@pytest.mark.django_db
def test_assertive_replace_removes_the_roles_missing_from_the_list(scim, admin):
    response = scim.post("/Users", entra.create_user_assertive("asa@contoso.com", "Admin", "User"))
    assert response.status_code == 201, response.content
    user = response.json()
    assert user["roles"] == [{"primary": False, "type": entra.ROLE_TYPE, "display": v, "value": v}
                             for v in ("Admin", "User")]
    assert role_of(user["id"]) == "admin"
    response = scim.patch(f"/Users/{user['id']}", entra.assertive_replace("User"))
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == [{"primary": False, "type": entra.ROLE_TYPE, "display": "User", "value": "User"}]
    assert role_of(user["id"]) == "member"
    assert scim.patch(f"/Users/{user['id']}", entra.assertive_replace()).status_code == 200
    assert "roles" not in scim.get(f"/Users/{user['id']}").json()


def _add_roles(*values) -> dict:
    return {"schemas": [entra.PATCH_OP], "Operations": [{"op": "Add", "path": "roles", "value": list(values)}]}


@pytest.mark.django_db
@pytest.mark.parametrize("body, named", [
    (_add_roles({"value": '{"id":"06b07648","value":"Admin",'}), '{"id":"06b07648","value":"Admin",'),
    (_add_roles({"value": '{"id":"06b07648","displayName":"Admin"}'}), "'displayName': 'Admin'"),
    (_add_roles({"value": '{"value":{"nested":"Admin"}}'}), "{'nested': 'Admin'}"),
    (_add_roles({"value": 42, "display": "Answer"}), "'display': 'Answer'"),
    (_add_roles({"value": "", "display": "Blank"}), "'display': 'Blank'"),
    (_add_roles("Admin"), "'Admin'"),
    (_add_roles({"value": "A" * 300}), "'AAAAAAAAAA"),
    ({"schemas": [entra.PATCH_OP], "Operations": [{"op": "replace", "path": "roles", "value": "Admin"}]},
     "'Admin'"),
], ids=["broken-json", "json-without-value", "json-value-not-a-string", "number", "empty", "bare-string",
        "too-long", "replace-with-a-string"])
def test_a_malformed_role_is_400_invalid_value_naming_the_role(scim, admin, body, named):
    user = scim.post("/Users", entra.create_user_assertive("mal@contoso.com", "User")).json()
    response = scim.patch(f"/Users/{user['id']}", body)
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["schemas"] == [ERROR] and error["status"] == "400" and error["scimType"] == "invalidValue"
    assert named in error["detail"], error["detail"]
    assert scim.get(f"/Users/{user['id']}").json()["roles"] == user["roles"]  # all or nothing


@pytest.mark.django_db
def test_a_malformed_role_in_a_post_is_400_and_creates_nobody(scim, admin):
    body = {**entra.create_user_assertive("mal@contoso.com"), "roles": [{"display": "No value"}]}
    response = scim.post("/Users", body)
    assert response.status_code == 400
    assert response.json() == {"schemas": [ERROR], "status": "400", "scimType": "invalidValue",
                               "detail": "The role {'display': 'No value'} has no value."}
    assert not Person.objects.filter(user_name="mal@contoso.com").exists()


# --- Custom extension attributes (issue 16) ------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("declared", [True, False], ids=["declared", "undeclared"])
def test_custom_attributes_in_all_three_forms_come_back_exactly_as_sent(scim, tenant, declared):
    from directory import services
    from directory.audit import Actor

    if declared:
        for name in ("badgeNumber", "building"):
            services.custom_attribute_declare(tenant=tenant, actor=Actor.system("test"), name=name)
    body = entra.create_user_custom("dana@contoso.com", "B-4711", "HQ-7")
    assert entra.CUSTOM not in body["schemas"]  # as Entra sends it
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["schemas"] == [USER_SCHEMA, entra.ENTERPRISE, entra.CUSTOM]
    assert created[entra.CUSTOM] == {"badgeNumber": "B-4711", "building": "HQ-7"}
    user_id = created["id"]
    # The incremental cycle's GET shows what was sent, so Entra sends no PATCH for it.
    got = scim.get(f"/Users/{user_id}").json()
    assert got == created
    # Flag mode: the full-URN key in a path-less value.
    response = scim.patch(f"/Users/{user_id}", entra.custom_flag_mode_update("B-4712"))
    assert response.status_code == 200, response.content
    assert response.json()[entra.CUSTOM] == {"badgeNumber": "B-4712", "building": "HQ-7"}
    # Default mode: Add on the path (the previous GET showed no such value: Add means Replace).
    response = scim.patch(f"/Users/{user_id}", entra.custom_default_mode_update("HQ-8"))
    assert response.status_code == 200, response.content
    assert scim.get(f"/Users/{user_id}").json()[entra.CUSTOM] == {"badgeNumber": "B-4712", "building": "HQ-8"}
    response = scim.patch(f"/Users/{user_id}", entra.CUSTOM_REMOVE)
    assert response.json()[entra.CUSTOM] == {"badgeNumber": "B-4712"}
    person = Person.objects.get(pk=user_id)
    assert person.custom_attributes == {f"{entra.CUSTOM}:badgeNumber": "B-4712"}
    assert person.version == 4
