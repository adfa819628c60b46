"""Event lists read in the order their rows became visible, so a poller never skips one.

Ids are handed out when a row is inserted, not when its transaction commits:
a transaction that inserted event 41 and commits after event 42's can make 41
visible after a reader has already moved past 42. A cursor of ids alone then
skips 41 for good.

On PostgreSQL each event table has a ``commit_order`` column (added by a
migration, unknown to the model) holding the inserting transaction's id,
``pg_current_xact_id()``. A reader returns only rows whose transaction id is
below the oldest transaction of this database still running when its
snapshot was taken: every transaction with a smaller id has ended (committed
or rolled back), so no row can later appear below that line, and any
transaction that has not written yet will get a larger id. Rows come in
``(commit_order, id)`` order and the cursor is that pair. The price: one
transaction left open for a long time holds the line back, and events after
it wait (they are never lost).

On SQLite (the demo) one writer holds the whole database at a time, so ids
are assigned in commit order and the id alone is the cursor; ``commit_order``
reads as 0.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, QuerySet, Value
from django.db.models.expressions import RawSQL

from spaceiq_site.postgresql import in_use

COLUMN = "commit_order"

# Below this line every transaction of this database has ended: rows under it can no longer appear or
# change order. It is the oldest transaction still running when the statement's snapshot was taken
# (pg_snapshot_xip; else the snapshot's xmax), leaving out those that pg_stat_activity shows running in
# another database of the cluster: they cannot write our tables, and must not hold our readers back.
# A transaction that ends between the snapshot and that read is not shown there, so it still holds the
# line for this statement (a delay, never a skip).
_HORIZON = (
    "(SELECT COALESCE(MIN(running::text::bigint), pg_snapshot_xmax(pg_current_snapshot())::text::bigint) "
    "FROM pg_snapshot_xip(pg_current_snapshot()) AS running WHERE NOT EXISTS ("
    "SELECT FROM pg_stat_activity AS other WHERE other.backend_xid = running::xid "
    "AND other.datname IS DISTINCT FROM current_database()))"
)


def column_add_sql(table: str, tenant_column: str) -> list[str]:
    """The statements a migration runs to give ``table`` its commit order, and the index pollers read."""
    quote = connection.ops.quote_name
    return [
        f"ALTER TABLE {quote(table)} ADD COLUMN {COLUMN} bigint NOT NULL "
        "DEFAULT (pg_current_xact_id()::text::bigint)",
        f"CREATE INDEX {quote(table + '_commit_order')} ON {quote(table)} ({quote(tenant_column)}, {COLUMN}, id)",
    ]


def horizon() -> int | None:
    """The line now: every transaction of this database below it has ended (None on SQLite).

    Read in a statement of its own, before the page: every row below it is
    already visible to the page's later snapshot, and when the page comes back
    short, the reader has seen every row below it and may move its cursor there.
    """
    if not in_use():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_HORIZON}")
        return cursor.fetchone()[0]


def in_commit_order(queryset: QuerySet, *, after: tuple[int, int] | None, below: int | None) -> QuerySet:
    """``queryset`` as a poller reads it: rows below the line ``below`` (``horizon()``), in commit order,
    after the cursor ``after``.

    Each row carries ``commit_order`` (the first half of its cursor; ``id`` is the second).
    """
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    if below is None:
        queryset = queryset.annotate(commit_order=Value(0, output_field=BigIntegerField()))
        if after is not None:
            queryset = queryset.filter(id__gt=after[1])
        return queryset.order_by("id")
    # Table and column names from the model and this module; the cursor's values are parameters.
    column = RawSQL(f"{table}.{COLUMN}", [], output_field=BigIntegerField())  # noqa: S611
    queryset = queryset.annotate(commit_order=column).filter(commit_order__lt=below)
    if after is not None:
        # A row comparison: PostgreSQL starts the index scan right after the cursor.
        queryset = queryset.filter(
            RawSQL(f"({table}.{COLUMN}, {table}.id) > (%s, %s)", list(after),  # noqa: S611
                   output_field=BooleanField())
        )
    return queryset.order_by("commit_order", "id")


def first_page_since(queryset: QuerySet, *, tenant_id: int, column: str, since: datetime) -> QuerySet:
    """A first page (no cursor) of ``queryset``'s rows at or after ``since`` in ``column`` (a time), starting
    where in commit order the first of them is. ``queryset`` must not filter on ``column`` itself.

    ``in_commit_order`` reads a page by walking the ``(tenant, commit_order, id)`` index.
    Under a plain time filter PostgreSQL either walks it from the tenant's first row,
    passing every older row before the first match (it cannot know that commit order
    follows time: behind a million older events 0.3 to 0.9 s, and a prepared
    statement's generic plan takes that walk even for the last day), or reads the
    whole range through a time index and sorts it (43,000 rows for a week, 0.1 s). So:

    - one statement first reads the earliest commit order among the tenant's rows at
      or after ``since`` from its ``(tenant, time)`` index (a cost that grows with the
      rows in the range, not with the older ones; 0 when ``since`` is at or before
      the tenant's oldest row), and the page starts there as from a cursor. Exact: a
      row committed after that statement has a commit order at or above its horizon,
      so the start is the lower of the two. ``+ 0`` keeps PostgreSQL from answering
      ``min`` with the walk from the first row;
    - the time filter compares with ``(SELECT since)``, a value the planner does not
      look at, so it walks from the start (the rows there are nearly all in the range)
      rather than sorting the range.

    Not for pages after a cursor: the walk starts at the cursor anyway, and every poll
    would pay for the whole range again.
    """
    if not in_use():
        return queryset.filter(**{f"{column}__gte": since})
    meta = queryset.model._meta
    quote = connection.ops.quote_name
    table, time_column = quote(meta.db_table), quote(meta.get_field(column).column)
    tenant_column = quote(meta.get_field("tenant").column)
    with connection.cursor() as cursor:
        # Names from the model and this module; the tenant and the time are parameters.
        cursor.execute(
            f"SELECT CASE WHEN %s <= (SELECT min({time_column}) FROM {table} "  # noqa: S608
            f"WHERE {tenant_column} = %s) THEN 0 ELSE LEAST((SELECT min({COLUMN} + 0) FROM {table} "
            f"WHERE {tenant_column} = %s AND {time_column} >= %s), {_HORIZON}) END",
            [since, tenant_id, tenant_id, since])
        start = cursor.fetchone()[0]
    return queryset.filter(
        RawSQL(f"{table}.{time_column} >= (SELECT %s::timestamptz)", [since],  # noqa: S611
               output_field=BooleanField()),
        # A row comparison, as for a cursor: PostgreSQL starts the index scan there.
        RawSQL(f"({table}.{COLUMN}, {table}.id) >= (%s, 0)", [start], output_field=BooleanField()),  # noqa: S611
    )


def column_add_operation(tables: list[tuple[str, str]]) -> Any:
    """A migration operation giving each ``(table, tenant column)`` its commit order; nothing on SQLite."""
    from django.db import migrations

    def forwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for table, tenant_column in tables:
                for sql in column_add_sql(table, tenant_column):
                    schema_editor.execute(sql)

    def backwards(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for table, _ in tables:
                schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} DROP COLUMN {COLUMN}")

    return migrations.RunPython(forwards, backwards)
