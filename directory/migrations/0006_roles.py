"""Roles (Member, Auditor, Admin) replace the admin flag.

Everyone who was an admin keeps Admin, as a console role granted at migration time (by nobody:
the console shows "Granted in the console"); the flag's column goes once it has been copied.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def admins_keep_admin(apps, schema_editor):
    Person = apps.get_model("directory", "Person")
    Person.objects.filter(is_tenant_admin=True).update(
        role="admin", console_role="admin", console_role_at=timezone.now()
    )


def admins_flagged(apps, schema_editor):
    """Backwards: the flag again for every admin, whatever made them one."""
    Person = apps.get_model("directory", "Person")
    Person.objects.filter(role="admin").update(is_tenant_admin=True)


class Migration(migrations.Migration):

    dependencies = [
        ('directory', '0005_person_session_without_cascade'),
    ]

    operations = [
        migrations.CreateModel(
            name='AppRoleMapping',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('integration_kind', models.CharField(max_length=32)),
                ('value', models.CharField(max_length=255)),
                ('role', models.CharField(choices=[('member', 'Member'), ('auditor', 'Auditor'), ('admin', 'Admin')], max_length=16)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['integration_kind', 'value'],
            },
        ),
        migrations.AddField(
            model_name='group',
            name='role',
            field=models.CharField(blank=True, choices=[('member', 'Member'), ('auditor', 'Auditor'), ('admin', 'Admin')], max_length=16, null=True),
        ),
        migrations.AddField(
            model_name='person',
            name='app_roles_kind',
            field=models.CharField(blank=True, max_length=32, null=True),
        ),
        migrations.AddField(
            model_name='person',
            name='app_roles_provider',
            field=models.CharField(blank=True, default='', max_length=100),
        ),
        migrations.AddField(
            model_name='person',
            name='console_role',
            field=models.CharField(blank=True, choices=[('member', 'Member'), ('auditor', 'Auditor'), ('admin', 'Admin')], max_length=16, null=True),
        ),
        migrations.AddField(
            model_name='person',
            name='console_role_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='person',
            name='console_role_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='person',
            name='kept_as_last_admin_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='person',
            name='role',
            field=models.CharField(choices=[('member', 'Member'), ('auditor', 'Auditor'), ('admin', 'Admin')], default='member', max_length=16),
        ),
        migrations.AddIndex(
            model_name='person',
            index=models.Index(condition=models.Q(('role', 'member'), _negated=True), fields=['tenant', 'role'], name='person_tenant_console_role'),
        ),
        migrations.AddField(
            model_name='approlemapping',
            name='tenant',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='app_role_mappings', to='directory.tenant'),
        ),
        migrations.AddConstraint(
            model_name='approlemapping',
            constraint=models.UniqueConstraint(models.F('tenant'), models.F('integration_kind'), models.F('value'), name='app_role_mapping_unique'),
        ),
        migrations.RunPython(admins_keep_admin, admins_flagged, elidable=True),
        migrations.RemoveField(
            model_name='person',
            name='is_tenant_admin',
        ),
    ]
