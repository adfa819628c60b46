"""Every change path writes its audit event in the change's own transaction.

For each service: the event is recorded while the change's transaction is
open, and when anything fails after the change was written (here: recording
the audit event itself, after the real event row was inserted) the change and
the event both disappear. Transactional tests, so these are real commits and
rollbacks, not savepoints inside a test transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

from directory import audit, services
from directory.audit import Actor
from directory.models import AuditEvent, Group, Membership, Person, Tenant
from provisioning import services as provisioning_services
from provisioning.models import Integration, Notification, ScimToken
from tests.conftest import make_person

ACTOR = Actor(label="Test actor", source_ip="203.0.113.9", request_id="req-1")
pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Case:
    action: str
    setup: Callable[[Tenant], dict[str, Any]]
    change: Callable[[dict[str, Any]], Any]
    state: Callable[[dict[str, Any]], Any]  # a snapshot of what the change touches


def person(tenant, **attrs):
    return {"tenant": tenant, "person": make_person(tenant, "bob@acme.example", **attrs)}


def group_with_bob(tenant):
    bob = make_person(tenant, "bob@acme.example")
    return {"tenant": tenant, "bob": bob,
            "group": services.group_create(tenant=tenant, actor=ACTOR, display_name="Eng", member_ids=[bob.pk])}


def second_admin(tenant):
    make_person(tenant, "first@acme.example", admin=True)
    return person(tenant, admin=True)


def integration(tenant):
    found = provisioning_services.integration_for(tenant=tenant, kind="azure")
    found = provisioning_services.integration_activate(integration=found, actor=ACTOR)
    token, _ = provisioning_services.token_issue(integration=found, actor=ACTOR)
    return {"tenant": tenant, "integration": found, "token": token}


def person_row(ctx):
    return list(Person.objects.filter(tenant=ctx["tenant"], user_name__iexact="bob@acme.example").values())


def group_rows(ctx):
    return (list(Group.objects.filter(tenant=ctx["tenant"]).values()),
            sorted(Membership.objects.filter(group__tenant=ctx["tenant"]).values_list("person_id", flat=True)))


def integration_rows(ctx):
    return (list(Integration.objects.filter(tenant=ctx["tenant"]).values()),
            list(ScimToken.objects.filter(integration__tenant=ctx["tenant"]).order_by("id").values()),
            Notification.objects.count())


CASES = [
    # With a password: the transactional path (an identity provider's create is one statement: tests below).
    Case("person.created", lambda t: {"tenant": t},
         lambda c: services.person_create(tenant=c["tenant"], actor=ACTOR, user_name="bob@acme.example",
                                          password="correct-horse-battery-staple"), person_row),
    Case("person.updated", person,
         lambda c: services.person_update(person=c["person"], actor=ACTOR, changes={"title": "CTO"}), person_row),
    Case("person.deactivated", person,
         lambda c: services.person_deactivate(person=c["person"], actor=ACTOR), person_row),
    Case("person.reactivated", lambda t: person(t, is_active=False),
         lambda c: services.person_reactivate(person=c["person"], actor=ACTOR), person_row),
    Case("person.deleted", person, lambda c: services.person_delete(person=c["person"], actor=ACTOR), person_row),
    Case("role.console_role_set", person,
         lambda c: services.console_role_set(person=c["person"], role="admin", actor=ACTOR), person_row),
    Case("role.changed", second_admin,
         lambda c: services.console_role_set(person=c["person"], role=None, actor=ACTOR), person_row),
    Case("group.role_changed", group_with_bob,
         lambda c: services.group_role_set(group=c["group"], role="auditor", actor=ACTOR),
         lambda c: (group_rows(c), person_row(c))),
    Case("group.created", lambda t: {"tenant": t},
         lambda c: services.group_create(tenant=c["tenant"], actor=ACTOR, display_name="Eng"), group_rows),
    Case("group.renamed", group_with_bob,
         lambda c: services.group_rename(group=c["group"], actor=ACTOR, display_name="Engineering"), group_rows),
    Case("group.updated", group_with_bob,
         lambda c: services.group_update(group=c["group"], actor=ACTOR, external_id="ext-1"), group_rows),
    Case("group.deleted", group_with_bob, lambda c: services.group_delete(group=c["group"], actor=ACTOR), group_rows),
    Case("group.members_added", lambda t: {**group_with_bob(t), "amy": make_person(t, "amy@acme.example")},
         lambda c: services.group_members_add(group=c["group"], actor=ACTOR, person_ids=[c["amy"].pk]), group_rows),
    Case("group.members_removed", group_with_bob,
         lambda c: services.group_members_remove(group=c["group"], actor=ACTOR, person_ids=[c["bob"].pk]),
         group_rows),
    Case("tenant.created", lambda t: {"tenant": t},
         lambda c: services.tenant_create(slug="initech", name="Initech", actor=ACTOR),
         lambda c: list(Tenant.objects.filter(slug="initech").values())),
    # Console paths of provisioning (integrations and tokens) follow the same rule.
    Case("integration.activated", lambda t: {"tenant": t, "integration": provisioning_services.integration_for(
        tenant=t, kind="okta")},
         lambda c: provisioning_services.integration_activate(integration=c["integration"], actor=ACTOR),
         integration_rows),
    Case("integration.deactivated", integration,
         lambda c: provisioning_services.integration_deactivate(integration=c["integration"], actor=ACTOR),
         integration_rows),
    Case("integration.notifications_changed", integration,
         lambda c: provisioning_services.notification_settings_update(
             integration=c["integration"], actor=ACTOR, notification_email="ops@acme.example",
             notify_on_failure=True),
         integration_rows),
    Case("token.generated", integration,
         lambda c: provisioning_services.token_issue(integration=c["integration"], actor=ACTOR), integration_rows),
    Case("token.rotated", integration,
         lambda c: provisioning_services.token_rotate(token=c["token"], actor=ACTOR, grace=timedelta(hours=1)),
         integration_rows),
    Case("token.revoked", integration,
         lambda c: provisioning_services.token_revoke(token=c["token"], actor=ACTOR), integration_rows),
]


def _patch_audit(monkeypatch, wrapper):
    # Each service module imported audit_event_record by name; patch every binding.
    for module in (services.people, services.roles, services.groups, services.tenants, provisioning_services):
        monkeypatch.setattr(module, "audit_event_record", wrapper)


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_the_event_is_written_inside_the_changes_transaction(tenant, case, monkeypatch):
    ctx = case.setup(tenant)
    seen: list[tuple[str, bool]] = []
    real = audit.audit_event_record

    def watching(**kwargs):
        seen.append((kwargs["action"], connection.in_atomic_block))
        return real(**kwargs)

    _patch_audit(monkeypatch, watching)
    assert not connection.in_atomic_block  # autocommit outside the service
    case.change(ctx)
    assert (case.action, True) in seen
    event = AuditEvent.objects.filter(action=case.action).latest("id")
    assert (event.actor_label, event.source_ip, event.request_id) == ("Test actor", "203.0.113.9", "req-1")


@pytest.mark.parametrize("case", CASES, ids=[c.action for c in CASES])
def test_a_change_that_fails_after_writing_leaves_neither_change_nor_event(tenant, case, monkeypatch):
    ctx = case.setup(tenant)
    before_state = case.state(ctx)
    before_events = list(AuditEvent.objects.order_by("id").values_list("id", flat=True))
    real = audit.audit_event_record

    def write_then_fail(**kwargs):
        real(**kwargs)  # the event row is inserted, then something goes wrong
        raise RuntimeError("simulated failure after the write")

    _patch_audit(monkeypatch, write_then_fail)
    with pytest.raises(RuntimeError, match="simulated failure"):
        case.change(ctx)
    assert case.state(ctx) == before_state
    assert list(AuditEvent.objects.order_by("id").values_list("id", flat=True)) == before_events


def test_a_refused_change_writes_no_event(tenant):
    make_person(tenant, "bob@acme.example")
    before = AuditEvent.objects.count()
    from directory.errors import UniquenessConflict

    with pytest.raises(UniquenessConflict):
        services.person_create(tenant=tenant, actor=ACTOR, user_name="BOB@acme.example")
    assert AuditEvent.objects.count() == before


def test_only_the_retention_purge_deletes_or_updates_audit_events():
    """Append-only: no module but directory/audit.py touches existing AuditEvent rows."""
    import re

    from tests.conftest import ROOT as root
    pattern = re.compile(
        r"AuditEvent\.objects[^\n]*\.(update|delete|bulk_update)\(|audit_events?\b[^\n]*\.(update|delete)\("
        r"|delete_in_batches\(\s*AuditEvent"
    )
    offenders = [
        str(path.relative_to(root))
        for folder in ("directory", "provisioning", "spaceiq_site")
        for path in (root / folder).rglob("*.py")
        if "migrations" not in path.parts and path.name != "audit.py" and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_an_identity_providers_create_writes_the_person_and_its_event_in_one_statement(tenant):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        created = services.person_create(tenant=tenant, actor=ACTOR, user_name="nia@acme.example", title="Eng")
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 1, statements  # no BEGIN/COMMIT around it: one statement is atomic
    assert 'INSERT INTO "directory_person"' in statements[0] and 'INSERT INTO "directory_auditevent"' in statements[0]
    event = AuditEvent.objects.get(action="person.created", target_id=str(created.pk))
    assert (event.actor_label, event.source_ip, event.request_id) == ("Test actor", "203.0.113.9", "req-1")
    assert event.details == {"source": "console", "attributes": ["title", "user_name"]}


def test_a_create_whose_event_the_database_refuses_leaves_no_person(tenant, monkeypatch):
    from django.db import IntegrityError

    real = services.people.audit_event_build

    def orphan_event(**kwargs):
        event = real(**kwargs)
        event.tenant_id = 987654321  # no such tenant: refused by PostgreSQL after the person row was inserted
        return event

    monkeypatch.setattr(services.people, "audit_event_build", orphan_event)
    with pytest.raises(IntegrityError):
        services.person_create(tenant=tenant, actor=ACTOR, user_name="nia@acme.example")
    assert not Person.objects.filter(user_name="nia@acme.example").exists()
    assert not AuditEvent.objects.filter(action="person.created").exists()
