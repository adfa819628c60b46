"""Reads the console and SCIM share. Every selector is scoped to one tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Coalesce, Lower

from directory.models import ApiKey, AuditEvent, Group, Person, Role, Tenant


def person_list(*, tenant: Tenant, search: str = "", status: str = "", source: str = "", role: str = "",
                updated_since: datetime | None = None) -> QuerySet[Person]:
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
    if role:
        qs = qs.filter(role=role)
    if updated_since is not None:
        qs = qs.filter(last_modified__gte=updated_since)
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
    return Person.objects.select_related("manager", "console_role_by").filter(tenant=tenant, pk=pk).first()


# --- The people directory: what every signed-in person of a tenant may see -------------
# Active people only: a deactivated person is gone from the company as far as colleagues are concerned.

# What a row of the people directory shows (a name, title, department and email): loading only
# these keeps a page light even when people carry large multi-valued attributes.
DIRECTORY_COLUMNS = ("id", "user_name", "display_name", "given_name", "family_name", "title", "department",
                     "emails", "work_email")


def directory_people(*, tenant: Tenant, search: str = "") -> QuerySet[Person]:
    """The tenant's active people, by name; ``search`` matches a name, user name, email, department or
    title, ignoring case."""
    qs = Person.objects.filter(tenant=tenant, is_active=True)
    if search:
        qs = qs.filter(
            Q(display_name__icontains=search)
            | Q(given_name__icontains=search)
            | Q(family_name__icontains=search)
            | Q(user_name__icontains=search)
            | Q(work_email__icontains=search)
            | Q(department__icontains=search)
            | Q(title__icontains=search)
        )
    # By the name the page shows first (Person.label), case-insensitively; the id keeps pages stable.
    return qs.only(*DIRECTORY_COLUMNS).order_by(
        Lower(Coalesce("display_name", "given_name", "user_name")), "id"
    )


def directory_person_get(*, tenant: Tenant, person_id: Any) -> Person | None:
    """One active person of the tenant, with their manager; None for anyone else."""
    pk = as_uuid(person_id)
    if pk is None:
        return None
    return Person.objects.select_related("manager").filter(tenant=tenant, pk=pk, is_active=True).first()


def person_groups(*, tenant: Tenant, person_id: Any) -> QuerySet[Group]:
    """The groups a person of the tenant belongs to, by name."""
    return Group.objects.filter(tenant=tenant, memberships__person_id=person_id).order_by("display_name", "id")


def group_list(*, tenant: Tenant, search: str = "") -> QuerySet[Group]:
    qs = Group.objects.filter(tenant=tenant)
    if search:
        qs = qs.filter(display_name__icontains=search)
    return qs.annotate(member_count=Count("memberships")).order_by("display_name", "id")


def group_members(*, group: Group) -> QuerySet[Person]:
    """The people in ``group`` (a group of one tenant holds only that tenant's people)."""
    return Person.objects.filter(tenant_id=group.tenant_id, memberships__group=group)


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
    return Person.objects.filter(tenant=tenant, role=Role.ADMIN, is_active=True)


def kept_last_admins(*, kept_before: datetime) -> QuerySet[Person]:
    """Active people of every tenant kept as their tenant's last admin since before ``kept_before``
    (the daily reminder's sweep, like the alert sweeps: across tenants, each notice to its own)."""
    return Person.objects.filter(
        role=Role.ADMIN, is_active=True, kept_as_last_admin_since__lt=kept_before
    ).select_related("tenant").order_by("kept_as_last_admin_since", "pk")


def audit_events_for(*, tenant: Tenant, target_id: Any) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(tenant=tenant, target_id=str(target_id))


def api_keys_listed(*, tenant: Tenant) -> QuerySet[ApiKey]:
    """The tenant's API keys, newest first, revoked ones included (the console shows them apart)."""
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by", "revoked_by").order_by("-created", "-id")


def api_key_get(*, tenant: Tenant, key_id: Any) -> ApiKey | None:
    try:
        pk = int(key_id)
    except (TypeError, ValueError):
        return None
    return ApiKey.objects.select_related("tenant").filter(tenant=tenant, pk=pk).first()
