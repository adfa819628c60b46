"""SCIM adapters: SCIM documents ⇄ directory objects.

Like Zulip's adapter, ``from_dict`` and ``handle_operations`` only *record*
the intended state; ``save()`` validates it and calls one directory service,
which writes the change and its audit event in one transaction. Of
django-scim2's adapters only the base mixin is used (the object, the request
and ``id``): every document, PATCH operation and write is ours.
"""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from typing import Any

from django_scim import adapters as scim_adapters

from directory import services
from directory.audit import Actor
from directory.custom_attributes import Catalog, undeclared_changed
from directory.errors import InvalidValue, LastAdminError, UniquenessConflict
from directory.models import Group, Person, Source
from directory.services.roles import APP_ROLE_VALUE_MAX
from provisioning.registry import kind_get
from provisioning.scim import compat, custom, errors
from provisioning.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, RESOURCE_TYPE_SCHEMA, USER_SCHEMA
from provisioning.scim.patch import PatchEngine
from provisioning.scim.schemas import ENTERPRISE, GROUP, USER, Attr

_USER_ENGINE = PatchEngine({None: USER, ENTERPRISE_SCHEMA: ENTERPRISE}, (ENTERPRISE_SCHEMA,), custom_extensions=True)
_GROUP_ENGINE = PatchEngine({None: GROUP})
_SIMPLE_USER_ATTRS = [a for a in USER.attributes if not a.multi_valued and a.type != "complex"]
_MULTI_USER_ATTRS = [a for a in USER.attributes if a.multi_valued and a.field]
_ROLES = USER.attr("roles")
# A role's keys as stored: the schema's sub-attributes, and Entra's ``displayName`` and ``id``
# (AppRoleAssignmentsComplex sends them; kept as sent, so a GET shows Entra what it sent).
_ROLE_KEYS = {**{sub.name.lower(): sub.name for sub in _ROLES.sub_attributes}, "displayname": "displayName", "id": "id"}
_NAME = USER.attr("name")
_ENTERPRISE_SIMPLE = [a for a in ENTERPRISE.attributes if a.type != "complex"]


def _iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _get(container: dict, name: str) -> Any:
    lowered = name.lower()
    return next((v for k, v in container.items() if k.lower() == lowered), None)


def _has(container: dict, name: str) -> bool:
    lowered = name.lower()
    return any(k.lower() == lowered for k in container)


def request_actor(request: Any) -> Actor:
    return getattr(request, "scim_actor", None) or Actor.system("SCIM")


def base_location(request: Any) -> str:
    """Locations are absolute, built from the request's own host."""
    from django.conf import settings

    if request is None:
        return settings.SITE_URL
    # Worked out once per request: a document holds a location per resource and group, and
    # get_host() validates the host against ALLOWED_HOSTS each time.
    base = getattr(request, "scim_base_location", None)
    if base is None:
        base = request.scim_base_location = f"{request.scheme}://{request.get_host()}"
    return base


def scim_url(request: Any, *parts: str) -> str:
    """Absolute URL of a SCIM resource. Built by hand: the SCIM routes are
    tolerant regexes (see urls.py) that reverse() cannot invert."""
    return "/".join((base_location(request) + "/scim", *parts))


def resource_type_doc(resource: str, request: Any) -> dict:
    endpoint = "/Users" if resource == "User" else "/Groups"
    doc = {
        "schemas": [RESOURCE_TYPE_SCHEMA], "id": resource, "name": resource,
        "endpoint": endpoint,
        "description": "User Account" if resource == "User" else "Group",
        "schema": USER_SCHEMA if resource == "User" else GROUP_SCHEMA,
        "meta": {
            "resourceType": "ResourceType",
            "location": scim_url(request, "ResourceTypes", resource),
        },
    }
    if resource == "User":
        doc["schemaExtensions"] = [{"schema": ENTERPRISE_SCHEMA, "required": False}]
        if request is not None and getattr(request, "tenant", None) is not None:
            # The tenant's own declared extensions: each tenant sees only its own.
            doc["schemaExtensions"] += custom.schema_extensions(custom.catalog(request))
    return doc


# --- Users ---------------------------------------------------------------------------


def _check_string(attr_name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.bad_request(f"{attr_name} must be a string.")
    return value


def _clean_elements(attr: Attr, value: Any) -> list[dict]:
    """A multi-valued attribute as a list of objects, booleans made real."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise errors.bad_request(f"{attr.name} must be a list of objects.")
    cleaned: list[dict] = []
    primaries = 0
    for element in value:
        if not isinstance(element, dict):
            raise errors.bad_request(f"Each value of {attr.name} must be an object.")
        item: dict[str, Any] = {}
        for key, sub_value in element.items():
            sub = attr.sub(key)
            if sub is None:
                continue  # sub-attributes we do not support are dropped, not stored
            if sub.type == "boolean":
                sub_value = compat.coerce_boolean(sub_value, f"{attr.name}.{sub.name}")
                primaries += sub_value is True and sub.name == "primary"
            elif sub_value is not None and not isinstance(sub_value, str):
                raise errors.bad_request(f"{attr.name}.{sub.name} must be a string.")
            if sub_value is not None:
                item[sub.name] = sub_value
        if attr.name == "emails" and isinstance(item.get("value"), str) and "@" not in item["value"]:
            raise errors.bad_request(f"{item['value']!r} is not an email address.")
        if item:
            cleaned.append(item)
    if primaries > 1:
        raise errors.bad_request(f"Only one value of {attr.name} can be primary.")
    return cleaned


def app_roles_clean(value: Any) -> list[dict]:
    """``roles`` as stored: a list of role objects, each with a value, each value once (roles match on
    value, case-insensitively; the first one sent is kept). Anything that is no role, a 400
    ``invalidValue`` naming the role."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise errors.bad_request(f"roles must be a list of role objects, not {value!r}.")
    cleaned: list[dict] = []
    seen: set[str] = set()
    for element in value:
        if not isinstance(element, dict):
            raise errors.bad_request(f"The role {element!r} must be an object with a value.")
        element = compat.app_role_from_json_string(element)
        role: dict[str, Any] = {}
        for key, sub_value in element.items():
            name = _ROLE_KEYS.get(key.lower()) if isinstance(key, str) else None
            if name is None or sub_value is None:
                continue  # keys we do not store are dropped, as for every multi-valued attribute
            if name == "primary":
                sub_value = compat.coerce_boolean(sub_value, "roles.primary")
            elif not isinstance(sub_value, str):
                raise errors.bad_request(f"The role {element!r}: {name} must be a string.")
            role[name] = sub_value
        role_value = role.get("value")
        if not role_value or not role_value.strip():
            raise errors.bad_request(f"The role {element!r} has no value.")
        if len(role_value) > APP_ROLE_VALUE_MAX:
            raise errors.bad_request(
                f"The role {role_value[:40]!r}… has a value longer than {APP_ROLE_VALUE_MAX} characters.")
        if role_value.lower() not in seen:
            seen.add(role_value.lower())
            cleaned.append(role)
    if sum(role.get("primary") is True for role in cleaned) > 1:
        raise errors.bad_request("Only one role can be primary.")
    return cleaned


def person_state(person: Person) -> dict:
    """The user's writable SCIM attributes (the document PATCH operates on)."""
    state: dict[str, Any] = {"userName": person.user_name, "active": person.is_active}
    if person.external_id is not None:
        state["externalId"] = person.external_id
    for attr in _SIMPLE_USER_ATTRS:
        if attr.field and attr.name not in ("userName", "active"):
            value = getattr(person, attr.field)
            if value is not None:
                state[attr.name] = value
    name = {sub.name: getattr(person, sub.field) for sub in _NAME.sub_attributes
            if getattr(person, sub.field or "") is not None}
    if name:
        state["name"] = name
    for attr in _MULTI_USER_ATTRS:
        value = getattr(person, attr.field or "")
        if value:
            state[attr.name] = value
    enterprise = {
        a.name: getattr(person, a.field) for a in _ENTERPRISE_SIMPLE if getattr(person, a.field or "") is not None
    }
    if person.manager_id:
        enterprise["manager"] = {"value": str(person.manager_id)}
    if enterprise:
        state[ENTERPRISE_SCHEMA] = enterprise
    if person.custom_attributes:
        custom.state_from_values(state, person.custom_attributes)
    return state


def state_from_document(doc: dict) -> dict:
    """A POSTed/PUT document as SCIM state: known attributes only, read-only ones dropped."""
    if not isinstance(doc, dict):
        raise errors.bad_request("The request body must be a JSON object.", "invalidSyntax")
    state: dict[str, Any] = {}
    for key, value in doc.items():
        lowered = key.lower()
        if lowered == ENTERPRISE_SCHEMA.lower():
            if value is None:
                continue
            if not isinstance(value, dict):
                raise errors.bad_request(f"{ENTERPRISE_SCHEMA} must be an object.")
            state[ENTERPRISE_SCHEMA] = {k: v for k, v in value.items() if ENTERPRISE.attr(k)}
        elif lowered.startswith(ENTERPRISE_SCHEMA.lower() + ":"):
            attr = ENTERPRISE.attr(key[len(ENTERPRISE_SCHEMA) + 1:])
            if attr:
                state.setdefault(ENTERPRISE_SCHEMA, {})[attr.name] = value
        elif custom.is_custom_key(key):
            # Kept, never dropped: Entra's top-level urn:…:User:<attribute> keys (entra-scim.md §9),
            # with or without their URN in schemas, and extension objects.
            custom.document_key(state, key, value)
        elif lowered.startswith("urn:"):
            continue  # the core schema's URN as a key: not an attribute
        elif lowered == "externalid":
            state["externalId"] = value
        else:
            attr = USER.attr(key)
            if attr is not None and attr.mutability != "readOnly":
                state[attr.name] = value
    return state


def _keys(container: Any) -> dict[str, Any]:
    """``container``'s values by lower-cased key (attribute names are case-insensitive, RFC 7643 §2.1);
    the first spelling wins, as in ``_get``. Built once per object instead of a scan per attribute."""
    index: dict[str, Any] = {}
    if isinstance(container, dict):
        for key, value in container.items():
            index.setdefault(key.lower() if isinstance(key, str) else key, value)
    return index


# (attribute, its name lower-cased) for the loops below, computed once.
_SIMPLE_USER_KEYS = [(a, a.name.lower()) for a in _SIMPLE_USER_ATTRS if a.name != "userName" and a.field]
_NAME_KEYS = [(a, a.name.lower()) for a in _NAME.sub_attributes]
_MULTI_USER_KEYS = [(a, a.name.lower()) for a in _MULTI_USER_ATTRS]
_ENTERPRISE_KEYS = [(a, a.name.lower()) for a in _ENTERPRISE_SIMPLE]


def changes_from_state(state: dict, *, replace: bool) -> dict[str, Any]:
    """Directory field values for a SCIM state. ``replace`` clears what is absent (PUT)."""
    changes: dict[str, Any] = {}

    def put(field: str, present: bool, value: Any) -> None:
        if present or replace:
            changes[field] = value

    core = _keys(state)
    user_name = core.get("username")
    if not isinstance(user_name, str) or not user_name.strip():
        raise errors.bad_request("userName is required and must be a non-empty string.")
    changes["user_name"] = user_name
    put("external_id", "externalid" in core, _check_string("externalId", core.get("externalid")))
    for attr, key in _SIMPLE_USER_KEYS:
        present = key in core
        value = core.get(key)
        if attr.type == "boolean":
            if present and value is not None:
                changes[attr.field] = compat.coerce_boolean(value, attr.name)
            elif replace:
                changes[attr.field] = True  # active defaults to true (RFC 7643 §4.1.1)
            continue
        put(attr.field, present, _check_string(attr.name, compat.unwrap_single_value(value)))
    name = core.get("name")
    if name is not None and not isinstance(name, dict):
        raise errors.bad_request("name must be an object.")
    name_keys = _keys(name)
    for sub, key in _NAME_KEYS:
        put(sub.field or "", key in name_keys, _check_string(f"name.{sub.name}", name_keys.get(key)))
    for attr, key in _MULTI_USER_KEYS:
        clean = app_roles_clean if attr is _ROLES else lambda value, attr=attr: _clean_elements(attr, value)
        put(attr.field or "", key in core, clean(core.get(key)))
    enterprise = state.get(ENTERPRISE_SCHEMA)
    if enterprise is not None and not isinstance(enterprise, dict):
        raise errors.bad_request(f"{ENTERPRISE_SCHEMA} must be an object.")
    extension = _keys(enterprise)
    for attr, key in _ENTERPRISE_KEYS:
        put(attr.field or "", key in extension,
            _check_string(attr.name, compat.unwrap_single_value(extension.get(key))))
    if "manager" in extension or replace:
        manager = compat.manager_id_from(extension.get("manager"))
        if manager is not None:
            try:
                manager = uuid.UUID(manager)
            except ValueError:
                raise errors.bad_request(f"manager {manager!r} is not the id of a user in this directory.") from None
        changes["manager_id"] = manager
    present, values = custom.values_from_state(state)
    put("custom_attributes", present, values)
    return changes


# The directory's attribute names as SCIM spells them, so that an error names what the client sent.
_SCIM_NAMES: dict[str, str] = {
    **{a.field: a.name for a in (*USER.attributes, *ENTERPRISE.attributes) if a.field},
    **{sub.field: f"name.{sub.name}" for sub in _NAME.sub_attributes if sub.field},
}


def _translate(exc: Exception) -> errors.ScimError:
    if isinstance(exc, UniquenessConflict):
        return errors.conflict(str(exc))
    if isinstance(exc, LastAdminError):
        return errors.mutability(str(exc))
    if isinstance(exc, InvalidValue):
        return errors.bad_request(f"{_SCIM_NAMES.get(exc.attribute, exc.attribute)}: {exc.message}")
    return errors.bad_request(str(exc))


class ResourceMeta:
    """``location`` and ``meta`` shared by both adapters (RFC 7643 §3.1).

    An adapter made with ``obj=None`` stands for a resource being created: its
    ``save()`` creates it and sets ``obj`` (a POST builds no placeholder model
    instance that would be thrown away)."""

    resource_type: str
    endpoint: str
    obj: Any
    request: Any
    id: str

    @property
    def creating(self) -> bool:
        return self.obj is None or self.obj._state.adding

    @property
    def location(self) -> str:
        return scim_url(self.request, self.endpoint, self.id)

    @property
    def meta(self) -> dict:
        return {
            "resourceType": self.resource_type, "created": _iso(self.obj.created),
            "lastModified": _iso(self.obj.last_modified), "location": self.location,
            "version": f'W/"{self.obj.version}"',
        }


class ScimUser(ResourceMeta, scim_adapters.SCIMMixin):
    """Adapter for ``directory.Person``."""

    id_field = "id"
    url_name = "scim:users"
    resource_type = "User"
    endpoint = "Users"

    def __init__(self, obj: Person, request: Any = None, groups: list[tuple[Any, str]] | None = None) -> None:
        super().__init__(obj, request=request)
        # What the recorded SCIM state writes: the directory changes, and the app roles when they
        # changed (written apart: a change of role sources). None until a document or PATCH is recorded.
        self.pending: tuple[dict[str, Any], list[dict] | None] | None = None
        self._groups = groups
        # Set by a caller that read ``obj`` without locking it: save() then writes only
        # if the row is still at this version (directory.services.person_update).
        self.expected_version: int | None = None

    def groups_list(self) -> list[dict]:
        groups = self._groups
        if groups is None:
            groups = list(self.obj.memberships.values_list("group_id", "group__display_name"))
        return [
            {"value": str(gid), "$ref": scim_url(self.request, "Groups", str(gid)),
             "display": name, "type": "direct"}
            for gid, name in groups
        ]

    def to_dict(self, include_groups: bool = True, manager_name: str | None = None) -> dict:
        """The full SCIM User document. ``manager_name`` avoids a query when known."""
        state = person_state(self.obj)
        doc: dict[str, Any] = {"schemas": [USER_SCHEMA], "id": self.id}
        enterprise = state.pop(ENTERPRISE_SCHEMA, None)
        extensions = [key for key in state if custom.is_extension_urn(key)]
        doc.update(state)
        if include_groups:
            doc["groups"] = self.groups_list()
        if enterprise:
            doc["schemas"].append(ENTERPRISE_SCHEMA)
            manager = enterprise.get("manager")
            if manager:
                manager["$ref"] = scim_url(self.request, "Users", manager["value"])
                name = manager_name
                if name is None:
                    name = Person.objects.filter(pk=self.obj.manager_id).values_list("display_name", flat=True).first()
                if name:
                    manager["displayName"] = name
            doc[ENTERPRISE_SCHEMA] = enterprise
        doc["schemas"] += extensions  # custom attributes, under their URN as stored
        doc["meta"] = self.meta
        return doc

    def from_dict(self, d: dict) -> None:
        """Record the document's state; written by ``save()``."""
        self.pending = self.split_roles(changes_from_state(state_from_document(d), replace=not self.creating))

    def handle_operations(self, operations: Any) -> None:
        """Apply a PATCH to the user's SCIM state; written by ``save()``."""
        state = _USER_ENGINE.apply(person_state(self.obj), operations)
        self.pending = self.split_roles(changes_from_state(state, replace=True))

    def split_roles(self, changes: dict[str, Any]) -> tuple[dict[str, Any], list[dict] | None]:
        """``changes`` without ``roles``, and the roles when they differ from what is stored."""
        roles = changes.pop("roles", None)
        if roles is not None and roles == ([] if self.creating else (self.obj.roles or [])):
            roles = None
        return changes, roles

    def changes_app_roles(self) -> bool:
        """Whether the recorded state changes the app roles: a change of role sources, which
        recomputes the person's role, so it takes the view's locked path."""
        return self.pending is not None and self.pending[1] is not None

    def save(self) -> None:
        """Validate the recorded state and call the directory's services: one for the attributes,
        and one for the app roles when they changed, in one transaction."""
        if self.pending is None:
            return
        changes, roles = self.pending
        actor = request_actor(self.request)
        catalog = self.custom_catalog(changes)
        try:
            with services.single_transaction() if roles is not None else nullcontext():
                if self.creating:
                    user_name = changes.pop("user_name")
                    changes = {k: v for k, v in changes.items() if v not in (None, [])}
                    self.obj = services.person_create(
                        tenant=self.request.tenant, actor=actor, user_name=user_name, source=Source.SCIM,
                        custom_catalog=catalog, **changes
                    )
                else:
                    self.obj = services.person_update(person=self.obj, actor=actor, changes=changes,
                                                      expected_version=self.expected_version, custom_catalog=catalog)
                if roles is not None:
                    integration = self.request.scim_integration
                    entry = kind_get(integration.kind)
                    services.person_app_roles_set(
                        person=self.obj, roles=roles, integration_kind=integration.kind, actor=actor,
                        provider=entry.provider if entry else integration.kind,
                    )
        except (UniquenessConflict, InvalidValue, LastAdminError) as exc:
            raise _translate(exc) from None

    def custom_catalog(self, changes: dict[str, Any]) -> Catalog | None:
        """The tenant's custom attributes when ``changes`` changes a custom value (else no query), and
        the request log's note on the undeclared ones kept ("kept 1 undeclared attribute: …")."""
        values = changes.get("custom_attributes")
        old = {} if self.creating else (self.obj.custom_attributes or {})
        if not values or values == old:
            return None
        catalog = custom.catalog(self.request)
        kept = undeclared_changed(values, old, catalog)
        if kept:
            self.request.scim_note = (f"kept {len(kept)} undeclared attribute{'s' if len(kept) != 1 else ''}: "
                                      + ", ".join(kept))
        return catalog

    def delete(self) -> None:
        """Remove the person from the directory (memberships go with them)."""
        try:
            services.person_delete(person=self.obj, actor=request_actor(self.request))
        except LastAdminError as exc:
            raise _translate(exc) from None

    @classmethod
    def resource_type_dict(cls, request: Any = None) -> dict:
        """Relative endpoint (/Users), as RFC 7643 §6 shows and conformance tools expect."""
        return resource_type_doc("User", request)


# --- Groups --------------------------------------------------------------------------


class MemberChanges:
    """The net effect of a PATCH's member operations, applied in request order."""

    def __init__(self) -> None:
        self.clear = False
        self.add: dict[str, None] = {}
        self.remove: dict[str, None] = {}

    def added(self, ids: list[str]) -> None:
        for member_id in ids:
            self.remove.pop(member_id, None)
            self.add[member_id] = None

    def removed(self, ids: list[str]) -> None:
        for member_id in ids:
            self.add.pop(member_id, None)
            self.remove[member_id] = None

    def removed_all(self) -> None:
        self.clear, self.add, self.remove = True, {}, {}

    def __bool__(self) -> bool:
        return self.clear or bool(self.add) or bool(self.remove)


def _member_ids(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise errors.bad_request("members must be a list of objects with a value.")
    ids = []
    for member in value:
        member_id = _get(member, "value") if isinstance(member, dict) else None
        if not isinstance(member_id, str) or not member_id:
            raise errors.bad_request("Each member needs a value: the id of a user.")
        ids.append(member_id)
    return ids


class ScimGroup(ResourceMeta, scim_adapters.SCIMMixin):
    """Adapter for ``directory.Group``; members are never loaded unless returned."""

    id_field = "id"
    url_name = "scim:groups"
    resource_type = "Group"
    endpoint = "Groups"

    def __init__(self, obj: Group, request: Any = None, members: list[tuple[Any, str]] | None = None) -> None:
        super().__init__(obj, request=request)
        self._state: dict | None = None
        self._members = MemberChanges()
        self._replace_members: list[str] | None = None
        self._member_rows = members

    def members_list(self) -> list[dict]:
        rows = self._member_rows
        if rows is None:
            rows = list(self.obj.memberships.order_by("id").values_list("person_id", "person__display_name"))
        base = scim_url(self.request, "Users")
        return [
            {"value": str(pid), "$ref": f"{base}/{pid}", "type": "User", **({"display": name} if name else {})}
            for pid, name in rows
        ]

    def to_dict(self, include_members: bool = True) -> dict:
        doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": self.id, "displayName": self.obj.display_name}
        if self.obj.external_id is not None:
            doc["externalId"] = self.obj.external_id
        if include_members:
            doc["members"] = self.members_list()
        doc["meta"] = self.meta
        return doc

    def from_dict(self, d: dict) -> None:
        """Record displayName, externalId and (for POST/PUT) the full member list."""
        if not isinstance(d, dict):
            raise errors.bad_request("The request body must be a JSON object.", "invalidSyntax")
        display_name = _get(d, "displayName")
        if not isinstance(display_name, str) or not display_name.strip():
            raise errors.bad_request("displayName is required and must be a non-empty string.")
        external_id = _get(d, "externalId")
        _check_string("externalId", external_id)
        self._state = {"displayName": display_name, "externalId": external_id}
        self._replace_members = _member_ids(_get(d, "members"))

    def handle_operations(self, operations: Any) -> None:
        """Split member operations (applied as set changes) from attribute operations."""
        state = {"displayName": self.obj.display_name}
        if self.obj.external_id is not None:
            state["externalId"] = self.obj.external_id
        if not isinstance(operations, list) or not operations:
            _GROUP_ENGINE.apply(state, operations)  # raises the right error
        other = []
        for operation in operations:
            rest = self._take_member_operation(operation) if isinstance(operation, dict) else operation
            if rest is not None:
                other.append(rest)
        if other:
            state = _GROUP_ENGINE.apply(state, other)
        self._state = state

    def _take_member_operation(self, operation: dict) -> dict | None:
        """Record a members operation; returns what is left for the attribute engine."""
        from provisioning.scim.filter_parser import FilterSyntaxError, parse_patch_path

        op = compat.normalize_op(_get(operation, "op"))
        path = _get(operation, "path")
        value = _get(operation, "value")
        if path in (None, "") and isinstance(value, dict) and _has(value, "members"):
            # Path-less add/replace carrying members alongside other attributes.
            self._apply_members(op, _member_ids(_get(value, "members")))
            rest = {k: v for k, v in value.items() if k.lower() != "members"}
            return {"op": op, "value": rest} if rest else None
        if not isinstance(path, str):
            return operation
        try:
            parsed = parse_patch_path(path)
        except FilterSyntaxError as exc:
            raise errors.invalid_path(f"Invalid path {path!r}: {exc}") from None
        if parsed.path.attr.lower() != "members" or parsed.path.uri not in (None, GROUP_SCHEMA):
            return operation
        if parsed.filter is not None:
            if op != "remove":
                raise errors.invalid_path("Only remove supports a filter on members.")
            self._members.removed(self._ids_matching(parsed.filter))
            return None
        if parsed.path.sub:
            raise errors.invalid_path("members sub-attributes cannot be changed.")
        if op == "remove":
            if value in (None, [], ""):
                self._members.removed_all()
            else:
                # Entra's default mode: remove only the listed members (rule 7).
                self._members.removed(_member_ids(value))
            return None
        self._apply_members(op, _member_ids(value))
        return None

    def _apply_members(self, op: str, ids: list[str]) -> None:
        if op == "replace":
            self._members.removed_all()
        self._members.added(ids)

    def _ids_matching(self, expr: Any) -> list[str]:
        """Member ids selected by a value filter such as ``value eq "id"``."""
        from provisioning.scim.filter_parser import Compare, Logical

        if isinstance(expr, Compare) and expr.op == "eq" and (expr.path.sub or expr.path.attr).lower() == "value":
            return [str(expr.value)]
        if isinstance(expr, Logical) and expr.op == "or":
            return self._ids_matching(expr.left) + self._ids_matching(expr.right)
        # Anything richer: evaluate against the current members.
        from provisioning.scim.filters import element_matches

        attr = GROUP.attr("members")
        return [m["value"] for m in self.members_list() if element_matches(expr, m, attr)]

    def save(self) -> None:
        """One transaction: attributes, then member removals and additions."""
        from django.db import transaction

        actor = request_actor(self.request)
        state = self._state or {}
        try:
            # No savepoint: inside the view's transaction any error fails the whole request anyway.
            with transaction.atomic(savepoint=False):
                if self.creating:
                    self.obj = services.group_create(
                        tenant=self.request.tenant, actor=actor, display_name=state["displayName"],
                        external_id=state.get("externalId"), source=Source.SCIM,
                        member_ids=self._replace_members or (),
                    )
                    return
                if self._state is not None:
                    external_id = state.get("externalId")
                    _check_string("externalId", external_id)
                    display_name = state.get("displayName")
                    if not isinstance(display_name, str) or not display_name.strip():
                        raise errors.bad_request("displayName is required and must be a non-empty string.")
                    self.obj = services.group_update(
                        group=self.obj, actor=actor, display_name=display_name, external_id=external_id,
                    )
                if self._replace_members is not None:
                    self._members.removed_all()
                    self._members.added(self._replace_members)
                self._save_members(actor)
        except (UniquenessConflict, InvalidValue) as exc:
            raise _translate(exc) from None

    def _save_members(self, actor: Actor) -> None:
        changes = self._members
        if not changes:
            return
        if changes.clear:
            keep = set(changes.add)
            current = {str(pid) for pid in self.obj.memberships.values_list("person_id", flat=True)}
            to_remove = [pid for pid in current if pid not in keep]
            if to_remove:
                services.group_members_remove(group=self.obj, actor=actor, person_ids=to_remove)
        elif changes.remove:
            services.group_members_remove(group=self.obj, actor=actor, person_ids=list(changes.remove))
        if changes.add:
            services.group_members_add(group=self.obj, actor=actor, person_ids=list(changes.add))

    def delete(self) -> None:
        """Remove the group; its members stay in the directory."""
        services.group_delete(group=self.obj, actor=request_actor(self.request))

    @classmethod
    def resource_type_dict(cls, request: Any = None) -> dict:
        return resource_type_doc("Group", request)

