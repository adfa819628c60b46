"""Roles: who may do what in the console, and why.

A person's effective role (``Person.role``) is the highest of their role sources:

- the console role an admin granted them (``Person.console_role``);
- each app role their identity provider sends over SCIM (``Person.roles``, stored as sent),
  through the tenant's app-role mapping for that integration (``AppRoleMapping``, else
  ``DEFAULT_APP_ROLE_MAPPING``);
- the role of each group they are a member of (``Group.role``, "Role for members");
- "kept as the last admin" (``Person.kept_as_last_admin_since``).

Only this module writes ``Person.role``. Whatever changes a source (a membership, a group's role,
the app roles a SCIM client sends, a mapping, the console role) calls ``person_role_recompute`` in
its own transaction, so there is no moment at which a removed source still grants its role.

No lock-out: a change that would take Admin from the tenant's last active admin is applied to the
directory, but the person keeps Admin through the "kept as the last admin" source until another
active admin exists (an identity provider's sync must never be refused for it). A change asked for
in the console is refused instead (``LastAdminError``): the admin gets told and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from directory.audit import Actor, audit_event_record
from directory.errors import InvalidValue, LastAdminError
from directory.models import ROLE_RANK, AppRoleMapping, Group, Membership, Person, Role, Tenant
from directory.role_notices import RoleChange, role_changed
from directory.services.transactions import service_atomic
from spaceiq_site.postgresql.writes import instance_update

# App-role values without a mapping row of the tenant (compared lower-cased): Microsoft's
# set-up guide has the Entra admin create "Admin" and "Auditor" app roles; "User",
# "msiam_access" (Default Access) and any other value are Member.
DEFAULT_APP_ROLE_MAPPING: dict[str, Role] = {"admin": Role.ADMIN, "auditor": Role.AUDITOR}
APP_ROLE_VALUE_MAX = 255  # AppRoleMapping.value

# The order sources are listed in, and the one named as the cause when several give the same role.
_SOURCE_ORDER = {"last_admin": 0, "console": 1, "group": 2, "app_role": 3}


@dataclass(frozen=True)
class RoleSource:
    """One reason a person has a role, in the plain words the person page shows."""

    role: Role
    kind: str  # "console" | "app_role" | "group" | "last_admin"
    label: str
    group_id: uuid.UUID | None = None
    at: datetime | None = None  # since when kept as the last admin
    # ``label`` as (our words, the name in it the directory did not write, our words): a group's name,
    # an app role's value or who granted the role, which the person page isolates (issue 17). () if none.
    parts: tuple[str, str, str] | tuple[()] = ()

    @classmethod
    def naming(cls, role: Role, kind: str, parts: tuple[str, str, str], **kwargs: Any) -> RoleSource:
        return cls(role, kind, "".join(parts), parts=parts, **kwargs)

    @property
    def through(self) -> str:
        """How the source reads after "Admin through …" in an audit event's cause."""
        if self.kind == "console":
            return "the console role"
        if self.kind == "group":
            return self.label.removeprefix("Member of ")
        if self.kind == "app_role":
            return self.label[0].lower() + self.label[1:]
        return "being the last admin"


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def app_role_value(role: Mapping[str, Any]) -> str | None:
    """The value a stored role is matched on; None for an element without one."""
    value = next((v for k, v in role.items() if k.lower() == "value"), None)
    return value if isinstance(value, str) and value else None


def app_role_mapping(*, tenant_id: int, integration_kind: str | None) -> dict[str, Role]:
    """The tenant's mapping for one integration: lower-cased app-role value → role (defaults included)."""
    mapping = dict(DEFAULT_APP_ROLE_MAPPING)
    if integration_kind:
        rows = AppRoleMapping.objects.filter(tenant_id=tenant_id, integration_kind=integration_kind)
        mapping.update({value: Role(role) for value, role in rows.values_list("value", "role")})
    return mapping


def app_role_mapped(mapping: Mapping[str, Role], value: str) -> Role:
    return mapping.get(value.lower(), Role.MEMBER)


def role_sources(person: Person, *, with_keep: bool = True) -> list[RoleSource]:
    """Every source of ``person``'s role, strongest first; "kept as the last admin" with ``with_keep``."""
    sources: list[RoleSource] = []
    if with_keep and person.kept_as_last_admin_since is not None:
        sources.append(RoleSource(Role.ADMIN, "last_admin", "Kept as the last admin",
                                  at=person.kept_as_last_admin_since))
    if person.console_role:
        by = person.console_role_by  # the admin who granted it (gone: None)
        when = f" on {_day(person.console_role_at)}" if person.console_role_at else ""
        sources.append(
            RoleSource.naming(Role(person.console_role), "console", ("Granted in the console by ", by.label, when))
            if by else RoleSource(Role(person.console_role), "console", "Granted in the console" + when))
    groups = Group.objects.filter(memberships__person_id=person.pk, role__isnull=False).order_by("display_name")
    for group_id, name, role in groups.values_list("id", "display_name", "role"):
        sources.append(RoleSource.naming(Role(role), "group", ("Member of group '", name, "'"), group_id=group_id))
    values = [v for v in (app_role_value(r) for r in person.roles or [] if isinstance(r, dict)) if v]
    if values:
        mapping = app_role_mapping(tenant_id=person.tenant_id, integration_kind=person.app_roles_kind)
        provider = person.app_roles_provider or "your identity provider"
        for value in dict.fromkeys(values):  # each value once, as first sent
            sources.append(RoleSource.naming(app_role_mapped(mapping, value), "app_role",
                                             ("App role '", value, f"' from {provider}")))
    sources.sort(key=lambda s: (-ROLE_RANK[s.role], _SOURCE_ORDER[s.kind]))
    return sources


def effective_role(sources: Iterable[RoleSource]) -> Role:
    """The highest role of ``sources``; Member when there is none."""
    return max((s.role for s in sources), key=ROLE_RANK.__getitem__, default=Role.MEMBER)


def other_admins(person: Person) -> QuerySet[Person]:
    """The tenant's active admins other than ``person`` (a query): the last one may not go."""
    return Person.objects.filter(
        tenant_id=person.tenant_id, role=Role.ADMIN, is_active=True
    ).exclude(pk=person.pk)


def _lock_tenant_roles(tenant_id: int) -> None:
    """Serialise the changes that may take Admin from someone in one tenant: two syncs removing
    the tenant's two admins at once must not both see the other one still there. The tenant's row
    is the lock (not the admins' rows): every path takes it the same way, so no two of them wait
    for each other in opposite orders."""
    list(Tenant.objects.select_for_update().filter(pk=tenant_id).values_list("pk", flat=True))


def _summary(new: Role, sources: list[RoleSource], cause: str) -> str:
    """ "Admin through group 'SpaceIQ Admins', added by Microsoft Entra ID" """
    winner = next((s for s in sources if s.role == new), None)
    if winner is None:
        return f"{new.label} (no role source left), {cause}"
    return f"{new.label} through {winner.through}, {cause}"


@service_atomic
def person_role_recompute(
    *, person: Person, actor: Actor, cause: str, refuse_last_admin: bool = False
) -> Role:
    """Recompute ``person``'s effective role from their sources, in the caller's transaction.

    ``cause``: what changed, in plain words, naming who did it ("added by Microsoft Entra ID",
    "removed from group 'SpaceIQ Admins' by Microsoft Entra ID"); the audit event reads
    "<role> through <source>, <cause>". ``refuse_last_admin`` (console changes): raise
    ``LastAdminError`` instead of keeping the last admin. ``person`` gets the new role and version.
    """
    # Locked, and read again: a concurrent change of another of this person's sources waits, then
    # recomputes from what this one committed.
    row = Person.objects.select_for_update(of=("self",)).select_related("console_role_by").get(pk=person.pk)
    sources = role_sources(row, with_keep=False)
    computed = effective_role(sources)
    old = Role(row.role)
    kept = row.kept_as_last_admin_since
    new, keep = computed, None
    if computed != Role.ADMIN and old == Role.ADMIN and (row.is_active or kept):
        _lock_tenant_roles(row.tenant_id)
        if not other_admins(row).exists():
            if kept is None and refuse_last_admin:
                raise LastAdminError()
            new, keep = Role.ADMIN, kept or timezone.now()
    if new == old and keep == kept:
        return old
    row.role, row.kept_as_last_admin_since = new, keep
    instance_update(row, ["role", "kept_as_last_admin_since", "last_modified"])
    person.role, person.kept_as_last_admin_since = row.role, row.kept_as_last_admin_since
    person.version, person.last_modified = row.version, row.last_modified
    common = {"tenant": row.tenant_id, "actor": actor, "target_type": "person", "target_id": row.pk,
              "target_label": row.user_name}
    if keep is not None and kept is None:
        summary = f"Kept as the last admin: would have become {computed.label}, {cause}"
        event = audit_event_record(action="role.kept_as_last_admin", details={
            "role": Role.ADMIN.value, "without_keep": computed.value, "cause": summary}, **common)
        role_changed.send(sender=Person, change=RoleChange(
            person=row, old=old, new=new, summary=summary, actor=actor, audit_event_id=event.pk,
            kept_as_last_admin=True, without_keep=computed))
    if new != old:
        summary = _summary(new, sources, cause)
        event = audit_event_record(action="role.changed", details={
            "old": old.value, "new": new.value, "cause": summary}, **common)
        role_changed.send(sender=Person, change=RoleChange(
            person=row, old=old, new=new, summary=summary, actor=actor, audit_event_id=event.pk))
    if new == Role.ADMIN and keep is None and row.is_active and (old != Role.ADMIN or kept is not None):
        kept_admins_release(tenant_id=row.tenant_id, admin=row, actor=actor)
    return new


def kept_admins_release(*, tenant_id: int, admin: Person, actor: Actor) -> None:
    """``admin`` is an active admin now: whoever was kept as the last admin is kept no longer."""
    kept = Person.objects.filter(tenant_id=tenant_id, kept_as_last_admin_since__isnull=False).exclude(pk=admin.pk)
    for person in kept.order_by("pk"):
        person_role_recompute(person=person, actor=actor,
                              cause=f"no longer kept as the last admin: {admin.label} is an active admin")


def people_roles_recompute(
    *, person_ids: Iterable[Any], actor: Actor, cause: str, refuse_last_admin: bool = False
) -> None:
    """``person_role_recompute`` for several people, in a fixed order (so two of these never
    lock the same people in opposite orders)."""
    for person in Person.objects.filter(pk__in=list(person_ids)).order_by("pk"):
        person_role_recompute(person=person, actor=actor, cause=cause, refuse_last_admin=refuse_last_admin)


def _role_or_none(role: Any, attribute: str) -> Role | None:
    if role in (None, ""):
        return None
    try:
        return Role(role)
    except ValueError:
        raise InvalidValue(attribute, f"{role!r} is not a role (member, auditor or admin)") from None


@service_atomic
def console_role_set(*, person: Person, role: Role | str | None, actor: Actor) -> Person:
    """Grant ``person`` a role in the console (None: take the console role away), then recompute.

    Admins only (the view checks). Taking Admin from the tenant's last active admin raises
    ``LastAdminError`` and writes nothing.
    """
    new = _role_or_none(role, "role")
    old = Role(person.console_role) if person.console_role else None
    if new == old:
        return person
    was = (person.console_role, person.console_role_by_id, person.console_role_at, person.version)
    person.console_role = new
    person.console_role_by_id = actor.person_id if new else None
    person.console_role_at = timezone.now() if new else None
    try:
        instance_update(person, ["console_role", "console_role_by", "console_role_at", "last_modified"])
        audit_event_record(
            tenant=person.tenant_id, actor=actor, action="role.console_role_set", target_type="person",
            target_id=person.pk, target_label=person.user_name,
            details={"old": old.value if old else None, "new": new.value if new else None},
        )
        person_role_recompute(person=person, actor=actor, cause=f"console role set by {actor.name}",
                              refuse_last_admin=True)
    except LastAdminError:
        # Rolled back by this function's transaction; the caller's instance shows what is stored again.
        person.console_role, person.console_role_by_id, person.console_role_at, person.version = was
        raise
    return person


@service_atomic
def group_role_set(*, group: Group, role: Role | str | None, actor: Actor) -> Group:
    """Give every member of ``group`` at least ``role`` (None: the group gives no role), then
    recompute each member. Taking Admin from the tenant's last active admin raises ``LastAdminError``."""
    new = _role_or_none(role, "role")
    old = Role(group.role) if group.role else None
    if new == old:
        return group
    group.role = new
    instance_update(group, ["role", "last_modified"])
    audit_event_record(
        tenant=group.tenant_id, actor=actor, action="group.role_changed", target_type="group",
        target_id=group.pk, target_label=group.display_name,
        details={"old": old.value if old else None, "new": new.value if new else None},
    )
    people_roles_recompute(
        person_ids=Membership.objects.filter(group_id=group.pk).values_list("person_id", flat=True),
        actor=actor, refuse_last_admin=True,
        cause=f"role of group '{group.display_name}' set to {new.label if new else 'none'} by {actor.name}",
    )
    return group


@service_atomic
def app_role_mapping_set(
    *, tenant: Tenant, integration_kind: str, value: str, role: Role | str | None, actor: Actor
) -> AppRoleMapping | None:
    """Map one integration's app-role ``value`` to ``role`` (None: back to the default), then recompute
    everyone that integration sent it to. Taking Admin from the last active admin raises ``LastAdminError``."""
    if not isinstance(value, str) or not value.strip() or len(value) > APP_ROLE_VALUE_MAX:
        raise InvalidValue("value", f"an app role value is 1 to {APP_ROLE_VALUE_MAX} characters")
    new = _role_or_none(role, "role")
    key = value.lower()
    row = AppRoleMapping.objects.filter(tenant=tenant, integration_kind=integration_kind, value=key).first()
    default = DEFAULT_APP_ROLE_MAPPING.get(key, Role.MEMBER)
    old = Role(row.role) if row else default
    if new is None:
        if row:
            row.delete()
        row = None
    elif row:
        row.role = new
        row.save(update_fields=["role", "updated"])
    else:
        row = AppRoleMapping.objects.create(tenant=tenant, integration_kind=integration_kind, value=key, role=new)
    now = new or default
    if now == old:
        return row
    audit_event_record(
        tenant=tenant, actor=actor, action="app_role_mapping.changed", target_type="integration",
        target_id=integration_kind, target_label=f"{integration_kind}: {value}",
        details={"value": value, "old": old.value, "new": now.value},
    )
    holders = [
        pk for pk, roles in Person.objects.filter(tenant=tenant, app_roles_kind=integration_kind)
        .exclude(roles=[]).values_list("pk", "roles")
        if any((app_role_value(r) or "").lower() == key for r in roles if isinstance(r, dict))
    ]
    people_roles_recompute(person_ids=holders, actor=actor, refuse_last_admin=True,
                           cause=f"app role '{value}' mapped to {now.label} by {actor.name}")
    return row


@service_atomic
def person_app_roles_set(
    *, person: Person, roles: list[dict[str, Any]], integration_kind: str, actor: Actor, provider: str = ""
) -> Person:
    """Store the app roles an integration's SCIM client sent for ``person`` (exactly as sent), then
    recompute. Called by the SCIM adapter in the transaction of the rest of its write.

    ``provider``: the integration's provider as people read it ("Microsoft Entra ID").
    """
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise InvalidValue("roles", "must be a list of objects")
    for role in roles:
        value = app_role_value(role)
        if value is None or len(value) > APP_ROLE_VALUE_MAX:
            raise InvalidValue("roles", f"role {role!r} needs a value of 1 to {APP_ROLE_VALUE_MAX} characters")
    old_roles = person.roles or []
    if old_roles == roles and person.app_roles_kind == integration_kind and person.app_roles_provider == provider:
        return person
    person.roles, person.app_roles_kind, person.app_roles_provider = roles, integration_kind, provider[:100]
    instance_update(person, ["roles", "app_roles_kind", "app_roles_provider", "last_modified"])
    if old_roles != roles:
        audit_event_record(
            tenant=person.tenant_id, actor=actor, action="person.updated", target_type="person",
            target_id=person.pk, target_label=person.user_name,
            details={"changes": {"roles": {"old": old_roles, "new": roles}}},
        )
    values = ", ".join(f"'{app_role_value(r)}'" for r in roles) or "none"
    person_role_recompute(person=person, actor=actor, cause=f"app roles sent by {actor.name}: {values}")
    return person
