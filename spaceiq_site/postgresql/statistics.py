"""Planner statistics for tables too new for autovacuum to have caught up with them.

PostgreSQL chooses between indexes with the statistics ANALYZE gathered.
Without them (never analyzed), or with those of the empty table ``migrate``
left, it takes every tenant to be a sliver of the table, and an index that
merely starts with the tenant looks as good as the unique one: on a fresh
database Entra's ``userName eq`` lookup walked the whole tenant through
``person_tenant_active`` instead of the unique ``userName`` index, and a
prepared statement keeps such a plan for the connection's life. That is the
first sync of a new deployment, exactly when Entra sends thousands of
lookups (``make bench`` measures it; docs/benchmark.md has the figures).
Autovacuum fixes it, but it visits a database at most once a minute, and it
is off on some servers (this project's CI machine among them). Two calls
keep the statistics up with the data until the tables are large enough for
autovacuum's own thresholds:

- ``never_analyzed_tables_analyze`` runs after every ``migrate``.
- ``outgrown_tables_analyze`` analyzes each young table (statistics of
  fewer than ``YOUNG_ROWS`` rows) that now holds more than twice the rows its
  statistics describe. Each ANALYZE also makes PostgreSQL replan the
  statements cached for the table. The request-log writer of each process
  calls it while SCIM traffic flows, at most every ``CHECK_SECONDS``
  (provisioning/request_log_writer.py).
"""

from __future__ import annotations

import time
from typing import Any

from django.db import connections, transaction

from spaceiq_site.postgresql import in_use

_NEVER_ANALYZED = """
    SELECT c.oid::regclass::text
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.reltuples < 0 AND n.nspname = ANY (current_schemas(false))
    ORDER BY 1
"""


def analyze(cursor: Any, tables: list[str]) -> None:
    """ANALYZE each of ``tables``: regclass names PostgreSQL quoted itself."""
    for table in tables:
        cursor.execute(f"ANALYZE {table}")


def never_analyzed_tables_analyze(using: str = "default", **_: Any) -> list[str]:
    """ANALYZE every table of ``using`` without statistics; returns their names (none off PostgreSQL)."""
    if not in_use(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(_NEVER_ANALYZED)
        tables = [row[0] for row in cursor.fetchall()]
        analyze(cursor, tables)
    return tables


# Beyond this many rows in its statistics a table is autovacuum's alone (its
# analyze threshold, 10 % of the table, is then reached at a steady pace).
YOUNG_ROWS = 10_000
# A young table is analyzed again once it holds twice its statistics' rows plus this many:
# 200, 600, 1,400 ... rows, so about six analyzes while a table grows to YOUNG_ROWS.
GROWTH_ROWS = 200
CHECK_SECONDS = 2.0
# pg_try_advisory_xact_lock key: one process analyzes at a time, the others skip the round.
ANALYZE_LOCK = 0x5349_5141_4E41

_OUTGROWN = """
    SELECT s.relid::regclass::text
    FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
    WHERE c.reltuples < %s AND s.n_live_tup >= 2 * GREATEST(c.reltuples, 0) + %s
      AND s.schemaname = ANY (current_schemas(false))
      AND pg_has_role(c.relowner, 'USAGE')  -- ANALYZE skips, with a warning, a table the role does not own
    ORDER BY 1
"""

next_check_at = 0.0  # time.monotonic() of this process's next check


def outgrown_tables_analyze(using: str = "default") -> list[str]:
    """ANALYZE every young table holding over twice the rows its statistics describe; returns their names.

    One query when nothing is due (``pg_stat_user_tables``' live-row counts,
    which backends report within a second or so of committing).
    """
    if not in_use(using):
        return []
    with connections[using].cursor() as cursor:
        cursor.execute(_OUTGROWN, [YOUNG_ROWS, GROWTH_ROWS])
        tables = [row[0] for row in cursor.fetchall()]
    if not tables:
        return []
    # One transaction: the lock is the transaction's, released at its end whatever happens (a
    # session lock could outlive an error, or stay behind on a pooled server connection).
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ANALYZE_LOCK])
        if not cursor.fetchone()[0]:
            return []  # another process is at it
        analyze(cursor, tables)
    return tables


def outgrown_tables_analyze_due(using: str = "default") -> list[str]:
    """``outgrown_tables_analyze`` at most once per ``CHECK_SECONDS`` in this process."""
    global next_check_at
    now = time.monotonic()
    if now < next_check_at:
        return []
    next_check_at = now + CHECK_SECONDS
    return outgrown_tables_analyze(using)
