"""Authentication and error documents: every failure is a SCIM error with the right status."""

import json

import pytest
from django.test import Client

from directory.audit import Actor
from directory.models import Person
from provisioning import services
from provisioning.models import Integration, ScimToken
from tests.entra import requests as entra
from tests.scim_client import ScimClient, issue_token

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def assert_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"]
    assert body.get("scimType") == scim_type
    return body


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                    "Bearer siq_scim_" + "x" * 43])
def test_missing_or_unknown_tokens_get_401_with_www_authenticate(client, tenant, header):
    kwargs = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/scim/Users", **kwargs)
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_revoked_token_and_deactivated_integration_get_401(tenant):
    raw = issue_token(tenant)
    scim = ScimClient(Client(), raw)
    assert scim.get("/Users").status_code == 200
    token = ScimToken.objects.get(integration__tenant=tenant)
    services.token_revoke(token=token, actor=Actor.system("t"))
    assert_error(scim.get("/Users"), 401)

    raw2 = issue_token(tenant)
    scim2 = ScimClient(Client(), raw2)
    assert scim2.get("/Users").status_code == 200
    services.integration_deactivate(integration=Integration.objects.get(tenant=tenant), actor=Actor.system("t"))
    assert_error(scim2.get("/Users"), 401)


@pytest.mark.django_db
def test_draft_token_from_an_abandoned_dialog_does_not_work(tenant):
    integration = services.integration_for(tenant=tenant, kind="azure")
    services.integration_activate(integration=integration, actor=Actor.system("t"))
    _, raw = services.token_issue(integration=integration, actor=Actor.system("t"), confirmed=False)
    assert_error(ScimClient(Client(), raw).get("/Users"), 401)


@pytest.mark.django_db
def test_token_use_is_recorded(scim, tenant):
    scim.get("/Users")
    token = ScimToken.objects.get(integration__tenant=tenant)
    assert token.last_used_at is not None and token.last_used_ip == "127.0.0.1"
    assert token.integration.last_request_at is not None


@pytest.mark.django_db
def test_unknown_ids_and_paths_are_scim_404s(scim):
    assert_error(scim.get("/Users/00000000-0000-0000-0000-000000000000"), 404)
    assert_error(scim.get("/Users/not-a-uuid"), 404)
    assert_error(scim.get("/Groups/not-a-uuid"), 404)
    assert_error(scim.patch("/Users/not-a-uuid", entra.DISABLE_DEFAULT), 404)
    assert_error(scim.delete("/Groups/00000000-0000-0000-0000-000000000000"), 404)
    assert_error(scim.get("/Nope"), 404)
    assert_error(scim.get("/Schemas/urn:nope"), 404)
    assert_error(scim.get("/ResourceTypes/Nope"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize("body, scim_type", [
    (b"{not json", "invalidSyntax"),
    (b"\xff\xfe garbage", "invalidSyntax"),
    (b"[]", "invalidSyntax"),
    (b"", "invalidSyntax"),
    (json.dumps({"userName": 42}).encode(), "invalidValue"),
    (json.dumps({"displayName": "no user name"}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "active": "maybe"}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "emails": [{"value": "not-an-email"}]}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "emails": "a@b.c"}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "name": "Alice"}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "title": ["x"]}).encode(), "invalidValue"),
    (json.dumps({"userName": "a@b.c", "emails": [{"value": "a@b.c", "primary": True},
                                                 {"value": "c@d.e", "primary": True}]}).encode(), "invalidValue"),
    (json.dumps({"userName": "x" * 300}).encode(), "invalidValue"),
    (json.dumps({"userName": "nul\u0000byte"}).encode(), "invalidValue"),
    (("[" * 200 + "]" * 200).encode(), "invalidSyntax"),
])
def test_bad_user_documents_are_400_and_change_nothing(scim, tenant, body, scim_type):
    before = Person.objects.count()
    assert_error(scim.post("/Users", body), 400, scim_type)
    assert Person.objects.count() == before


@pytest.mark.django_db
def test_id_and_meta_in_a_request_are_ignored(scim):
    body = {**entra.CREATE_USER, "id": "00000000-0000-0000-0000-000000000001",
            "meta": {"resourceType": "User", "created": "2000-01-01T00:00:00Z"}}
    doc = scim.post("/Users", body).json()
    assert doc["id"] != body["id"] and doc["meta"]["created"] != "2000-01-01T00:00:00Z"


@pytest.mark.django_db
def test_oversized_body_is_413(scim):
    huge = json.dumps({**entra.CREATE_USER, "displayName": "x" * 1_100_000})
    assert_error(scim.post("/Users", huge), 413)


@pytest.mark.django_db
@pytest.mark.parametrize("operations, scim_type", [
    ([{"op": "Frobnicate", "path": "title", "value": "x"}], "invalidSyntax"),
    ([{"op": "Remove"}], "noTarget"),
    ([{"op": "Replace", "path": "noSuchAttribute", "value": "x"}], "invalidPath"),
    ([{"op": "Replace", "path": "emails[type eq", "value": "x"}], "invalidPath"),
    ([{"op": "Replace", "path": "id", "value": "x"}], "mutability"),
    ([{"op": "Add", "path": "groups", "value": [{"value": "x"}]}], "mutability"),
    ([{"op": "Remove", "path": "userName"}], "mutability"),
    ([{"op": "Replace", "path": "active", "value": "perhaps"}], "invalidValue"),
    ([{"op": "Replace", "path": "title"}], "invalidValue"),
    ([], "invalidSyntax"),
    ([{"op": "Replace", "path": "title", "value": "x"}] * 1001, "tooMany"),
])
def test_bad_patches_are_400_and_change_nothing(scim, operations, scim_type):
    alice = scim.post("/Users", entra.CREATE_USER).json()
    body = {"schemas": [entra.PATCH_OP], "Operations": operations}
    assert_error(scim.patch(f"/Users/{alice['id']}", body), 400, scim_type)
    assert Person.objects.get(pk=alice["id"]).version == 1


@pytest.mark.django_db
def test_a_patch_is_all_or_nothing(scim):
    alice = scim.post("/Users", entra.CREATE_USER).json()
    body = {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "Replace", "path": "title", "value": "Changed"},
        {"op": "Replace", "path": "displayName", "value": "Changed"},
        {"op": "Add", "path": f"{entra.ENTERPRISE}:manager", "value": "00000000-0000-0000-0000-000000000000"},
    ]}
    assert_error(scim.patch(f"/Users/{alice['id']}", body), 400, "invalidValue")
    person = Person.objects.get(pk=alice["id"])
    assert person.title == "Engineer" and person.display_name == "Alice Smith" and person.version == 1


@pytest.mark.django_db
def test_adding_an_unknown_member_changes_nothing(scim):
    alice = scim.post("/Users", entra.CREATE_USER).json()
    gid = scim.post("/Groups", entra.CREATE_GROUP).json()["id"]
    body = entra.add_members(alice["id"], "00000000-0000-0000-0000-000000000000")
    assert_error(scim.patch(f"/Groups/{gid}", body), 400, "invalidValue")
    assert scim.get(f"/Groups/{gid}").json()["members"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("filter_text", [
    'nosuch eq "x"', "userName eq", 'userName zz "x"', '(userName eq "x"', "title gt true",
    'active gt "x"', 'emails[nosub eq "x"]', 'meta.created gt "not a date"', 'urn:nope:User:x eq "y"',
    'userName eq "x" extra',
])
def test_malformed_or_unsupported_filters_are_invalid_filter(scim, filter_text):
    assert_error(scim.get("/Users", filter=filter_text), 400, "invalidFilter")


@pytest.mark.django_db
def test_a_100kb_filter_is_refused(scim):
    assert_error(scim.get("/Users", filter='userName eq "' + "a" * 100_000 + '"'), 400, "invalidFilter")


@pytest.mark.django_db
def test_pagination_values_must_be_numbers(scim):
    assert_error(scim.get("/Users", count="many"), 400, "invalidValue")


@pytest.mark.django_db
def test_methods_that_do_not_apply_are_scim_errors(scim):
    assert_error(scim.patch("/Users", entra.DISABLE_DEFAULT), 405)
    assert_error(scim.post("/ServiceProviderConfig", {}), 405)
    assert_error(scim.get("/Bulk"), 501)


@pytest.mark.django_db
def test_an_unexpected_error_is_a_scim_500_and_changes_nothing(scim, monkeypatch):
    from directory import services as directory_services

    def broken(**kwargs):
        raise ValueError("a bug")

    # Fails after the person's INSERT, inside the same transaction.
    monkeypatch.setattr(directory_services.people, "audit_event_record", broken)
    response = scim.post("/Users", {"userName": "bug@contoso.com"})
    assert response.status_code == 500 and response["Content-Type"].startswith("application/scim+json")
    assert response.json()["detail"] == "The request could not be completed."
    assert not Person.objects.filter(user_name="bug@contoso.com").exists()


@pytest.mark.django_db
def test_a_non_numeric_content_length_is_a_400(client, scim_token):
    response = client.post("/scim/Users", data=b"{}", content_type="application/scim+json",
                           HTTP_AUTHORIZATION=f"Bearer {scim_token}", CONTENT_LENGTH="twelve")
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"
