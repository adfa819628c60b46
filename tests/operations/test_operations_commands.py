"""create_tenant and seed_demo, including their errors."""

import io

import pytest
from django.core.management import CommandError, call_command

from directory.models import Group, Person, Tenant
from provisioning.models import Notification
from tests.conftest import ROOT


@pytest.mark.django_db
def test_create_tenant_creates_tenant_admin_and_queues_the_welcome_email(monkeypatch):
    monkeypatch.setenv("TENANT_ADMIN_PASSWORD", "a-long-enough-secret")
    out = io.StringIO()
    call_command("create_tenant", "initech", "--name", "Initech", "--admin-email", "peter@initech.example",
                 "--noinput", stdout=out)
    tenant = Tenant.objects.get(slug="initech")
    admin = Person.objects.get(tenant=tenant)
    assert tenant.name == "Initech" and admin.is_tenant_admin and admin.check_password("a-long-enough-secret")
    welcome = Notification.objects.get(kind="welcome")
    assert welcome.to == ["peter@initech.example"]
    assert "Initech" in welcome.subject and "/accounts/sign-in/" in welcome.body_text
    assert "Created tenant 'Initech'" in out.getvalue()


@pytest.mark.django_db
def test_create_tenant_refuses_a_duplicate_slug(monkeypatch, tenant):
    monkeypatch.setenv("TENANT_ADMIN_PASSWORD", "a-long-enough-secret")
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_tenant", "acme", "--name", "Other", "--admin-email", "x@acme.example", "--noinput")
    assert Tenant.objects.get(slug="acme").name == "Acme Corp"


@pytest.mark.django_db
def test_create_tenant_needs_the_password_variable_with_noinput(monkeypatch):
    monkeypatch.delenv("TENANT_ADMIN_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="TENANT_ADMIN_PASSWORD"):
        call_command("create_tenant", "initech", "--name", "Initech", "--admin-email", "p@initech.example", "--noinput")
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_create_tenant_refuses_a_weak_password_and_leaves_nothing(monkeypatch):
    monkeypatch.setenv("TENANT_ADMIN_PASSWORD", "123")
    with pytest.raises(CommandError, match="password was refused"):
        call_command("create_tenant", "initech", "--name", "Initech", "--admin-email", "p@initech.example", "--noinput")
    assert not Tenant.objects.exists() and not Person.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("args, message", [
    (["bad slug!", "--name", "X", "--admin-email", "a@b.example"], "not a valid slug"),
    (["okslug", "--name", "X", "--admin-email", "not-an-email"], "not a valid email"),
])
def test_create_tenant_validates_its_arguments(monkeypatch, args, message):
    monkeypatch.setenv("TENANT_ADMIN_PASSWORD", "a-long-enough-secret")
    with pytest.raises(CommandError, match=message):
        call_command("create_tenant", *args, "--noinput")


def test_create_tenant_exits_non_zero_on_a_duplicate(tmp_path):
    """Run as an operator would: a real process, a real exit code."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}",
           "TENANT_ADMIN_PASSWORD": "a-long-enough-secret", "CELERY_BROKER_URL": ""}
    run = lambda *a: subprocess.run([sys.executable, "manage.py", *a], env=env, capture_output=True, text=True)  # noqa: E731
    assert run("migrate", "-v0").returncode == 0
    args = ("create_tenant", "initech", "--name", "Initech", "--admin-email", "p@initech.example", "--noinput")
    assert run(*args).returncode == 0
    again = run(*args)
    assert again.returncode != 0
    assert "already exists" in again.stderr


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_credentials(monkeypatch, tmp_path):
    from directory.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "_CREDENTIALS", tmp_path / "demo-credentials.txt")
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-for-tests")
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.name == "Acme Corp"
    admin = Person.objects.get(tenant=tenant, user_name="admin@acme.example")
    assert admin.is_tenant_admin and admin.check_password("demo-password-for-tests")
    assert Person.objects.filter(tenant=tenant).count() == 6
    assert Group.objects.filter(tenant=tenant).count() == 3
    for out in (first, second):
        assert "admin@acme.example" in out.getvalue()
        assert "demo-password-for-tests" in out.getvalue()


def test_issue_scim_token_prints_only_the_token(tmp_path):
    """Scripted set-ups capture stdout: nothing but the token may be on it (emails go to stderr)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'ops.sqlite3'}", "CELERY_BROKER_URL": "",
           "EMAIL_HOST": "", "TENANT_ADMIN_PASSWORD": "a-long-enough-secret"}
    run = lambda *a: subprocess.run([sys.executable, "manage.py", *a], env=env, capture_output=True, text=True)  # noqa: E731
    assert run("migrate", "-v0").returncode == 0
    assert run("create_tenant", "initech", "--name", "Initech", "--admin-email", "p@initech.example",
               "--noinput").returncode == 0
    result = run("issue_scim_token", "initech")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("siq_scim_") and len(token) >= 50 and "\n" not in token
    missing = run("issue_scim_token", "nope")
    assert missing.returncode != 0 and "No tenant" in missing.stderr and missing.stdout == ""


SQLITE_SCIM_SCRIPT = r'''
import io, json
import django
django.setup()
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
call_command("createcachetable")  # as make run does: demo mode's cache is a database table
call_command("create_tenant", "initech", "--name", "Initech", "--admin-email", "p@initech.example", "--noinput",
             stdout=io.StringIO(), stderr=io.StringIO())
out = io.StringIO()
call_command("issue_scim_token", "initech", stdout=out, stderr=io.StringIO())
client = Client(HTTP_AUTHORIZATION="Bearer " + out.getvalue().strip())
scim = "application/scim+json"
user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ann@initech.example",
        "active": True, "emails": [{"type": "work", "value": "ann@initech.example", "primary": True}]}
created = client.post("/scim/Users", json.dumps(user), content_type=scim)
assert created.status_code == 201, created.content
uid = created.json()["id"]
again = client.post("/scim/Users", json.dumps(user), content_type=scim)
found = client.get("/scim/Users", {"filter": 'userName eq "ANN@initech.example"'}).json()
read = client.get(f"/scim/Users/{uid}")
patched = client.patch(f"/scim/Users/{uid}", json.dumps({
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}), content_type=scim)
from directory import services
from directory.audit import Actor
from directory.errors import StaleWrite
from directory.models import Person
person = Person.objects.get(pk=uid)
try:  # an optimistic write from a stale read: refused, nothing written
    services.person_update(person=person, actor=Actor.system("test"), changes={"title": "Stale"},
                           expected_version=person.version - 1)
    stale_refused = False
except StaleWrite:
    stale_refused = True
stale_title = Person.objects.get(pk=uid).title
deleted = client.delete(f"/scim/Users/{uid}")
from directory.models import AuditEvent
from provisioning.models import ScimRequest
print(json.dumps({
    "statuses": [created.status_code, again.status_code, read.status_code, patched.status_code, deleted.status_code],
    "again": again.json().get("scimType"),
    "found": found["totalResults"], "active": patched.json()["active"],
    "log_rows": ScimRequest.objects.count(), "stale_refused": stale_refused, "stale_title": stale_title,
    "audited": sorted(set(AuditEvent.objects.values_list("action", flat=True))),
}))
'''


def test_the_scim_endpoint_works_on_the_demo_database(tmp_path):
    """SQLite (make run) takes the ORM paths of the compiled queries and inserts: one Entra cycle end to end."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "CELERY_BROKER_URL": "",
           "EMAIL_HOST": "", "TENANT_ADMIN_PASSWORD": "a-long-enough-secret", "REDIS_URL": "", "SPACEIQ_DEMO": "1",
           "DJANGO_ALLOWED_HOSTS": "testserver", "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings"}
    result = subprocess.run([sys.executable, "-c", SQLITE_SCIM_SCRIPT], cwd=ROOT,
                            env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["statuses"] == [201, 409, 200, 200, 204]
    assert outcome["again"] == "uniqueness"
    assert outcome["found"] == 1 and outcome["active"] is False
    assert outcome["log_rows"] == 6
    assert outcome["stale_refused"] is True and outcome["stale_title"] is None
    assert {"person.created", "person.deactivated", "person.deleted"} <= set(outcome["audited"])
