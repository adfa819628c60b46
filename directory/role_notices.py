"""What the directory announces when someone's effective role changes, for whoever must be told.

``directory`` may not import ``provisioning``, which owns email: so the role services send
``role_changed`` inside their transaction, and provisioning's receiver
(``provisioning.role_notices``) queues the security notices in the outbox in that same
transaction. A change that rolls back therefore sends nothing, and one that commits is told once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.dispatch import Signal

from directory.audit import Actor
from directory.models import Person, Role


@dataclass(frozen=True)
class RoleChange:
    """One change of a person's effective role, as recorded by its audit event.

    ``kept_as_last_admin``: the change would have taken Admin from the tenant's last active admin,
    so the person keeps it (``old`` and ``new`` are then both Admin and ``without_keep`` is the role
    their sources give them).
    """

    person: Person
    old: Role
    new: Role
    summary: str
    actor: Actor
    audit_event_id: int
    kept_as_last_admin: bool = False
    without_keep: Role | None = None

    @property
    def admin_gained(self) -> bool:
        return self.new == Role.ADMIN and self.old != Role.ADMIN

    @property
    def admin_lost(self) -> bool:
        return self.old == Role.ADMIN and self.new != Role.ADMIN


# Sent with ``change=RoleChange(...)`` inside the transaction that made the change.
role_changed = Signal()
