"""Request shapes Microsoft Entra ID sends, as captured from its provisioning service.

Casing, value types and paths are exactly Entra's; only the values are made up.
"""

import json

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

CREATE_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "externalId": "alice", "userName": "alice@contoso.com", "active": True, "displayName": "Alice Smith",
    "title": "Engineer", "preferredLanguage": "en-US",
    "emails": [{"primary": True, "type": "work", "value": "alice@contoso.com"}],
    "name": {"formatted": "Alice Smith", "familyName": "Smith", "givenName": "Alice"},
    "addresses": [{"type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St", "locality": "Seattle",
                   "region": "WA", "postalCode": "98101", "country": "US"}],
    "phoneNumbers": [{"type": "work", "value": "+1 206 555 0100"}, {"type": "mobile", "value": "+1 206 555 0101"}],
    ENTERPRISE: {"employeeNumber": "4711", "department": "Retail"},
    "roles": [], "meta": {"resourceType": "User"},
}

# Microsoft's own validator posts active as a string.
CREATE_USER_STRING_ACTIVE = {**CREATE_USER, "userName": "bob@contoso.com", "externalId": "bob", "active": "True",
                             "emails": [{"primary": "True", "type": "work", "value": "bob@contoso.com"}]}

DEFAULT_MODE_UPDATE = {"schemas": [PATCH_OP], "Operations": [
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "alice.new@contoso.com"},
    {"op": "Replace", "path": "name.familyName", "value": "Jones"},
    {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"},
]}

FLAG_MODE_UPDATE = {"schemas": [PATCH_OP], "Operations": [
    {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x@contoso.com"},
    {"op": "replace", "value": {"displayName": "B J", "name.givenName": "B", "name.familyName": "J",
                                f"{ENTERPRISE}:employeeNumber": "42"}},
]}

DISABLE_DEFAULT = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
DISABLE_FLAG = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]}
ENABLE_DEFAULT = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": "True"}]}


def set_manager(manager_id: str) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager_id}]}


def set_manager_legacy(manager_id: str) -> dict:
    return {"schemas": [PATCH_OP],
            "Operations": [{"op": "Replace", "path": "manager", "value": [{"value": manager_id}]}]}


REMOVE_MANAGER = {"schemas": [PATCH_OP],
                  "Operations": [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}]}

CREATE_GROUP = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Engineering",
    "meta": {"resourceType": "Group"},
}

RENAME_GROUP = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "displayName", "value": "Eng-EU"}]}
RENAME_GROUP_PATHLESS = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"displayName": "Eng-US"}}]}
REPLACE_GROUP_EXTERNAL_ID = {"schemas": [PATCH_OP], "Operations": [
    {"op": "Replace", "path": "externalId", "value": "new-object-id"}]}


def add_members(*ids: str) -> dict:
    return {"schemas": [PATCH_OP],
            "Operations": [{"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}]}


def remove_members_default(*ids: str) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"value": i} for i in ids]}]}


def remove_member_flag(member_id: str) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}]}


REMOVE_ALL_MEMBERS = {"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": "members"}]}


# --- App roles: the three expressions an Entra admin maps appRoleAssignments through -----------
# (Microsoft's "Provisioning a role to a SCIM app"). Roles match on value; id is optional.

ROLE_TYPE = "WindowsAzureActiveDirectoryRole"
ADMIN_ROLE_ID = "06b07648-ecfe-589f-9d2f-6325724a46ee"
AUDITOR_ROLE_ID = "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b"


def _user(user_name: str, roles: list[dict]) -> dict:
    local = user_name.split("@", 1)[0]
    return {**CREATE_USER, "userName": user_name, "externalId": local,
            "emails": [{"primary": True, "type": "work", "value": user_name}], "roles": roles}


def create_user_single_app_role(user_name: str, value: str = "Admin") -> dict:
    """SingleAppRoleAssignment: one role, primary, no display name."""
    return _user(user_name, [{"primary": True, "type": ROLE_TYPE, "value": value}])


def single_app_role_update(value: str) -> dict:
    """SingleAppRoleAssignment's update of the primary role's value, display and type."""
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": value},
        {"op": "Replace", "path": 'roles[primary eq "True"].display', "value": value},
        {"op": "Replace", "path": 'roles[primary eq "True"].type', "value": ROLE_TYPE},
    ]}


def create_user_app_role_assignments_complex(user_name: str, *values: str) -> dict:
    """AppRoleAssignmentsComplex: every role, primary false, with displayName."""
    return _user(user_name, [{"primary": False, "type": ROLE_TYPE, "displayName": v, "value": v} for v in values])


def app_role_assignments_complex_add(*roles: tuple[str, str]) -> dict:
    """AppRoleAssignmentsComplex's PATCH: only ever adds; each role a JSON-encoded string inside value."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "Add", "path": "roles", "value": [
        {"value": json.dumps({"id": role_id, "value": value, "displayName": value}, separators=(",", ":"))}
        for role_id, value in roles
    ]}]}


def create_user_assertive(user_name: str, *values: str) -> dict:
    """AssertiveAppRoleAssignmentsComplex: every role, primary false, with display."""
    return _user(user_name, [{"primary": False, "type": ROLE_TYPE, "display": v, "value": v} for v in values])


def assertive_replace(*values: str) -> dict:
    """AssertiveAppRoleAssignmentsComplex's PATCH: the whole list; roles missing from it are removed."""
    return {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "roles", "value": [
        {"primary": False, "type": ROLE_TYPE, "display": v, "value": v} for v in values
    ]}]}


# --- Custom extension attributes (entra-scim.md §9) ---------------------------------------
# Entra sends each mapped custom attribute as one top-level key, urn:…:extension:<Name>:2.0:User:<attribute>,
# and leaves that URN out of "schemas"; flag mode puts the same full-URN keys in a path-less value.

CUSTOM = "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"


def create_user_custom(user_name: str, badge: str, building: str) -> dict:
    return {**CREATE_USER, "userName": user_name, "externalId": user_name.split("@")[0],
            "emails": [{"primary": True, "type": "work", "value": user_name}],
            f"{CUSTOM}:badgeNumber": badge, f"{CUSTOM}:building": building}


def custom_flag_mode_update(badge: str) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"displayName": "Dana S", f"{CUSTOM}:badgeNumber": badge}}]}


def custom_default_mode_update(building: str) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": f"{CUSTOM}:building", "value": building}]}


CUSTOM_REMOVE = {"schemas": [PATCH_OP], "Operations": [{"op": "Remove", "path": f"{CUSTOM}:building"}]}
