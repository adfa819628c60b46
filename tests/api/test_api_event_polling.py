"""Polling the event lists: the next link of the last page returns later events, each exactly once, even
when a transaction that started earlier commits later (an id cursor alone would skip its events).

On committed data (``transactional_db``): an event becomes readable once the transaction that wrote it
has ended, which is what these tests exercise.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection, transaction

from directory.audit import Actor, audit_event_record
from directory.models import AuditEvent
from tests.api.conftest import ApiClient, api_key_for
from tests.conftest import make_tenant

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant(transactional_db):
    return make_tenant("acme", "Acme")


@pytest.fixture
def other_tenant(transactional_db):
    return make_tenant("globex", "Globex")


def record(tenant, label: str) -> AuditEvent:
    return audit_event_record(tenant=tenant, actor=Actor.system("test"), action="person.updated",
                              target_type="person", target_label=label)


def labels(body) -> list[str]:
    return [row["target_label"] for row in body["results"] if row["action"] == "person.updated"]


def test_paging_then_polling_returns_each_event_once_in_order(tenant):
    api = ApiClient(api_key_for(tenant, scope="logs"))
    for n in range(25):
        record(tenant, f"e{n}")
    seen, url = [], "/api/v1/audit-events/?action=person.updated&limit=10"
    for _ in range(3):
        response = api.follow(url)
        body = response.json()
        assert response["Link"] == f'<{body["next"]}>; rel="next"'
        seen += labels(body)
        url = body["next"]
    assert seen == [f"e{n}" for n in range(25)]
    # The end: the next link is still there and returns nothing, again and again.
    tail = api.follow(url).json()
    assert tail["results"] == [] and tail["next"]
    assert api.follow(tail["next"]).json()["results"] == []
    record(tenant, "later")
    newer = api.follow(tail["next"]).json()
    assert labels(newer) == ["later"]
    assert api.follow(newer["next"]).json()["results"] == []


def test_an_event_committed_after_a_newer_one_is_not_skipped(tenant):
    """Transaction A writes event a (lower id) and commits only after b (higher id) is committed."""
    api = ApiClient(api_key_for(tenant, scope="logs"))
    start = api.get("/audit-events/").json()["next"]
    written, release = threading.Event(), threading.Event()
    ids = {}

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                ids["a"] = record(tenant, "a").pk
                written.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(10)
    ids["b"] = record(tenant, "b").pk  # autocommit: committed at once
    assert ids["a"] < ids["b"]
    # b is committed but a is not: a reader past b would never see a, so b is held back too.
    held = api.follow(start).json()
    assert labels(held) == []
    release.set()
    thread.join(10)
    after = api.follow(held["next"]).json()
    assert labels(after) == ["a", "b"]
    assert api.follow(after["next"]).json()["results"] == []


def test_concurrent_writers_and_a_poller_lose_and_repeat_nothing(tenant, other_tenant):
    api = ApiClient(api_key_for(tenant, scope="logs"))
    url = api.get("/audit-events/", {"action": "person.updated"}).json()["next"]
    polled: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        rng = random.Random(n)
        try:
            for i in range(15):
                with transaction.atomic():
                    record(tenant, f"w{n}-{i}")
                    record(other_tenant, f"x{n}-{i}")  # another tenant's, never polled here
                    time.sleep(rng.random() * 0.01)
        finally:
            connection.close()

    def poller() -> None:
        nonlocal url
        try:
            while not stop.is_set():
                body = api.follow(url).json()
                polled.extend(labels(body))
                url = body["next"]
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    reader = threading.Thread(target=poller)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stop.set()
    reader.join(60)
    for _ in range(3):  # what committed after the poller's last read
        body = api.follow(url).json()
        polled.extend(labels(body))
        url = body["next"]
    expected = {f"w{n}-{i}" for n in range(4) for i in range(15)}
    assert len(polled) == len(set(polled)), "an event was returned twice"
    assert set(polled) == expected


def test_event_lists_are_walled_per_tenant(tenant, other_tenant):
    record(tenant, "ours")
    record(other_tenant, "theirs")
    for path in ("/audit-events/", "/provisioning-requests/", "/sso-sign-ins/"):
        ours = ApiClient(api_key_for(tenant, scope="logs")).get(path).json()
        assert "theirs" not in str(ours), path
    theirs = ApiClient(api_key_for(other_tenant, scope="logs")).get("/audit-events/").json()
    assert labels(theirs) == ["theirs"]


def test_a_quiet_or_filtered_poll_moves_past_what_it_has_read(tenant, django_assert_max_num_queries):
    """A short page means every settled event after the cursor was read: the next link starts after them,
    so polling a rare action does not walk the same non-matching events again."""
    api = ApiClient(api_key_for(tenant, scope="logs"))
    for n in range(30):
        audit_event_record(tenant=tenant, actor=Actor.system("test"), action="group.created", target_label=f"g{n}")
    first = api.get("/audit-events/", {"action": "person.updated"}).json()
    assert first["results"] == []
    from directory.api_pagination import _decode

    cursor = _decode(first["next"].split("cursor=")[1].split("&")[0])
    with connection.cursor() as c:
        c.execute("SELECT max(commit_order), max(id) FROM directory_auditevent WHERE tenant_id = %s", [tenant.pk])
        last_read = tuple(c.fetchone())
    assert cursor >= last_read  # past every event already read, not back at the start
    record(tenant, "rare")
    assert labels(api.follow(first["next"]).json()) == ["rare"]


def test_a_transaction_open_in_another_database_does_not_hold_events_back(tenant):
    """Transaction ids are shared by the whole PostgreSQL cluster, but only this database's transactions
    can write its events: one left open elsewhere (another app, another test run) delays nothing here."""
    import psycopg

    api = ApiClient(api_key_for(tenant, scope="logs"))
    start = api.get("/audit-events/", {"action": "person.updated"}).json()["next"]
    dsn = connection.get_connection_params()
    with psycopg.connect(host=dsn.get("host"), port=dsn.get("port"), user=dsn.get("user"), dbname="postgres",
                         password=dsn.get("password")) as elsewhere:
        elsewhere.execute("SELECT pg_current_xact_id()")  # a transaction with an id, left open
        record(tenant, "not held back")
        assert labels(api.follow(start).json()) == ["not held back"]
        elsewhere.rollback()
