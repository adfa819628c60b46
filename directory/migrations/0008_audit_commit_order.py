"""The audit trail's commit order, for pollers of /api/v1/audit-events (spaceiq_site.postgresql.commit_order).

PostgreSQL only: the column is unknown to the model, and SQLite needs none.
"""

from django.db import migrations

from spaceiq_site.postgresql.commit_order import column_add_operation


class Migration(migrations.Migration):
    dependencies = [("directory", "0007_api_keys")]
    operations = [column_add_operation([("directory_auditevent", "tenant_id")])]
