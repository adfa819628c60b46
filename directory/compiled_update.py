"""``save(update_fields=...)`` for the SCIM PATCH path, without compiling the UPDATE every time.

Entra's incremental cycle is one PATCH per changed user, and it changes the
same few attributes each time. ``Model.save(update_fields=...)`` compiles its
UPDATE anew on every call; here the statement is built once per set of
columns from the model's own fields, and every value still goes through the
field's ``pre_save`` (``auto_now`` timestamps) and ``get_db_prep_save``, as
``save()`` would prepare it. Like ``save(update_fields=...)`` it fails when no
row was updated. Off PostgreSQL it is ``save(update_fields=...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Model

from directory.compiled_insert import fetch_all, insert_columns, insert_sql, row_values

COUNTER = "version"  # bumped by every write, in SQL (``version = version + 1``), never from a value read earlier


@functools.lru_cache(maxsize=256)  # the attribute sets clients change: few, and bounded anyway
def _update_sql(model: type[Model], names: tuple[str, ...], *, guarded: bool = False) -> tuple[str, tuple]:
    """``UPDATE … SET names…, version = version + 1 WHERE pk = %s [AND version = %s] RETURNING version``
    (``names`` without the version)."""
    quote = connection.ops.quote_name
    fields = tuple(model._meta.get_field(name) for name in names)
    counter = quote(model._meta.get_field(COUNTER).column)
    sets = ", ".join([*(f"{quote(f.column)} = %s" for f in fields), f"{counter} = {counter} + 1"])
    where = f"{quote(model._meta.pk.column)} = %s" + (f" AND {counter} = %s" if guarded else "")
    # Names from the model's own metadata; every value is a parameter.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {where} RETURNING {counter}"  # noqa: S608
    return sql, fields


def _update_values(entry: Model, fields: tuple) -> list[Any]:
    values = [f.get_db_prep_save(f.pre_save(entry, add=False), connection) for f in fields]
    values.append(entry._meta.pk.get_db_prep_save(entry.pk, connection))
    return values


def _without_counter(update_fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(name for name in dict.fromkeys(update_fields) if name != COUNTER)


def save_with_version(entry: Model, update_fields: Sequence[str]) -> None:
    """``entry.save(update_fields=...)`` that bumps the version in SQL and reads the new one back
    (for writes that must go through ``save()``, and off PostgreSQL)."""
    setattr(entry, COUNTER, F(COUNTER) + 1)
    entry.save(update_fields=[*_without_counter(update_fields), COUNTER])
    entry.refresh_from_db(fields=[COUNTER])


def instance_update(entry: Model, update_fields: Sequence[str]) -> None:
    """Write ``update_fields`` of the saved ``entry`` and bump its ``version`` (one prepared UPDATE by
    primary key); ``entry.version`` becomes the row's new version.

    The version is incremented in SQL, not written from the instance: a caller
    that read the row without locking it (a console form) must not move the
    version back, nor give two states one version, which would let an
    optimistic write (``update_with_events``) pass over a change it never saw.
    """
    fields_written = _without_counter(update_fields)
    if connection.vendor != "postgresql":
        save_with_version(entry, fields_written)
        return
    sql, fields = _update_sql(type(entry), fields_written)
    rows = fetch_all(sql, _update_values(entry, fields))
    if not rows:
        raise DatabaseError("Save with update_fields did not affect any rows.")
    setattr(entry, COUNTER, rows[0][0])


def update_with_events(entry: Model, update_fields: Sequence[str], events: Sequence[Model], *,
                       version_was: int) -> bool:
    """Write ``update_fields`` of ``entry`` and insert ``events``, in one statement, only if the row's
    ``version`` is still ``version_was``; returns whether it was (``entry.version`` is then the new one).

    Optimistic concurrency for a read-modify-write without a transaction: one
    data-modifying WITH, atomic on its own, instead of BEGIN, SELECT … FOR
    UPDATE, UPDATE, INSERT and COMMIT. False means another write (or a
    delete) came first and nothing was written; the caller reads again.
    Off PostgreSQL (the demo's SQLite, which has no data-modifying WITH): the
    guarded UPDATE and the INSERTs in a transaction.
    """
    if not events:
        raise ValueError("update_with_events needs at least one event")
    fields_written = _without_counter(update_fields)
    if connection.vendor != "postgresql":
        with transaction.atomic():
            fields = [entry._meta.get_field(name) for name in fields_written]
            written = type(entry)._default_manager.filter(pk=entry.pk, **{COUNTER: version_was}).update(
                **{f.attname: f.pre_save(entry, add=False) for f in fields}, **{COUNTER: F(COUNTER) + 1}
            )
            for event in events if written else ():
                event.save(force_insert=True)
    else:
        sql, fields = _update_sql(type(entry), fields_written, guarded=True)
        values = _update_values(entry, fields)
        values.append(entry._meta.get_field(COUNTER).get_db_prep_save(version_was, connection))
        for event in events:
            values.extend(row_values(event))
        written = fetch_all(_with_events_sql(sql, type(events[0]), len(events)), values)
    if written:
        setattr(entry, COUNTER, version_was + 1)  # the guard held: exactly one increment from version_was
    return bool(written)


@functools.lru_cache(maxsize=256)
def _with_events_sql(update_sql: str, event_model: type[Model], count: int) -> str:
    """The guarded UPDATE as a WITH whose row gates ``count`` event INSERTs."""
    head, _, _ = insert_sql(event_model).partition(" VALUES ")
    # A SELECT list has no target types to infer its parameters from: each is cast to its column's
    # type without the length (CAST to varchar(n) cuts a longer value short; the INSERT must refuse it).
    row = ", ".join(f"CAST(%s AS {_unsized(f.db_type(connection))})" for f in insert_columns(event_model))
    rows = " UNION ALL ".join([f"SELECT {row} FROM changed"] * count)  # noqa: S608 - names from the model
    pk = connection.ops.quote_name(event_model._meta.pk.column)
    return f"WITH changed AS ({update_sql}) {head} {rows} RETURNING {pk}"


def _unsized(db_type: str) -> str:
    """``varchar(255)`` → ``varchar``: the type, without the modifier an explicit CAST would enforce by truncating."""
    return db_type.split("(", 1)[0]
