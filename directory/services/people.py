"""Writes to people: create, update, (de)activate, delete."""

from __future__ import annotations

import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection
from django.utils import timezone

from directory.audit import Actor, audit_event_build, audit_event_record
from directory.custom_attributes import Catalog, catalog_load, values_clean, values_structure_check
from directory.errors import InvalidValue, LastAdminError, StaleWrite, UniquenessConflict
from directory.models import AuditEvent, Membership, Person, Role, Source, Tenant
from directory.services.custom_attributes import custom_attributes_received_record
from directory.services.roles import kept_admins_release, other_admins
from directory.services.sessions import sessions_end
from directory.services.transactions import own_statement, service_atomic, service_transaction
from directory.validators import control_characters_message
from spaceiq_site.postgresql.writes import (
    insert_with_event,
    instance_insert,
    instance_update,
    integrity_violation,
    update_with_events,
)

# Attributes a caller may set through person_create / person_update. Not ``roles``: the app roles
# are a role source, set through directory.services.roles.person_app_roles_set, which recomputes.
PERSON_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "user_name", "external_id", "name_formatted", "given_name", "family_name", "middle_name",
        "honorific_prefix", "honorific_suffix", "display_name", "nick_name", "profile_url", "title",
        "user_type", "preferred_language", "locale", "timezone", "emails", "phone_numbers",
        "addresses", "ims", "photos", "entitlements", "x509_certificates",
        "employee_number", "cost_center", "organization", "division", "department", "manager_id",
        "is_active", "custom_attributes",
    }
)
_STRING_LIMITS: dict[str, int] = {
    f.name if not f.is_relation else f.attname: f.max_length
    for f in Person._meta.concrete_fields
    if getattr(f, "max_length", None) and f.name != "password"
}
_LIST_ATTRIBUTES = frozenset(
    {"emails", "phone_numbers", "addresses", "ims", "photos", "entitlements", "roles", "x509_certificates"}
)

def canonical_user_name(user_name: Any) -> Any:
    """User names are stored in Unicode NFC, so canonically equivalent spellings
    ("é" as one code point or as "e" + combining accent) are one name and clash
    (the per-tenant unique index compares LOWER(user_name)). Entra sends NFC."""
    return unicodedata.normalize("NFC", user_name) if isinstance(user_name, str) else user_name


def _work_email(emails: list[Any]) -> str | None:
    """The value of the first email typed "work" (what Entra matches on)."""
    for email in emails or []:
        if isinstance(email, dict) and str(email.get("type", "")).lower() == "work":
            value = email.get("value")
            return str(value)[:320] if value is not None else None
    return None


def _validate_person_values(values: Mapping[str, Any]) -> None:
    unknown = set(values) - PERSON_ATTRIBUTES
    if unknown:
        raise InvalidValue(", ".join(sorted(unknown)), "not a person attribute")
    for name, value in values.items():
        if name in _LIST_ATTRIBUTES:
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise InvalidValue(name, "must be a list of objects")
        elif name == "is_active":
            if not isinstance(value, bool):
                raise InvalidValue(name, "must be a boolean")
        elif name == "manager_id":
            continue
        elif name == "custom_attributes":
            values_structure_check(value)
        elif value is not None:
            if not isinstance(value, str):
                raise InvalidValue(name, "must be a string")
            limit = _STRING_LIMITS.get(name)
            if limit and len(value) > limit:
                raise InvalidValue(name, f"must be at most {limit} characters")
            if "\x00" in value:
                raise InvalidValue(name, "must not contain NUL characters")
    if "user_name" in values and not (values["user_name"] or "").strip():
        raise InvalidValue("user_name", "is required")
    _check_no_control_characters(values)


def _check_no_control_characters(values: Mapping[str, Any]) -> None:
    """User names and email addresses (directory.validators says why); other attributes keep them."""
    user_name = values.get("user_name")
    if isinstance(user_name, str) and (message := control_characters_message(user_name)):
        raise InvalidValue("user_name", message)
    for email in values.get("emails") or ():
        address = email.get("value") if isinstance(email, dict) else None
        if isinstance(address, str) and (message := control_characters_message(address)):
            raise InvalidValue("emails", f"an address {message}")


def _custom_values_clean(tenant_id: int, values: dict[str, Any], old: Mapping[str, Any],
                         catalog: Catalog | None) -> list[tuple[str, str, str]]:
    """Check ``values["custom_attributes"]`` against the tenant's catalogue (read now unless the caller
    read it) and store the checked values back; returns the undeclared names new to the tenant."""
    cleaned = values_clean(values["custom_attributes"], old, catalog or catalog_load(tenant_id=tenant_id))
    values["custom_attributes"] = cleaned.values
    return cleaned.new_received


def _check_manager(tenant_id: int, person_id: Any, manager_id: Any) -> None:
    if manager_id is None:
        return
    if person_id is not None and str(manager_id) == str(person_id):
        raise InvalidValue("manager", "a person cannot be their own manager")
    if not Person.objects.filter(tenant_id=tenant_id, pk=manager_id).exists():
        raise InvalidValue("manager", f"no person with id {manager_id} in this directory")


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def unusable_password() -> str:
    """What ``set_unusable_password()`` stores ("!" and 40 random characters), from one read of
    the system's randomness instead of forty (every SCIM create stores one; ``make bench``)."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def person_create(
    *,
    tenant: Tenant,
    actor: Actor,
    user_name: str,
    source: str = Source.CONSOLE,
    password: str | None = None,
    console_role: Role | str | None = None,
    custom_catalog: Catalog | None = None,
    **attributes: Any,
) -> Person:
    """A new person; ``console_role`` grants them a role in the console from the start (the tenant's
    first admin, the demo's admin), recorded as granted by ``actor``. ``custom_catalog``: the tenant's
    custom attributes, when the caller has read them already."""
    values = {"user_name": canonical_user_name(user_name), **attributes}
    _validate_person_values(values)
    received = _custom_values_clean(tenant.pk, values, {}, custom_catalog) if values.get("custom_attributes") else []
    role = Role(console_role) if console_role else None
    if password or role or values.get("manager_id") or received or connection.in_atomic_block:
        return _person_create(tenant=tenant, actor=actor, source=source, password=password,
                              console_role=role, values=values, received=received)
    # Entra's create: the person and its audit event in one statement, atomic without a transaction.
    person = _person_build(tenant, source, None, actor, values)
    try:
        insert_with_event(person, audit_event_build(**_person_created_event(person, tenant, actor, source, values)))
    except IntegrityError as exc:
        _raise_person_write_error(exc, user_name, None)
    return person


@service_atomic
def _person_create(
    *, tenant: Tenant, actor: Actor, source: str, password: str | None, console_role: Role | None,
    values: dict[str, Any], received: list[tuple[str, str, str]] = (),
) -> Person:
    _check_manager(tenant.pk, None, values.get("manager_id"))
    person = _person_build(tenant, source, console_role, actor, values)
    try:
        # No inner savepoint: this function's own atomic block rolls the INSERT back.
        if password:
            person.set_password(password)
            person.save(force_insert=True)  # AbstractBaseUser.save also tells the password validators
        else:
            instance_insert(person)
    except IntegrityError:
        raise UniquenessConflict("userName", values["user_name"]) from None
    if received:
        custom_attributes_received_record(tenant_id=tenant.pk, received=received)
    audit_event_record(**_person_created_event(person, tenant, actor, source, values))
    if console_role and console_role != Role.MEMBER:
        # A role from the start is no change of an existing account's access: audited, and announced
        # by what created the person (the welcome email), not by a security notice.
        audit_event_record(
            tenant=tenant, actor=actor, action="role.changed", target_type="person",
            target_id=person.pk, target_label=person.user_name,
            details={"old": Role.MEMBER.value, "new": console_role.value,
                     "cause": f"{console_role.label} through the console role, granted at creation by {actor.name}"},
        )
    return person


def _person_build(tenant: Tenant, source: str, console_role: Role | None, actor: Actor,
                  values: dict[str, Any]) -> Person:
    person = Person(tenant=tenant, source=source, **values)
    if console_role:
        person.role = person.console_role = console_role
        person.console_role_by_id = actor.person_id
        person.console_role_at = timezone.now()
    person.work_email = _work_email(person.emails)
    person.password = unusable_password()  # replaced by set_password() when there is one
    return person


def _person_created_event(person: Person, tenant: Tenant, actor: Actor, source: str,
                          values: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": tenant, "actor": actor, "action": "person.created", "target_type": "person",
        "target_id": person.pk, "target_label": person.user_name,
        "details": {"source": source, "attributes": _given(values)},
    }


def _given(values: Mapping[str, Any]) -> list[str]:
    """The attributes a person was created with, for the audit trail: custom ones by their full name."""
    given = [k for k, v in values.items() if v not in (None, [], "", {}) and k != "custom_attributes"]
    return sorted(given + list(values.get("custom_attributes") or {}))


@service_atomic
def person_bulk_create(
    *,
    tenant: Tenant,
    actor: Actor,
    people: Iterable[Mapping[str, Any]],
    source: str = Source.CONSOLE,
    batch_size: int = 1000,
) -> list[Person]:
    """Create many people at once (imports, seeding): person_create's checks and
    audit events, written with multi-row INSERTs.

    Each mapping holds ``user_name`` and any person attributes. All or nothing:
    a userName taken (in the tenant or twice in ``people``) raises
    UniquenessConflict and nothing is written. People get no password.
    """
    created: list[Person] = []
    attributes: list[list[str]] = []  # per person created: the attributes it was given, for its audit event
    manager_ids: set[Any] = set()
    for raw in people:
        values = dict(raw)
        if "user_name" not in values:
            raise InvalidValue("user_name", "is required")
        values["user_name"] = canonical_user_name(values["user_name"])
        _validate_person_values(values)
        if values.get("manager_id") is not None:
            manager_ids.add(values["manager_id"])
        person = Person(tenant=tenant, source=source, **values)
        person.work_email = _work_email(person.emails)
        person.set_unusable_password()
        created.append(person)
        attributes.append(_given(values))
    if manager_ids:
        known = {str(pk) for pk in Person.objects.filter(
            tenant_id=tenant.pk, pk__in=list(manager_ids)).values_list("pk", flat=True)}
        known |= {str(p.pk) for p in created}
        missing = [m for m in manager_ids if str(m) not in known]
        if missing:
            raise InvalidValue("manager", f"no person with id {missing[0]} in this directory")
    try:
        Person.objects.bulk_create(created, batch_size=batch_size)
    except IntegrityError:
        raise UniquenessConflict("userName", "one of the user names") from None
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                tenant_id=tenant.pk, actor_label=actor.label[:255], actor_person_id=actor.person_id,
                action="person.created", target_type="person", target_id=str(p.pk),
                target_label=p.user_name[:512], details={"source": source, "attributes": given},
                source_ip=actor.source_ip, request_id=actor.request_id[:64],
            )
            for p, given in zip(created, attributes, strict=True)
        ],
        batch_size=batch_size,
    )
    return created


def person_update(
    *, person: Person, actor: Actor, changes: Mapping[str, Any], expected_version: int | None = None,
    custom_catalog: Catalog | None = None,
) -> Person:
    """Apply ``changes`` (attribute → new value); records only what really changed.

    ``expected_version``: the version ``person`` was read at by a caller that
    holds no lock on it (the SCIM PATCH). The change and its audit events are
    then written in one statement, and only if the row is still at that
    version; otherwise nothing is written and ``StaleWrite`` tells the caller
    to read again. Without it the caller is expected to hold the row locked
    (``select_for_update``) or to accept the last write winning.
    ``custom_catalog``: the tenant's custom attributes, when the caller has read them already
    (read here only when ``custom_attributes`` changes).
    """
    if "user_name" in changes:
        changes = {**changes, "user_name": canonical_user_name(changes["user_name"])}
    _validate_person_values(changes)
    received: list[tuple[str, str, str]] = []
    if "custom_attributes" in changes and changes["custom_attributes"] != person.custom_attributes:
        changes = dict(changes)
        received = _custom_values_clean(person.tenant_id, changes, person.custom_attributes or {}, custom_catalog)
    if expected_version is None:
        return _person_update(person=person, actor=actor, changes=changes, received=received)
    diff, update_fields = _person_apply(person, changes)
    if not diff:
        return person
    deactivating = _deactivates(diff)
    admin_back = _reactivates_admin(person, diff)
    try:
        # A deactivation also ends the person's sessions, a write of its own: it and the guarded
        # statement share one transaction, so a stale write (nothing written) ends no session either.
        with service_transaction() if deactivating or admin_back or received else own_statement():
            sessions_ended = sessions_end(person.pk) if deactivating else None
            if received:
                custom_attributes_received_record(tenant_id=person.tenant_id, received=received)
            events = [audit_event_build(**fields)
                      for fields in _person_update_events(person, actor, diff, sessions_ended=sessions_ended)]
            written = update_with_events(person, update_fields, events, version_was=expected_version)
            if not written:
                raise StaleWrite("person", person.pk)  # inside the block: rolls the session deletion back
            if admin_back:
                kept_admins_release(tenant_id=person.tenant_id, admin=person, actor=actor)
    except IntegrityError as exc:
        _raise_person_write_error(exc, person.user_name, person.manager_id if "manager_id" in diff else None)
    return person


@service_atomic
def _person_update(*, person: Person, actor: Actor, changes: Mapping[str, Any],
                   received: list[tuple[str, str, str]] = ()) -> Person:
    diff, update_fields = _person_apply(person, changes)
    if not diff:
        return person
    if received:
        custom_attributes_received_record(tenant_id=person.tenant_id, received=received)
    try:
        instance_update(person, update_fields)  # a prebuilt UPDATE
    except IntegrityError:
        raise UniquenessConflict("userName", person.user_name) from None
    sessions_ended = sessions_end(person.pk) if _deactivates(diff) else None
    for fields in _person_update_events(person, actor, diff, sessions_ended=sessions_ended):
        audit_event_record(**fields)
    if _reactivates_admin(person, diff):
        kept_admins_release(tenant_id=person.tenant_id, admin=person, actor=actor)
    return person


def _deactivates(diff: Mapping[str, Mapping[str, Any]]) -> bool:
    return "is_active" in diff and not diff["is_active"]["new"]


def _reactivates_admin(person: Person, diff: Mapping[str, Mapping[str, Any]]) -> bool:
    """An admin back in the tenant: whoever was kept as the last admin meanwhile is kept no longer.
    (A deactivation changes nobody's role: the person's sources stay, for when they come back.)"""
    return "is_active" in diff and diff["is_active"]["new"] and person.role == Role.ADMIN


def _person_apply(person: Person, changes: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Set what differs on ``person``: (old and new value per changed attribute, the columns to write)."""
    diff: dict[str, dict[str, Any]] = {}
    for name, new in changes.items():
        old = getattr(person, name)
        if _jsonable(old) != _jsonable(new) or (name == "manager_id" and str(old) != str(new)):
            diff[name] = {"old": _jsonable(old), "new": _jsonable(new)}
    if "manager_id" in diff:  # an unchanged manager was checked when it was set
        _check_manager(person.tenant_id, person.pk, changes["manager_id"])
    for name in diff:
        setattr(person, name, changes[name])
    if not diff:
        return diff, []
    update_fields = [*diff, "last_modified"]  # and the version, incremented by the UPDATE itself
    if "emails" in diff:
        person.work_email = _work_email(person.emails)
        update_fields.append("work_email")
    return diff, update_fields


def _person_update_events(person: Person, actor: Actor, diff: dict[str, dict[str, Any]], *,
                          sessions_ended: int | None = None) -> list[dict[str, Any]]:
    """The audit events of one update (``audit_event_build``'s arguments): the attributes changed,
    then a deactivation (with how many of the person's sessions it ended) or reactivation."""
    common = {"tenant": person.tenant_id, "actor": actor, "target_type": "person", "target_id": person.pk,
              "target_label": person.user_name}
    events = []
    changed = {name: change for name, change in diff.items() if name not in ("is_active", "custom_attributes")}
    if "custom_attributes" in diff:
        # Each custom attribute by its full name, like any other attribute.
        old, new = diff["custom_attributes"]["old"] or {}, diff["custom_attributes"]["new"] or {}
        changed.update({key: {"old": old.get(key), "new": new.get(key)}
                        for key in {**old, **new} if old.get(key) != new.get(key)})
    if changed:
        events.append({"action": "person.updated", "details": {"changes": changed}, **common})
    if "is_active" in diff:
        if diff["is_active"]["new"]:
            events.append({"action": "person.reactivated", **common})
        else:
            events.append({"action": "person.deactivated", "details": {"sessions_ended": sessions_ended or 0},
                           **common})
    return events


def _raise_person_write_error(exc: IntegrityError, user_name: str, manager_id: Any) -> NoReturn:
    """Raise the directory error for a refused single-statement write (no transaction around it),
    or ``exc`` itself when it is none of them."""
    violated = integrity_violation(exc)
    if violated == "unique":  # the userName is taken
        raise UniquenessConflict("userName", user_name) from None
    if violated == "foreign_key" and manager_id is not None:  # the manager went after the check
        raise InvalidValue("manager", f"no person with id {manager_id} in this directory") from None
    raise exc


@service_atomic
def person_password_set(*, person: Person, password: str, actor: Actor) -> Person:
    """Give ``person`` a password to sign in with, checked by the password validators. People an
    identity provider provisions have none; an admin's password is their way back in when single
    sign-on is down (provisioning.sso.policy)."""
    try:
        password_validation.validate_password(password, user=person)
    except ValidationError as exc:
        raise InvalidValue("password", " ".join(exc.messages)) from None
    person.set_password(password)
    instance_update(person, ["password", "last_modified"])
    password_validation.password_changed(password, user=person)  # what AbstractBaseUser.save() would tell them
    audit_event_record(
        tenant=person.tenant_id, actor=actor, action="person.password_set", target_type="person",
        target_id=person.pk, target_label=person.user_name,
    )
    return person


def person_deactivate(*, person: Person, actor: Actor) -> Person:
    return person_update(person=person, actor=actor, changes={"is_active": False})


def person_reactivate(*, person: Person, actor: Actor) -> Person:
    return person_update(person=person, actor=actor, changes={"is_active": True})


@service_atomic
def person_delete(*, person: Person, actor: Actor) -> None:
    if person.is_tenant_admin and not other_admins(person).exists():
        raise LastAdminError()
    person_id, label, tenant_id = person.pk, person.user_name, person.tenant_id
    group_count = Membership.objects.filter(person_id=person_id).count()
    sessions_ended = sessions_end(person_id)  # before the delete cascades away the record of them
    Person.objects.filter(pk=person_id).delete()
    audit_event_record(
        tenant=tenant_id, actor=actor, action="person.deleted", target_type="person",
        target_id=person_id, target_label=label,
        details={"memberships_removed": group_count, "sessions_ended": sessions_ended},
    )
