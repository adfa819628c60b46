"""While PostgreSQL is stopped, every 503 says when to retry (issue 17).

The app runs under gunicorn with persistent connections, as in production.
With PostgreSQL stopped for a few seconds, SCIM, the console, the admin API
and /readyz each answer 503 with ``Retry-After``; once it is back they answer
as before, without a restart. Like tests/faults/test_faults_postgres.py, this
stops the machine's cluster (loudly, briefly, and always starts it again).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django.db import connections
from django.test import Client

from directory import services
from directory.audit import Actor
from directory.unavailable import RETRY_AFTER_SECONDS
from tests.conftest import make_person, make_tenant
from tests.faults.test_faults_postgres import PG_VERSION, Gunicorn, needs_local_cluster, pg_ctl, pg_ready, say
from tests.scim_client import issue_token

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def fetch(base: str, path: str, *, method: str = "GET", headers: dict | None = None,
          body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@needs_local_cluster
def test_every_503_while_postgres_is_stopped_carries_retry_after():
    tenant = make_tenant("retryafter", "Retry After Inc")
    token = issue_token(tenant)
    admin = make_person(tenant, "ada@retryafter.example", admin=True)
    _, api_key = services.api_key_create(tenant=tenant, label="SIEM", scope="all", actor=Actor.system("test"))
    browser = Client()
    browser.force_login(admin)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    scim_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    lookup = "/scim/v2/Users?filter=" + urllib.parse.quote('userName eq "ada@retryafter.example"')
    requests = {
        "SCIM lookup": (lookup, {"headers": scim_headers}),
        "SCIM create": ("/scim/v2/Users", {"method": "POST", "headers": scim_headers,
                                           "body": json.dumps({"userName": "new@retryafter.example"}).encode()}),
        "console page": ("/people/", {"headers": {"Cookie": cookie}}),
        "API": ("/api/v1/people/", {"headers": {"Authorization": f"Bearer {api_key}"}}),
        "/readyz": ("/readyz", {}),
    }
    server = Gunicorn(workers=1)
    stopped = False
    try:
        server.wait_ready(token)
        before = {name: fetch(server.url, path, **kw)[0] for name, (path, kw) in requests.items()
                  if name not in ("SCIM create", "/readyz")}  # /readyz may lack a worker heartbeat: no matter
        assert before == {"SCIM lookup": 200, "console page": 200, "API": 200}, before

        say(f"stopping PostgreSQL {PG_VERSION}/main for ~2s (tests/faults/test_faults_postgres_retry_after.py)")
        stopped = True
        pg_ctl("stop")
        during = {name: fetch(server.url, path, **kw) for name, (path, kw) in requests.items()}
        pg_ctl("start")
        stopped = False
        assert pg_ready(), "PostgreSQL did not come back"
        say("PostgreSQL is running again")
        time.sleep(0.5)
        after = {name: fetch(server.url, path, **kw)[0] for name, (path, kw) in requests.items()
                 if name != "/readyz"}
    finally:
        if stopped:
            say("restarting PostgreSQL after a failure")
            pg_ctl("start")
            pg_ready()
        server.stop()
        connections.close_all()  # this process's connection died with the server

    answered = {name: (status, headers.get("Retry-After"), headers.get("Content-Type"))
                for name, (status, headers, _) in during.items()}
    assert answered == {
        "SCIM lookup": (503, str(RETRY_AFTER_SECONDS), "application/scim+json"),
        "SCIM create": (503, str(RETRY_AFTER_SECONDS), "application/scim+json"),
        "console page": (503, str(RETRY_AFTER_SECONDS), "text/html; charset=utf-8"),
        "API": (503, str(RETRY_AFTER_SECONDS), "application/json"),
        "/readyz": (503, str(RETRY_AFTER_SECONDS), "application/json"),
    }, {name: body[:300] for name, (_, _, body) in during.items()}
    assert json.loads(during["SCIM lookup"][2])["detail"] == "The directory is temporarily unavailable."
    assert b"SpaceIQ is temporarily unavailable" in during["console page"][2]
    assert json.loads(during["/readyz"][2])["checks"]["database"]["status"] == "failed"
    # Back by itself: the same requests succeed (the create, retried as Entra would, now creates).
    assert after == {"SCIM lookup": 200, "SCIM create": 201, "console page": 200, "API": 200}, after
