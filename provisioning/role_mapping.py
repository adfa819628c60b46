"""An integration's Role mapping: which of our roles each app-role value its SCIM client sends
stands for (issue 14).

The section lists the default values ("Admin", "Auditor"), the values the tenant mapped, and every
value this integration sent to someone. A value nobody mapped is kept and shown, as Member; the
mapping itself and the recompute of everyone holding the value are
``directory.services.app_role_mapping_set``'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import Count

from directory import services
from directory.audit import Actor
from directory.models import Person, Role, Tenant
from directory.services import DEFAULT_APP_ROLE_MAPPING, app_role_mapping, service_atomic
from directory.services.roles import app_role_value

# How the defaults read before anyone sent them (Microsoft's set-up guide names them so).
DEFAULT_VALUE_NAMES = {"admin": "Admin", "auditor": "Auditor"}


@dataclass(frozen=True)
class RoleMappingRow:
    value: str  # as the integration first sent it; matched case-insensitively
    role: Role
    is_default: bool  # no mapping of the tenant's: the built-in default applies
    people: int  # how many people this integration sent the value to


def _values_sent(*, tenant: Tenant, integration_kind: str) -> Counter[str]:
    """Lower-cased app-role value → people it was sent to; ``Counter.keys()`` keep the first spelling seen."""
    # People sent the same roles share one list, so grouping by the list reads a handful of rows
    # even in a tenant of many thousands.
    lists = (
        Person.objects.filter(tenant=tenant, app_roles_kind=integration_kind).exclude(roles=[])
        .order_by().values_list("roles").annotate(people=Count("pk"))
    )
    counts: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for roles, people in lists:
        values = {app_role_value(r) for r in roles or [] if isinstance(r, dict)} - {None}
        for value in sorted(values):
            spelled.setdefault(value.lower(), value)
            counts[value.lower()] += people
    return Counter({spelled[key]: n for key, n in counts.items()})


def role_mapping_rows(*, tenant: Tenant, integration_kind: str) -> list[RoleMappingRow]:
    mapping = app_role_mapping(tenant_id=tenant.pk, integration_kind=integration_kind)
    sent = _values_sent(tenant=tenant, integration_kind=integration_kind)
    shown: dict[str, str] = {key: DEFAULT_VALUE_NAMES.get(key, key) for key in mapping}
    shown.update({value.lower(): value for value in sent})
    people = {value.lower(): n for value, n in sent.items()}
    rows = [
        RoleMappingRow(
            value=value, role=mapping.get(key, Role.MEMBER),
            is_default=mapping.get(key, Role.MEMBER) == DEFAULT_APP_ROLE_MAPPING.get(key, Role.MEMBER),
            people=people.get(key, 0),
        )
        for key, value in shown.items()
    ]
    return sorted(rows, key=lambda row: (row.value.lower() not in DEFAULT_VALUE_NAMES, row.value.lower()))


@service_atomic
def role_mapping_save(*, tenant: Tenant, integration_kind: str, roles: Mapping[str, Role], actor: Actor) -> int:
    """Map each app-role value of ``roles`` to its role, all or nothing; returns how many changed.

    A value set back to its default loses its mapping row, so a later change of the defaults
    reaches it. Raises ``LastAdminError`` (nothing saved) when a change would take Admin from the
    tenant's last active admin.
    """
    current = app_role_mapping(tenant_id=tenant.pk, integration_kind=integration_kind)
    changed = 0
    for value, role in roles.items():
        key = value.lower()
        if current.get(key, Role.MEMBER) == role:
            continue
        default = DEFAULT_APP_ROLE_MAPPING.get(key, Role.MEMBER)
        services.app_role_mapping_set(tenant=tenant, integration_kind=integration_kind, value=value,
                                      role=None if role == default else role, actor=actor)
        changed += 1
    return changed
