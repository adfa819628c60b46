"""Reads the console and SCIM share. Every selector is scoped to one tenant."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet

from directory.models import AuditEvent, Group, Person, Tenant


def person_list(*, tenant: Tenant, search: str = "", status: str = "", source: str = "") -> QuerySet[Person]:
    qs = Person.objects.filter(tenant=tenant)
    if search:
        qs = qs.filter(
            Q(user_name__icontains=search)
            | Q(display_name__icontains=search)
            | Q(given_name__icontains=search)
            | Q(family_name__icontains=search)
            | Q(work_email__icontains=search)
        )
    if status == "active":
        qs = qs.filter(is_active=True)
    elif status == "deactivated":
        qs = qs.filter(is_active=False)
    if source:
        qs = qs.filter(source=source)
    return qs.order_by("user_name", "id")


def as_uuid(value: Any) -> uuid.UUID | None:
    """The UUID in ``value``, or None for anything that is not one (never raises)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def person_get(*, tenant: Tenant, person_id: Any) -> Person | None:
    pk = as_uuid(person_id)
    if pk is None:
        return None
    return Person.objects.select_related("manager").filter(tenant=tenant, pk=pk).first()


def group_list(*, tenant: Tenant, search: str = "") -> QuerySet[Group]:
    qs = Group.objects.filter(tenant=tenant)
    if search:
        qs = qs.filter(display_name__icontains=search)
    return qs.annotate(member_count=Count("memberships")).order_by("display_name", "id")


def group_get(*, tenant: Tenant, group_id: Any) -> Group | None:
    pk = as_uuid(group_id)
    if pk is None:
        return None
    return Group.objects.filter(tenant=tenant, pk=pk).first()


def directory_counts(*, tenant: Tenant, source: str | None = None) -> dict[str, int]:
    people = Person.objects.filter(tenant=tenant)
    groups = Group.objects.filter(tenant=tenant)
    if source:
        people = people.filter(source=source)
        groups = groups.filter(source=source)
    counts = people.aggregate(
        active=Count("pk", filter=Q(is_active=True)), deactivated=Count("pk", filter=Q(is_active=False))
    )
    counts["groups"] = groups.count()
    return counts


def tenant_admins(*, tenant: Tenant) -> QuerySet[Person]:
    return Person.objects.filter(tenant=tenant, is_tenant_admin=True, is_active=True)


def audit_events_for(*, tenant: Tenant, target_id: Any) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(tenant=tenant, target_id=str(target_id))
