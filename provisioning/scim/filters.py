"""SCIM filters → Django ``Q`` objects, evaluated in the database and scoped to a tenant.

Case-insensitive attributes (userName, emails, ... per RFC 7643) compare on
``LOWER(column)``, which the per-tenant expression indexes serve. Filters on
multi-valued attributes stored as JSON become an ``EXISTS`` over the array's
elements. Anything we cannot evaluate exactly is a 400 ``invalidFilter``
(Entra rule 8: never ignore a filter).
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.db.models import BooleanField, CharField, Exists, OuterRef, Q, TextField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.utils.dateparse import parse_datetime

from directory.custom_attributes import Catalog
from directory.models import Membership
from directory.services import canonical_user_name
from provisioning.scim import custom, errors
from provisioning.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from provisioning.scim.filter_parser import (
    Compare,
    FilterSyntaxError,
    Logical,
    Not,
    Path,
    ValuePath,
    parse_filter,
)
from provisioning.scim.schemas import COMMON, ENTERPRISE, GROUP, USER, Attr, Schema
from spaceiq_site import postgresql

CharField.register_lookup(Lower)
TextField.register_lookup(Lower)

_STRING_LOOKUPS = {"eq": "exact", "co": "contains", "sw": "startswith", "ew": "endswith",
                   "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
_NO_MATCH = Q(pk__in=[])


def _reject(detail: str) -> errors.ScimError:
    return errors.invalid_filter(detail)


def _as_bool(value: Any, path: Path) -> bool:
    # Entra sends booleans as "True"/"False" strings (rule 3), also inside filters.
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _reject(f"{path} is a boolean; compare it with true or false")


def _string_q(field: str, op: str, value: Any, *, case_exact: bool, path: Path) -> Q:
    if op == "pr":
        return Q(**{f"{field}__isnull": False}) & ~Q(**{field: ""})
    if value is None:
        if op == "eq":
            return Q(**{f"{field}__isnull": True})
        if op == "ne":
            return Q(**{f"{field}__isnull": False})
        raise _reject(f"null can only be compared with eq or ne ({path})")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _reject(f"{path} is a string; compare it with a string value")
    value = str(value)
    negate = op == "ne"
    lookup = _STRING_LOOKUPS["eq" if negate else op]
    if case_exact:
        q = Q(**{f"{field}__{lookup}": value})
    elif lookup == "exact" or lookup in ("gt", "gte", "lt", "lte"):
        # LOWER(column) = LOWER(value): the form the expression indexes serve. The
        # database lowers both sides, as the unique index does: Python's lower()
        # differs for some letters ("İ"), and a lookup must find what a POST clashes with.
        q = Q(**{f"{field}__lower__{lookup}": Lower(Value(value))})
    else:
        q = Q(**{f"{field}__i{lookup}": value})
    return ~q if negate else q


def _datetime_q(field: str, op: str, value: Any, path: Path) -> Q:
    if op == "pr":
        return Q(**{f"{field}__isnull": False})
    moment = parse_datetime(value) if isinstance(value, str) else None
    if not isinstance(moment, datetime):
        raise _reject(f"{path} is a dateTime; compare it with an ISO 8601 timestamp")
    lookups = {"eq": "exact", "ne": "exact", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}
    if op not in lookups:
        raise _reject(f"{op} cannot be used on the dateTime {path}")
    q = Q(**{f"{field}__{lookups[op]}": moment})
    return ~q if op == "ne" else q


def _bool_q(field: str, op: str, value: Any, path: Path) -> Q:
    if op == "pr":
        return Q(pk__isnull=False)
    if op not in ("eq", "ne"):
        raise _reject(f"{op} cannot be used on the boolean {path}")
    q = Q(**{field: _as_bool(value, path)})
    return ~q if op == "ne" else q


def _uuid_q(field: str, op: str, value: Any, path: Path) -> Q:
    if op == "pr":
        return Q(**{f"{field}__isnull": False})
    if op not in ("eq", "ne"):
        raise _reject(f"{path} only supports eq, ne and pr")
    try:
        q = Q(**{field: uuid.UUID(str(value))})
    except ValueError:
        q = _NO_MATCH  # not one of our ids, so nothing matches
    return ~q if op == "ne" else q


# --- JSON arrays (emails, phoneNumbers, addresses, ...) ---------------------------


class _Dialect:
    """Element access and string tests inside ``EXISTS`` over a JSON array."""

    def __init__(self) -> None:
        self.postgres = postgresql.in_use()

    def source(self, column: str) -> str:
        if self.postgres:
            return (
                f"jsonb_array_elements(CASE WHEN jsonb_typeof({column}) = 'array' "
                f"THEN {column} ELSE '[]'::jsonb END) AS e(v)"
            )
        return f"json_each(CASE WHEN json_type({column}) = 'array' THEN {column} ELSE '[]' END) AS e"

    def text(self, key: str) -> tuple[str, list[Any]]:
        if self.postgres:
            return "(e.v ->> %s)", [key]
        return "CAST(json_extract(e.value, %s) AS TEXT)", ["$." + '"' + key.replace('"', "") + '"']


def _element_sql(expr: Any, dialect: _Dialect, attr: Attr) -> tuple[str, list[Any]]:
    if isinstance(expr, Logical):
        left, lp = _element_sql(expr.left, dialect, attr)
        right, rp = _element_sql(expr.right, dialect, attr)
        return f"({left} {expr.op.upper()} {right})", lp + rp
    if isinstance(expr, Not):
        inner, params = _element_sql(expr.expr, dialect, attr)
        return f"(NOT COALESCE({inner}, FALSE))", params
    if not isinstance(expr, Compare):
        raise _reject("value filters cannot be nested")
    name = expr.path.sub or expr.path.attr
    sub = attr.sub(name)
    if sub is None or expr.path.uri:
        raise _reject(f"{attr.name} has no sub-attribute {name!r}")
    column, params = dialect.text(sub.name)
    if expr.op == "pr":
        return f"({column} IS NOT NULL AND {column} <> '')", params + params
    value = expr.value
    if sub.type == "boolean":
        if expr.op not in ("eq", "ne"):
            raise _reject(f"{expr.op} cannot be used on the boolean {attr.name}.{sub.name}")
        wanted = "true" if _as_bool(value, expr.path) else "false"
        truthy = f"LOWER(COALESCE({column}, 'false')) IN ('true', '1')"
        sql = truthy if wanted == "true" else f"NOT ({truthy})"
        return (f"NOT ({sql})" if expr.op == "ne" else sql), params
    if value is None:
        if expr.op in ("eq", "ne"):
            return f"({column} IS {'' if expr.op == 'eq' else 'NOT '}NULL)", params
        raise _reject("null can only be compared with eq or ne")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _reject(f"{attr.name}.{sub.name} is a string; compare it with a string value")
    value = str(value)
    lowered = f"LOWER({column})"
    if expr.op in ("eq", "ne"):
        sql = f"{lowered} = LOWER(%s)"
        if expr.op == "ne":
            sql = f"({column} IS NULL OR {lowered} <> LOWER(%s))"
        return sql, [*params, *(params if expr.op == "ne" else []), value]
    if expr.op == "co":
        position = "STRPOS" if dialect.postgres else "INSTR"
        return f"{position}({lowered}, LOWER(%s)) > 0", [*params, value]
    if expr.op == "sw":
        return f"SUBSTR({lowered}, 1, LENGTH(LOWER(%s))) = LOWER(%s)", [*params, value, value]
    if expr.op == "ew":
        suffix = (f"RIGHT({lowered}, LENGTH(LOWER(%s)))" if dialect.postgres
                  else f"SUBSTR({lowered}, -LENGTH(LOWER(%s)))")
        return f"{suffix} = LOWER(%s)", [*params, value, value]
    comparison = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[expr.op]
    return f"{lowered} {comparison} LOWER(%s)", [*params, value]


def _json_exists(table: str, attr: Attr, element_filter: Any) -> Q:
    dialect = _Dialect()
    condition, params = _element_sql(element_filter, dialect, attr)
    column = f'"{table}"."{attr.field}"'
    # Only our own identifiers reach the SQL text (the schema registry's field
    # names); every value the client sent is a bound parameter.
    sql = f"EXISTS (SELECT 1 FROM {dialect.source(column)} WHERE {condition})"  # noqa: S608
    return Q(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611


# --- Resolution of attribute paths ------------------------------------------------


class _Resource(ABC):
    schema: Schema
    uris: tuple[str, ...]
    table: str

    def resolve(self, path: Path) -> tuple[Attr, Schema | None]:
        if path.uri and path.uri.lower() not in (u.lower() for u in self.uris):
            raise _reject(f"unsupported schema {path.uri}")
        if path.attr.lower() in COMMON and (path.uri is None or path.uri.lower() == self.schema.id.lower()):
            return COMMON[path.attr.lower()], None
        for schema in self.schemas(path.uri):
            attr = schema.attr(path.attr)
            if attr is not None:
                return attr, schema
        raise _reject(f"unsupported filter attribute {path}")

    def schemas(self, uri: str | None) -> tuple[Schema, ...]:
        return (self.schema,)

    def to_q(self, expr: Any) -> Q:
        if isinstance(expr, Logical):
            left, right = self.to_q(expr.left), self.to_q(expr.right)
            return (left & right) if expr.op == "and" else (left | right)
        if isinstance(expr, Not):
            return ~self.to_q(expr.expr)
        if isinstance(expr, ValuePath):
            return self.value_path_q(expr)
        return self.compare_q(expr)

    def value_path_q(self, expr: ValuePath) -> Q:
        attr, _ = self.resolve(expr.path)
        if not attr.multi_valued or attr.field is None:
            raise _reject(f"{expr.path} is not a multi-valued attribute that can be filtered")
        element_filter = expr.filter
        if expr.sub_compare is not None:
            element_filter = Logical("and", element_filter, expr.sub_compare)
        return _json_exists(self.table, attr, element_filter)

    def common_q(self, attr: Attr, expr: Compare) -> Q:
        path = expr.path
        if attr.name == "id":
            return _uuid_q("pk", expr.op, expr.value, path)
        if attr.name == "externalId":
            return _string_q("external_id", expr.op, expr.value, case_exact=True, path=path)
        fields = {"created": "created", "lastmodified": "last_modified"}
        if attr.name == "meta" and path.sub and path.sub.lower() in fields:
            return _datetime_q(fields[path.sub.lower()], expr.op, expr.value, path)
        if attr.name == "meta" and path.sub and path.sub.lower() == "resourcetype":
            matches = expr.op == "eq" and str(expr.value).lower() == self.schema.name.lower()
            return Q() if matches else _NO_MATCH
        raise _reject(f"unsupported filter attribute {path}")

    @abstractmethod
    def compare_q(self, expr: Compare) -> Q:
        """One comparison on this resource's attributes."""

    def canonical(self, attr: Attr, value: Any) -> Any:
        """The value as the attribute's column stores it (what compare_q compares with)."""
        return value

    def equality(self, expr: Any) -> Equality | None:
        """The comparison when ``expr`` is ``attr eq "string"`` on a plain string column, else None.

        That is the shape of every Entra matching lookup (userName, externalId,
        displayName): the same statement for every value, so the caller can
        build it once; ``unique`` says whether a per-tenant unique index holds
        at most one match (no ORDER BY, LIMIT or COUNT needed).
        """
        if not (isinstance(expr, Compare) and expr.op == "eq" and isinstance(expr.value, str)) or expr.path.sub:
            return None
        if expr.path.uri and expr.path.uri.lower() not in (u.lower() for u in self.uris):
            return None  # a custom attribute (or an unsupported schema, refused by to_q)
        attr, schema = self.resolve(expr.path)
        plain = attr.name == "externalId" if schema is None else (
            attr.type == "string" and not attr.multi_valued and not attr.sub_attributes and attr.field
            and attr.name not in ("manager", "groups", "members")
        )
        if not plain:
            return None
        return Equality(attr.field or "external_id", attr.case_exact, self.canonical(attr, expr.value),
                        attr.uniqueness == "server")


class Equality(NamedTuple):
    """``field = value`` (``LOWER(field) = LOWER(value)`` unless ``case_exact``), as ``_string_q`` compares."""

    field: str
    case_exact: bool
    value: str
    unique: bool


class _UserResource(_Resource):
    schema = USER
    uris = (USER_SCHEMA, ENTERPRISE_SCHEMA)
    table = "directory_person"

    def __init__(self, custom_catalog: Callable[[], Catalog] | None = None) -> None:
        # The tenant's custom attributes, read only when a filter names one.
        self.custom_catalog = custom_catalog

    def with_custom_attributes(self, custom_catalog: Callable[[], Catalog]) -> _UserResource:
        """This resource for one tenant: its declared custom attributes can be filtered on."""
        return _UserResource(custom_catalog)

    def schemas(self, uri: str | None) -> tuple[Schema, ...]:
        if uri is None:
            # Entra's legacy lookup filters on a bare "manager" (the enterprise extension's).
            return (USER, ENTERPRISE)
        return (ENTERPRISE,) if uri.lower() == ENTERPRISE_SCHEMA.lower() else (USER,)

    def compare_q(self, expr: Compare) -> Q:
        path = expr.path
        if path.uri and custom.is_extension_urn(path.uri) and path.uri.lower() not in (u.lower() for u in self.uris):
            if self.custom_catalog is None:
                raise _reject(f"unsupported filter attribute {path}")
            return custom.compare_q(custom.declared_for_filter(self.custom_catalog(), path), expr)
        attr, schema = self.resolve(path)
        if schema is None:
            return self.common_q(attr, expr)
        if attr.name == "manager":
            if path.sub not in (None, "value") and (path.sub or "").lower() != "value":
                raise _reject(f"unsupported filter attribute {path}")
            return _uuid_q("manager_id", expr.op, expr.value, path)
        if attr.name == "groups":
            return self.groups_q(expr)
        if attr.name == "name":
            sub = attr.sub(path.sub or "")
            if sub is None:
                raise _reject(f"unsupported filter attribute {path}")
            return _string_q(sub.field or "", expr.op, expr.value, case_exact=False, path=path)
        if attr.multi_valued:
            if path.sub is None:
                path = Path(path.uri, path.attr, "value")
            element = Compare(Path(None, path.sub or "value"), expr.op, expr.value)
            return _json_exists(self.table, attr, element)
        if path.sub:
            raise _reject(f"{attr.name} has no sub-attributes")
        if attr.type == "boolean":
            return _bool_q(attr.field or "", expr.op, expr.value, path)
        return _string_q(attr.field or "", expr.op, self.canonical(attr, expr.value), case_exact=attr.case_exact,
                         path=path)

    def canonical(self, attr: Attr, value: Any) -> Any:
        if attr.name == "userName" and isinstance(value, str):
            return canonical_user_name(value)  # stored in NFC (directory.services)
        return value

    def value_path_q(self, expr: ValuePath) -> Q:
        # Entra's matching lookup, emails[type eq "work"].value eq "x", is served
        # by the indexed work_email column instead of scanning JSON.
        f, s = expr.filter, expr.sub_compare
        if (
            expr.path.attr.lower() == "emails" and isinstance(f, Compare) and f.op == "eq"
            and f.path.attr.lower() == "type" and not f.path.sub and isinstance(f.value, str)
            and f.value.lower() == "work" and s is not None and s.op == "eq"
            and (s.path.sub or "").lower() == "value" and isinstance(s.value, str)
        ):
            return Q(work_email__lower=Lower(Value(s.value)))
        return super().value_path_q(expr)

    def groups_q(self, expr: Compare) -> Q:
        sub = (expr.path.sub or "value").lower()
        if sub == "value":
            inner = _uuid_q("group_id", expr.op if expr.op != "ne" else "eq", expr.value, expr.path)
        elif sub == "display":
            inner = _string_q("group__display_name", expr.op if expr.op != "ne" else "eq", expr.value,
                              case_exact=False, path=expr.path)
        else:
            raise _reject(f"unsupported filter attribute {expr.path}")
        exists = Exists(Membership.objects.filter(inner, person_id=OuterRef("pk")))
        q = Q(exists)
        return ~q if expr.op == "ne" else q


class _GroupResource(_Resource):
    schema = GROUP
    uris = (GROUP_SCHEMA,)
    table = "directory_group"

    def compare_q(self, expr: Compare) -> Q:
        path = expr.path
        attr, schema = self.resolve(path)
        if schema is None:
            return self.common_q(attr, expr)
        if attr.name == "displayName":
            if path.sub:
                raise _reject("displayName has no sub-attributes")
            return _string_q("display_name", expr.op, expr.value, case_exact=False, path=path)
        if attr.name == "members":
            sub = (path.sub or "value").lower()
            if sub == "value":
                inner = _uuid_q("person_id", "eq" if expr.op == "ne" else expr.op, expr.value, path)
            elif sub == "display":
                inner = _string_q("person__display_name", "eq" if expr.op == "ne" else expr.op, expr.value,
                                  case_exact=False, path=path)
            else:
                raise _reject(f"unsupported filter attribute {path}")
            q = Q(Exists(Membership.objects.filter(inner, group_id=OuterRef("pk"))))
            return ~q if expr.op == "ne" else q
        raise _reject(f"unsupported filter attribute {path}")

    def value_path_q(self, expr: ValuePath) -> Q:
        if expr.path.attr.lower() != "members":
            raise _reject(f"{expr.path} cannot be filtered with a value path")
        inner = self.members_element_q(expr.filter)
        if expr.sub_compare is not None:
            inner &= self.members_element_q(expr.sub_compare)
        return Q(Exists(Membership.objects.filter(inner, group_id=OuterRef("pk"))))

    def members_element_q(self, expr: Any) -> Q:
        if isinstance(expr, Logical):
            left, right = self.members_element_q(expr.left), self.members_element_q(expr.right)
            return (left & right) if expr.op == "and" else (left | right)
        if isinstance(expr, Not):
            return ~self.members_element_q(expr.expr)
        if isinstance(expr, Compare):
            name = (expr.path.sub or expr.path.attr).lower()
            if name == "value":
                return _uuid_q("person_id", expr.op, expr.value, expr.path)
            if name == "display":
                return _string_q("person__display_name", expr.op, expr.value, case_exact=False, path=expr.path)
        raise _reject("members can be filtered on value and display only")


USERS = _UserResource()
GROUPS = _GroupResource()


def filter_parse(text: str) -> Any:
    """The filter's syntax tree; 400 invalidFilter if it is not one."""
    try:
        return parse_filter(text)
    except FilterSyntaxError as exc:
        raise _reject(f"Invalid filter: {exc}") from None


# --- Matching elements in Python (PATCH value filters) ------------------------------


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def element_matches(expr: Any, element: Any, attr: Attr) -> bool:
    """Does one element of a multi-valued attribute satisfy a value filter?"""
    if isinstance(expr, Logical):
        if expr.op == "and":
            return element_matches(expr.left, element, attr) and element_matches(expr.right, element, attr)
        return element_matches(expr.left, element, attr) or element_matches(expr.right, element, attr)
    if isinstance(expr, Not):
        return not element_matches(expr.expr, element, attr)
    if not isinstance(expr, Compare) or not isinstance(element, dict):
        return False
    name = (expr.path.sub or expr.path.attr)
    sub = attr.sub(name)
    if sub is None:
        raise errors.invalid_path(f"{attr.name} has no sub-attribute {name!r}")
    actual = next((v for k, v in element.items() if k.lower() == sub.name.lower()), None)
    if expr.op == "pr":
        return actual not in (None, "", [], {})
    expected = expr.value
    if sub.type == "boolean":
        truthy = actual is True or (isinstance(actual, str) and actual.lower() == "true")
        wanted = _as_bool(expected, expr.path) if expected is not None else None
        return (truthy == wanted) if expr.op == "eq" else (truthy != wanted)
    a, e = _lower(actual), _lower(expected)
    if expr.op == "eq":
        return a == e
    if expr.op == "ne":
        return a != e
    if not isinstance(a, str) or not isinstance(e, str):
        return False
    return {
        "co": e in a, "sw": a.startswith(e), "ew": a.endswith(e),
        "gt": a > e, "ge": a >= e, "lt": a < e, "le": a <= e,
    }[expr.op]
