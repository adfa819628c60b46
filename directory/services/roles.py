"""The tenant admin role: granting and revoking it, never leaving a tenant without an admin."""

from __future__ import annotations

from django.db.models import F

from directory.audit import Actor, audit_event_record
from directory.errors import LastAdminError
from directory.models import Person
from directory.services.transactions import service_atomic


@service_atomic
def admin_role_grant(*, person: Person, actor: Actor) -> Person:
    if person.is_tenant_admin:
        return person
    Person.objects.filter(pk=person.pk).update(is_tenant_admin=True, version=F("version") + 1)
    person.is_tenant_admin = True
    audit_event_record(
        tenant=person.tenant_id, actor=actor, action="admin_role.granted", target_type="person",
        target_id=person.pk, target_label=person.user_name,
    )
    return person


@service_atomic
def admin_role_revoke(*, person: Person, actor: Actor) -> Person:
    if not person.is_tenant_admin:
        return person
    # Lock the tenant's admins so two admins removing each other at once
    # cannot leave the tenant with none.
    list(Person.objects.select_for_update().filter(tenant_id=person.tenant_id, is_tenant_admin=True))
    if not other_admins(person).exists():
        raise LastAdminError()
    Person.objects.filter(pk=person.pk).update(is_tenant_admin=False, version=F("version") + 1)
    person.is_tenant_admin = False
    audit_event_record(
        tenant=person.tenant_id, actor=actor, action="admin_role.revoked", target_type="person",
        target_id=person.pk, target_label=person.user_name,
    )
    return person


def other_admins(person: Person):
    """The tenant's active admins other than ``person`` (a query): the last one may not go."""
    return Person.objects.filter(
        tenant_id=person.tenant_id, is_tenant_admin=True, is_active=True
    ).exclude(pk=person.pk)
