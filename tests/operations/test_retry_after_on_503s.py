"""Every 503 says when to retry: ``Retry-After`` on SCIM, the console, the API, SSO and /readyz (issue 17).

The database is taken down as tests/operations/test_health_endpoints.py takes
a dependency down: an app process of its own whose DATABASE_URL points at a
local port nothing listens on (the machine's PostgreSQL stays up for everyone
else). tests/faults/test_faults_postgres_retry_after.py stops the real one
under gunicorn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.db import OperationalError

from directory.unavailable import RETRY_AFTER_SECONDS
from tests.conftest import ROOT
from tests.processes import free_port

RETRY_AFTER = str(RETRY_AFTER_SECONDS)
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

PROBE = """
import json, sys, django
django.setup()
from django.test import Client
client = Client(raise_request_exception=False)
out = {}
for name, method, path, extra in json.loads(sys.argv[1]):
    if name == "console":
        client.cookies["sessionid"] = "a" * 32  # a signed-in admin's browser: the session is read first
    response = getattr(client, method)(path, **extra)
    out[name] = {"status": response.status_code, "retry_after": response.get("Retry-After"),
                 "content_type": response.get("Content-Type", ""), "cache": response.get("Cache-Control"),
                 "csp": bool(response.get("Content-Security-Policy")),
                 "body": response.content.decode(errors="replace")[:3000]}
    client.cookies.clear()
print(json.dumps(out))
"""

REQUESTS = [
    ("scim", "get", '/scim/v2/Users?filter=userName+eq+"a@contoso.com"',
     {"HTTP_AUTHORIZATION": "Bearer siq_scim_" + "x" * 43}),
    ("scim_post", "post", "/scim/v2/Users",
     {"data": '{"userName": "a@contoso.com"}', "content_type": "application/scim+json",
      "HTTP_AUTHORIZATION": "Bearer siq_scim_" + "x" * 43}),
    ("console", "get", "/people/", {}),
    ("sign_in", "post", "/accounts/sign-in/", {"data": {"email": "ada@acme.example", "password": "x"}}),
    ("api", "get", "/api/v1/people/", {"HTTP_AUTHORIZATION": "Bearer siq_api_" + "x" * 43}),
    ("sso_acs", "post", "/sso/acme/azure/acs/", {"data": {"SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4="}}),
    ("readyz", "get", "/readyz", {}),
    ("healthz", "get", "/healthz", {}),
]


@pytest.fixture(scope="module")
def database_down() -> dict[str, dict]:
    """The answers of an app process whose database refuses every connection."""
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SPACEIQ_", "DATABASE_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings", "DJANGO_SECRET_KEY": "k", "LOG_LEVEL": "CRITICAL",
        "DATABASE_URL": f"postgres://spaceiq@127.0.0.1:{free_port()}/spaceiq",  # bound and closed: refused
        "REDIS_URL": settings.REDIS_URL, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    })
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(REQUESTS)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["scim", "scim_post"])
def test_scim_503s_are_scim_errors_with_retry_after(database_down, name):
    answer = database_down[name]
    assert (answer["status"], answer["retry_after"]) == (503, RETRY_AFTER)
    assert answer["content_type"] == "application/scim+json"
    assert json.loads(answer["body"]) == {"schemas": [SCIM_ERROR], "status": "503",
                                          "detail": "The directory is temporarily unavailable."}


@pytest.mark.parametrize("name", ["console", "sign_in", "sso_acs"])
def test_console_pages_answer_503_with_retry_after_not_a_500(database_down, name):
    answer = database_down[name]
    assert (answer["status"], answer["retry_after"]) == (503, RETRY_AFTER), answer["body"][:500]
    assert answer["content_type"].startswith("text/html")
    assert "SpaceIQ is temporarily unavailable" in answer["body"]
    assert "Try again in a few seconds" in answer["body"]
    assert answer["cache"] == "no-store" and answer["csp"]  # the console's headers are still set


def test_the_api_answers_a_json_503_with_retry_after(database_down):
    answer = database_down["api"]
    assert (answer["status"], answer["retry_after"]) == (503, RETRY_AFTER)
    assert answer["content_type"] == "application/json"
    assert json.loads(answer["body"]) == {"detail": "The service is temporarily unavailable; try again shortly."}


def test_readyz_says_when_to_retry_and_healthz_is_unaffected(database_down):
    ready, alive = database_down["readyz"], database_down["healthz"]
    assert (ready["status"], ready["retry_after"]) == (503, RETRY_AFTER)
    assert json.loads(ready["body"])["checks"]["database"]["status"] == "failed"
    assert (alive["status"], alive["retry_after"]) == (200, None)


# --- A connection lost in the middle of a request, in this process ---------------------------------


def lose_the_connection(*args, **kwargs):
    raise OperationalError("terminating connection due to administrator command")


def test_a_connection_lost_inside_a_scim_view_gives_retry_after(monkeypatch, scim):
    from provisioning.scim import views

    monkeypatch.setattr(views, "filter_parse", lose_the_connection)
    response = scim.get("/Users", filter='userName eq "x"')
    assert (response.status_code, response["Retry-After"]) == (503, RETRY_AFTER)


def test_a_connection_lost_inside_a_console_view_gives_retry_after(monkeypatch, admin_client):
    from directory.views import people

    monkeypatch.setattr(people, "person_list", lose_the_connection)
    response = admin_client.get("/people/")
    assert (response.status_code, response["Retry-After"]) == (503, RETRY_AFTER)
    assert b"SpaceIQ is temporarily unavailable" in response.content


def test_other_errors_stay_errors(monkeypatch, admin_client):
    """Only the database's unavailability is a 503: a bug is still a 500, and still raised in tests."""
    from directory.views import people

    def bug(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(people, "person_list", bug)
    with pytest.raises(ValueError):
        admin_client.get("/people/")

