"""The token cache is told about changes people make, not about the app's own bookkeeping.

Migration 0004's triggers sent a notification on every UPDATE of the token,
integration and tenant tables. The SCIM request path itself writes two of
them: ``ScimToken.last_used_at``/``last_used_ip`` (once a minute) and the
integration's ``last_request_at`` and alerting state (provisioning.alerts,
every few seconds during a sync). Each of those writes made every app process
forget every tenant's tokens (provisioning.token_cache).

An UPDATE now notifies only when a column outside the bookkeeping ones takes
a different value. The list names what to ignore rather than what to watch:
the cache keeps whole rows (the token, its integration's state, kind and
alert settings, the tenant's slug and name), so a column added later is
noticed until someone decides it is bookkeeping, never silently served stale.
The bookkeeping columns are exactly those provisioning.alerts and
provisioning.scim.auth write on the request path; they keep the cached
instance current themselves.

Row-level, so the condition can compare OLD and NEW; NOTIFY still folds the
identical notifications of one transaction into one. DELETE and TRUNCATE
notify per statement, as before; inserts need none (a new row invalidates no
verified token).
"""

from django.db import migrations

# table → the columns only the app's own bookkeeping writes.
BOOKKEEPING = {
    "provisioning_scimtoken": ("last_used_at", "last_used_ip"),
    "provisioning_integration": (
        "last_request_at", "failing_since", "recovered_at", "failure_summary_at", "failures_reported_until",
    ),
    "directory_tenant": (),
}


def _ignored(columns: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join(f"'{column}'" for column in columns) + "]::text[]"


def _create(table: str, columns: tuple[str, ...]) -> list[str]:
    ignored = _ignored(columns)
    return [
        f"DROP TRIGGER IF EXISTS spaceiq_scim_auth_changed ON {table}",
        f"CREATE TRIGGER spaceiq_scim_auth_changed AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN ((to_jsonb(OLD) - {ignored}) IS DISTINCT FROM (to_jsonb(NEW) - {ignored})) "
        "EXECUTE FUNCTION spaceiq_scim_auth_changed()",
        f"CREATE TRIGGER spaceiq_scim_auth_removed AFTER DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION spaceiq_scim_auth_changed()",
    ]


def _restore(table: str) -> list[str]:
    """Migration 0004's trigger: every UPDATE, DELETE or TRUNCATE."""
    return [
        f"DROP TRIGGER IF EXISTS spaceiq_scim_auth_removed ON {table}",
        f"DROP TRIGGER IF EXISTS spaceiq_scim_auth_changed ON {table}",
        f"CREATE TRIGGER spaceiq_scim_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION spaceiq_scim_auth_changed()",
    ]


FORWARD = [sql for table, columns in BOOKKEEPING.items() for sql in _create(table, columns)]
BACKWARD = [sql for table in BOOKKEEPING for sql in _restore(table)]


def _run(statements: list[str]):
    def run(apps, schema_editor) -> None:
        # SQLite (the demo) has no LISTEN/NOTIFY; the token cache is off there.
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0005_sso"),
    ]

    # The function spaceiq_scim_auth_changed() of migration 0004 is kept: it sends the notification.
    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
