"""Verified SCIM tokens are kept per process (provisioning/token_cache.py), and any
change to a token, its integration or its tenant, made by any process, ends that
at once; the request path's own bookkeeping (last use, last request, alerting
state) does not.

These tests need committed data (``transactional_db``): inside a transaction the
cache is bypassed, and PostgreSQL only notifies on commit.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from directory.audit import Actor
from directory.models import Tenant
from provisioning import services, token_cache
from provisioning.models import Integration, ScimToken
from provisioning.tokens import lookup_prefix
from tests.live_gunicorn import Gunicorn, app_env, request
from tests.processes import database_url_for_subprocess, free_port
from tests.scim_client import issue_token, scim_token_remembered

# After a change commits, PostgreSQL signals every listening backend, which
# writes the notification to its socket: microseconds on an idle machine. The
# tests leave a margin so a loaded CI machine does not make them flaky.
DELIVERY = 0.2


def scim_get(client: Client, token: str, path: str = "/scim/Users?count=1"):
    return client.get(path, HTTP_AUTHORIZATION=f"Bearer {token}")


def token_queries(client: Client, token: str) -> tuple[int, int]:
    """(status, how many statements read the token table) of one SCIM request."""
    with CaptureQueriesContext(connection) as queries:
        status = scim_get(client, token).status_code
    return status, sum('FROM "provisioning_scimtoken"' in q["sql"] for q in queries.captured_queries)


def remember(client: Client, token: str) -> None:
    """Bring the token into this process's memory (conftest.scim_token_remembered); then it is not read."""
    scim_token_remembered(lambda: scim_get(client, token))
    assert token_queries(client, token) == (200, 0)


def the_token(raw: str) -> ScimToken:
    return ScimToken.objects.select_related("integration__tenant").get(prefix=lookup_prefix(raw))


@pytest.fixture
def live_token(transactional_db, tenant, steady_bookkeeping) -> str:
    return issue_token(tenant)


def test_a_verified_token_is_not_looked_up_again(live_token):
    client = Client()
    remember(client, live_token)
    for _ in range(3):
        assert token_queries(client, live_token) == (200, 0)


def test_revocation_through_the_console_service_ends_the_cached_token(live_token):
    client = Client()
    remember(client, live_token)
    services.token_revoke(token=the_token(live_token), actor=Actor.system("test"))
    time.sleep(DELIVERY)
    assert scim_get(client, live_token).status_code == 401


def test_a_change_committed_by_another_process_ends_the_cached_token(live_token):
    client = Client()
    remember(client, live_token)
    # Another process (a console worker, psql): not this connection, not our services.
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as other:
        other.execute("UPDATE provisioning_scimtoken SET revoked_at = now() WHERE prefix = %s",
                      [lookup_prefix(live_token)])
    time.sleep(DELIVERY)
    assert scim_get(client, live_token).status_code == 401


@pytest.mark.parametrize("change", ["deactivate the integration", "delete the tenant", "rename the tenant"])
def test_integration_and_tenant_changes_are_noticed(live_token, change):
    client = Client()
    remember(client, live_token)
    integration = the_token(live_token).integration
    if change == "deactivate the integration":
        services.integration_deactivate(integration=integration, actor=Actor.system("test"))
    elif change == "delete the tenant":
        Tenant.objects.filter(pk=integration.tenant_id).delete()
    else:
        Tenant.objects.filter(pk=integration.tenant_id).update(name="Acme Renamed")
    time.sleep(DELIVERY)
    status, queried = token_queries(client, live_token)
    assert queried >= 1, "the token must be verified again"  # a 401 also files itself under the token
    assert status == (200 if change == "rename the tenant" else 401)
    if status == 200:
        response = scim_get(client, live_token, "/scim/Users?count=1")
        assert response.status_code == 200


def test_an_expiry_passes_while_the_token_is_remembered(live_token):
    client = Client()
    token = the_token(live_token)
    expires_at = timezone.now() + timedelta(seconds=4)  # room for remember() on a slow machine
    ScimToken.objects.filter(pk=token.pk).update(expires_at=expires_at)
    time.sleep(DELIVERY)
    remember(client, live_token)
    assert timezone.now() < expires_at, "the machine was too slow to remember the token before it expired"
    time.sleep((expires_at - timezone.now()).total_seconds() + 0.1)
    assert scim_get(client, live_token).status_code == 401


def test_a_new_connection_verifies_again(live_token):
    client = Client()
    remember(client, live_token)
    connection.close()  # it may have missed notifications while it was gone
    assert token_queries(client, live_token) == (200, 1)
    assert token_queries(client, live_token) == (200, 0)


def test_inside_a_transaction_the_token_is_always_read(live_token):
    client = Client()
    remember(client, live_token)
    with transaction.atomic():
        assert token_queries(client, live_token) == (200, 1)
        ScimToken.objects.filter(prefix=lookup_prefix(live_token)).update(revoked_at=timezone.now())
        # Uncommitted, so no notification yet: only the query can see it.
        assert scim_get(client, live_token).status_code == 401
        transaction.set_rollback(True)


def test_off_by_setting(live_token, settings):
    settings.SCIM_TOKEN_CACHE = False
    client = Client()
    for _ in range(3):
        assert token_queries(client, live_token) == (200, 1)


def test_unknown_and_malformed_tokens_are_never_remembered(live_token):
    client = Client()
    for raw in ("siq_scim_" + uuid.uuid4().hex + uuid.uuid4().hex[:11], "not-a-token"):
        assert scim_get(client, raw).status_code == 401
        assert scim_get(client, raw).status_code == 401
    assert token_cache._memory.entries.keys() <= {token_cache.token_digest(live_token)}


def test_a_lookup_costs_two_statements_with_a_remembered_token(live_token, django_assert_num_queries, settings):
    settings.SCIM_REQUEST_LOG_BATCH_MS = 0  # the request writes its own log row (with the writer: one statement)
    client = Client()
    remember(client, live_token)
    with django_assert_num_queries(2):  # the lookup and the request-log row
        assert scim_get(client, live_token, '/scim/Users?filter=userName eq "nobody@acme.example"').status_code == 200


def test_the_integration_state_the_request_log_reads_stays_current(live_token):
    """The cached integration feeds the alerting state: a change made elsewhere must reach it."""
    client = Client()
    assert scim_get(client, live_token).status_code == 200
    integration = the_token(live_token).integration
    assert integration.notify_on_failure is False
    Integration.objects.filter(pk=integration.pk).update(notify_on_failure=True)
    time.sleep(DELIVERY)
    assert scim_get(client, live_token).status_code == 200
    hit = token_cache._memory.entries[token_cache.token_digest(live_token)][1]
    assert hit.integration.notify_on_failure is True


# --- The request path's bookkeeping leaves the memory warm (provisioning migration 0006) ---

# Written by the request path itself (provisioning.scim.auth, provisioning.alerts).
BOOKKEEPING = [
    (ScimToken, "last_used_at", timezone.now),
    (ScimToken, "last_used_ip", lambda: "203.0.113.9"),
    (Integration, "last_request_at", timezone.now),
    (Integration, "failing_since", timezone.now),
    (Integration, "recovered_at", timezone.now),
    (Integration, "failure_summary_at", timezone.now),
    (Integration, "failures_reported_until", timezone.now),
]
# What the kept rows say a token may do, or what the request path reads from them.
CHANGES = [
    (ScimToken, "revoked_at", timezone.now),
    (ScimToken, "expires_at", lambda: timezone.now() + timedelta(days=1)),
    (ScimToken, "confirmed", lambda: False),
    (ScimToken, "digest", lambda: "0" * 64),
    (ScimToken, "prefix", lambda: "zzzzzzzz"),
    (ScimToken, "label", lambda: "renamed"),
    (Integration, "state", lambda: Integration.State.INACTIVE),
    (Integration, "kind", lambda: "okta"),
    (Integration, "notify_on_failure", lambda: True),  # issue_token leaves it off
    (Integration, "notification_email", lambda: "someone-else@acme.example"),
    (Tenant, "slug", lambda: "acme-renamed"),
    (Tenant, "name", lambda: "Acme Renamed"),
]


@pytest.fixture
def listener(transactional_db) -> psycopg.Connection:
    """A connection LISTENing on the token cache's channel, as every app process's does."""
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as conn:
        conn.execute(f"LISTEN {token_cache.CHANNEL}")
        yield conn


def notified(listener: psycopg.Connection) -> bool:
    return any(True for _ in listener.notifies(timeout=DELIVERY, stop_after=1))


def row_of(model, token: ScimToken):
    return {ScimToken: token, Integration: token.integration, Tenant: token.integration.tenant}[model]


@pytest.mark.parametrize("model, field, value", BOOKKEEPING, ids=[f"{m.__name__}.{f}" for m, f, _ in BOOKKEEPING])
def test_bookkeeping_writes_notify_nobody(live_token, listener, model, field, value):
    row = row_of(model, the_token(live_token))
    assert not notified(listener)  # nothing pending from the set-up
    model.objects.filter(pk=row.pk).update(**{field: value()})
    assert not notified(listener)


@pytest.mark.parametrize("model, field, value", CHANGES, ids=[f"{m.__name__}.{f}" for m, f, _ in CHANGES])
def test_other_changes_notify_every_listener(live_token, listener, model, field, value):
    row = row_of(model, the_token(live_token))
    assert not notified(listener)
    model.objects.filter(pk=row.pk).update(**{field: value()})
    assert notified(listener)


def test_an_update_that_changes_no_value_notifies_nobody(live_token, listener):
    token = the_token(live_token)
    assert not notified(listener)
    ScimToken.objects.filter(pk=token.pk).update(revoked_at=None, label=token.label)
    token.integration.save()  # every column written, none changed
    assert not notified(listener)


@pytest.mark.parametrize("model", [ScimToken, Integration, Tenant])
def test_deleting_a_row_notifies_every_listener(live_token, listener, model):
    row = row_of(model, the_token(live_token))
    assert not notified(listener)
    model.objects.filter(pk=row.pk).delete()
    assert notified(listener)


def test_bookkeeping_written_by_another_process_leaves_the_token_remembered(live_token):
    client = Client()
    remember(client, live_token)
    token = the_token(live_token)
    with psycopg.connect(database_url_for_subprocess(), autocommit=True) as other:
        other.execute("UPDATE provisioning_scimtoken SET last_used_at = now(), last_used_ip = '203.0.113.9' "
                      "WHERE id = %s", [token.pk])
        other.execute("UPDATE provisioning_integration SET last_request_at = now(), failing_since = now(), "
                      "failure_summary_at = now(), failures_reported_until = now() WHERE id = %s",
                      [token.integration_id])
        other.execute("UPDATE provisioning_integration SET recovered_at = now() WHERE id = %s",
                      [token.integration_id])
    time.sleep(DELIVERY)
    assert token_queries(client, live_token) == (200, 0)
    # A revocation after them still ends it at once.
    services.token_revoke(token=token, actor=Actor.system("test"))
    time.sleep(DELIVERY)
    assert scim_get(client, live_token).status_code == 401


@pytest.fixture
def busy_token(transactional_db, tenant) -> str:
    """A token whose requests record last use and last request as in production (no steady_bookkeeping)."""
    return issue_token(tenant)


def statements_on(table: str, client: Client, token: str, path: str = "/scim/Users?count=1") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = scim_get(client, token, path).status_code
    return status, [q["sql"].split()[0] for q in queries.captured_queries if f'"{table}"' in q["sql"]]


def test_a_sync_s_own_writes_leave_the_token_remembered(busy_token):
    """Last use and last request are written by the first requests, and the token stays in memory."""
    from provisioning.request_log_writer import writer

    client = Client()
    token = the_token(busy_token)
    assert token.last_used_at is None and token.integration.last_request_at is None
    # The first request verifies the token and records its last use; the writer, the last request.
    assert statements_on("provisioning_scimtoken", client, busy_token) == (200, ["SELECT", "UPDATE"])
    assert writer.flush()
    time.sleep(DELIVERY)
    token = the_token(busy_token)
    assert token.last_used_at is not None and token.integration.last_request_at is not None
    # Remembered through both writes, and the kept instance knows its last use: no second write.
    for _ in range(3):
        assert statements_on("provisioning_scimtoken", client, busy_token) == (200, [])


def test_failures_and_their_recovery_leave_the_token_remembered(busy_token, settings):
    """A failure and the success after it move the alerting state on the integration; the memory stays."""
    from provisioning.request_log_writer import writer

    settings.SCIM_AUTH_FAILURES_PER_IP = 100000
    client = Client()
    assert scim_get(client, busy_token).status_code == 200
    assert writer.flush()
    time.sleep(DELIVERY)
    missing = f"/scim/Users/{uuid.uuid4()}"
    assert statements_on("provisioning_scimtoken", client, busy_token, missing) == (404, [])
    assert writer.flush()
    integration = the_token(busy_token).integration
    assert integration.failing_since is not None and integration.recovered_at is None
    time.sleep(DELIVERY)
    assert statements_on("provisioning_scimtoken", client, busy_token) == (200, [])
    assert writer.flush()
    assert the_token(busy_token).integration.recovered_at is not None  # claimed from the kept instance
    time.sleep(DELIVERY)
    assert statements_on("provisioning_scimtoken", client, busy_token) == (200, [])


# --- Several gunicorn workers, persistent connections ---------------------------------


@pytest.fixture
def workers(transactional_db, settings):
    port = free_port()
    env = app_env(
        settings, port,
        DATABASE_CONN_MAX_AGE="600",  # production's: the cache lives with the connection
        CACHE_KEY_PREFIX=f"test-token-cache-{uuid.uuid4().hex[:8]}",
        SCIM_AUTH_FAILURES_PER_IP="100000",  # the revoked token's 401s must not turn into 429s
    )
    server = Gunicorn(env, port, workers=3)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def statuses_in_parallel(port: int, token: str, count: int = 45) -> list[int]:
    """``count`` requests from 8 threads: while one worker is busy, another answers. One request at a
    time can reach the same worker every time (the one that just finished wins the next accept)."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: request(port, "/scim/Users?count=1", token)[0], range(count)))


def test_revocation_reaches_every_gunicorn_worker(workers, tenant):
    token = issue_token(tenant)
    # Every worker verifies and keeps the token.
    assert set(statuses_in_parallel(workers.port, token)) == {200}
    assert len(workers.pids_answering(200, "127.0.0.1")) >= 2, "requests should reach several workers"
    services.token_revoke(token=the_token(token), actor=Actor.system("test"))
    time.sleep(DELIVERY)
    assert set(statuses_in_parallel(workers.port, token)) == {401}
    assert len(workers.pids_answering(401, "127.0.0.1")) >= 2


def test_rotation_in_every_worker_new_token_at_once_old_until_its_grace_ends(workers, tenant):
    old = issue_token(tenant)
    for _ in range(30):
        assert request(workers.port, "/scim/Users?count=1", old)[0] == 200
    old_row = the_token(old)
    _, new = services.token_rotate(token=old_row, actor=Actor.system("test"), grace=timedelta(hours=1))
    time.sleep(DELIVERY)
    assert {request(workers.port, "/scim/Users?count=1", new)[0] for _ in range(20)} == {200}
    assert {request(workers.port, "/scim/Users?count=1", old)[0] for _ in range(20)} == {200}
    ScimToken.objects.filter(pk=old_row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    time.sleep(DELIVERY)
    assert {request(workers.port, "/scim/Users?count=1", old)[0] for _ in range(20)} == {401}
    assert {request(workers.port, "/scim/Users?count=1", new)[0] for _ in range(20)} == {200}


def test_the_threads_of_one_worker_share_the_memory_and_each_hears_a_revocation(transactional_db, settings, tenant):
    """Threaded workers (gunicorn.conf.py says how to switch to them): one process, a database
    connection per thread, one token memory for all of them."""
    port, name = free_port(), f"token-cache-threads-{uuid.uuid4().hex[:8]}"
    env = app_env(
        settings, port,
        DATABASE_URL=f"{database_url_for_subprocess()}?application_name={name}",
        DATABASE_CONN_MAX_AGE="600", CACHE_KEY_PREFIX=f"test-token-cache-{uuid.uuid4().hex[:8]}",
        SCIM_AUTH_FAILURES_PER_IP="100000", SCIM_AUTH_FAILURES_PER_PREFIX="100000",
    )
    server = Gunicorn(env, port, workers=1, options=("--worker-class", "gthread", "--threads", "4"))
    try:
        server.wait_ready()
        token = issue_token(tenant)

        def burst() -> set[int]:  # parallel requests: several of the worker's threads answer
            return set(statuses_in_parallel(port, token, 80))

        assert burst() == {200}
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
            backends = cursor.fetchone()[0]
        assert backends >= 3, "two request threads or more (and the request-log writer) should hold connections"
        assert len(server.pids_answering(200, "127.0.0.1")) == 1
        services.token_revoke(token=the_token(token), actor=Actor.system("test"))
        time.sleep(DELIVERY)
        assert burst() == {401}
    finally:
        server.stop()


# --- SCIM requests and the console's session ------------------------------------------


def test_a_scim_request_with_a_console_session_neither_reads_nor_writes_it(db, scim_token, admin):
    client = Client()
    client.force_login(admin)
    # The session cookie authenticates nothing on the SCIM endpoint: the bearer token does.
    assert client.get("/scim/Users", HTTP_AUTHORIZATION="Bearer nope").status_code == 401
    scim = scim_get(client, scim_token)
    assert scim.status_code == 200
    # No session was read or written: no cookie, no Vary on it.
    assert "sessionid" not in scim.cookies and "Cookie" not in scim.get("Vary", "")
    # The console's session, user and messages middleware passed the SCIM request by
    # (directory/console_middleware.py): none of them is even set up on it.
    assert not any(hasattr(scim.wsgi_request, name) for name in ("session", "user", "_messages"))
    console = client.get("/people/")
    assert console.status_code == 200  # the console session is untouched
    assert console.wsgi_request.user == admin and hasattr(console.wsgi_request, "_messages")
