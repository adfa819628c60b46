"""The request log's and the SSO log's commit order, for pollers of the API's event lists
(spaceiq_site.postgresql.commit_order). PostgreSQL only: the column is unknown to the models.
"""

from django.db import migrations

from spaceiq_site.postgresql.commit_order import column_add_operation


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0007_sso_person_links_without_cascade")]
    operations = [column_add_operation([("provisioning_scimrequest", "tenant_id"),
                                        ("provisioning_ssosignin", "tenant_id")])]
