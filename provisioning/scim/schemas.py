"""The attributes we support, described once.

The same definitions drive the /Schemas discovery documents, filter and PATCH
path resolution (attribute names are case-insensitive, RFC 7643 §2.1), type
checks, and the mapping to directory fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA


@dataclass(frozen=True)
class Attr:
    name: str
    type: str = "string"
    multi_valued: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"
    returned: str = "default"
    uniqueness: str = "none"
    required: bool = False
    description: str = ""
    sub_attributes: tuple[Attr, ...] = ()
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    # Directory field it is stored in (None for computed or nested attributes).
    field: str | None = None

    def sub(self, name: str) -> Attr | None:
        lowered = name.lower()
        for attr in self.sub_attributes:
            if attr.name.lower() == lowered:
                return attr
        return None

    def to_schema(self) -> dict:
        doc = {
            "name": self.name, "type": self.type, "multiValued": self.multi_valued,
            "description": self.description or self.name, "required": self.required,
            "caseExact": self.case_exact, "mutability": self.mutability, "returned": self.returned,
            "uniqueness": self.uniqueness,
        }
        if self.sub_attributes:
            doc["subAttributes"] = [a.to_schema() for a in self.sub_attributes]
        if self.canonical_values:
            doc["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            doc["referenceTypes"] = list(self.reference_types)
        return doc


def _multi(name: str, field_name: str, value_type: str = "string", types: tuple[str, ...] = (),
           extra: tuple[Attr, ...] = (), description: str = "") -> Attr:
    """A multi-valued complex attribute with the usual value/display/type/primary."""
    return Attr(
        name, "complex", multi_valued=True, field=field_name, description=description,
        sub_attributes=(
            Attr("value", value_type),
            Attr("display"),
            Attr("type", canonical_values=types),
            Attr("primary", "boolean"),
            *extra,
        ),
    )


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attr, ...]
    _index: dict[str, Attr] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for attr in self.attributes:
            self._index[attr.name.lower()] = attr

    def attr(self, name: str) -> Attr | None:
        return self._index.get(name.lower())

    def to_doc(self, location: str) -> dict:
        return {
            "schemas": [SCHEMA_SCHEMA], "id": self.id, "name": self.name, "description": self.description,
            "attributes": [a.to_schema() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


USER = Schema(
    USER_SCHEMA, "User", "User Account",
    (
        Attr("userName", required=True, uniqueness="server", field="user_name",
             description="Unique identifier for the User, typically used to sign in."),
        Attr("name", "complex", field=None, sub_attributes=(
            Attr("formatted", field="name_formatted"),
            Attr("familyName", field="family_name"),
            Attr("givenName", field="given_name"),
            Attr("middleName", field="middle_name"),
            Attr("honorificPrefix", field="honorific_prefix"),
            Attr("honorificSuffix", field="honorific_suffix"),
        )),
        Attr("displayName", field="display_name"),
        Attr("nickName", field="nick_name"),
        Attr("profileUrl", "reference", field="profile_url", reference_types=("external",)),
        Attr("title", field="title"),
        Attr("userType", field="user_type"),
        Attr("preferredLanguage", field="preferred_language"),
        Attr("locale", field="locale"),
        Attr("timezone", field="timezone"),
        # Always assigned (Entra rule 9: every user carries active; absent on
        # create means true), so it is required: removing it is a 400 mutability
        # rather than a remove that leaves it assigned (RFC 7644 §3.5.2.2).
        Attr("active", "boolean", required=True, field="is_active",
             description="The user's administrative status; false means deactivated."),
        _multi("emails", "emails", types=("work", "home", "other")),
        _multi("phoneNumbers", "phone_numbers", types=("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", "ims", types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        _multi("photos", "photos", "reference", types=("photo", "thumbnail")),
        Attr("addresses", "complex", multi_valued=True, field="addresses", sub_attributes=(
            Attr("formatted"), Attr("streetAddress"), Attr("locality"), Attr("region"),
            Attr("postalCode"), Attr("country"), Attr("type", canonical_values=("work", "home", "other")),
            Attr("primary", "boolean"),
        )),
        Attr("groups", "complex", multi_valued=True, mutability="readOnly", field=None, sub_attributes=(
            Attr("value", mutability="readOnly"), Attr("$ref", "reference", mutability="readOnly"),
            Attr("display", mutability="readOnly"), Attr("type", mutability="readOnly"),
        )),
        _multi("entitlements", "entitlements"),
        _multi("roles", "roles"),
        _multi("x509Certificates", "x509_certificates", "binary"),
    ),
)

ENTERPRISE = Schema(
    ENTERPRISE_SCHEMA, "EnterpriseUser", "Enterprise User",
    (
        Attr("employeeNumber", field="employee_number"),
        Attr("costCenter", field="cost_center"),
        Attr("organization", field="organization"),
        Attr("division", field="division"),
        Attr("department", field="department"),
        Attr("manager", "complex", field="manager_id", sub_attributes=(
            Attr("value"), Attr("$ref", "reference", reference_types=("User",)),
            Attr("displayName", mutability="readOnly"),
        )),
    ),
)

GROUP = Schema(
    GROUP_SCHEMA, "Group", "Group",
    (
        Attr("displayName", required=True, uniqueness="server", field="display_name"),
        Attr("members", "complex", multi_valued=True, field=None, sub_attributes=(
            # Members are users only (no nested groups), so $ref points at a User.
            Attr("value", mutability="immutable"),
            Attr("$ref", "reference", mutability="immutable", reference_types=("User",)),
            Attr("display", mutability="readOnly"), Attr("type", mutability="immutable", canonical_values=("User",)),
        )),
    ),
)

# Common attributes (RFC 7643 §3.1), present on every resource.
COMMON = {
    "id": Attr("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server"),
    "externalid": Attr("externalId", case_exact=True, field="external_id"),
    "meta": Attr("meta", "complex", mutability="readOnly", sub_attributes=(
        Attr("resourceType", mutability="readOnly"), Attr("created", "dateTime", mutability="readOnly"),
        Attr("lastModified", "dateTime", mutability="readOnly"), Attr("location", "reference", mutability="readOnly"),
        Attr("version", mutability="readOnly"),
    )),
}

ALL_SCHEMAS = (USER, ENTERPRISE, GROUP)
