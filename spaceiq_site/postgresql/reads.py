"""Reads by primary key with SQL built once from the model's metadata, run with ``cursor.execute``.

Every SCIM GET, PATCH and DELETE reads one resource by id. Building and
compiling that QuerySet costs the ORM more CPU than PostgreSQL spends
answering it, and ``raw()`` still works out its columns and converters from
the cursor's description on every call (``make bench`` measures requests per
kind). The statement never changes, so it is built once per model from
``_meta``; each row becomes an instance through ``Model.from_db()`` after the
documented ``from_db_value()`` of the fields that have one, as iterating the
QuerySet would.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)

ALIAS = "r"  # the table's alias in the statement, for ``extra`` expressions


@functools.cache
def _by_pk_sql(model: type[Model], for_update: bool, extra: tuple[tuple[str, str], ...]) -> str:
    quote = connection.ops.quote_name
    columns = [f"{ALIAS}.{quote(f.column)}" for f in model._meta.concrete_fields]
    columns += [f"({sql}) AS {quote(name)}" for name, sql in extra]
    # Names from the model's own metadata; the key is a parameter. No ORDER BY: one plan, the key's index.
    sql = (f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} {ALIAS} "  # noqa: S608
           f"WHERE {ALIAS}.{quote(model._meta.pk.column)} = %s")
    return sql + (f" FOR UPDATE OF {ALIAS}" if for_update else "")


@functools.cache
def _converted(model: type[Model]) -> tuple[tuple[int, Field], ...]:
    """The positions (in ``concrete_fields`` order) of the fields that convert what the database returns."""
    return tuple((i, f) for i, f in enumerate(model._meta.concrete_fields) if hasattr(f, "from_db_value"))


@functools.cache
def _attnames(model: type[Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields]


def instances(model: type[M], sql: str, params: list[Any], extra: Sequence[str] = ()) -> list[M]:
    """The rows of ``sql`` (every concrete column of ``model`` in order, then one column per name
    in ``extra``) as instances, with each ``extra`` value set as an attribute, unconverted."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    attnames, converted = _attnames(model), _converted(model)
    width = len(attnames)
    loaded = []
    for row in rows:
        values = list(row[:width])
        for i, field in converted:
            values[i] = field.from_db_value(values[i], field, connection)
        instance = model.from_db(connection.alias, attnames, values)
        for name, value in zip(extra, row[width:], strict=True):
            setattr(instance, name, value)
        loaded.append(instance)
    return loaded


def by_pk(model: type[M], pk: Any, *, for_update: bool = False, extra: dict[str, str] | None = None) -> M | None:
    """The instance with primary key ``pk`` (locked for the transaction with ``for_update``), or None.

    ``extra`` maps attribute names to SQL expressions over the row (``r``),
    set on the instance as ``raw()`` sets annotations.
    """
    expressions = tuple(sorted((extra or {}).items()))
    found = instances(model, _by_pk_sql(model, for_update, expressions), [pk], [name for name, _ in expressions])
    return found[0] if found else None


@functools.cache
def _equal_sql(model: type[Model], field: str, case_exact: bool, limited: bool) -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"{ALIAS}.{quote(f.column)}" for f in model._meta.concrete_fields)
    column = f"{ALIAS}.{quote(model._meta.get_field(field).column)}"
    # LOWER on both sides, as the per-tenant unique indexes on LOWER(column) are built.
    compare = f"{column} = %s" if case_exact else f"LOWER({column}) = LOWER(%s)"
    tenant = f"{ALIAS}.{quote(model._meta.get_field('tenant').column)}"
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} {ALIAS} WHERE {tenant} = %s AND {compare}"  # noqa: S608
    if limited:
        order = ", ".join(f"{ALIAS}.{quote(model._meta.get_field(name).column)}" for name in model._meta.ordering)
        sql += f" ORDER BY {order} LIMIT %s"
    return sql


def tenant_rows_equal(model: type[M], *, tenant_id: int, field: str, value: str, case_exact: bool,
                      limit: int | None = None) -> list[M]:
    """One tenant's rows of ``model`` whose ``field`` equals ``value`` (case-insensitively unless
    ``case_exact``); with ``limit``, the first ``limit`` of them in the model's ``Meta.ordering``,
    without (an attribute unique per tenant) in no particular order."""
    sql = _equal_sql(model, field, case_exact, limit is not None)
    params: list[Any] = [tenant_id, value] + ([limit] if limit is not None else [])
    return instances(model, sql, params)
