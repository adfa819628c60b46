"""Reads by primary key with SQL built once from the model's metadata, run through ``raw()``.

Every SCIM GET, PATCH and DELETE reads one resource by id. Building and
compiling that QuerySet costs the ORM more CPU than PostgreSQL spends
answering it (``make bench`` measures requests per kind); the statement never
changes, so it is built once per model from ``_meta`` and run with
``Manager.raw()``, which turns the row into an instance with each field's
own conversions, as iterating the QuerySet would.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

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


def by_pk(model: type[M], pk: Any, *, for_update: bool = False, extra: dict[str, str] | None = None) -> M | None:
    """The instance with primary key ``pk`` (locked for the transaction with ``for_update``), or None.

    ``extra`` maps attribute names to SQL expressions over the row (``r``),
    set on the instance as ``raw()`` sets annotations.
    """
    sql = _by_pk_sql(model, for_update, tuple(sorted((extra or {}).items())))
    return next(iter(model._default_manager.raw(sql, [pk])), None)


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
    return list(model._default_manager.raw(sql, params))
