"""Rows and statements built from a model's own metadata, the way ``save()`` would build them.

The statement for a model is built once (its table and columns never change
while the process runs) and every value goes through the field's
``pre_save`` (``auto_now`` timestamps) and ``get_db_prep_save`` (JSON,
UUIDs, addresses), exactly as ``save()`` prepares it. Only
spaceiq_site.postgresql.writes runs them, on PostgreSQL.
"""

from __future__ import annotations

import datetime
import functools
import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from django.db import connection, models
from django.db.models import NOT_PROVIDED, Field, Model


@functools.cache
def insert_columns(model: type[Model]) -> list[Any]:
    # Every column but one the database fills in (an auto-increment key); a key
    # chosen in Python (a person's UUID) is sent like any other value.
    return [f for f in model._meta.concrete_fields if not getattr(f, "db_returning", False)]


@functools.lru_cache(maxsize=256)  # a model's NULL patterns in practice: a handful, and bounded anyway
def insert_sql(model: type[Model], kept: tuple[int, ...] | None = None) -> str:
    """The model's INSERT … RETURNING pk, of every insert column or of those at the positions ``kept``."""
    quote = connection.ops.quote_name
    columns = insert_columns(model)
    if kept is not None:
        columns = [columns[i] for i in kept]
    # Names from the model's own metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING {quote(model._meta.pk.column)}"
    )


@functools.cache
def null_by_default(model: type[Model]) -> tuple[bool, ...]:
    """Per insert column: whether leaving it out of an INSERT stores NULL (no default in the database)."""
    return tuple(f.db_default is NOT_PROVIDED and not f.primary_key for f in insert_columns(model))


def without_nulls(model: type[Model], values: list[Any]) -> tuple[tuple[int, ...], list[Any]]:
    """The positions and values of a row's columns that an INSERT must name: NULLs the database stores anyway go.

    A SCIM user leaves most of a person's 48 columns empty. Fewer parameters
    keep the statement within what psycopg caches the parsing of (50), and
    send less.
    """
    implicit = null_by_default(model)
    kept = tuple(i for i, value in enumerate(values) if value is not None or not implicit[i])
    return kept, [values[i] for i in kept]


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
