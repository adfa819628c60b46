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

import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from django.db import connection, models, transaction
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


@functools.cache
def insert_columns(model: type[Model]) -> list[Any]:
    # Every column but one the database fills in (an auto-increment key); a key
    # chosen in Python (a person's UUID) is sent like any other value.
    return [f for f in model._meta.concrete_fields if not getattr(f, "db_returning", False)]


@functools.cache
def insert_sql(model: type[Model]) -> str:
    quote = connection.ops.quote_name
    columns = insert_columns(model)
    # Names from the model's own metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING {quote(model._meta.pk.column)}"
    )


def fetch_all(sql: str, params: list[Any]) -> list[tuple]:
    """Run one statement on the default connection and return its rows."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def instance_insert(entry: M) -> M:
    """Insert the unsaved ``entry``; returns it saved (pk set)."""
    if connection.vendor != "postgresql":
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
    if connection.vendor != "postgresql":
        with transaction.atomic():
            instance_insert(entry)
            instance_insert(event)
        return
    sql = _together_sql(type(entry), type(event))
    event.pk = fetch_all(sql, row_values(entry) + row_values(event))[0][0]
    _saved(entry)
    _saved(event)


@functools.cache
def _together_sql(model: type[Model], event_model: type[Model]) -> str:
    first, _, _ = insert_sql(model).rpartition(" RETURNING ")
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
    if connection.vendor != "postgresql":
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


# (PostgreSQL only: off it, rows go through save() and bulk_create.)
# Field classes whose preparation for the database returns a value of these
# exact types unchanged (Django's own classes only, not subclasses, which may
# override it): such a value skips the field's method calls, the largest part
# of building a row. Anything else (None, JSON, addresses, a str in a UUID
# field) takes the field's own path.
_PASSED_THROUGH: dict[type[Field], tuple[type, ...]] = {
    models.CharField: (str,),
    models.TextField: (str,),
    models.BooleanField: (bool,),
    models.UUIDField: (uuid.UUID,),
    # Auto-increment keys (and foreign keys to them) go as plain ints, unlike other integers.
    models.SmallAutoField: (int,),
    models.AutoField: (int,),
    models.BigAutoField: (int,),
    # An aware datetime only (checked in row_values): a naive one is made aware, with a warning.
    models.DateTimeField: (datetime.datetime,),
}
# Integer columns: an int is wrapped as Django wraps it (psycopg's Int2/Int4/Int8
# for the column's exact type, which keeps a prepared statement's parameter types stable).
_INTEGERS = (
    models.SmallIntegerField, models.IntegerField, models.BigIntegerField, models.PositiveSmallIntegerField,
    models.PositiveIntegerField, models.PositiveBigIntegerField,
)


class _Preparer(NamedTuple):
    field: Field
    attname: str
    computed: bool  # pre_save does more than read the attribute (auto_now)
    passed: tuple[type, ...]  # value types taken as they are (or wrapped)
    wrap: Callable[[Any], Any] | None
    aware: bool  # a datetime column: only an aware datetime is taken as it is


@functools.cache
def _preparers(model: type[Model]) -> list[_Preparer]:
    preparers = []
    for field in insert_columns(model):
        target = field.target_field if field.is_relation else field
        own_class = type(field) in (*_PASSED_THROUGH, *_INTEGERS, models.ForeignKey)
        passed, wrap = _PASSED_THROUGH.get(type(target), ()), None
        if type(target) in _INTEGERS:
            passed, wrap = (int,), connection.ops.integerfield_type_map[target.get_internal_type()]
        reads_only = type(field).pre_save is Field.pre_save or (
            type(field) is models.DateTimeField and not (field.auto_now or field.auto_now_add)
        )
        preparers.append(_Preparer(field, field.attname, not reads_only, passed if own_class else (), wrap,
                                   type(target) is models.DateTimeField))
    return preparers


def row_values(entry: Model) -> list[Any]:
    """The row's values exactly as ``Model.save()`` would send them (``pre_save``, then ``get_db_prep_save``)."""
    values = []
    for field, attname, computed, passed, wrap, aware in _preparers(type(entry)):
        value = field.pre_save(entry, add=True) if computed else getattr(entry, attname)
        if value is None and passed:  # every class listed sends None as NULL
            values.append(None)
        elif type(value) not in passed or (aware and value.tzinfo is None):
            values.append(field.get_db_prep_save(value, connection))
        elif wrap is not None:
            values.append(wrap(value))
        else:
            values.append(value)
    return values


def _saved(entry: Model) -> None:
    entry._state.adding = False
    entry._state.db = connection.alias
