"""Writes to groups and their members."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, connection
from django.db.models import F
from django.utils import timezone

from directory.audit import Actor, audit_event_record
from directory.errors import InvalidValue, UniquenessConflict
from directory.models import Group, Membership, Person, Source, Tenant
from directory.services.roles import people_roles_recompute
from directory.services.transactions import service_atomic
from spaceiq_site.postgresql import in_use
from spaceiq_site.postgresql.writes import instance_update


def _validate_group_name(display_name: Any) -> str:
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidValue("displayName", "is required")
    if len(display_name) > 255:
        raise InvalidValue("displayName", "must be at most 255 characters")
    if "\x00" in display_name:
        raise InvalidValue("displayName", "must not contain NUL characters")
    return display_name


def _validate_external_id(external_id: Any) -> str | None:
    if external_id is not None and (not isinstance(external_id, str) or len(external_id) > 255):
        raise InvalidValue("externalId", "must be a string of at most 255 characters")
    return external_id


@service_atomic
def group_create(
    *,
    tenant: Tenant,
    actor: Actor,
    display_name: str,
    external_id: str | None = None,
    source: str = Source.CONSOLE,
    member_ids: Iterable[Any] = (),
) -> Group:
    group = Group(
        tenant=tenant,
        display_name=_validate_group_name(display_name),
        external_id=_validate_external_id(external_id),
        source=source,
    )
    try:
        group.save(force_insert=True)
    except IntegrityError:
        raise UniquenessConflict("displayName", display_name) from None
    audit_event_record(
        tenant=tenant, actor=actor, action="group.created", target_type="group",
        target_id=group.pk, target_label=group.display_name,
    )
    member_ids = list(member_ids)
    if member_ids:
        group_members_add(group=group, actor=actor, person_ids=member_ids, bump_version=False)
    return group


@service_atomic
def group_update(
    *, group: Group, actor: Actor, display_name: str | None = None, external_id: Any = ...
) -> Group:
    """Rename a group and/or change its externalId; members are untouched."""
    changes: dict[str, dict[str, Any]] = {}
    if display_name is not None and display_name != group.display_name:
        changes["displayName"] = {"old": group.display_name, "new": _validate_group_name(display_name)}
        group.display_name = display_name
    if external_id is not ... and external_id != group.external_id:
        changes["externalId"] = {"old": group.external_id, "new": _validate_external_id(external_id)}
        group.external_id = external_id
    if not changes:
        return group
    try:
        # The version moves on in SQL (spaceiq_site.postgresql.writes): the caller may have read the group unlocked.
        instance_update(group, ["display_name", "external_id", "last_modified"])
    except IntegrityError:
        raise UniquenessConflict("displayName", display_name or "") from None
    audit_event_record(
        tenant=group.tenant_id, actor=actor,
        action="group.renamed" if "displayName" in changes else "group.updated",
        target_type="group", target_id=group.pk, target_label=group.display_name,
        details={"changes": changes},
    )
    return group


def group_rename(*, group: Group, actor: Actor, display_name: str) -> Group:
    return group_update(group=group, actor=actor, display_name=display_name)


@service_atomic
def group_delete(*, group: Group, actor: Actor) -> None:
    """Delete the group; a group with a role takes it from its members in the same transaction."""
    group_id, label, tenant_id = group.pk, group.display_name, group.tenant_id
    members = list(Membership.objects.filter(group_id=group_id).values_list("person_id", flat=True)
                   ) if group.role else []
    Group.objects.filter(pk=group_id).delete()
    audit_event_record(
        tenant=tenant_id, actor=actor, action="group.deleted", target_type="group",
        target_id=group_id, target_label=label,
    )
    if members:
        people_roles_recompute(person_ids=members, actor=actor, cause=f"group '{label}' deleted by {actor.name}")


def _tenant_person_ids(tenant_id: int, person_ids: Iterable[Any]) -> list[uuid.UUID]:
    wanted = _parse_person_ids(person_ids)
    found = set(Person.objects.filter(tenant_id=tenant_id, pk__in=wanted).values_list("pk", flat=True))
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        raise InvalidValue("members", f"no person with id {missing[0]} in this directory")
    return wanted


def _parse_person_ids(person_ids: Iterable[Any]) -> list[uuid.UUID]:
    """Distinct ids in the order sent; anything that is not a UUID is no person of ours."""
    wanted: dict[uuid.UUID, None] = {}  # ordered: members are added in the order sent
    for raw in person_ids:
        try:
            wanted[raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))] = None
        except (ValueError, AttributeError, TypeError):
            raise InvalidValue("members", f"no person with id {raw} in this directory") from None
    return list(wanted)


def _members_insert(group: Group, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """PostgreSQL: one statement checks the tenant, skips present members and inserts.

    ``INSERT ... SELECT`` from the tenant's people, ``ON CONFLICT DO NOTHING``
    (concurrent additions never lose each other's members), ``RETURNING`` what
    was really added. Only when fewer rows come back than ids were sent does a
    second query tell "already a member" from "not a person of this tenant".
    """
    if not ids:
        return []
    membership, person = Membership._meta.db_table, Person._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {membership} (group_id, person_id, created) "  # noqa: S608 - table names from models
            f"SELECT %s, p.id, %s FROM {person} p WHERE p.tenant_id = %s AND p.id = ANY(%s) "
            "ON CONFLICT DO NOTHING RETURNING person_id",
            [group.pk, timezone.now(), group.tenant_id, ids],
        )
        inserted = {row[0] for row in cursor.fetchall()}
    if len(inserted) < len(ids):
        rest = [pk for pk in ids if pk not in inserted]
        found = set(Person.objects.filter(tenant_id=group.tenant_id, pk__in=rest).values_list("pk", flat=True))
        missing = [pk for pk in rest if pk not in found]
        if missing:
            raise InvalidValue("members", f"no person with id {missing[0]} in this directory")
    return [pk for pk in ids if pk in inserted]


def _touch_group(group: Group) -> None:
    now = timezone.now()
    Group.objects.filter(pk=group.pk).update(version=F("version") + 1, last_modified=now)
    group.version += 1
    group.last_modified = now


@service_atomic
def group_members_add(
    *, group: Group, actor: Actor, person_ids: Iterable[Any], bump_version: bool = True
) -> list[uuid.UUID]:
    """Add people to a group; already-present members are left alone.

    One bulk insert with ON CONFLICT DO NOTHING, so concurrent additions to the
    same group never lose each other's members.
    """
    if not in_use():
        ids = _tenant_person_ids(group.tenant_id, person_ids)
        if not ids:
            return []
        existing = set(
            Membership.objects.filter(group_id=group.pk, person_id__in=ids).values_list("person_id", flat=True)
        )
        new_ids = [pid for pid in ids if pid not in existing]
        if not new_ids:
            return []
        Membership.objects.bulk_create(
            [Membership(group_id=group.pk, person_id=pid) for pid in new_ids], ignore_conflicts=True
        )
    else:
        new_ids = _members_insert(group, _parse_person_ids(person_ids))
        if not new_ids:
            return []
    if bump_version:
        _touch_group(group)
    audit_event_record(
        tenant=group.tenant_id, actor=actor, action="group.members_added", target_type="group",
        target_id=group.pk, target_label=group.display_name,
        details={"members": [str(pid) for pid in new_ids]},
    )
    if group.role:  # a group without a role changes nobody's: no work on Entra's common case
        people_roles_recompute(person_ids=new_ids, actor=actor, cause=f"added by {actor.name}")
    return new_ids


@service_atomic
def group_members_remove(
    *, group: Group, actor: Actor, person_ids: Iterable[Any] | None = None
) -> list[uuid.UUID]:
    """Remove the given people from a group, or everyone when ``person_ids`` is None."""
    memberships = Membership.objects.filter(group_id=group.pk)
    if person_ids is not None:
        wanted = []
        for raw in person_ids:
            try:
                wanted.append(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
            except (ValueError, AttributeError, TypeError):
                continue  # not one of ours, so certainly not a member
        memberships = memberships.filter(person_id__in=wanted)
    removed = list(memberships.values_list("person_id", flat=True))
    if not removed:
        return []
    Membership.objects.filter(group_id=group.pk, person_id__in=removed).delete()
    _touch_group(group)
    audit_event_record(
        tenant=group.tenant_id, actor=actor, action="group.members_removed", target_type="group",
        target_id=group.pk, target_label=group.display_name,
        details={"members": [str(pid) for pid in removed]},
    )
    if group.role:
        people_roles_recompute(person_ids=removed, actor=actor,
                               cause=f"removed from group '{group.display_name}' by {actor.name}")
    return removed
