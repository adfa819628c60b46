"""Every write to the directory goes through these functions.

Each one runs in a transaction, records its audit event in that same
transaction, and leaves nothing behind when it raises.

Inside ``single_transaction()`` (the SCIM views lock the resource first,
then call a service) services join the caller's transaction without a
savepoint: a savepoint costs two round trips, and whatever a service raises
there ends the whole transaction anyway. Everywhere else a nested call keeps
its savepoint, so a caller may catch a service's error and carry on.
"""

from __future__ import annotations

import contextvars
import functools
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, NoReturn, ParamSpec, TypeVar

from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.sessions.models import Session
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from directory.audit import Actor, audit_event_build, audit_event_record
from directory.compiled_insert import insert_with_event, instance_insert
from directory.compiled_update import instance_update, save_with_version, update_with_events
from directory.errors import InvalidValue, LastAdminError, StaleWrite, UniquenessConflict
from directory.models import AuditEvent, Group, Membership, Person, PersonSession, Source, Tenant

_JOIN_CALLER = contextvars.ContextVar("directory_services_join_caller", default=False)


@contextmanager
def single_transaction() -> Iterator[None]:
    """One transaction that the services called inside join without savepoints."""
    token = _JOIN_CALLER.set(True)
    try:
        with transaction.atomic():
            yield
    finally:
        _JOIN_CALLER.reset(token)


def _own_statement() -> AbstractContextManager[Any]:
    """Around a write that is one statement: nothing in autocommit (the statement is its own
    transaction), a savepoint inside a caller's transaction, so that a refused write leaves the
    caller's transaction usable (none inside ``single_transaction()``, as for ``service_atomic``)."""
    if connection.in_atomic_block:
        return transaction.atomic(savepoint=not _JOIN_CALLER.get())
    return nullcontext()


def _service_transaction() -> transaction.Atomic:
    """A transaction, or a savepoint inside a caller's one (none inside ``single_transaction()``)."""
    return transaction.atomic(savepoint=not _JOIN_CALLER.get())


def service_atomic(func: Callable[P, R]) -> Callable[P, R]:
    """``transaction.atomic``, without a savepoint inside ``single_transaction()``."""

    @functools.wraps(func)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with _service_transaction():
            return func(*args, **kwargs)

    return run

P = ParamSpec("P")
R = TypeVar("R")

# Attributes a caller may set through person_create / person_update.
PERSON_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "user_name", "external_id", "name_formatted", "given_name", "family_name", "middle_name",
        "honorific_prefix", "honorific_suffix", "display_name", "nick_name", "profile_url", "title",
        "user_type", "preferred_language", "locale", "timezone", "emails", "phone_numbers",
        "addresses", "ims", "photos", "entitlements", "roles", "x509_certificates",
        "employee_number", "cost_center", "organization", "division", "department", "manager_id",
        "is_active",
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
    the system's randomness instead of forty: it was a twentieth of a SCIM create's CPU."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30)


def person_create(
    *,
    tenant: Tenant,
    actor: Actor,
    user_name: str,
    source: str = Source.CONSOLE,
    password: str | None = None,
    is_tenant_admin: bool = False,
    **attributes: Any,
) -> Person:
    values = {"user_name": canonical_user_name(user_name), **attributes}
    _validate_person_values(values)
    if password or is_tenant_admin or values.get("manager_id") or connection.in_atomic_block:
        return _person_create(tenant=tenant, actor=actor, source=source, password=password,
                              is_tenant_admin=is_tenant_admin, values=values)
    # Entra's create: the person and its audit event in one statement, atomic without a transaction.
    person = _person_build(tenant, source, is_tenant_admin, values)
    try:
        insert_with_event(person, audit_event_build(**_person_created_event(person, tenant, actor, source, values)))
    except IntegrityError as exc:
        _raise_person_write_error(exc, user_name, None)
    return person


@service_atomic
def _person_create(
    *, tenant: Tenant, actor: Actor, source: str, password: str | None, is_tenant_admin: bool,
    values: dict[str, Any],
) -> Person:
    _check_manager(tenant.pk, None, values.get("manager_id"))
    person = _person_build(tenant, source, is_tenant_admin, values)
    try:
        # No inner savepoint: this function's own atomic block rolls the INSERT back.
        if password:
            person.set_password(password)
            person.save(force_insert=True)  # AbstractBaseUser.save also tells the password validators
        else:
            instance_insert(person)
    except IntegrityError:
        raise UniquenessConflict("userName", values["user_name"]) from None
    audit_event_record(**_person_created_event(person, tenant, actor, source, values))
    if is_tenant_admin:
        audit_event_record(
            tenant=tenant, actor=actor, action="admin_role.granted", target_type="person",
            target_id=person.pk, target_label=person.user_name,
        )
    return person


def _person_build(tenant: Tenant, source: str, is_tenant_admin: bool, values: dict[str, Any]) -> Person:
    person = Person(tenant=tenant, source=source, is_tenant_admin=is_tenant_admin, **values)
    person.work_email = _work_email(person.emails)
    person.password = unusable_password()  # replaced by set_password() when there is one
    return person


def _person_created_event(person: Person, tenant: Tenant, actor: Actor, source: str,
                          values: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": tenant, "actor": actor, "action": "person.created", "target_type": "person",
        "target_id": person.pk, "target_label": person.user_name,
        "details": {"source": source, "attributes": sorted(k for k, v in values.items() if v not in (None, [], ""))},
    }


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
        person._bulk_attributes = sorted(k for k, v in values.items() if v not in (None, [], ""))
        created.append(person)
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
                target_label=p.user_name[:512], details={"source": source, "attributes": p._bulk_attributes},
                source_ip=actor.source_ip, request_id=actor.request_id[:64],
            )
            for p in created
        ],
        batch_size=batch_size,
    )
    return created


def person_update(
    *, person: Person, actor: Actor, changes: Mapping[str, Any], expected_version: int | None = None
) -> Person:
    """Apply ``changes`` (attribute → new value); records only what really changed.

    ``expected_version``: the version ``person`` was read at by a caller that
    holds no lock on it (the SCIM PATCH). The change and its audit events are
    then written in one statement, and only if the row is still at that
    version; otherwise nothing is written and ``StaleWrite`` tells the caller
    to read again. Without it the caller is expected to hold the row locked
    (``select_for_update``) or to accept the last write winning.
    """
    if "user_name" in changes:
        changes = {**changes, "user_name": canonical_user_name(changes["user_name"])}
    _validate_person_values(changes)
    if expected_version is None or person._password is not None:
        return _person_update(person=person, actor=actor, changes=changes)
    diff, update_fields = _person_apply(person, changes)
    if not diff:
        return person
    deactivating = _deactivates(diff)
    try:
        # A deactivation also ends the person's sessions, a write of its own: it and the guarded
        # statement share one transaction, so a stale write (nothing written) ends no session either.
        with _service_transaction() if deactivating else _own_statement():
            sessions_ended = _sessions_end(person.pk) if deactivating else None
            events = [audit_event_build(**fields)
                      for fields in _person_update_events(person, actor, diff, sessions_ended=sessions_ended)]
            written = update_with_events(person, update_fields, events, version_was=expected_version)
            if not written:
                raise StaleWrite("person", person.pk)  # inside the block: rolls the session deletion back
    except IntegrityError as exc:
        _raise_person_write_error(exc, person.user_name, person.manager_id if "manager_id" in diff else None)
    return person


@service_atomic
def _person_update(*, person: Person, actor: Actor, changes: Mapping[str, Any]) -> Person:
    diff, update_fields = _person_apply(person, changes)
    if not diff:
        return person
    try:
        # A password set on this instance goes through save(): it also tells the password validators.
        if person._password is None:
            instance_update(person, update_fields)  # a prebuilt UPDATE
        else:
            save_with_version(person, update_fields)
    except IntegrityError:
        raise UniquenessConflict("userName", person.user_name) from None
    sessions_ended = _sessions_end(person.pk) if _deactivates(diff) else None
    for fields in _person_update_events(person, actor, diff, sessions_ended=sessions_ended):
        audit_event_record(**fields)
    return person


def _deactivates(diff: Mapping[str, Mapping[str, Any]]) -> bool:
    return "is_active" in diff and not diff["is_active"]["new"]


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
    changed = {name: change for name, change in diff.items() if name != "is_active"}
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
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    # unique_violation: the userName is taken (SQLite, the demo, names no code: nothing else can fail there)
    if sqlstate == "23505" or connection.vendor != "postgresql":
        raise UniquenessConflict("userName", user_name) from None
    if sqlstate == "23503" and manager_id is not None:  # foreign_key_violation: the manager went after the check
        raise InvalidValue("manager", f"no person with id {manager_id} in this directory") from None
    raise exc


def person_deactivate(*, person: Person, actor: Actor) -> Person:
    return person_update(person=person, actor=actor, changes={"is_active": False})


def person_reactivate(*, person: Person, actor: Actor) -> Person:
    return person_update(person=person, actor=actor, changes={"is_active": True})


@service_atomic
def person_delete(*, person: Person, actor: Actor) -> None:
    if person.is_tenant_admin and not _other_admins(person).exists():
        raise LastAdminError()
    person_id, label, tenant_id = person.pk, person.user_name, person.tenant_id
    group_count = Membership.objects.filter(person_id=person_id).count()
    sessions_ended = _sessions_end(person_id)  # before the delete cascades away the record of them
    Person.objects.filter(pk=person_id).delete()
    audit_event_record(
        tenant=tenant_id, actor=actor, action="person.deleted", target_type="person",
        target_id=person_id, target_label=label,
        details={"memberships_removed": group_count, "sessions_ended": sessions_ended},
    )


def _other_admins(person: Person):
    return Person.objects.filter(
        tenant_id=person.tenant_id, is_tenant_admin=True, is_active=True
    ).exclude(pk=person.pk)


# --- Sessions -----------------------------------------------------------------
# Bookkeeping of who signed in with which session (directory.models.PersonSession), written by the
# sign-in signals (directory.signin). The sign-in itself is audited there (signin.succeeded); what
# is audited here is a session *ended* by deprovisioning, in the event of the deactivation or deletion.
# SESSION_ENGINE is the database backend (settings), so ending a session is deleting its row.


def person_session_record(*, person: Person, session_key: str) -> None:
    """Remember that ``person`` signed in with ``session_key``. Records of sessions that expire
    unused are forgotten by ``person_session_records_purge`` (retention), not on the sign-in path."""
    # One INSERT: login() gives every sign-in a new session key (cycle_key), so a key is
    # recorded once.
    PersonSession.objects.create(session_key=session_key, person_id=person.pk)


def person_session_records_purge(*, now: Any = None) -> int:
    """Forget records of sessions that have expired or are gone (most people never sign out);
    returns how many. Their sessions cannot be used any more, so there is nothing left to end."""
    now = now or timezone.now()
    live = Session.objects.filter(session_key=OuterRef("session_key"), expire_date__gt=now)
    deleted, _ = PersonSession.objects.exclude(Exists(live)).delete()
    return deleted


def person_session_forget(*, session_key: str) -> None:
    """The session ``session_key`` was signed out of: nothing left to end."""
    PersonSession.objects.filter(session_key=session_key).delete()


@service_atomic
def person_sessions_end(*, person: Person) -> int:
    """Sign ``person`` out everywhere: delete every session they signed in with. Returns how many
    sessions ended. Their next request finds no session and is sent to sign in."""
    return _sessions_end(person.pk)


def _sessions_end(person_id: Any) -> int:
    """``person_sessions_end`` in the caller's transaction (no savepoint of its own)."""
    keys = PersonSession.objects.filter(person_id=person_id).values("session_key")
    ended, _ = Session.objects.filter(session_key__in=keys).delete()
    PersonSession.objects.filter(person_id=person_id).delete()
    return ended


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
    if not _other_admins(person).exists():
        raise LastAdminError()
    Person.objects.filter(pk=person.pk).update(is_tenant_admin=False, version=F("version") + 1)
    person.is_tenant_admin = False
    audit_event_record(
        tenant=person.tenant_id, actor=actor, action="admin_role.revoked", target_type="person",
        target_id=person.pk, target_label=person.user_name,
    )
    return person


# --- Groups -------------------------------------------------------------------


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
        # The version moves on in SQL (compiled_update): the caller may have read the group unlocked.
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
    group_id, label, tenant_id = group.pk, group.display_name, group.tenant_id
    Group.objects.filter(pk=group_id).delete()
    audit_event_record(
        tenant=tenant_id, actor=actor, action="group.deleted", target_type="group",
        target_id=group_id, target_label=label,
    )


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
    if connection.vendor != "postgresql":
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
    return removed


# --- Tenants ------------------------------------------------------------------


@service_atomic
def tenant_create(*, slug: str, name: str, actor: Actor) -> Tenant:
    if Tenant.objects.filter(slug=slug).exists():
        raise UniquenessConflict("slug", slug)
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(slug=slug, name=name)
    except IntegrityError:
        raise UniquenessConflict("slug", slug) from None
    audit_event_record(
        tenant=tenant, actor=actor, action="tenant.created", target_type="tenant",
        target_id=tenant.pk, target_label=name,
    )
    return tenant

