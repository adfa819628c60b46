"""Request shapes Microsoft Entra ID sends, as captured from its provisioning service.

Casing, value types and paths are exactly Entra's; only the values are made up.
"""

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
