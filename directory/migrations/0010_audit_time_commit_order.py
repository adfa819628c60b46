"""The audit trail's (tenant, time) index carries each event's commit order (PostgreSQL only).

A first page of /api/v1/audit-events from a time (``since``, without a cursor)
starts at the earliest commit order among the tenant's events from that time
(spaceiq_site.postgresql.commit_order.first_page_since): with the commit order
in the index that minimum is read from the index alone: for a week's range
in a tenant of a million events (``make bench-scale``, bench/audit_events.py;
PostgreSQL 15 on 2 shared cores) 67 ms through the table, 7 ms from the index.
The index keeps its name and key, so the console's newest-first list reads it
as before, and there is no extra index to write per event. SQLite has no
commit order: nothing to do there.
"""

from django.db import migrations

_TABLE = '"directory_auditevent"'
_INDEX = '"audit_tenant_time"'


def _rebuild(include: str):
    # CONCURRENTLY, outside a transaction: the audit trail keeps taking writes while a large table's
    # index is built; the new one is built beside the old one, which is then dropped, then renamed.
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute('DROP INDEX CONCURRENTLY IF EXISTS "audit_tenant_time_rebuilt"')
        schema_editor.execute('CREATE INDEX CONCURRENTLY "audit_tenant_time_rebuilt" ON '
                              f'{_TABLE} ("tenant_id", "occurred_at" DESC){include}')
        schema_editor.execute(f"DROP INDEX CONCURRENTLY {_INDEX}")
        schema_editor.execute(f'ALTER INDEX "audit_tenant_time_rebuilt" RENAME TO {_INDEX}')

    return run


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("directory", "0009_custom_attributes")]
    operations = [migrations.RunPython(_rebuild(" INCLUDE (commit_order)"), _rebuild(""))]
