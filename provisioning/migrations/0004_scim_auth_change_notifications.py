"""PostgreSQL tells every listening app process when a token, an integration or a tenant changes.

Each app process keeps the SCIM tokens it has verified (provisioning.token_cache)
and forgets all of them on a notification on ``spaceiq_scim_auth``. Triggers,
not the services, send it: a revocation made by any path (the console, a
management command, the Django admin, plain SQL) reaches every worker.
Statement-level, and NOTIFY folds identical notifications of one transaction
into one, so a bulk change sends a single message. Inserts need none: only
tokens already verified are kept, and a new row invalidates none of them.
"""

from django.db import migrations

CHANNEL = "spaceiq_scim_auth"
TABLES = ("provisioning_scimtoken", "provisioning_integration", "directory_tenant")

CREATE = [
    f"""
    CREATE OR REPLACE FUNCTION spaceiq_scim_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{CHANNEL}', '');
        RETURN NULL;
    END
    $$
    """,
    *(
        f"CREATE TRIGGER spaceiq_scim_auth_changed AFTER UPDATE OR DELETE OR TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION spaceiq_scim_auth_changed()"
        for table in TABLES
    ),
]
DROP = [
    *(f"DROP TRIGGER IF EXISTS spaceiq_scim_auth_changed ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS spaceiq_scim_auth_changed()",
]


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
        ("provisioning", "0003_drop_redundant_integration_index"),
        ("directory", "0002_drop_redundant_tenant_indexes"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP), elidable=False)]
