"""The SCIM request log written behind the response, in batches (provisioning/request_log_writer.py).

In-process tests need committed data (``transactional_db``): inside a
transaction each request writes its own row. The last test stops a real
gunicorn server right after its requests and finds every row written.
"""

from __future__ import annotations

import logging
import uuid

import pytest
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provisioning import request_log, request_log_writer
from provisioning.models import Integration, ScimRequest
from provisioning.request_log_writer import writer
from tests.live_gunicorn import Gunicorn, app_env, request
from tests.processes import free_port
from tests.scim_client import issue_token, scim_token_remembered

SCIM = "application/scim+json"


@pytest.fixture
def live_token(transactional_db, tenant) -> str:
    return issue_token(tenant)


def log_inserts(queries: CaptureQueriesContext) -> int:
    return sum('INSERT INTO "provisioning_scimrequest"' in q["sql"] for q in queries.captured_queries)


def test_the_request_hands_its_row_over_and_the_writer_writes_it(live_token):
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get('/scim/Users?filter=userName eq "nobody@acme.example"',
                              HTTP_AUTHORIZATION=f"Bearer {live_token}", HTTP_X_REQUEST_ID="req-writer-1")
    assert response.status_code == 200
    assert log_inserts(queries) == 0, "the request itself must not write its log row"
    assert writer.flush()
    row = ScimRequest.objects.get(request_id="req-writer-1")
    assert (row.method, row.status, row.resource_type, row.source_ip) == ("GET", 200, "User", "127.0.0.1")
    assert row.path == '/scim/Users?filter=userName%20eq%20%22nobody@acme.example%22'
    assert row.tenant_id is not None and row.integration_id is not None


def test_many_requests_all_land_with_their_bodies_and_failures_move_the_alert_state(live_token):
    client = Client()
    for i in range(40):
        client.post("/scim/Users", data={"userName": f"batch{i}@acme.example", "active": True,
                                         "password": "hunter2"}, content_type=SCIM,
                    HTTP_AUTHORIZATION=f"Bearer {live_token}")
    bad = client.post("/scim/Users", data="{not json", content_type=SCIM, HTTP_AUTHORIZATION=f"Bearer {live_token}")
    assert bad.status_code == 400
    assert writer.flush()
    rows = ScimRequest.objects.filter(method="POST")
    assert rows.count() == 41
    assert rows.filter(status=201).count() == 40
    created = rows.filter(status=201).first()
    assert "hunter2" not in created.request_body and "[removed]" in created.request_body
    failure = rows.get(status=400)
    assert failure.scim_type == "invalidSyntax"
    integration = Integration.objects.get(pk=failure.integration_id)
    assert integration.failing_since is not None, "the writer moves the alerting state as the request did"


def test_a_401_with_a_revoked_tokens_prefix_is_filed_under_its_integration(live_token):
    from directory.audit import Actor
    from provisioning import services
    from provisioning.models import ScimToken
    from provisioning.tokens import lookup_prefix

    token = ScimToken.objects.get(prefix=lookup_prefix(live_token))
    services.token_revoke(token=token, actor=Actor.system("test"))
    assert Client().get("/scim/Users", HTTP_AUTHORIZATION=f"Bearer {live_token}").status_code == 401
    assert writer.flush()
    row = ScimRequest.objects.get(status=401)
    assert row.integration_id == token.integration_id and row.token_prefix == token.prefix


def test_a_row_the_database_refuses_costs_only_itself(live_token, caplog):
    good = [_fields(request_id=f"good-{i}") for i in range(5)]
    refused = _fields(request_id="refused", source_ip="not-an-address")  # inet refuses it
    for fields in [*good[:2], refused, *good[2:]]:
        writer.submit(fields)
    with caplog.at_level(logging.ERROR, logger="provisioning.request_log_writer"):
        assert writer.flush()
    assert set(ScimRequest.objects.values_list("request_id", flat=True)) == {f"good-{i}" for i in range(5)}
    assert "refused" in caplog.text


def test_without_a_database_the_batch_is_dropped_with_a_warning_and_the_writer_goes_on(
    live_token, monkeypatch, caplog
):
    real = request_log_writer.request_log_insert_many
    calls = {"n": 0}

    def down_once(entries):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("the database is restarting")
        return real(entries)

    monkeypatch.setattr(request_log_writer, "request_log_insert_many", down_once)
    analyses: list[int] = []  # the statistics check after a batch: not while the database is away
    monkeypatch.setattr(request_log_writer, "young_tables_analyze", lambda: analyses.append(calls["n"]))
    with caplog.at_level(logging.WARNING, logger="provisioning.request_log_writer"):
        writer.submit(_fields(request_id="lost"))
        assert writer.flush()
        writer.submit(_fields(request_id="kept"))
        assert writer.flush()
    assert "1 rows not written (database unavailable)" in caplog.text
    assert list(ScimRequest.objects.values_list("request_id", flat=True)) == ["kept"]
    assert analyses == [2]


def test_with_batching_off_each_request_writes_its_own_row(live_token, settings):
    settings.SCIM_REQUEST_LOG_BATCH_MS = 0
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/scim/Users?count=1", HTTP_AUTHORIZATION=f"Bearer {live_token}").status_code == 200
    assert log_inserts(queries) == 1
    assert ScimRequest.objects.count() == 1


def test_a_lookup_is_one_statement_with_a_remembered_token_and_a_batched_log(
    live_token, django_assert_num_queries, steady_bookkeeping
):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {live_token}"}
    scim_token_remembered(lambda: client.get("/scim/Users?count=1", **auth))
    with django_assert_num_queries(1):
        assert client.get('/scim/Users?filter=userName eq "nobody@acme.example"', **auth).status_code == 200


def _fields(**overrides):
    integration = Integration.objects.select_related("tenant").first()
    fields = {
        "integration": integration, "received_at": timezone.now(), "method": "GET", "path": "/scim/Users",
        "status": 200, "duration_ms": 3, "token_prefix": "", "body": b"", "source_ip": "127.0.0.1",
        "request_id": uuid.uuid4().hex,
    }
    fields.update(overrides)
    return fields


# --- A gunicorn worker that stops writes what it holds ---------------------------------------


def test_a_gunicorn_worker_that_stops_writes_every_row_it_holds(transactional_db, tenant, settings):
    token = issue_token(tenant)
    port = free_port()
    # A batch interval far longer than the test: only the exit can have written the rows.
    env = app_env(settings, port, SCIM_REQUEST_LOG_BATCH_MS="600000")
    server = Gunicorn(env, port, workers=2)
    try:
        server.wait_ready()
        statuses = [request(port, "/scim/Users?count=1", token)[0] for _ in range(30)]
        assert set(statuses) == {200}
        assert ScimRequest.objects.count() == 0, "rows are held until the batch is due"
    finally:
        server.stop()  # SIGTERM: gunicorn's graceful stop
    assert server.process.returncode == 0
    assert ScimRequest.objects.filter(status=200).count() == 30


def test_request_log_rows_are_built_exactly_as_before(live_token):
    """The writer and the request write the same row from the same fields."""
    fields = _fields(path="/scim/Users?filter=x", body=b'{"password": "p", "userName": "a"}', method="POST")
    inline = request_log.request_log_record(**{**fields, "request_id": "inline"})
    writer.submit({**fields, "request_id": "deferred"})
    assert writer.flush()
    deferred = ScimRequest.objects.get(request_id="deferred")
    skip = {"_state", "id", "request_id"}
    assert {k: v for k, v in vars(deferred).items() if k not in skip} == {
        k: v for k, v in vars(ScimRequest.objects.get(pk=inline.pk)).items() if k not in skip
    }


def test_a_first_syncs_lookups_get_the_unique_index_without_waiting_for_autovacuum(live_token, tenant, monkeypatch):
    """The people table, analyzed empty by ``migrate``, grows under a sync; the writer analyzes it."""
    from directory import services
    from directory.audit import Actor
    from directory.models import Person
    from spaceiq_site.postgresql import statistics

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE directory_person")
    services.person_bulk_create(tenant=tenant, actor=Actor.system("test"), source="scim", people=[
        {"user_name": f"p{i}@acme.example"} for i in range(600)])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    monkeypatch.setattr(statistics, "next_check_at", 0.0)
    response = Client().get('/scim/Users?filter=userName eq "p7@acme.example"',
                            HTTP_AUTHORIZATION=f"Bearer {live_token}")
    assert response.status_code == 200 and response.json()["totalResults"] == 1
    assert writer.flush()
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Person._meta.db_table])
        assert cursor.fetchone()[0] >= 600
        cursor.execute("EXPLAIN SELECT id FROM directory_person WHERE tenant_id = %s AND LOWER(user_name) = LOWER(%s)",
                       [tenant.pk, "p7@acme.example"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "person_user_name_unique_per_tenant_ci" in plan, plan
