"""Recording audit events. Called only from inside services, in their transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from directory.batches import delete_in_batches
from directory.models import AuditEvent, Tenant
from spaceiq_site.postgresql.writes import instance_insert


@dataclass(frozen=True)
class Actor:
    """Who is making a change, and from where.

    ``label`` is what admins read in the audit log: an admin's name and email,
    or "Microsoft Entra ID (token siq_scim_abcd…)".
    """

    label: str
    person_id: Any = None
    source_ip: str | None = None
    request_id: str = ""
    # The integration ("azure") whose SCIM token made the change, if one did: notices about the
    # change (the last-admin rule) also go to that integration's Notification Email.
    integration_kind: str = ""

    @property
    def name(self) -> str:
        """The label without the token: "Microsoft Entra ID", "Ada Admin (ada@acme.example)"."""
        return self.label.split(" (token ", 1)[0]

    @classmethod
    def system(cls, what: str = "SpaceIQ") -> Actor:
        return cls(label=what)


def audit_event_record(**fields: Any) -> AuditEvent:
    """Write one event (``audit_event_build``'s arguments) in the caller's transaction."""
    # Nearly every SCIM write records one: an INSERT built once (spaceiq_site.postgresql.writes).
    return instance_insert(audit_event_build(**fields))


def audit_event_build(
    *,
    tenant: Tenant | int,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: Any = "",
    target_label: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The unsaved event (for a caller that writes it together with its change)."""
    return AuditEvent(
        tenant_id=tenant if isinstance(tenant, int) else tenant.pk,
        actor_label=actor.label[:255],
        actor_person_id=actor.person_id,
        action=action,
        target_type=target_type,
        target_id=str(target_id) if target_id else "",
        target_label=(target_label or "")[:512],
        details=details or {},
        source_ip=actor.source_ip,
        request_id=actor.request_id[:64],
    )


def audit_events_purge(*, before: datetime, batch_size: int = 5000) -> int:
    """The retention purge: the only code path that deletes audit events.

    Deletes in batches so a year's worth never becomes one long transaction.
    """
    return delete_in_batches(AuditEvent.objects.filter(occurred_at__lt=before), batch_size=batch_size)
