"""Who may call /api/v1/: an API key of the tenant, with the scope the endpoint needs; nothing else."""

from __future__ import annotations

import pytest

from directory import services
from directory.audit import Actor
from directory.models import ApiKey
from tests.api.conftest import ApiClient, api_key_for
from tests.scim_client import ScimClient, issue_token

DIRECTORY_PATHS = ["/people/", "/groups/"]
LOG_PATHS = ["/audit-events/", "/provisioning-requests/", "/sso-sign-ins/", "/integrations/"]


@pytest.mark.parametrize("path", DIRECTORY_PATHS + LOG_PATHS)
def test_without_a_key_the_answer_is_401_json_naming_the_scheme(db, path):
    response = ApiClient(None).get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token siq_api_x"])
def test_a_malformed_authorization_header_is_401(client, db, header):
    response = client.get("/api/v1/people/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert "detail" in response.json()


def test_unknown_revoked_and_scim_tokens_are_401_alike(tenant):
    raw = api_key_for(tenant)
    assert ApiClient(raw).get("/people/").status_code == 200
    scim_token = issue_token(tenant)
    near_miss = raw[:-2] + ("AA" if not raw.endswith("AA") else "BB")
    for key in (near_miss, scim_token, "siq_api_" + "x" * 43):
        response = ApiClient(key).get("/people/")
        assert response.status_code == 401
        assert response.json() == {"detail": "The API key is not valid, or has been revoked."}
    services.api_key_revoke(key=ApiKey.objects.get(), actor=Actor.system("test"))
    assert ApiClient(raw).get("/people/").status_code == 401


def test_an_api_key_does_not_open_the_scim_endpoint(tenant):
    raw = api_key_for(tenant)
    response = ScimClient(ApiClient(None).client, raw).get("/Users")
    assert response.status_code == 401
    assert response.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize("path", DIRECTORY_PATHS)
def test_a_logs_key_cannot_read_the_directory(tenant, path):
    response = ApiClient(api_key_for(tenant, scope=ApiKey.Scope.LOGS)).get(path)
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key's scope does not include 'Read the directory'."}


@pytest.mark.parametrize("path", LOG_PATHS)
def test_a_directory_key_cannot_read_logs(tenant, path):
    response = ApiClient(api_key_for(tenant, scope=ApiKey.Scope.DIRECTORY)).get(path)
    assert response.status_code == 403
    assert response.json() == {"detail": "This API key's scope does not include 'Read logs and audit events'."}


@pytest.mark.parametrize("path", DIRECTORY_PATHS + LOG_PATHS)
def test_a_key_with_both_scopes_reads_everything(tenant, path):
    response = ApiClient(api_key_for(tenant)).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_the_last_use_of_a_key_is_recorded_with_its_address(tenant):
    raw = api_key_for(tenant)
    ApiClient(raw).client.get("/api/v1/people/", REMOTE_ADDR="203.0.113.9")
    key = ApiKey.objects.get()
    assert key.last_used_at is not None and key.last_used_ip == "203.0.113.9"


def test_errors_are_json_never_html(api):
    for path, status in [("/nothing-here/", 404), ("/people/not-a-uuid/", 404), ("/people/?status=gone", 400),
                         ("/people/?updated_since=yesterday", 400), ("/audit-events/?cursor=%%%", 404),
                         ("/audit-events/?since=noon", 400), ("/groups/00000000-0000-0000-0000-000000000000/", 404)]:
        response = api.get(path)
        assert response.status_code == status, path
        assert response["Content-Type"] == "application/json", path
        assert response.json(), path
