"""/api/v1/people and /groups: filters, details with groups, role sources and members, paging, tenant walls."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from directory import services
from directory.audit import Actor
from directory.models import Person
from tests.conftest import make_person

SYSTEM = Actor.system("test")


@pytest.fixture
def people(tenant):
    ada = make_person(tenant, "ada@example.com", display_name="Ada Lovelace", department="Engineering")
    bob = make_person(tenant, "bob@example.com", display_name="Bob Stone")
    cy = make_person(tenant, "cy@example.com", display_name="Cy Young")
    services.person_deactivate(person=cy, actor=SYSTEM)
    Person.objects.filter(pk=bob.pk).update(source="scim")
    return {"ada": ada, "bob": bob, "cy": cy}


def user_names(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(row["user_name"] for row in response.json()["results"])


def test_people_filters(api, people, admin):
    everyone = user_names(api.get("/people/"))
    assert {"ada@example.com", "bob@example.com", "cy@example.com", admin.user_name} == set(everyone)
    assert user_names(api.get("/people/", {"status": "inactive"})) == ["cy@example.com"]
    assert "cy@example.com" not in user_names(api.get("/people/", {"status": "active"}))
    assert user_names(api.get("/people/", {"source": "scim"})) == ["bob@example.com"]
    assert user_names(api.get("/people/", {"role": "admin"})) == [admin.user_name]
    assert user_names(api.get("/people/", {"search": "lovelace"})) == ["ada@example.com"]
    later = timezone.now() + timedelta(milliseconds=1)
    assert user_names(api.get("/people/", {"updated_since": later.isoformat()})) == []
    services.person_update(person=people["ada"], actor=SYSTEM, changes={"title": "Countess"})
    assert user_names(api.get("/people/", {"updated_since": later.isoformat()})) == ["ada@example.com"]


def test_person_detail_has_groups_and_every_role_source(api, people):
    ada = people["ada"]
    group = services.group_create(tenant=ada.tenant, actor=SYSTEM, display_name="Auditors", member_ids=[ada.pk])
    services.group_role_set(group=group, role="auditor", actor=SYSTEM)
    body = api.get(f"/people/{ada.pk}/").json()
    assert body["id"] == str(ada.pk) and body["user_name"] == "ada@example.com"
    assert body["role"] == "auditor"
    assert body["groups"] == [{"id": str(group.pk), "display_name": "Auditors"}]
    assert [(s["role"], s["kind"], s["group_id"]) for s in body["role_sources"]] == [
        ("auditor", "group", str(group.pk))]
    assert body["active"] is True and body["department"] == "Engineering"


def test_people_page_through_every_person_exactly_once(api, tenant):
    for n in range(7):
        make_person(tenant, f"p{n}@example.com")
    seen, url = [], "/api/v1/people/?limit=3"
    while url:
        response = api.follow(url)
        assert response.status_code == 200
        body = response.json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        assert (response.get("Link") is None) == (url is None)
        if url:
            assert response["Link"] == f'<{url}>; rel="next"'
    assert len(seen) == len(set(seen)) == Person.objects.filter(tenant=tenant).count()


def test_groups_with_members_paginated(api, tenant):
    members = [make_person(tenant, f"m{n}@example.com") for n in range(5)]
    group = services.group_create(tenant=tenant, actor=SYSTEM, display_name="Floor 3")
    services.group_members_add(group=group, actor=SYSTEM, person_ids=[p.pk for p in members])
    listed = api.get("/groups/").json()["results"]
    assert [(g["display_name"], g["member_count"]) for g in listed] == [("Floor 3", 5)]
    detail = api.get(f"/groups/{group.pk}/", {"limit": 2}).json()
    assert detail["member_count"] == 5 and len(detail["members"]["results"]) == 2
    seen = [m["id"] for m in detail["members"]["results"]]
    url = detail["members"]["next"]
    assert f"/api/v1/groups/{group.pk}/members/" in url
    while url:
        body = api.follow(url).json()
        seen += [m["id"] for m in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(str(p.pk) for p in members)


def test_tenant_walls_on_every_directory_endpoint(api, outsider_api, people, other_tenant):
    ada = people["ada"]
    group = services.group_create(tenant=ada.tenant, actor=SYSTEM, display_name="Secret group")
    services.group_members_add(group=group, actor=SYSTEM, person_ids=[ada.pk])
    make_person(other_tenant, "stranger@other.test")
    for path in (f"/people/{ada.pk}/", f"/groups/{group.pk}/", f"/groups/{group.pk}/members/"):
        assert api.get(path).status_code == 200
        response = outsider_api.get(path)
        assert response.status_code == 404, path
        assert "ada" not in response.content.decode()
    assert "ada@example.com" not in user_names(outsider_api.get("/people/"))
    assert "stranger@other.test" not in user_names(api.get("/people/"))
    assert outsider_api.get("/groups/").json()["results"] == []
    assert user_names(outsider_api.get("/people/", {"search": "ada"})) == []


def test_listing_people_costs_the_same_few_queries_whatever_the_page_size(api, tenant,
                                                                          django_assert_max_num_queries):
    for n in range(30):
        make_person(tenant, f"q{n}@example.com")
    with django_assert_max_num_queries(4):
        assert len(api.get("/people/", {"limit": 30}).json()["results"]) == 30
