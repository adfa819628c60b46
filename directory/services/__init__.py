"""Every write to the directory goes through these functions, one module per subject.

Each one runs in a transaction, records its audit event in that same
transaction, and leaves nothing behind when it raises. How they share a
caller's transaction is ``directory.services.transactions``.

Callers import from here (``from directory import services``); the modules
below are where each function lives.
"""

from directory.services.api_keys import api_key_create, api_key_revoke
from directory.services.custom_attributes import (
    custom_attribute_declare,
    custom_attribute_remove,
    custom_attribute_update,
    custom_attributes_received_record,
)
from directory.services.groups import (
    group_create,
    group_delete,
    group_members_add,
    group_members_remove,
    group_rename,
    group_update,
)
from directory.services.people import (
    PERSON_ATTRIBUTES,
    canonical_user_name,
    person_bulk_create,
    person_create,
    person_deactivate,
    person_delete,
    person_password_set,
    person_reactivate,
    person_update,
    unusable_password,
)
from directory.services.roles import (
    DEFAULT_APP_ROLE_MAPPING,
    RoleSource,
    app_role_mapping,
    app_role_mapping_set,
    console_role_set,
    effective_role,
    group_role_set,
    other_admins,
    person_app_roles_set,
    person_role_recompute,
    role_sources,
)
from directory.services.sessions import (
    person_session_forget,
    person_session_record,
    person_session_records_purge,
    person_sessions_end,
)
from directory.services.tenants import tenant_create
from directory.services.transactions import service_atomic, single_transaction

__all__ = [
    "DEFAULT_APP_ROLE_MAPPING",
    "PERSON_ATTRIBUTES",
    "RoleSource",
    "api_key_create",
    "api_key_revoke",
    "app_role_mapping",
    "app_role_mapping_set",
    "canonical_user_name",
    "console_role_set",
    "custom_attribute_declare",
    "custom_attribute_remove",
    "custom_attribute_update",
    "custom_attributes_received_record",
    "effective_role",
    "group_create",
    "group_delete",
    "group_members_add",
    "group_members_remove",
    "group_rename",
    "group_role_set",
    "group_update",
    "other_admins",
    "person_app_roles_set",
    "person_bulk_create",
    "person_create",
    "person_deactivate",
    "person_delete",
    "person_password_set",
    "person_reactivate",
    "person_role_recompute",
    "person_session_forget",
    "person_session_record",
    "person_session_records_purge",
    "person_sessions_end",
    "person_update",
    "role_sources",
    "service_atomic",
    "single_transaction",
    "tenant_create",
    "unusable_password",
]
