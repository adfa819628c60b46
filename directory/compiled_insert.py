"""One-row INSERTs built once per model and run without the ORM's save machinery.

The audit trail and the request log write one row for (nearly) every SCIM
request. ``Model.objects.create`` compiles its INSERT anew each time and
sends the save signals nobody listens to for these append-only tables; the
statement is always the same, so it is built once from the model's own
fields and every value still goes through the field's ``pre_save`` (auto_now
timestamps) and ``get_db_prep_save`` (JSON, UUIDs, addresses), exactly as
``save()`` would prepare it. Off PostgreSQL (the demo's SQLite) it is the
ORM's create.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

from directory.server_bound_sql import run_server_bound

M = TypeVar("M", bound=Model)


@functools.cache
def _columns(model: type[Model]) -> list[Any]:
    # Every column but one the database fills in (an auto-increment key); a key
    # chosen in Python (a person's UUID) is sent like any other value.
    return [f for f in model._meta.concrete_fields if not getattr(f, "db_returning", False)]


@functools.cache
def insert_sql(model: type[Model]) -> str:
    quote = connection.ops.quote_name
    columns = _columns(model)
    # Names from the model's own metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING {quote(model._meta.pk.column)}"
    )


def compiled_insert(model: type[M], *, preamble: str = "", **fields: Any) -> M:
    """Insert one ``model`` row built from ``fields``; returns the saved instance (pk set)."""
    return instance_insert(model(**fields), preamble=preamble)


def instance_insert(entry: M, *, preamble: str = "") -> M:
    """Insert the unsaved ``entry``; returns it saved (pk set).

    On PostgreSQL a prepared statement with server-side binding
    (directory.server_bound_sql); ``preamble`` runs in the same round trip
    and implicit transaction.
    """
    if connection.vendor != "postgresql":
        entry.save(force_insert=True)
        return entry
    model = type(entry)
    entry.pk = run_server_bound(insert_sql(model), _values(entry), prepare=True, preamble=preamble)[0][0]
    _saved(entry)
    return entry


def compiled_insert_many(model: type[M], entries: list[M], *, preamble: str = "") -> None:
    """Insert the unsaved ``entries`` in one statement (one round trip); each gets its pk."""
    if not entries:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(entries)
        return
    head, _, row = insert_sql(model).partition(" VALUES ")
    row, _, returning = row.partition(" RETURNING ")
    # The statement differs with the number of rows: not prepared.
    sql = f"{head} VALUES {', '.join([row] * len(entries))} RETURNING {returning}"
    params = [value for entry in entries for value in _values(entry)]
    for entry, (pk,) in zip(entries, run_server_bound(sql, params, prepare=False, preamble=preamble), strict=True):
        entry.pk = pk
        _saved(entry)


def _values(entry: Model) -> list[Any]:
    return [f.get_db_prep_save(f.pre_save(entry, add=True), connection) for f in _columns(type(entry))]


def _saved(entry: Model) -> None:
    entry._state.adding = False
    entry._state.db = connection.alias
