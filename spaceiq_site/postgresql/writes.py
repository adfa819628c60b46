"""The writes the SCIM hot path sends as one PostgreSQL statement each; plain ORM elsewhere.

Every SCIM write records an audit event, and Entra sends thousands of them
per sync. ``save()`` compiles its INSERT or UPDATE anew on every call and
two writes need a transaction around them (BEGIN, two statements, COMMIT);
here each statement is built once from the model's metadata
(spaceiq_site.postgresql.rows), and a write with its events is one
data-modifying ``WITH``, atomic on its own: one round trip instead of four.
``bench/run.py`` measures what that is worth. Off PostgreSQL (the demo's
SQLite) every function here is the ORM's ``save()``, ``bulk_create`` or
``update()``, with the same effect.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Model

from spaceiq_site.postgresql import in_use
from spaceiq_site.postgresql.rows import insert_columns, insert_sql, row_values, without_nulls

M = TypeVar("M", bound=Model)


def fetch_all(sql: str, params: list[Any]) -> list[tuple]:
    """Run one statement on the default connection and return its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def instance_insert(entry: M) -> M:
    """Insert the unsaved ``entry``; returns it saved (pk set)."""
    if not in_use():
        entry.save(force_insert=True)
        return entry
    entry.pk = fetch_all(insert_sql(type(entry)), row_values(entry))[0][0]
    _saved(entry)
    return entry


def insert_with_event(entry: Model, event: Model) -> None:
    """Insert ``entry`` (its key chosen in Python) and the ``event`` recording it in one statement.

    One data-modifying WITH: atomic on its own, so it needs no transaction
    around it, one round trip instead of four (BEGIN, two INSERTs, COMMIT).
    Off PostgreSQL, the two INSERTs in a transaction.
    """
    if getattr(type(entry)._meta.pk, "db_returning", False):
        raise TypeError("insert_with_event needs a primary key chosen in Python")
    if not in_use():
        with transaction.atomic():
            instance_insert(entry)
            instance_insert(event)
        return
    kept, values = without_nulls(type(entry), row_values(entry))
    event.pk = fetch_all(_together_sql(type(entry), type(event), kept), values + row_values(event))[0][0]
    _saved(entry)
    _saved(event)


@functools.lru_cache(maxsize=256)
def _together_sql(model: type[Model], event_model: type[Model], kept: tuple[int, ...]) -> str:
    first, _, _ = insert_sql(model, kept).rpartition(" RETURNING ")
    return f"WITH written AS ({first}) {insert_sql(event_model)}"


def copy_insert(model: type[M], entries: list[M], *, asynchronous_commit: bool = False) -> None:
    """Insert the unsaved ``entries`` with one COPY, in a transaction of its own (their keys are not read back).

    COPY formats the rows in psycopg's C code, and the statement is the same
    whatever the number of rows: a multi-row INSERT had psycopg parse and bind
    a new statement text for every batch. ``asynchronous_commit``: the commit
    does not wait for the WAL flush (``synchronous_commit = off`` for this
    transaction only). Off PostgreSQL: ``bulk_create``.
    """
    if not entries:
        return
    if not in_use():
        model.objects.bulk_create(entries)
        return
    if connection.in_atomic_block:
        raise RuntimeError("copy_insert commits on its own: not inside a transaction")
    quote = connection.ops.quote_name
    columns = insert_columns(model)
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) FROM STDIN"
    rows = [row_values(entry) for entry in entries]
    with connection.cursor() as wrapper:  # Django's: connects, health-checks, translates errors
        pgconn = wrapper.cursor.connection
        with connection.wrap_database_errors, pgconn.transaction(), pgconn.cursor() as cursor:
            if asynchronous_commit:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)



def delete_linked(link: type[Model], owner_field: str, owner: Any, target: type[Model]) -> int:
    """Delete ``owner``'s rows of ``link`` and the ``target`` rows their primary keys name; returns how
    many ``target`` rows went.

    ``link``'s primary key is ``target``'s (a person's record of a session,
    keyed by the session key). One data-modifying WITH on PostgreSQL; off it,
    two ORM deletes, in the caller's transaction either way.
    """
    field = link._meta.get_field(owner_field)
    if not in_use():
        keys = link._default_manager.filter(**{field.attname: owner}).values("pk")
        deleted, _ = target._default_manager.filter(pk__in=keys).delete()
        link._default_manager.filter(**{field.attname: owner}).delete()
        return deleted
    quote = connection.ops.quote_name
    key, target_key = quote(link._meta.pk.column), quote(target._meta.pk.column)
    sql = (f"WITH gone AS (DELETE FROM {quote(link._meta.db_table)} WHERE {quote(field.column)} = %s "  # noqa: S608
           f"RETURNING {key}) DELETE FROM {quote(target._meta.db_table)} WHERE {target_key} IN "
           f"(SELECT {key} FROM gone)")
    with connection.cursor() as cursor:
        cursor.execute(sql, [field.get_db_prep_value(owner, connection)])
        return cursor.rowcount

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


def _save_with_version(entry: Model, update_fields: Sequence[str]) -> None:
    """``entry.save(update_fields=...)`` that bumps the version in SQL and reads the new one back
    (off PostgreSQL)."""
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
    if not in_use():
        _save_with_version(entry, fields_written)
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
    if not in_use():
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


def integrity_violation(exc: IntegrityError) -> str | None:
    """Which constraint refused a write: ``"unique"``, ``"foreign_key"`` or None (another one).

    PostgreSQL names it (the SQLSTATE of the error psycopg raised). The demo's
    SQLite names none; the only constraint a single-row write can break
    there is a unique one.
    """
    if not in_use():
        return "unique"
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    return {"23505": "unique", "23503": "foreign_key"}.get(sqlstate)


def _saved(entry: Model) -> None:
    entry._state.adding = False
    entry._state.db = connection.alias
