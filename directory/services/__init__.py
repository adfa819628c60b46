"""Every write to the directory goes through these functions, one module per subject.

Each one runs in a transaction, records its audit event in that same
transaction, and leaves nothing behind when it raises. How they share a
caller's transaction is ``directory.services.transactions``.

Callers import from here (``from directory import services``); the modules
below are where each function lives.
"""

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
    person_reactivate,
    person_update,
    unusable_password,
)
from directory.services.roles import admin_role_grant, admin_role_revoke
from directory.services.sessions import (
    person_session_forget,
    person_session_record,
    person_session_records_purge,
    person_sessions_end,
)
from directory.services.tenants import tenant_create
from directory.services.transactions import service_atomic, single_transaction

__all__ = [
    "PERSON_ATTRIBUTES",
    "admin_role_grant",
    "admin_role_revoke",
    "canonical_user_name",
    "group_create",
    "group_delete",
    "group_members_add",
    "group_members_remove",
    "group_rename",
    "group_update",
    "person_bulk_create",
    "person_create",
    "person_deactivate",
    "person_delete",
    "person_reactivate",
    "person_session_forget",
    "person_session_record",
    "person_session_records_purge",
    "person_sessions_end",
    "person_update",
    "service_atomic",
    "single_transaction",
    "tenant_create",
    "unusable_password",
]
