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

from django.db import DatabaseError, connection
from django.db.models import Model

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
