"""Custom extension attributes on SCIM Users: the tenant's catalogue per request, its /Schemas
documents, and filters on declared attributes (directory.custom_attributes holds the rules).

Microsoft Entra ID sends each custom attribute as a top-level key
``urn:ietf:params:scim:schemas:extension:<Name>:2.0:User:<attribute>`` and
leaves that URN out of ``schemas``; other clients
nest them in an object under the extension's URN. A User's SCIM state holds
them the second way, one object per extension URN, as the enterprise
extension is held.
"""

from __future__ import annotations

from typing import Any

from django.db.models import JSONField, Q, Value
from django.db.models.fields.json import (
    KeyTextTransform,
    KeyTransform,
    KeyTransformExact,
    KeyTransformGt,
    KeyTransformGte,
    KeyTransformLt,
    KeyTransformLte,
)
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)

from directory.custom_attributes import RESERVED_SCHEMAS, Catalog, Declared, catalog_load, parse_datetime_safe
from directory.models import CustomAttributeType
from provisioning import token_cache
from provisioning.scim import errors
from provisioning.scim.constants import SCHEMA_SCHEMA
from provisioning.scim.filter_parser import Compare, Path

FIELD = "custom_attributes"


def is_extension_urn(key: Any) -> bool:
    """Whether ``key`` names a custom User extension (``urn:…:2.0:User``): any ``urn:`` but the core and
    enterprise schemas that ends in ``:User``, as Entra's and RFC 7643's extension URNs do. Other URNs
    (another resource's schema, ``urn:example:unknown``) are ignored as before (RFC 7644 §3.3)."""
    return (isinstance(key, str) and key[:4].lower() == "urn:" and key.lower().endswith(":user")
            and key.lower() not in RESERVED_SCHEMAS)


def is_custom_key(key: Any) -> bool:
    """A custom extension, or one attribute of it (``urn:…:2.0:User:badgeNumber``)."""
    return is_extension_urn(key) or (isinstance(key, str) and is_extension_urn(key.rpartition(":")[0]))


def state_key(state: dict, urn: str) -> str:
    """The key ``urn`` has in ``state`` (URNs are case-insensitive), or ``urn`` itself."""
    lowered = urn.lower()
    return next((k for k in state if isinstance(k, str) and k.lower() == lowered), urn)


def catalog(request: Any) -> Catalog:
    """The tenant's custom attributes, for a request that needs them: kept in the process like its
    verified tokens and forgotten when any declaration changes (provisioning.token_cache), so a sync
    whose every user carries custom attributes reads them once, not once per write."""
    found = getattr(request, "scim_custom_catalog", None)
    if found is None:
        tenant_id = request.tenant.pk
        found = request.scim_custom_catalog = token_cache.cached_tenant_value(
            "custom_attributes", tenant_id, lambda: catalog_load(tenant_id=tenant_id))
    return found


def values_from_state(state: dict) -> tuple[bool, dict[str, Any]]:
    """Whether ``state`` holds any custom extension object, and its values by full name (nulls dropped)."""
    from provisioning.scim import compat

    present, values = False, {}
    for key, extension in state.items():
        if not is_extension_urn(key):
            continue
        present = True
        if not isinstance(extension, dict):
            raise errors.bad_request(f"{key} must be an object of attributes.")
        for name, value in extension.items():
            if name.lower() == "schemas":  # scim2-models puts an extension's own schemas in it
                continue
            value = compat.unwrap_single_value(value)
            if value is not None:
                values[f"{key}:{name}"] = value
    return present, values


def state_from_values(state: dict, values: dict[str, Any]) -> None:
    """Put a person's stored values into its SCIM state, one object per extension URN."""
    for key, value in values.items():
        schema, _, name = key.rpartition(":")
        state.setdefault(schema, {})[name] = value


def document_key(state: dict, key: str, value: Any) -> None:
    """A custom key of a POSTed or PUT document into ``state``: an extension object, or Entra's
    top-level ``urn:…:User:<attribute>`` (§9)."""
    if is_extension_urn(key):
        if value is None:
            return
        if not isinstance(value, dict):
            raise errors.bad_request(f"{key} must be an object of attributes.")
        extension = state.setdefault(state_key(state, key), {})
        for name, item in value.items():
            if name.lower() != "schemas":
                extension[name] = item
        return
    schema, _, name = key.rpartition(":")
    if not name or schema.lower() == "urn":
        raise errors.bad_request(f"{key} is not a custom attribute name (urn:…:User:<attribute>).")
    state.setdefault(state_key(state, schema), {})[name] = value


# --- /Schemas and /ResourceTypes ------------------------------------------------------

_SCIM_TYPES = {CustomAttributeType.STRING: "string", CustomAttributeType.INTEGER: "integer",
               CustomAttributeType.BOOLEAN: "boolean", CustomAttributeType.DATE_TIME: "dateTime"}


def _schema_name(urn: str) -> str:
    parts = urn.split(":")
    lowered = [p.lower() for p in parts]
    if "extension" in lowered and lowered.index("extension") + 1 < len(parts):
        return parts[lowered.index("extension") + 1]
    return urn


def schema_docs(found: Catalog, base: str) -> list[dict]:
    """One schema per declared extension URN of the tenant asking (RFC 7643 §7)."""
    docs = []
    for urn, attributes in found.by_schema().items():
        docs.append({
            "schemas": [SCHEMA_SCHEMA], "id": urn, "name": _schema_name(urn),
            "description": "Custom attributes declared in SpaceIQ",
            "attributes": [_attribute_doc(a) for a in sorted(attributes, key=lambda a: a.name.lower())],
            "meta": {"resourceType": "Schema", "location": f"{base}/scim/Schemas/{urn}"},
        })
    return docs


def _attribute_doc(declared: Declared) -> dict:
    return {
        "name": declared.name, "type": _SCIM_TYPES[declared.type], "multiValued": False,
        "description": declared.name, "required": False, "caseExact": False, "mutability": "readWrite",
        "returned": "default", "uniqueness": "none",
    }


def schema_extensions(found: Catalog) -> list[dict]:
    return [{"schema": urn, "required": False} for urn in found.by_schema()]


# --- Filters ---------------------------------------------------------------------------

_TEXT_LOOKUPS = {"eq": Exact, "co": Contains, "sw": StartsWith, "ew": EndsWith, "gt": GreaterThan,
                 "ge": GreaterThanOrEqual, "lt": LessThan, "le": LessThanOrEqual}
_JSON_LOOKUPS = {"eq": KeyTransformExact, "gt": KeyTransformGt, "ge": KeyTransformGte, "lt": KeyTransformLt,
                 "le": KeyTransformLte}


def declared_for_filter(found: Catalog, path: Path) -> Declared:
    """The declared attribute a filter names, or 400 invalidFilter (an undeclared one is never ignored)."""
    declared = found.declared_for(f"{path.uri}:{path.attr}") if path.attr else None
    if declared is None:
        raise errors.invalid_filter(f"unsupported filter attribute {path}: only declared custom attributes "
                                    f"can be filtered on")
    if path.sub:
        raise errors.invalid_filter(f"{declared.full_name} has no sub-attributes")
    return declared


def compare_q(declared: Declared, expr: Compare) -> Q:
    """``expr`` on a declared attribute's values, in the database (JSON key lookups on both backends)."""
    key, op, value = declared.full_name, expr.op, expr.value
    present = Q(**{f"{FIELD}__has_key": key})
    if op == "pr":
        return present
    if value is None:
        if op in ("eq", "ne"):
            return ~present if op == "eq" else present
        raise errors.invalid_filter(f"null can only be compared with eq or ne ({key})")
    negate = op == "ne"
    op = "eq" if negate else op
    if declared.type == CustomAttributeType.STRING or declared.type == CustomAttributeType.DATE_TIME:
        if not isinstance(value, str):
            raise errors.invalid_filter(f"{key} is a string; compare it with a string value")
        if declared.type == CustomAttributeType.DATE_TIME:
            if parse_datetime_safe(value) is None:
                raise errors.invalid_filter(f"{key} is a dateTime; compare it with an ISO 8601 timestamp")
            if op in ("co", "sw", "ew"):
                raise errors.invalid_filter(f"{op} cannot be used on the dateTime {key}")
            # Compared as text, as stored: one format compares in time order (Entra's: UTC, "Z").
            q = Q(_TEXT_LOOKUPS[op](KeyTextTransform(key, FIELD), Value(value)))
        else:
            # Strings compare case-insensitively (caseExact false in /Schemas).
            q = Q(_TEXT_LOOKUPS[op](Lower(KeyTextTransform(key, FIELD)), Lower(Value(value))))
    elif declared.type == CustomAttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise errors.invalid_filter(f"{key} is an integer; compare it with a whole number")
        if op not in _JSON_LOOKUPS:
            raise errors.invalid_filter(f"{op} cannot be used on the integer {key}")
        q = Q(_JSON_LOOKUPS[op](KeyTransform(key, FIELD), Value(value, output_field=JSONField())))
    else:
        if op != "eq":
            raise errors.invalid_filter(f"{op} cannot be used on the boolean {key}")
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            value = value.strip().lower() == "true"  # Entra: booleans as "True"/"False" (rule 3)
        if not isinstance(value, bool):
            raise errors.invalid_filter(f"{key} is a boolean; compare it with true or false")
        q = Q(KeyTransformExact(KeyTransform(key, FIELD), Value(value, output_field=JSONField())))
    return (~q | ~present) if negate else q
