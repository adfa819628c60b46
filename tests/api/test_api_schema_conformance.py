"""Every answer of the admin REST API matches its OpenAPI schema (issue 15, "Schema and docs").

The schema drf-spectacular serves at /api/v1/schema/ is what API clients are
generated from, so each operation is called with real data (people in groups,
every kind of role source, a group of more than a page of members, audit
events, SCIM request log rows, SSO sign-ins, an active integration) and with
every error it documents, and schemathesis validates each answer against the
operation it came from: the status is documented, the body matches that
status's schema, the media type and headers are the documented ones. Then the
other way round: every status the schema documents for an operation is one
this test saw it answer, so the schema promises nothing that never happens.

Event lists only show rows whose writing transaction has ended
(spaceiq_site.postgresql.commit_order), so the world is built on committed
data (``transactional_db``).
"""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from django.core.management import call_command
from django.test import Client
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import api_key_for
from tests.entra import requests as entra
from tests.scim_client import ScimClient, issue_token

# What "matches the schema" means here and in test_api_schemathesis.py.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
SCHEMA_PATH = "/api/v1/schema/?format=json"
BIG_GROUP_SIZE = 105  # more than a page (directory.api_pagination.PAGE_SIZE) with the default limit


# --- The world the API is read from ---------------------------------------------------------------


@dataclass
class ApiWorld:
    tenant: Any
    admin: Any
    keys: dict[str, str] = field(default_factory=dict)  # "all", "directory", "logs" and "revoked"
    person_with_roles: Any = None  # console role, a group's role and an app role
    small_group: Any = None  # has a role for its members
    big_group: Any = None  # more than a page of members
    other_tenant_person: Any = None


def _keys(tenant) -> dict[str, str]:
    from directory import services
    from directory.audit import Actor
    from directory.models import ApiKey

    keys = {scope: api_key_for(tenant, scope) for scope in ("all", "directory", "logs")}
    keys["revoked"] = api_key_for(tenant, label="Old")
    services.api_key_revoke(key=ApiKey.objects.get(label="Old"), actor=Actor.system("test"))
    return keys


def _single_sign_on(tenant, admin) -> None:
    """SSO on the Azure integration, and one sign-in of every outcome in its log."""
    from directory.audit import Actor
    from provisioning.sso import services
    from tests.sso.conftest import configure_sso
    from tests.sso.idp import EntraIdP

    config = configure_sso(tenant, EntraIdP())
    idp = Actor.system("test")
    services.sso_signin_record(config=config, actor=idp, flow="idp", outcome="succeeded",
                               name_id=admin.user_name, person=admin)
    services.sso_signin_record(config=config, actor=idp, flow="idp", outcome="refused", reason="signature",
                               name_id="mallory@acme.example", detail="The signature does not verify.")
    services.sso_signin_record(config=config, actor=idp, flow="test", outcome="tested", name_id=admin.user_name,
                               person=admin)


def build_api_world(tenant, admin, other_tenant, outsider) -> ApiWorld:
    """Tenant A with everything the API shows; tenant B's person (whose id is a 404 to A's keys)."""
    from directory import services
    from directory.audit import Actor
    from directory.models import Group, Person
    from provisioning.request_log_writer import writer

    actor = Actor.system("test")
    world = ApiWorld(tenant=tenant, admin=admin)
    # Provisioned over SCIM, so the request log fills as Entra fills it: a user with an app role,
    # a group they are in, and a failed request.
    scim = ScimClient(Client(), issue_token(tenant))
    created = scim.post("/Users", {**entra.create_user_single_app_role("ann.approle@acme.example", "Auditor"),
                                   "displayName": "Ann Approle"})
    assert created.status_code == 201, created.content
    group = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": "Engineering"})
    assert group.status_code == 201, group.content
    added = scim.patch(f"/Groups/{group.json()['id']}", entra.add_members(created.json()["id"], str(admin.pk)))
    assert added.status_code in (200, 204), added.content
    assert scim.get("/Users/00000000-0000-0000-0000-000000000000").status_code == 404
    assert writer.flush()

    world.small_group = Group.objects.get(pk=group.json()["id"])
    services.group_role_set(group=world.small_group, role="auditor", actor=actor)
    world.person_with_roles = Person.objects.get(pk=created.json()["id"])
    services.console_role_set(person=world.person_with_roles, role="admin", actor=actor)

    everyone = services.person_bulk_create(tenant=tenant, actor=actor, people=[
        {"user_name": f"p{i:03}@acme.example", "display_name": f"Person {i:03}"} for i in range(BIG_GROUP_SIZE)
    ])
    services.person_deactivate(person=everyone[0], actor=actor)
    world.big_group = services.group_create(tenant=tenant, actor=actor, display_name="Everyone",
                                            member_ids=[p.pk for p in everyone])
    _single_sign_on(tenant, admin)
    world.other_tenant_person = outsider
    world.keys = _keys(tenant)
    return world


@pytest.fixture
def api_world(transactional_db, tenant, admin, other_tenant, outsider) -> ApiWorld:
    return build_api_world(tenant, admin, other_tenant, outsider)


# --- Calling an operation and checking its answer ----------------------------------------------


def next_query(body: dict) -> dict[str, str]:
    """The query of a page's next link, to call the same operation with."""
    return {name: values[-1] for name, values in parse_qs(urlsplit(body["next"]).query).items()}


class Caller:
    """Calls operations of the schema in process and validates every answer; remembers which statuses each
    operation gave, and the last answer.

    Requests go through Django's WSGI handler as in production (schemathesis' WSGI transport), not the
    test client: the handler closes a connection left inside a transaction, so the data must be committed.
    """

    def __init__(self, schema) -> None:
        self.schema = schema
        self.seen: dict[str, set[str]] = defaultdict(set)
        self.last = None

    def __call__(self, path: str, status: int, key: str | None, query: dict | None = None, **path_parameters):
        operation = self.schema[path]["GET"]
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        case = operation.Case(path_parameters=path_parameters, query=query or {}, headers=headers)
        response = self.last = case.call()
        assert response.status_code == status, (path, query, path_parameters, response.status_code, response.text)
        case.validate_response(response, checks=CHECKS)
        self.seen[path].add(str(status))
        return response.json()


@pytest.fixture
def schema():
    from spaceiq_site.wsgi import application

    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, application)


def documented_statuses(schema) -> dict[str, set[str]]:
    return {path: set(item["get"]["responses"]) for path, item in schema.raw_schema["paths"].items()}


# --- The tests ------------------------------------------------------------------------------------


def test_every_answer_matches_its_operation_in_the_schema(api_world, schema, settings):
    w = api_world
    call = Caller(schema)
    key, directory_key, logs_key = w.keys["all"], w.keys["directory"], w.keys["logs"]

    # People: the list, filters, pages, a person with every kind of role source.
    people = call("/api/v1/people/", 200, key)
    assert len(people["results"]) == 100 and people["next"]
    page_two = call("/api/v1/people/", 200, key, next_query(people))
    assert page_two["results"] and page_two["next"] is None
    for query in ({"status": "inactive"}, {"status": "active", "role": "admin"}, {"source": "scim"},
                  {"search": "approle"}, {"updated_since": "2000-01-01T00:00:00Z"}, {"limit": 1}):
        assert call("/api/v1/people/", 200, directory_key, query)["results"], query
    person = call("/api/v1/people/{person_id}/", 200, key, person_id=str(w.person_with_roles.pk))
    assert {s["kind"] for s in person["role_sources"]} == {"console", "group", "app_role"}
    assert [g["display_name"] for g in person["groups"]] == ["Engineering"]
    call("/api/v1/people/{person_id}/", 200, key, person_id=str(w.admin.pk))

    # Groups: the list, a group of more than a page of members, its members page by page.
    groups = call("/api/v1/groups/", 200, key)
    assert {g["display_name"]: g["member_count"] for g in groups["results"]} == {
        "Engineering": 2, "Everyone": BIG_GROUP_SIZE}
    call("/api/v1/groups/", 200, key, {"search": "eng", "limit": 1})
    big = call("/api/v1/groups/{group_id}/", 200, key, group_id=str(w.big_group.pk))
    assert len(big["members"]["results"]) == 100 and "/members/" in big["members"]["next"]
    call("/api/v1/groups/{group_id}/", 200, key, group_id=str(w.small_group.pk))
    members = call("/api/v1/groups/{group_id}/members/", 200, key, {"limit": 60}, group_id=str(w.big_group.pk))
    rest = call("/api/v1/groups/{group_id}/members/", 200, key, next_query(members), group_id=str(w.big_group.pk))
    assert len(members["results"]) + len(rest["results"]) == BIG_GROUP_SIZE and rest["next"] is None

    # Logs: every event list, filtered and polled past its end; the integrations.
    events = call("/api/v1/audit-events/", 200, logs_key, {"limit": 500})
    assert {"person.created", "group.created", "api_key.created", "sso.signin_refused"} <= {
        e["action"] for e in events["results"]}
    assert call("/api/v1/audit-events/", 200, logs_key, next_query(events))["results"] == []
    call("/api/v1/audit-events/", 200, key, {"action": "group.created", "target": "Everyone", "limit": 2,
                                             "since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"})
    call("/api/v1/audit-events/", 200, key, {"actor": str(w.admin.pk)})
    requests = call("/api/v1/provisioning-requests/", 200, logs_key)
    assert {r["outcome"] for r in requests["results"]} == {"success", "failure"}
    call("/api/v1/provisioning-requests/", 200, key, {"integration": "azure", "outcome": "failure"})
    sign_ins = call("/api/v1/sso-sign-ins/", 200, logs_key)
    assert {s["outcome"] for s in sign_ins["results"]} == {"succeeded", "refused", "tested"}
    call("/api/v1/sso-sign-ins/", 200, key, {"outcome": "refused", "integration": "azure", "limit": 500})
    integrations = call("/api/v1/integrations/", 200, logs_key)
    assert [(i["kind"], i["state"]) for i in integrations] == [("azure", "active")]

    # Errors: a bad query parameter, a missing or dead key, the wrong scope, nothing there, too many requests.
    for path, query in [("/api/v1/people/", {"status": "gone"}), ("/api/v1/people/", {"updated_since": "soon"}),
                        ("/api/v1/groups/", {"search": "x" * 201}), ("/api/v1/audit-events/", {"since": "monday"}),
                        ("/api/v1/provisioning-requests/", {"outcome": "maybe"}),
                        ("/api/v1/sso-sign-ins/", {"outcome": "denied"})]:
        call(path, 400, key, query)
    every_operation = [
        ("/api/v1/people/", {}), ("/api/v1/people/{person_id}/", {"person_id": str(w.admin.pk)}),
        ("/api/v1/groups/", {}), ("/api/v1/groups/{group_id}/", {"group_id": str(w.big_group.pk)}),
        ("/api/v1/groups/{group_id}/members/", {"group_id": str(w.big_group.pk)}), ("/api/v1/audit-events/", {}),
        ("/api/v1/provisioning-requests/", {}), ("/api/v1/sso-sign-ins/", {}), ("/api/v1/integrations/", {}),
    ]
    for path, params in every_operation:
        call(path, 401, None, **params)
        call(path, 401, w.keys["revoked"], **params)
        wrong_scope = logs_key if path.startswith(("/api/v1/people/", "/api/v1/groups/")) else directory_key
        call(path, 403, wrong_scope, **params)
    outsiders = str(w.other_tenant_person.pk)
    call("/api/v1/people/{person_id}/", 404, key, person_id=outsiders)
    call("/api/v1/people/{person_id}/", 404, key, person_id="not-an-id")
    call("/api/v1/groups/{group_id}/", 404, key, group_id=outsiders)
    call("/api/v1/groups/{group_id}/members/", 404, key, group_id="00000000-0000-0000-0000-000000000000")
    for path in ("/api/v1/people/", "/api/v1/groups/", "/api/v1/audit-events/", "/api/v1/provisioning-requests/",
                 "/api/v1/sso-sign-ins/"):
        call(path, 404, key, {"cursor": "not-a-cursor"})
    call("/api/v1/groups/{group_id}/members/", 404, key, {"cursor": "bm9wZQ"}, group_id=str(w.big_group.pk))

    # A key that has had its one request of the minute.
    settings.API_THROTTLE_RATE = "1/minute"
    throttled_key = api_key_for(w.tenant, label="Busy")
    call("/api/v1/integrations/", 200, throttled_key)
    for path, params in every_operation:
        throttled = call(path, 429, throttled_key, **params)
        assert "throttled" in throttled["detail"] and int(call.last.headers["retry-after"][0]) > 0

    # The schema documents nothing this test has not seen happen.
    assert call.seen == documented_statuses(schema)


def test_a_forged_cursor_is_a_404_not_a_server_error(transactional_db, tenant, admin, schema):
    """Regression: DRF's cursors are base64 of a query string, and one whose position is not an id reached
    the query (a 500). It is refused like any malformed cursor."""
    from directory import services
    from directory.audit import Actor

    group = services.group_create(tenant=tenant, actor=Actor.system("test"), display_name="Everyone",
                                  member_ids=[admin.pk])
    call, key = Caller(schema), api_key_for(tenant)
    for position in ("p=not-a-uuid", "p=1", "o=1&p=%00"):
        forged = base64.b64encode(position.encode()).decode()
        call("/api/v1/people/", 404, key, {"cursor": forged})
        call("/api/v1/groups/", 404, key, {"cursor": forged})
        call("/api/v1/groups/{group_id}/members/", 404, key, {"cursor": forged}, group_id=str(group.pk))
    assert call("/api/v1/people/", 200, key, {"cursor": base64.b64encode(f"p={admin.pk}".encode()).decode()})


def test_the_schema_is_valid_openapi_without_a_warning():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
