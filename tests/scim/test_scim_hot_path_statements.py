"""SQL statements per Entra request kind, as production runs them: a remembered token
(provisioning/token_cache.py), the request log written behind the response
(provisioning/request_log_writer.py), the user's groups read with the user.

Committed data (``transactional_db``), because both shortcuts are off inside a
transaction. ``make bench`` prints the same counts per request kind, without
BEGIN and COMMIT.
"""

from __future__ import annotations

import pytest
from django.test import Client

from directory.audit import Actor
from directory.services import group_create, group_members_add
from provisioning.request_log_writer import writer
from tests.entra import requests as entra
from tests.scim_client import issue_token, scim_token_remembered

SCIM = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def entra_client(transactional_db, tenant, steady_bookkeeping):
    token = issue_token(tenant)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    scim_token_remembered(lambda: client.get("/scim/Users?count=1"))
    return client


def test_statements_per_request_kind(entra_client, tenant, django_assert_num_queries):
    client = entra_client
    with django_assert_num_queries(1):  # the lookup
        found = client.get('/scim/Users?filter=userName eq "nia@acme.example"')
    assert found.json()["totalResults"] == 0
    with django_assert_num_queries(1):  # the person and its audit event: one statement, no BEGIN/COMMIT
        created = client.post("/scim/Users", {"userName": "nia@acme.example", "active": True,
                                               "displayName": "Nia"}, content_type=SCIM)
    assert created.status_code == 201
    uid = created.json()["id"]
    engineering = group_create(tenant=tenant, actor=Actor.system("test"), display_name="Engineering")
    design = group_create(tenant=tenant, actor=Actor.system("test"), display_name="Design")
    for group in (engineering, design):
        group_members_add(group=group, actor=Actor.system("test"), person_ids=[uid])

    with django_assert_num_queries(1):  # the person with its groups
        got = client.get(f"/scim/Users/{uid}")
    assert got.status_code == 200
    assert [(g["value"], g["display"]) for g in got.json()["groups"]] == [
        (str(engineering.pk), "Engineering"), (str(design.pk), "Design")]
    assert got.json()["groups"][0]["$ref"].endswith(f"/scim/Groups/{engineering.pk}")

    # No transaction: the person with its groups, then the UPDATE guarded by the version read
    # and its audit event, one statement. (Django's query log would show a BEGIN and COMMIT.)
    with django_assert_num_queries(2):
        patched = client.patch(f"/scim/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
            {"op": "Replace", "path": "title", "value": "Senior Engineer"}]}, content_type=SCIM)
    assert patched.status_code == 200
    assert patched.json()["title"] == "Senior Engineer"
    assert [g["display"] for g in patched.json()["groups"]] == ["Engineering", "Design"]

    # A deactivation also ends the user's sessions (directory.services.person_sessions_end): the person,
    # then BEGIN, the sessions and the records of them deleted (one statement), the guarded UPDATE with
    # its event, COMMIT. One transaction, so that a stale write (nothing written) ends no session either.
    with django_assert_num_queries(5):
        disabled = client.patch(f"/scim/Users/{uid}", entra.DISABLE_DEFAULT, content_type=SCIM)
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    from directory.models import AuditEvent

    assert list(AuditEvent.objects.filter(target_id=uid).order_by("id").values_list("action", flat=True)) == [
        "person.created", "person.updated", "person.deactivated"]

    with django_assert_num_queries(1):  # Test Connection
        assert client.get('/scim/Users?filter=userName eq "7f3e-probe@acme.example"').status_code == 200

    assert writer.flush()
    from provisioning.models import ScimRequest

    assert ScimRequest.objects.filter(status__in=(200, 201)).count() >= 8  # every request logged


def test_a_user_in_no_group_is_read_in_one_statement_too(entra_client, django_assert_num_queries):
    created = entra_client.post("/scim/Users", {"userName": "solo@acme.example"}, content_type=SCIM)
    with django_assert_num_queries(1):
        got = entra_client.get(f"/scim/Users/{created.json()['id']}")
    assert got.json()["groups"] == []
