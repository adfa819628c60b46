"""A tenant's custom attributes change: every app process forgets what it kept (provisioning.token_cache).

SCIM writes that carry custom attributes check them against the tenant's
catalogue (directory.custom_attributes), which each process keeps beside its
verified tokens. The same statement-level trigger function as the token,
integration and tenant tables (0004) notifies ``spaceiq_scim_auth`` when a
declaration is added, changed or removed, or an undeclared name is first
recorded (rare: once per name and tenant), so a new declaration is in force
for the next request of every process.
"""

from django.db import migrations

TABLES = ("directory_customattribute", "directory_receivedcustomattribute")
CREATE = [
    f"CREATE TRIGGER spaceiq_scim_auth_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
    "FOR EACH STATEMENT EXECUTE FUNCTION spaceiq_scim_auth_changed()"
    for table in TABLES
]
DROP = [f"DROP TRIGGER IF EXISTS spaceiq_scim_auth_changed ON {table}" for table in TABLES]


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
        ("provisioning", "0008_event_commit_order"),
        ("directory", "0009_custom_attributes"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
