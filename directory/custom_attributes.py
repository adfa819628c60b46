"""Custom extension attributes: their names, types and limits, and a tenant's catalogue of them.

An identity provider sends a custom attribute as one key,
``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User:<attribute>`` (Microsoft
Entra ID's form), or as ``<attribute>`` inside an
object under the extension's URN. Either way a person keeps it under that full
name, in ``Person.custom_attributes``, with the value as sent. A tenant
*declares* the attributes it expects (``CustomAttribute``): their values are
type-checked, advertised in /Schemas, filterable and shown in the console.
Anything else is still kept, as sent, and recorded as received
(``ReceivedCustomAttribute``) until someone declares it.

Reads only: the writes are ``directory.services.custom_attributes`` and the
person services.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, CharField, JSONField, Q, Value
from django.db.models.fields.json import KeyTextTransform, KeyTransform, KeyTransformExact
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils.dateparse import parse_datetime

from directory.errors import InvalidValue
from directory.models import CustomAttribute, CustomAttributeType, Person, ReceivedCustomAttribute, Tenant

# Ours: what "Add attribute" declares under. Attributes another schema carries keep their own URN.
DEFAULT_SCHEMA = "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"

# Limits (README, "Custom attributes"): enforced with an error naming them.
MAX_DECLARED_PER_TENANT = 50
MAX_RECEIVED_PER_TENANT = 100  # undeclared names kept per tenant; beyond, a 400 asks to declare or unmap
MAX_VALUE_LENGTH = 1024  # characters of a string value
NAME_MAX_LENGTH = 64
SCHEMA_MAX_LENGTH = 200
INTEGER_MAX = 2**63 - 1

# RFC 7643 §2.1 ATTRNAME: a letter, then letters, digits, "-" and "_".
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SCHEMA = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9._:-]*[A-Za-z0-9]")
# Schemas whose attributes are our columns, never custom attributes.
RESERVED_SCHEMAS = frozenset({
    "urn:ietf:params:scim:schemas:core:2.0:user",
    "urn:ietf:params:scim:schemas:core:2.0:group",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
})


def split_full_name(key: Any) -> tuple[str, str] | None:
    """``urn:…:User:badgeNumber`` → (``urn:…:User``, ``badgeNumber``); None for anything else."""
    if not isinstance(key, str) or key[:4].lower() != "urn:":
        return None
    schema, _, name = key.rpartition(":")
    if not schema or not name or schema.lower() == "urn":
        return None
    return schema, name


def name_check(name: Any) -> str:
    """The attribute name, or InvalidValue saying what a name may be."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or len(name) > NAME_MAX_LENGTH:
        raise InvalidValue(
            "name", f"{str(name)[:80]!r} is not an attribute name: start with a letter, then letters, digits, "
                    f"- or _, at most {NAME_MAX_LENGTH} characters")
    return name


def schema_check(schema: Any) -> str:
    if (not isinstance(schema, str) or not _SCHEMA.fullmatch(schema) or len(schema) > SCHEMA_MAX_LENGTH
            or schema.lower() in RESERVED_SCHEMAS or not schema.lower().endswith(":user")):
        raise InvalidValue(
            "schema", f"{str(schema)[:80]!r} is not a custom extension URN (urn:…:2.0:User, at most "
                      f"{SCHEMA_MAX_LENGTH} characters, not the core or enterprise schema)")
    return schema


def json_type(value: Any) -> str:
    """The JSON type of a value as sent: "boolean", "number" or "string"."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return "string"


# The type Declare proposes for a received attribute, from the JSON type of its first value.
PROPOSED_TYPE = {"boolean": CustomAttributeType.BOOLEAN, "number": CustomAttributeType.INTEGER,
                 "string": CustomAttributeType.STRING}


@dataclass(frozen=True)
class Declared:
    schema: str
    name: str
    type: str
    shown_in_directory: bool

    @property
    def full_name(self) -> str:
        return f"{self.schema}:{self.name}"


@dataclass
class Catalog:
    """A tenant's declared attributes and the undeclared ones already received, by lower-cased full name."""

    declared: dict[str, Declared] = field(default_factory=dict)
    received: dict[str, str] = field(default_factory=dict)

    def declared_for(self, full_name: str) -> Declared | None:
        return self.declared.get(full_name.lower())

    def by_schema(self) -> dict[str, list[Declared]]:
        """The declared attributes per extension URN (the spelling of the first one), URNs in order."""
        schemas: dict[str, list[Declared]] = {}
        spelling: dict[str, str] = {}
        for declared in sorted(self.declared.values(), key=lambda d: (d.schema.lower(), d.name.lower())):
            schema = spelling.setdefault(declared.schema.lower(), declared.schema)
            schemas.setdefault(schema, []).append(declared)
        return schemas


def catalog_load(*, tenant_id: int) -> Catalog:
    """The tenant's catalogue, in one query (both tables, UNION ALL)."""
    declared = CustomAttribute.objects.filter(tenant_id=tenant_id).order_by().values_list(
        "schema", "name", "type", "shown_in_directory")
    received = ReceivedCustomAttribute.objects.filter(tenant_id=tenant_id).order_by().values_list(
        "schema", "name", Value("", output_field=CharField()), Value(False, output_field=BooleanField()))
    catalog = Catalog()
    for schema, name, type_, shown in declared.union(received, all=True):
        full_name = f"{schema}:{name}"
        if type_:
            catalog.declared[full_name.lower()] = Declared(schema, name, type_, shown)
        else:
            catalog.received[full_name.lower()] = full_name
    return catalog


def custom_attributes_declared(*, tenant: Tenant) -> list[CustomAttribute]:
    """The tenant's declared attributes, by URN and name."""
    return list(CustomAttribute.objects.filter(tenant=tenant).order_by(Lower("schema"), Lower("name"), "id"))


def custom_attribute_get(*, tenant: Tenant, attribute_id: Any) -> CustomAttribute | None:
    try:
        pk = int(attribute_id)
    except (TypeError, ValueError):
        return None
    return CustomAttribute.objects.filter(tenant=tenant, pk=pk).first()


def custom_attributes_received(*, tenant: Tenant) -> list[ReceivedCustomAttribute]:
    """The undeclared attributes the tenant received, oldest first."""
    return list(ReceivedCustomAttribute.objects.filter(tenant=tenant).order_by("first_seen", "id"))


def received_custom_attribute_get(*, tenant: Tenant, received_id: Any) -> ReceivedCustomAttribute | None:
    try:
        pk = int(received_id)
    except (TypeError, ValueError):
        return None
    return ReceivedCustomAttribute.objects.filter(tenant=tenant, pk=pk).first()


def custom_attributes_shown(*, person: Person) -> list[tuple[CustomAttribute, Any]]:
    """The person's values of the tenant's attributes marked Shown in directory (None: no value)."""
    values = {k.lower(): v for k, v in (person.custom_attributes or {}).items()}
    shown = CustomAttribute.objects.filter(tenant_id=person.tenant_id, shown_in_directory=True)
    return [(a, values.get(a.full_name.lower())) for a in shown.order_by(Lower("schema"), Lower("name"), "id")]


def custom_value_q(attribute: CustomAttribute, text: str) -> Q:
    """People whose value of ``attribute`` equals ``text`` as typed in the console's People filter:
    a string ignoring case, a whole number, yes/no/true/false, a date-time as stored."""
    key = attribute.full_name
    text = text.strip()
    if attribute.type == CustomAttributeType.STRING:
        return Q(Exact(Lower(KeyTextTransform(key, "custom_attributes")), Lower(Value(text))))
    if attribute.type == CustomAttributeType.INTEGER:
        try:
            wanted: Any = int(text)
        except ValueError:
            return Q(pk__in=[])
    elif attribute.type == CustomAttributeType.BOOLEAN:
        if text.lower() not in ("true", "false", "yes", "no"):
            return Q(pk__in=[])
        wanted = text.lower() in ("true", "yes")
    else:
        return Q(Exact(KeyTextTransform(key, "custom_attributes"), Value(text)))
    return Q(KeyTransformExact(KeyTransform(key, "custom_attributes"), Value(wanted, output_field=JSONField())))


def value_check(declared: Declared, value: Any) -> Any:
    """The value of a declared attribute as stored, or InvalidValue naming the attribute.

    Strings and date-times are stored as sent; a Boolean may come as the string
    "True"/"False" (Microsoft Entra ID sends booleans that way, entra-scim.md rule 3)
    and is stored as a JSON boolean, as ``active`` is.
    """
    name, kind = declared.full_name, declared.type
    if kind == CustomAttributeType.STRING:
        if not isinstance(value, str):
            raise InvalidValue(name, f"must be a string (declared String), not {value!r}")
        return value_size_check(name, value)
    if kind == CustomAttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > INTEGER_MAX:
            raise InvalidValue(name, f"must be a whole number (declared Integer), not {str(value)[:80]!r}")
        return value
    if kind == CustomAttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise InvalidValue(name, f"must be true or false (declared Boolean), not {str(value)[:80]!r}")
    if not isinstance(value, str) or parse_datetime_safe(value) is None:
        raise InvalidValue(name, f"must be an ISO 8601 date-time such as 2025-01-31T09:00:00Z (declared "
                                 f"Date-time), not {str(value)[:80]!r}")
    return value


def parse_datetime_safe(value: str) -> Any:
    try:
        return parse_datetime(value)
    except ValueError:  # well-formed but impossible ("2025-13-01T00:00:00Z")
        return None


def value_size_check(name: str, value: str) -> str:
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidValue(name, f"must be at most {MAX_VALUE_LENGTH} characters")
    return value


def undeclared_value_check(name: str, value: Any) -> Any:
    """An undeclared value, kept as sent: a string, a number or a boolean (what Entra sends, §9)."""
    if isinstance(value, str):
        return value_size_check(name, value)
    if isinstance(value, bool) or (isinstance(value, int) and abs(value) <= INTEGER_MAX):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise InvalidValue(name, "must be a string, a number or a boolean")


@dataclass
class Cleaned:
    """``values_clean``'s result: the values to store, and the undeclared names seen for the first time
    ((schema, name, JSON type of the value))."""

    values: dict[str, Any]
    new_received: list[tuple[str, str, str]]


def values_structure_check(values: Any) -> None:
    """What every write of ``custom_attributes`` must be, before any catalogue is read."""
    if not isinstance(values, dict):
        raise InvalidValue("custom_attributes", "must be an object of full attribute names to values")
    for key in values:
        split = split_full_name(key)
        if split is None:
            raise InvalidValue(str(key)[:200], "is not a custom attribute name (urn:…:User:<attribute>)")


def values_clean(values: Mapping[str, Any], old: Mapping[str, Any], catalog: Catalog) -> Cleaned:
    """Check the values that change against the catalogue.

    A declared attribute is stored under its declared spelling and must fit
    its type; an undeclared one is kept as sent. Values that do not change are
    not checked again: one stored before its attribute was declared with
    another type does not make every later change of the person fail.
    """
    old_lower = {k.lower(): v for k, v in old.items()}
    cleaned: dict[str, Any] = {}
    new_received: dict[str, tuple[str, str, str]] = {}
    for key, value in values.items():
        if value is None:
            continue  # null clears (RFC 7644 §3.5.2.3)
        schema, name = split_full_name(key) or ("", "")
        declared = catalog.declared_for(key)
        lowered = key.lower()
        changed = lowered not in old_lower or old_lower[lowered] != value
        if declared is not None:
            cleaned[declared.full_name] = value_check(declared, value) if changed else value
            continue
        if changed:
            name_check_value(key, schema, name)
            undeclared_value_check(key, value)
            if lowered not in catalog.received and lowered not in new_received:
                new_received[lowered] = (schema, name, json_type(value))
        cleaned[catalog.received.get(lowered, key)] = value
    if new_received and len(catalog.received) + len(new_received) > MAX_RECEIVED_PER_TENANT:
        raise InvalidValue(
            next(iter(new_received.values()))[1],
            f"this directory already keeps {len(catalog.received)} undeclared custom attributes (at most "
            f"{MAX_RECEIVED_PER_TENANT}): declare the ones you need, or stop sending the others")
    return Cleaned(cleaned, list(new_received.values()))


def undeclared_changed(values: Mapping[str, Any], old: Mapping[str, Any], catalog: Catalog) -> list[str]:
    """The undeclared attributes whose value ``values`` sets or changes (what a request "kept")."""
    old_lower = {k.lower(): v for k, v in old.items()}
    return [key for key, value in values.items()
            if value is not None and catalog.declared_for(key) is None
            and (key.lower() not in old_lower or old_lower[key.lower()] != value)]


def name_check_value(key: str, schema: str, name: str) -> None:
    """An undeclared attribute's name and URN, as a value error naming the key as sent."""
    try:
        schema_check(schema)
        name_check(name)
    except InvalidValue as exc:
        raise InvalidValue(key[:200], str(exc).split(": ", 1)[-1]) from None
