"""Who manages a SCIM-provisioned person or group, for the read-only note.

``directory`` may not import ``provisioning``, so the provider is read from the
record's own history: SCIM changes are recorded with the actor label
"<provider> (token siq_scim_…)".
"""

from __future__ import annotations

from collections.abc import Iterable

from directory.models import AuditEvent, Source

FALLBACK = "your identity provider"
_TOKEN_MARK = " (token "


def managed_by(source: str, history: Iterable[AuditEvent]) -> str | None:
    """The provider's name for a SCIM record, "your identity provider" if unknown; None otherwise."""
    if source != Source.SCIM:
        return None
    for event in history:  # newest first: the provider that last changed it
        if event.actor_person_id is None and _TOKEN_MARK in event.actor_label:
            return event.actor_label.split(_TOKEN_MARK, 1)[0] or FALLBACK
    return FALLBACK
