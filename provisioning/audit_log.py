"""Reading the audit trail for the console: filters, plain-words rows, CSV export.

Reads only: audit events are written by directory.audit inside the services.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.html import format_html
from django.utils.safestring import SafeString

from directory.models import AuditEvent, Tenant
from directory.selectors import as_uuid

ACTION_LABELS: dict[str, str] = {
    "person.created": "Person created",
    "person.updated": "Person updated",
    "person.deactivated": "Person deactivated",
    "person.reactivated": "Person reactivated",
    "person.deleted": "Person deleted",
    "person.password_set": "Password set",
    "group.created": "Group created",
    "group.renamed": "Group renamed",
    "group.updated": "Group updated",
    "group.deleted": "Group deleted",
    "group.members_added": "Group members added",
    "group.members_removed": "Group members removed",
    # Before roles (issue 14) the console had one admin flag; older trails still hold these.
    "admin_role.granted": "Admin role granted",
    "admin_role.revoked": "Admin role removed",
    "role.changed": "Role changed",
    "role.console_role_set": "Console role set",
    "role.kept_as_last_admin": "Kept as the last admin",
    "group.role_changed": "Role for members changed",
    "app_role_mapping.changed": "Role mapping changed",
    "signin.succeeded": "Signed in",
    "signin.failed": "Sign-in failed",
    "signin.locked_out": "Sign-in locked out",
    "integration.activated": "Integration activated",
    "integration.deactivated": "Integration deactivated",
    "integration.notifications_changed": "Notification settings changed",
    "token.generated": "Token generated",
    "token.rotated": "Token rotated",
    "token.revoked": "Token revoked",
    "tenant.created": "Tenant created",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
}

CSV_COLUMNS = (
    "time", "actor", "action", "action_label", "target_type", "target_id", "target", "details", "source_ip",
    "request_id",
)
CSV_CHUNK_SIZE = 2000
# Spreadsheet apps run cells that start with these as formulas; target labels
# come from the identity provider, so they are neutralised (OWASP CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    target: str = ""
    date_from: date | None = None
    date_to: date | None = None
    since: datetime | None = None  # the admin API's time range: instants, not days
    until: datetime | None = None


def audit_events_filtered(*, tenant: Tenant, filters: AuditFilter) -> QuerySet[AuditEvent]:
    """The tenant's events matching ``filters``, newest first (uses the tenant/time index)."""
    events = AuditEvent.objects.filter(tenant=tenant)
    if filters.actor:
        actor_id = as_uuid(filters.actor)
        events = events.filter(
            Q(actor_person_id=actor_id) if actor_id else Q(actor_label__icontains=filters.actor)
        )
    if filters.action:
        events = events.filter(action=filters.action)
    if filters.target:
        target_id = as_uuid(filters.target)
        # An id (from a person or group page link) matches exactly; words match the name.
        events = events.filter(
            Q(target_id=str(target_id)) if target_id else Q(target_label__icontains=filters.target)
        )
    if filters.date_from:
        events = events.filter(occurred_at__gte=datetime.combine(filters.date_from, time.min, tzinfo=UTC))
    if filters.date_to:
        day_after = filters.date_to + timedelta(days=1)
        events = events.filter(occurred_at__lt=datetime.combine(day_after, time.min, tzinfo=UTC))
    if filters.since:
        events = events.filter(occurred_at__gte=filters.since)
    if filters.until:
        events = events.filter(occurred_at__lt=filters.until)
    return events.order_by("-occurred_at", "-id")


def details_summary(event: AuditEvent) -> list[SafeString]:
    """The event's details as short lines of HTML for the table.

    The names and values in them came from an identity provider or an admin's
    form: each sits in ``<bdi>``, isolated from the words around it, and a
    value cut short keeps the whole of it in its ``title`` (issue 17)."""
    details = event.details or {}
    lines: list[SafeString] = []
    for name, change in (details.get("changes") or {}).items():
        if isinstance(change, dict):
            lines.append(format_html("<bdi>{}</bdi>: {} → {}", name, _short(change.get("old")),
                                     _short(change.get("new"))))
    if "members" in details and isinstance(details["members"], list):
        count = len(details["members"])
        lines.append(format_html("{} member{}", count, "s" if count != 1 else ""))
    for key, value in details.items():
        if key in ("changes", "members"):
            continue
        lines.append(format_html("{}: {}", key.replace("_", " "), _short(value)))
    return lines


def _short(value: Any, limit: int = 80) -> SafeString:
    if value in (None, "", [], {}):
        return format_html("<bdi>{}</bdi>", "(empty)")
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) <= limit:
        return format_html("<bdi>{}</bdi>", text)
    return format_html('<bdi title="{}">{}…</bdi>', text, text[: limit - 1])


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


# Unicode's explicit direction formatting characters (UAX #9 §2): embeddings, overrides, isolates, marks.
_BIDI_CONTROLS = {ord(c): f"\\u{ord(c):04x}" for c in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                  "\u2066\u2067\u2068\u2069"}


def _json_cell(details: Any) -> str:
    """The details as JSON, our own notation: a direction mark in a value it quotes is written as its
    JSON escape, so it cannot turn the keys and quotes that follow it; decoded, every value is as stored.
    (A value in a cell of its own, actor or target, stays exactly as it is: a spreadsheet shows each cell
    on its own, so it cannot turn ours.)"""
    return json.dumps(details, ensure_ascii=False, sort_keys=True).translate(_BIDI_CONTROLS)


class _Echo:
    """A file-like object whose write returns the line, for csv.writer streaming."""

    def write(self, value: str) -> str:
        return value


def audit_csv_lines(events: QuerySet[AuditEvent]) -> Iterator[str]:
    """CSV lines for ``events``, read through a server-side cursor in chunks.

    Nothing accumulates: each row is formatted and handed to the response as
    it is read, so a year of events exports in constant memory.
    """
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    rows = events.values_list(
        "occurred_at", "actor_label", "action", "target_type", "target_id", "target_label", "details",
        "source_ip", "request_id",
    )
    for row in rows.iterator(chunk_size=CSV_CHUNK_SIZE):
        occurred_at, actor, action, target_type, target_id, target_label, details, source_ip, request_id = row
        yield writer.writerow(
            (
                occurred_at.astimezone(UTC).isoformat(), _cell(actor), action, action_label(action), target_type,
                target_id, _cell(target_label), _cell(_json_cell(details)),
                source_ip or "", _cell(request_id),
            )
        )
