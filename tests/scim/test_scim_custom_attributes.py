"""Custom extension attributes over SCIM (issue 16): kept, never dropped; declared ones type-checked,
advertised per tenant in /Schemas and /ResourceTypes, projected and filtered in the database."""

from __future__ import annotations

import pytest

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent, Person, ReceivedCustomAttribute
from provisioning.models import ScimRequest
from provisioning.request_log_writer import writer
from tests.entra import requests as entra

SPACEIQ = "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"
ACME = "urn:ietf:params:scim:schemas:extension:Acme:2.0:User"
BADGE = f"{SPACEIQ}:badgeNumber"
BUILDING = f"{SPACEIQ}:building"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SYSTEM = Actor.system("test")


def declare(tenant, name: str, type_: str = "string", schema: str = SPACEIQ, shown: bool = False):
    return services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name=name, type=type_, schema=schema,
                                             shown_in_directory=shown)


@pytest.fixture
def declared(tenant):
    declare(tenant, "badgeNumber", "integer", shown=True)
    declare(tenant, "building")
    declare(tenant, "deskBooking", "boolean")
    declare(tenant, "startDate", "dateTime")


def alice(scim, **extra) -> dict:
    response = scim.post("/Users", {**entra.CREATE_USER, **extra})
    assert response.status_code == 201, response.content
    return response.json()


# --- The three request forms, and the round trip ------------------------------------------


@pytest.mark.django_db
def test_top_level_keys_without_the_urn_in_schemas_are_kept_and_returned_as_sent(scim, declared):
    doc = alice(scim, **{BADGE: 4711, BUILDING: "B7"})
    assert doc["schemas"] == [USER_SCHEMA, entra.ENTERPRISE, SPACEIQ]
    assert doc[SPACEIQ] == {"badgeNumber": 4711, "building": "B7"}
    assert BADGE not in doc
    got = scim.get(f"/Users/{doc['id']}").json()
    assert got[SPACEIQ] == {"badgeNumber": 4711, "building": "B7"} and SPACEIQ in got["schemas"]
    assert Person.objects.get(pk=doc["id"]).custom_attributes == {BADGE: 4711, BUILDING: "B7"}


@pytest.mark.django_db
def test_an_extension_object_in_a_post_is_kept(scim, declared):
    doc = alice(scim, schemas=[USER_SCHEMA, SPACEIQ], **{SPACEIQ: {"building": "HQ", "deskBooking": True}})
    assert doc[SPACEIQ] == {"building": "HQ", "deskBooking": True}


@pytest.mark.django_db
def test_flag_mode_pathless_full_urn_keys_and_patch_paths(scim, declared):
    user_id = alice(scim)["id"]
    response = scim.patch(f"/Users/{user_id}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "replace", "value": {"displayName": "Alice S", BADGE: 42, BUILDING: "B1"}}]})
    assert response.status_code == 200, response.content
    assert response.json()[SPACEIQ] == {"badgeNumber": 42, "building": "B1"}
    # Default mode: Add on a single-valued custom attribute is Replace (rule 4); Remove clears it.
    response = scim.patch(f"/Users/{user_id}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Add", "path": BADGE, "value": 43},
        {"op": "Remove", "path": BUILDING}]})
    assert response.status_code == 200, response.content
    assert response.json()[SPACEIQ] == {"badgeNumber": 43}
    assert scim.get(f"/Users/{user_id}").json()[SPACEIQ] == {"badgeNumber": 43}
    response = scim.patch(f"/Users/{user_id}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Remove", "path": BADGE}]})
    doc = response.json()
    assert SPACEIQ not in doc and doc["schemas"] == [USER_SCHEMA, entra.ENTERPRISE]


@pytest.mark.django_db
def test_put_replaces_the_custom_attributes(scim, declared):
    user_id = alice(scim, **{BADGE: 1, BUILDING: "B1"})["id"]
    response = scim.put(f"/Users/{user_id}", {**entra.CREATE_USER, BUILDING: "B2"})
    assert response.status_code == 200, response.content
    assert response.json()[SPACEIQ] == {"building": "B2"}


@pytest.mark.django_db
def test_a_patch_that_resends_the_same_value_writes_nothing(scim, declared):
    user_id = alice(scim, **{BADGE: 7})["id"]
    response = scim.patch(f"/Users/{user_id}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": BADGE, "value": 7}]})
    assert response.status_code == 200
    assert response.json()["meta"]["version"] == 'W/"1"'


# --- Types -------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("key", "value", "said"), [
    (BADGE, "4711", "must be a whole number (declared Integer)"),
    (BADGE, 1.5, "must be a whole number (declared Integer)"),
    (BADGE, True, "must be a whole number (declared Integer)"),
    (BUILDING, 7, "must be a string (declared String)"),
    (f"{SPACEIQ}:deskBooking", "maybe", "must be true or false (declared Boolean)"),
    (f"{SPACEIQ}:startDate", "next monday", "must be an ISO 8601 date-time"),
    (f"{SPACEIQ}:startDate", "2025-13-01T00:00:00Z", "must be an ISO 8601 date-time"),
    (BUILDING, "x" * 1025, "must be at most 1024 characters"),
])
def test_a_value_of_the_wrong_type_is_a_400_naming_the_attribute(scim, declared, key, value, said):
    for response in (
        scim.post("/Users", {**entra.CREATE_USER, key: value}),
        scim.patch(f"/Users/{alice(scim, userName='x@contoso.com')['id']}", {"schemas": [entra.PATCH_OP],
                   "Operations": [{"op": "Replace", "path": key, "value": value}]}),
    ):
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["schemas"] == [ERROR] and body["status"] == "400" and body["scimType"] == "invalidValue"
        assert key in body["detail"] and said in body["detail"]
    assert not Person.objects.filter(user_name="alice@contoso.com").exists()


@pytest.mark.django_db
def test_entra_string_booleans_are_stored_as_booleans(scim, declared):
    doc = alice(scim, **{f"{SPACEIQ}:deskBooking": "True"})
    assert doc[SPACEIQ] == {"deskBooking": True}


@pytest.mark.django_db
def test_complex_values_are_refused_not_dropped(scim):
    response = scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:office": {"floor": 3}})
    assert response.status_code == 400
    assert f"{ACME}:office" in response.json()["detail"]


# --- Undeclared: kept as sent, then declared -----------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_undeclared_values_are_kept_as_sent_listed_and_noted_in_the_request_log(scim, tenant):
    doc = alice(scim, **{f"{ACME}:costCentre": "CC-9", f"{ACME}:floor": 3, f"{ACME}:remote": False})
    assert doc[ACME] == {"costCentre": "CC-9", "floor": 3, "remote": False}
    assert ACME in doc["schemas"]
    assert scim.get(f"/Users/{doc['id']}").json()[ACME] == {"costCentre": "CC-9", "floor": 3, "remote": False}
    received = {r.name: r.value_type for r in ReceivedCustomAttribute.objects.filter(tenant=tenant)}
    assert received == {"costCentre": "string", "floor": "number", "remote": "boolean"}
    writer.flush()
    logged = ScimRequest.objects.get(method="POST")
    assert logged.status == 201
    assert logged.error_detail == (f"kept 3 undeclared attributes: {ACME}:costCentre, {ACME}:floor, "
                                   f"{ACME}:remote")
    # A PATCH of one of them: noted too; a second sending of the same names records nothing new.
    scim.patch(f"/Users/{doc['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": f"{ACME}:floor", "value": 4}]})
    writer.flush()
    assert ScimRequest.objects.get(method="PATCH").error_detail == f"kept 1 undeclared attribute: {ACME}:floor"
    assert ReceivedCustomAttribute.objects.filter(tenant=tenant).count() == 3

    # Declared afterwards: off the received list, type-checked from now on, advertised.
    services.custom_attribute_declare(tenant=tenant, actor=SYSTEM, name="floor", type="integer", schema=ACME)
    assert ReceivedCustomAttribute.objects.filter(tenant=tenant).count() == 2
    response = scim.patch(f"/Users/{doc['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": f"{ACME}:floor", "value": "five"}]})
    assert response.status_code == 400 and f"{ACME}:floor" in response.json()["detail"]
    assert scim.get(f"/Users/{doc['id']}").json()[ACME]["floor"] == 4
    assert [s["id"] for s in scim.get("/Schemas").json()["Resources"]][-1] == ACME
    listed = scim.get("/Users", filter=f"{ACME}:floor eq 4").json()
    assert [r["id"] for r in listed["Resources"]] == [doc["id"]]


@pytest.mark.django_db
def test_the_audit_trail_records_each_custom_attribute_like_any_other(scim, declared):
    user_id = alice(scim, **{BADGE: 1})["id"]
    created = AuditEvent.objects.get(action="person.created", target_id=user_id)
    assert BADGE in created.details["attributes"]
    scim.patch(f"/Users/{user_id}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": BADGE, "value": 2}, {"op": "Add", "path": BUILDING, "value": "B9"}]})
    updated = AuditEvent.objects.get(action="person.updated", target_id=user_id)
    assert updated.details == {"changes": {BADGE: {"old": 1, "new": 2}, BUILDING: {"old": None, "new": "B9"}}}


# --- Discovery, per tenant ----------------------------------------------------------------


@pytest.mark.django_db
def test_schemas_and_resource_types_advertise_each_tenants_own_extensions(scim, other_scim, declared, other_tenant):
    declare(other_tenant, "parkingSpot", schema=ACME)
    schemas = {s["id"]: s for s in scim.get("/Schemas").json()["Resources"]}
    assert ACME not in schemas
    assert schemas[SPACEIQ] == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": SPACEIQ, "name": "SpaceIQ",
        "description": "Custom attributes declared in SpaceIQ",
        "attributes": [
            {"name": name, "type": type_, "multiValued": False, "description": name, "required": False,
             "caseExact": False, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
            for name, type_ in (("badgeNumber", "integer"), ("building", "string"), ("deskBooking", "boolean"),
                                ("startDate", "dateTime"))
        ],
        "meta": {"resourceType": "Schema", "location": f"http://testserver/scim/Schemas/{SPACEIQ}"},
    }
    assert scim.get(f"/Schemas/{SPACEIQ}").json() == schemas[SPACEIQ]
    assert other_scim.get(f"/Schemas/{SPACEIQ}").status_code == 404
    other = {s["id"] for s in other_scim.get("/Schemas").json()["Resources"]}
    assert ACME in other and SPACEIQ not in other
    user_type = scim.get("/ResourceTypes/User").json()
    assert user_type["schemaExtensions"] == [{"schema": entra.ENTERPRISE, "required": False},
                                             {"schema": SPACEIQ, "required": False}]
    assert other_scim.get("/ResourceTypes/User").json()["schemaExtensions"] == [
        {"schema": entra.ENTERPRISE, "required": False}, {"schema": ACME, "required": False}]


# --- Projection and filters -----------------------------------------------------------------


@pytest.mark.django_db
def test_attributes_and_excluded_attributes_work_on_custom_attributes(scim, declared):
    user_id = alice(scim, **{BADGE: 5, BUILDING: "B5"})["id"]
    only = scim.get(f"/Users/{user_id}", attributes=BADGE).json()
    assert only == {"schemas": [USER_SCHEMA, entra.ENTERPRISE, SPACEIQ], "id": user_id, SPACEIQ: {"badgeNumber": 5}}
    whole = scim.get(f"/Users/{user_id}", attributes=f"userName,{SPACEIQ}").json()
    assert whole[SPACEIQ] == {"badgeNumber": 5, "building": "B5"} and whole["userName"] == "alice@contoso.com"
    without = scim.get(f"/Users/{user_id}", excludedAttributes=BUILDING).json()
    assert without[SPACEIQ] == {"badgeNumber": 5}
    assert SPACEIQ not in scim.get(f"/Users/{user_id}", excludedAttributes=SPACEIQ).json()


@pytest.mark.django_db
def test_filters_on_declared_custom_attributes_run_in_the_database(scim, declared):
    a = alice(scim, **{BADGE: 10, BUILDING: "North", f"{SPACEIQ}:deskBooking": True,
                       f"{SPACEIQ}:startDate": "2025-01-31T09:00:00Z"})["id"]
    b = alice(scim, userName="bob@contoso.com", externalId="bob", **{BADGE: 20, BUILDING: "south"})["id"]
    alice(scim, userName="carol@contoso.com", externalId="carol")

    def ids(text: str) -> list[str]:
        response = scim.get("/Users", filter=text)
        assert response.status_code == 200, response.content
        return sorted(r["id"] for r in response.json()["Resources"])

    assert ids(f'{BUILDING} eq "north"') == [a]  # strings compare case-insensitively
    assert ids(f"{BADGE} eq 20") == [b]
    assert ids(f"{BADGE} gt 10") == [b]
    assert ids(f"{BADGE} ge 10") == sorted([a, b])
    assert ids(f'{BUILDING} sw "So"') == [b]
    assert ids(f"{SPACEIQ}:deskBooking eq true") == [a]
    assert ids(f'{SPACEIQ}:deskBooking eq "True"') == [a]
    assert ids(f'{SPACEIQ}:startDate eq "2025-01-31T09:00:00Z"') == [a]
    assert ids(f"{BADGE} pr") == sorted([a, b])
    assert len(ids(f'{BUILDING} ne "north"')) == 2  # bob, and carol who has none
    assert ids(f'userName eq "bob@contoso.com" and {BADGE} eq 20') == [b]
    for bad, said in ((f'{BADGE} eq "20"', "integer"), (f"{BUILDING} eq 1", "string"),
                      (f'{SPACEIQ}:nope eq "x"', "only declared custom attributes")):
        response = scim.get("/Users", filter=bad)
        assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter", bad
        assert said in response.json()["detail"]


@pytest.mark.django_db
def test_a_filter_on_another_tenants_attribute_is_refused_and_finds_nothing_across_the_wall(
        scim, other_scim, declared, other_tenant):
    alice(scim, **{BADGE: 10})
    # Tenant B has not declared badgeNumber: its filter is refused, never ignored (rule 8).
    response = other_scim.get("/Users", filter=f"{BADGE} eq 10")
    assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter"
    # Declared by B too: B's filter sees only B's people.
    declare(other_tenant, "badgeNumber", "integer")
    response = other_scim.get("/Users", filter=f"{BADGE} eq 10")
    assert response.status_code == 200 and response.json()["totalResults"] == 0


@pytest.mark.django_db
def test_a_request_without_custom_attributes_reads_no_catalogue(scim, declared, django_assert_num_queries):
    user_id = alice(scim, **{BADGE: 1})["id"]
    scim.get(f"/Users/{user_id}")  # warm: the token is in memory
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert scim.get(f"/Users/{user_id}").status_code == 200
        assert scim.patch(f"/Users/{user_id}", entra.DEFAULT_MODE_UPDATE).status_code == 200
    assert not [q for q in queries.captured_queries if "customattribute" in q["sql"]]


@pytest.mark.django_db
def test_limits_on_undeclared_names_and_their_syntax_are_clear_400s(scim, tenant, monkeypatch):
    from directory import custom_attributes

    monkeypatch.setattr(custom_attributes, "MAX_RECEIVED_PER_TENANT", 2)
    response = scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:a": "1", f"{ACME}:b": "2", f"{ACME}:c": "3"})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    assert "already keeps 0 undeclared custom attributes (at most 2)" in response.json()["detail"]
    assert not ReceivedCustomAttribute.objects.exists() and not Person.objects.exists()
    response = scim.post("/Users", {**entra.CREATE_USER, f"{ACME}:bad name": "1"})
    assert response.status_code == 400 and f"{ACME}:bad name" in response.json()["detail"]
    assert "is not an attribute name" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_the_catalogue_is_read_once_per_process_and_again_after_a_declaration(scim, tenant, steady_bookkeeping):
    """Outside a transaction (as gunicorn serves Entra) each process keeps the tenant's catalogue beside
    its tokens (provisioning.token_cache); a declaration's trigger makes every process read it again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    declare(tenant, "badgeNumber", "integer")
    assert scim.post("/Users", {**entra.CREATE_USER, BADGE: 1}).status_code == 201
    with CaptureQueriesContext(connection) as queries:
        response = scim.post("/Users", {**entra.CREATE_USER, "userName": "bob@contoso.com", BADGE: 2})
    assert response.status_code == 201
    assert not [q for q in queries.captured_queries if "customattribute" in q["sql"]]
    declare(tenant, "building")  # committed: the trigger notifies every process
    response = scim.post("/Users", {**entra.CREATE_USER, "userName": "carol@contoso.com", BUILDING: 7})
    assert response.status_code == 400 and BUILDING in response.json()["detail"]
