"""Verified SCIM tokens kept in each app process, forgotten as soon as anything they depend on changes.

Every SCIM request starts with the token query (a three-table join). Entra
sends thousands of requests with one token and the token rarely changes, so
each process keeps what it verified, keyed by the token's HMAC digest, and
serves the next request with that token from memory.

Revocation stays immediate. Triggers on the token, integration and tenant
tables (provisioning migrations 0004 and 0006) send a notification on
``spaceiq_scim_auth`` when a row is deleted or one of its columns changes,
committed with the change. The process's database connection LISTENs on that
channel; before trusting its memory, a request reads whatever the server has
already sent (a non-blocking read of the socket, no round trip) and any
notification empties the memory. PostgreSQL sends a notification to an idle
listener as its transaction commits, so a request that starts after a
revocation's response has been sent finds it on the socket.

The request path's own bookkeeping (a token's last use, an integration's last
request and alerting state) notifies nobody: it would empty every process's
memory every few seconds of a sync. provisioning.scim.auth and
provisioning.alerts set what they write on the instances kept here, and the
alerts read the row again when a conditional UPDATE finds that another
process moved it.

An entry is trusted only while the connection it was verified under is the
process's connection and no notification has arrived since: a reconnect (the
old connection may have missed notifications) empties the memory too. Inside
a transaction (the test suite's, or a caller's) the memory is not used at all:
uncommitted changes send no notification. Expiry is checked on every use.

Off on SQLite (no LISTEN) and where ``SCIM_TOKEN_CACHE`` is false: behind
PgBouncer in transaction pooling a LISTEN does not stay with the session.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg import pq

from provisioning.models import ScimToken
from provisioning.tokens import lookup_prefix, token_digest, token_verify
from spaceiq_site import postgresql

T = TypeVar("T")
CHANNEL = "spaceiq_scim_auth"
# Tokens in use are a handful per tenant; the bound only stops a flood of
# distinct valid tokens from growing a worker without limit.
MAX_ENTRIES = 1024


class _Memory:
    """This process's verified tokens, and the state that says whether they can be trusted."""

    def __init__(self) -> None:
        self.generation = 0  # moves on every notification and every new connection
        self.entries: dict[str, tuple[int, ScimToken]] = {}
        self.tenant_values: dict[tuple[str, int], tuple[int, Any]] = {}

    def forget(self, *_: Any) -> None:
        self.generation += 1
        self.entries = {}
        self.tenant_values = {}


_memory = _Memory()


def enabled() -> bool:
    return bool(settings.SCIM_TOKEN_CACHE) and postgresql.in_use()


def cached_token_verify(raw: str) -> ScimToken | None:
    """``token_verify(raw)``, answered from memory when nothing has changed since it was last verified."""
    if not enabled() or connection.in_atomic_block:
        return token_verify(raw)
    if lookup_prefix(raw) is None:
        return None
    generation = _listen_and_drain()
    key = token_digest(raw)
    hit = _memory.entries.get(key)
    if hit is not None and hit[0] == generation:
        token = hit[1]
        if token.expires_at is None or token.expires_at > timezone.now():
            return token
    token = token_verify(raw)
    if token is not None and generation == _memory.generation:
        if len(_memory.entries) >= MAX_ENTRIES:
            _memory.entries = {}
        # Keyed by the digest the row holds now: after a hash-key re-key it is the current key's.
        _memory.entries[key] = (generation, token)
    return token


def cached_tenant_value(name: str, tenant_id: int, load: Callable[[], T]) -> T:
    """``load()``, kept per tenant like a token: forgotten on any notification of the channel. For what
    tables with the channel's triggers hold (a tenant's custom attributes, provisioning migration 0009)."""
    if not enabled() or connection.in_atomic_block:
        return load()
    generation = _listen_and_drain()
    key = (name, tenant_id)
    hit = _memory.tenant_values.get(key)
    if hit is not None and hit[0] == generation:
        return hit[1]
    value = load()
    if generation == _memory.generation:
        if len(_memory.tenant_values) >= MAX_ENTRIES:
            _memory.tenant_values = {}
        _memory.tenant_values[key] = (generation, value)
    return value


def _listen_and_drain() -> int:
    """The generation an entry must carry to be trusted, once the socket's notifications are read.

    Errors are left to the token query that follows: on a broken connection it
    fails the way every SCIM query does (a 503, and Django drops the connection).
    """
    connection.close_if_health_check_failed()  # a SELECT 1 only if the socket has something to read
    connection.ensure_connection()
    conn = connection.connection
    listening = getattr(connection, "_scim_auth_listening", None)
    if listening is None or listening() is not conn:
        # A new connection: start listening before any entry verified through it can be kept.
        with connection.wrap_database_errors:
            conn.add_notify_handler(_memory.forget)
            conn.execute(f"LISTEN {CHANNEL}")
        connection._scim_auth_listening = weakref.ref(conn)
        _memory.forget()
        return _memory.generation
    pgconn = conn.pgconn
    if pgconn.transaction_status == pq.TransactionStatus.IDLE:
        try:
            pgconn.consume_input()  # non-blocking: reads only what has arrived
        except psycopg.Error:  # the connection is broken: forget, and let the token query report it
            _memory.forget()
            return _memory.generation
        while notice := pgconn.notifies():
            if pgconn.notify_handler:
                pgconn.notify_handler(notice)  # psycopg's dispatcher: calls _memory.forget
    return _memory.generation
