"""Tenant walls on every SCIM route, bounded query counts, and concurrency on a live server."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from directory.models import AuditEvent, Group, Membership, Person, Tenant
from tests.conftest import make_person, make_tenant
from tests.entra import requests as entra
from tests.scim_client import issue_token


@pytest.fixture
def a_objects(scim):
    """Tenant A's user and group (with the user as member), created through SCIM."""
    user = scim.post("/Users", entra.CREATE_USER).json()
    group = scim.post("/Groups", entra.CREATE_GROUP).json()
    scim.patch(f"/Groups/{group['id']}", entra.add_members(user["id"]))
    return user, group


def snapshot():
    return (
        sorted(Person.objects.values_list("id", "user_name", "version", "is_active")),
        sorted(Group.objects.values_list("id", "display_name", "version")),
        sorted(Membership.objects.values_list("group_id", "person_id")),
    )


@pytest.mark.django_db
def test_a_token_of_tenant_b_sees_and_changes_nothing_of_tenant_a(a_objects, other_scim):
    user, group = a_objects
    before = snapshot()
    uid, gid = user["id"], group["id"]
    attempts = [
        other_scim.get(f"/Users/{uid}"),
        other_scim.get(f"/Groups/{gid}"),
        other_scim.put(f"/Users/{uid}", {"userName": "stolen@contoso.com"}),
        other_scim.put(f"/Groups/{gid}", {"displayName": "Stolen"}),
        other_scim.patch(f"/Users/{uid}", entra.DISABLE_DEFAULT),
        other_scim.patch(f"/Groups/{gid}", entra.REMOVE_ALL_MEMBERS),
        other_scim.delete(f"/Users/{uid}"),
        other_scim.delete(f"/Groups/{gid}"),
    ]
    assert [r.status_code for r in attempts] == [404] * len(attempts)
    # No filter, search or listing reveals A's objects.
    for path, params in [
        ("/Users", {}), ("/Groups", {}),
        ("/Users", {"filter": 'userName eq "alice@contoso.com"'}),
        ("/Users", {"filter": f'id eq "{uid}"'}),
        ("/Users", {"filter": 'emails[type eq "work"].value eq "alice@contoso.com"'}),
        ("/Groups", {"filter": 'displayName eq "Engineering"'}),
        ("/Groups", {"filter": f'members.value eq "{uid}"'}),
    ]:
        body = other_scim.get(path, **params).json()
        assert body["totalResults"] == 0 and body["Resources"] == [], (path, params)
    search = other_scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                                "filter": "userName pr"}).json()
    assert search["totalResults"] == 0
    # B cannot pull A's people into its own groups, nor make them managers.
    b_group = other_scim.post("/Groups", entra.CREATE_GROUP).json()
    assert other_scim.patch(f"/Groups/{b_group['id']}", entra.add_members(uid)).status_code == 400
    b_user = other_scim.post("/Users", entra.CREATE_USER).json()
    assert other_scim.patch(f"/Users/{b_user['id']}", entra.set_manager(uid)).status_code == 400
    after = snapshot()
    a_rows = lambda snap: ([r for r in snap[0] if str(r[0]) == uid], [r for r in snap[1] if str(r[0]) == gid])  # noqa: E731
    assert a_rows(before) == a_rows(after)
    assert (group["id"], ) and Membership.objects.filter(group_id=gid).count() == 1


@pytest.mark.django_db
def test_the_same_user_name_and_group_name_live_in_two_tenants(scim, other_scim):
    assert scim.post("/Users", entra.CREATE_USER).status_code == 201
    assert other_scim.post("/Users", entra.CREATE_USER).status_code == 201
    assert scim.post("/Groups", entra.CREATE_GROUP).status_code == 201
    assert other_scim.post("/Groups", entra.CREATE_GROUP).status_code == 201


# --- Query counts: bounded, independent of directory size ---------------------------


def _grow(scim, n: int, prefix: str) -> list[str]:
    return [scim.post("/Users", {"userName": f"{prefix}{i}@contoso.com",
                                 "emails": [{"type": "work", "value": f"{prefix}{i}@contoso.com"}]}).json()["id"]
            for i in range(n)]


@pytest.mark.django_db
@pytest.mark.parametrize("size", [3, 30])
def test_request_costs_do_not_grow_with_the_directory(scim, django_assert_max_num_queries, size):
    ids = _grow(scim, size, "p")
    manager = ids[0]
    gid = scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    scim.patch(f"/Groups/{gid}", entra.add_members(*ids))
    for uid in ids[1:]:
        scim.patch(f"/Users/{uid}", entra.set_manager(manager))
    # auth (1) + touch (0-2) + request log (1) + the work itself
    with django_assert_max_num_queries(8):
        assert scim.get("/Users", filter='userName eq "p1@contoso.com"').status_code == 200
    with django_assert_max_num_queries(8):
        assert scim.get("/Users", count=100).status_code == 200  # groups and managers: one query each
    with django_assert_max_num_queries(8):
        assert scim.get(f"/Users/{ids[1]}").status_code == 200
    with django_assert_max_num_queries(8):
        assert scim.get(f"/Groups/{gid}", excludedAttributes="members").status_code == 200
    with django_assert_max_num_queries(8):
        assert scim.get(f"/Groups/{gid}").status_code == 200
    with django_assert_max_num_queries(14):
        assert scim.post("/Users", entra.CREATE_USER).status_code == 201
    with django_assert_max_num_queries(16):
        assert scim.patch(f"/Users/{ids[2]}", entra.DEFAULT_MODE_UPDATE).status_code == 200
    new_ids = _grow(scim, 5, "q")
    with django_assert_max_num_queries(16):
        assert scim.patch(f"/Groups/{gid}", entra.add_members(*new_ids)).status_code == 204
    with django_assert_max_num_queries(16):
        assert scim.patch(f"/Groups/{gid}", entra.remove_members_default(*new_ids[:2])).status_code == 204


@pytest.mark.django_db
def test_indexed_lookups_use_their_indexes(scim):
    from django.db import connection

    _grow(scim, 5, "i")
    queries = {
        "user_name": "SELECT 1 FROM directory_person WHERE tenant_id = 1 AND LOWER(user_name) = 'x'",
        "external_id": "SELECT 1 FROM directory_person WHERE tenant_id = 1 AND external_id = 'x'",
        "work_email": "SELECT 1 FROM directory_person WHERE tenant_id = 1 AND LOWER(work_email) = 'x'",
        "group": "SELECT 1 FROM directory_group WHERE tenant_id = 1 AND LOWER(display_name) = 'x'",
    }
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        for name, sql in queries.items():
            cursor.execute("EXPLAIN " + sql)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "Index" in plan, (name, plan)
        cursor.execute("SET enable_seqscan = on")


# --- Concurrency on a live, multi-threaded server -------------------------------------


def _request(url: str, token: str, method: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@dataclass
class Race:
    """A tenant of its own on the live server, its token, and the SCIM base URL."""

    tenant: Tenant
    token: str
    base: str


@pytest.fixture
def race(transactional_db, live_server) -> Race:
    tenant = make_tenant("race", "Race Inc")
    return Race(tenant, issue_token(tenant), live_server.url + "/scim")


def test_parallel_creates_of_one_user_name_make_exactly_one(race):
    tenant, token = race.tenant, race.token
    url = race.base + "/Users"
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: _request(url, token, "POST", entra.CREATE_USER), range(50)))
    assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
    assert Person.objects.filter(tenant=tenant, user_name="alice@contoso.com").count() == 1


def test_parallel_member_additions_lose_nothing(race):
    tenant, token = race.tenant, race.token
    base = race.base
    ids = []
    for i in range(20):
        body = {"userName": f"m{i}@contoso.com"}
        req = urllib.request.Request(base + "/Users", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/scim+json"})
        with urllib.request.urlopen(req) as response:
            ids.append(json.loads(response.read())["id"])
    gid = str(Group.objects.create(tenant=tenant, display_name="Everyone").pk)
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(
            lambda uid: _request(f"{base}/Groups/{gid}", token, "PATCH", entra.add_members(uid)), ids))
    assert statuses == [204] * 20
    assert Membership.objects.filter(group_id=gid).count() == 20
    assert Group.objects.get(pk=gid).version == 21


def test_parallel_renames_to_one_name_one_wins(race):
    tenant, token = race.tenant, race.token
    base = race.base + "/Groups"
    g1 = str(Group.objects.create(tenant=tenant, display_name="One").pk)
    g2 = str(Group.objects.create(tenant=tenant, display_name="Two").pk)
    rename = {"schemas": [entra.PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Same"}]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(lambda gid: _request(f"{base}/{gid}", token, "PATCH", rename), [g1, g2]))
    assert statuses == [204, 409]
    assert Group.objects.filter(tenant=tenant, display_name="Same").count() == 1


def test_parallel_patches_of_one_user_lose_nothing(race):
    """User PATCHes are written without a lock when nobody else wrote the user in between
    (directory.services.person_update, expected_version); each one that lost the race runs
    again under a row lock, so every Add lands, once."""
    tenant, token = race.tenant, race.token
    base = race.base + "/Users"
    uid = str(make_person(tenant, "pat@contoso.com", password=None).pk)

    def add_number(i: int) -> int:
        return _request(f"{base}/{uid}", token, "PATCH", {"schemas": [entra.PATCH_OP], "Operations": [
            {"op": "Add", "path": "phoneNumbers", "value": [{"type": "other", "value": f"+1 555 0100 {i:03d}"}]}]})

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(add_number, range(40)))
    assert statuses == [200] * 40
    person = Person.objects.get(pk=uid)
    assert sorted(p["value"] for p in person.phone_numbers) == [f"+1 555 0100 {i:03d}" for i in range(40)]
    assert person.version == 41
    assert AuditEvent.objects.filter(target_id=uid, action="person.updated").count() == 40


def test_parallel_renames_of_two_users_to_one_name_one_wins(race):
    tenant, token = race.tenant, race.token
    base = race.base + "/Users"
    ids = [str(make_person(tenant, f"u{i}@contoso.com", password=None).pk) for i in range(2)]
    rename = {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": "userName", "value": "same@contoso.com"}]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(pool.map(lambda uid: _request(f"{base}/{uid}", token, "PATCH", rename), ids))
    assert statuses == [200, 409]
    assert Person.objects.filter(tenant=tenant, user_name="same@contoso.com").count() == 1
    assert AuditEvent.objects.filter(action="person.updated", target_label="same@contoso.com").count() == 1
