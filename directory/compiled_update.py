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

from django.db import DatabaseError, connection, transaction
from django.db.models import Model

from directory.compiled_insert import insert_columns, insert_sql, row_values
from directory.server_bound_sql import run_server_bound


@functools.lru_cache(maxsize=256)  # the attribute sets clients change: few, and bounded anyway
def _update_sql(model: type[Model], names: tuple[str, ...]) -> tuple[str, tuple]:
    quote = connection.ops.quote_name
    fields = tuple(model._meta.get_field(name) for name in names)
    sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
    # Names from the model's own metadata; every value is a parameter.
    # RETURNING makes the row count visible through the shared runner.
    sql = f"UPDATE {quote(model._meta.db_table)} SET {sets} WHERE {quote(model._meta.pk.column)} = %s RETURNING 1"  # noqa: S608
    return sql, fields


def instance_update(entry: Model, update_fields: Sequence[str]) -> None:
    """Write ``update_fields`` of the saved ``entry`` (one prepared UPDATE by primary key)."""
    if connection.vendor != "postgresql":
        entry.save(update_fields=update_fields)
        return
    sql, fields = _update_sql(type(entry), tuple(dict.fromkeys(update_fields)))
    values = [f.get_db_prep_save(f.pre_save(entry, add=False), connection) for f in fields]
    values.append(entry._meta.pk.get_db_prep_save(entry.pk, connection))
    if not run_server_bound(sql, values, prepare=True):
        raise DatabaseError("Save with update_fields did not affect any rows.")


def update_with_events(entry: Model, update_fields: Sequence[str], events: Sequence[Model], *,
                       version_was: int) -> bool:
    """Write ``update_fields`` of ``entry`` and insert ``events``, in one statement, only if the row's
    ``version`` is still ``version_was``; returns whether it was.

    Optimistic concurrency for a read-modify-write without a transaction: one
    data-modifying WITH, atomic on its own, instead of BEGIN, SELECT … FOR
    UPDATE, UPDATE, INSERT and COMMIT. False means another write (or a
    delete) came first and nothing was written; the caller reads again.
    Off PostgreSQL (the demo's SQLite, which has no data-modifying WITH): the
    guarded UPDATE and the INSERTs in a transaction.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            fields = [entry._meta.get_field(name) for name in dict.fromkeys(update_fields)]
            written = type(entry)._default_manager.filter(pk=entry.pk, version=version_was).update(
                **{f.attname: f.pre_save(entry, add=False) for f in fields}
            )
            for event in events if written else ():
                event.save(force_insert=True)
        return bool(written)
    sql, fields = _update_sql(type(entry), tuple(dict.fromkeys(update_fields)))
    values = [f.get_db_prep_save(f.pre_save(entry, add=False), connection) for f in fields]
    values.append(entry._meta.pk.get_db_prep_save(entry.pk, connection))
    values.append(version_was)
    for event in events:
        values.extend(row_values(event))
    return bool(run_server_bound(_with_events_sql(sql, type(events[0]), len(events)), values, prepare=True))


@functools.lru_cache(maxsize=256)
def _with_events_sql(update_sql: str, event_model: type[Model], count: int) -> str:
    """``UPDATE … WHERE pk = %s AND version = %s`` as a WITH whose rows gate ``count`` event INSERTs."""
    guarded = update_sql.replace(" RETURNING 1", f" AND {connection.ops.quote_name('version')} = %s RETURNING 1")
    head, _, _ = insert_sql(event_model).partition(" VALUES ")
    # A SELECT list has no target types to infer its parameters from: each is cast to its column's
    # type without the length (CAST to varchar(n) cuts a longer value short; the INSERT must refuse it).
    row = ", ".join(f"CAST(%s AS {_unsized(f.db_type(connection))})" for f in insert_columns(event_model))
    rows = " UNION ALL ".join([f"SELECT {row} FROM changed"] * count)  # noqa: S608 - names from the model
    pk = connection.ops.quote_name(event_model._meta.pk.column)
    return f"WITH changed AS ({guarded}) {head} {rows} RETURNING {pk}"


def _unsized(db_type: str) -> str:
    """``varchar(255)`` → ``varchar``: the type, without the modifier an explicit CAST would enforce by truncating."""
    return db_type.split("(", 1)[0]
