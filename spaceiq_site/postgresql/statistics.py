"""Planner statistics for tables PostgreSQL has never analyzed, right after ``migrate``.

A table that has never been analyzed (``pg_class.reltuples = -1``) gives the
planner nothing to choose between indexes with, and PostgreSQL then picks
among equally costed ones: on a fresh database it answered ``GET /Users/{id}``
by walking the tenant's rows through ``person_tenant_created`` instead of the
primary key, slower the larger the tenant (``make bench-scale`` measures
lookups at 100,000 people). Autovacuum fixes that within a minute where it runs; it is
off on some servers (this project's CI machine among them), and a SCIM sync
starts the moment a token is pasted. Once a table has been analyzed, even
empty, the planner scales its estimates with the table's real size, so one
``ANALYZE`` of each never-analyzed table after migrating is enough; tables
that already have statistics are left to autovacuum.
"""

from __future__ import annotations

from typing import Any

from django.db import connections

from spaceiq_site.postgresql import in_use

_NEVER_ANALYZED = """
    SELECT c.oid::regclass::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.reltuples < 0 AND n.nspname = ANY (current_schemas(false))
    ORDER BY 1
"""


def never_analyzed_tables_analyze(using: str = "default", **_: Any) -> list[str]:
    """ANALYZE every table of ``using`` without statistics; returns their names (none off PostgreSQL)."""
    if not in_use(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(_NEVER_ANALYZED)
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f"ANALYZE {table}")  # a regclass name PostgreSQL quoted itself
    return tables
