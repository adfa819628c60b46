"""Hot-path SQL sent with server-side parameter binding, on the request's own connection.

Django's psycopg cursors bind parameters client-side: psycopg quotes every
value into the SQL text in Python, which was a third of a SCIM request's
CPU, and such a statement can never be prepared. The few statements every
SCIM request runs (directory.compiled_query, directory.compiled_insert) go
through a plain psycopg cursor instead, on the same connection and
transaction as the ORM, and through Django's execute wrappers, query log and
error translation, so they are counted, logged and fail like any other query.

The cursor is psycopg's raw cursor and the statement goes with ``$1, $2, …``
placeholders, numbered once per statement text: psycopg's own ``%s`` cursor
re-parses a statement longer than 4 kB on every call (its parse cache stops
there), and a person's INSERT with its audit event is longer.

``prepare=True`` (with the ``DATABASE_PREPARED_STATEMENTS`` setting on) makes
it a prepared statement, parsed and planned once per connection.
``preamble`` is a statement sent in the same round trip and the same implicit
transaction (psycopg's pipeline mode), e.g. a ``set_config(..., true)`` that
must apply to the statement itself.
"""

from __future__ import annotations

import functools
import re
from contextlib import nullcontext
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections
from django.db.backends.utils import CursorDebugWrapper


def run_server_bound(sql: str, params: list[Any], *, prepare: bool, preamble: str = "",
                     alias: str = "default") -> list[tuple]:
    """Run one statement (PostgreSQL only) and return all its rows."""
    connection = connections[alias]
    prepare = prepare and settings.DATABASE_PREPARED_STATEMENTS
    # What connection.cursor() does (health check, connect, thread check), minus a new cursor.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = _raw_cursor(connection, sql)
    numbered = _numbered(sql)
    wrapper = connection._prepare_cursor(raw)  # Django's wrapper: execute wrappers, query log

    def execute(_shown: str, params: Any, many: bool, context: Any) -> Any:
        # The wrappers see (and log) the preamble with the statement; send them apart.
        with connection.wrap_database_errors:
            if not preamble:
                return raw.execute(numbered, params, prepare=prepare)
            with raw.connection.pipeline():
                raw.execute(preamble)
                return raw.execute(numbered, params, prepare=prepare)

    shown = f"{preamble}; {sql}" if preamble else sql
    logged = wrapper.debug_sql(shown, params) if isinstance(wrapper, CursorDebugWrapper) else nullcontext()
    with logged:
        # One entry per round trip, as a multi-statement string would be.
        wrapper._execute_with_wrappers(shown, params, many=False, executor=execute)
    with connection.wrap_database_errors:
        return raw.fetchall()


_PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)


@functools.lru_cache(maxsize=512)
def _numbered(sql: str) -> str:
    """Django's ``%s`` placeholders as PostgreSQL's ``$n`` (``%%``, a literal percent sign, as ``%``)."""
    position = 0

    def replace(match: re.Match) -> str:
        nonlocal position
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise ValueError(f"unsupported placeholder %{match.group(1)} in {sql[:200]!r}")
        position += 1
        return f"${position}"

    return _PLACEHOLDER.sub(replace, sql)


_CURSORS_PER_CONNECTION = 256  # the hot path's statements are a few dozen


def _raw_cursor(connection: Any, sql: str) -> psycopg.RawCursor:
    """A plain psycopg cursor of this connection kept for this statement.

    A psycopg cursor keeps how to send and read each type of value only while
    it runs the same statement again; a new one looked them up again for
    every parameter, a twentieth of a SCIM request's CPU.
    """
    pgconn = connection.connection
    cursors = getattr(connection, "_server_bound_cursors", None)
    if cursors is None or cursors[0] is not pgconn or len(cursors[1]) >= _CURSORS_PER_CONNECTION:
        cursors = connection._server_bound_cursors = (pgconn, {})
    raw = cursors[1].get(sql)
    if raw is None or raw.closed:
        raw = cursors[1][sql] = psycopg.RawCursor(pgconn)
    return raw
