"""The provisioning request log: one row per SCIM request, written by the request itself.

Written synchronously (one INSERT) so it survives a broker outage; anything
slower (failure summaries) is queued on commit by provisioning.alerts.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from provisioning import alerts
from provisioning.models import Integration, ScimRequest, ScimToken
from provisioning.tokens import token_redact
from spaceiq_site.postgresql.writes import copy_insert, instance_insert

logger = logging.getLogger(__name__)

BODY_LIMIT = 4096
NOT_LOGGED = "[not logged: not valid JSON, and it may hold a secret]"
# The attributes whose values the log never keeps: any key that contains one of these words.
_SECRET_WORDS = ("password", "secret", "token", "authorization")


def _names_secret(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("[removed]" if _names_secret(str(k)) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def loggable_body(body: bytes) -> str:
    """The request body with secrets removed and its size capped.

    A body in which no key can name a secret is logged as sent: in UTF-8
    without ``\\u`` escapes, a key's text is spelled out in the body, so
    when none of the words is there, no key holds one. Only the other bodies
    are parsed and written again without the secrets' values; one that does
    not parse is logged as text only if it cannot hold a secret either.
    """
    if not body:
        return ""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = ""
    if not text or "\\u" in text or _names_secret(text):
        try:
            text = json.dumps(_scrub(json.loads(body)), ensure_ascii=False)
        except (ValueError, UnicodeDecodeError, RecursionError):
            text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
            if "\\u" in text or _names_secret(text):
                # Not JSON (malformed, or cut at the 64 KiB the request log reads), so no key
                # can be found whose value to remove: the text may hold a secret as it is.
                return NOT_LOGGED
    text = token_redact(text)  # a token pasted into a body must not reach the log
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + f"… [{len(text) - BODY_LIMIT} more characters]"
    return text


def request_log_record(**fields: Any) -> ScimRequest:
    """Log one SCIM request (``request_log_entry``'s arguments) with one INSERT, then move the alerting state.

    Successes cost at most one more cheap UPDATE (usually none); failures a
    few indexed queries. A 401 whose token prefix belongs to exactly one
    integration (a revoked or expired token still in use) is filed under that
    integration, so its admins see it in their logs and are told.
    """
    entry, token = request_log_entry(**fields)
    _insert(entry)
    request_log_alerts(entry, token)
    return entry


def request_log_entry(
    *,
    integration: Integration | None,
    received_at: datetime,
    method: str,
    path: str,
    status: int,
    duration_ms: int,
    token_prefix: str = "",
    scim_type: str = "",
    error_detail: str = "",
    resource_type: str = "",
    resource_id: str = "",
    body: bytes = b"",
    source_ip: str | None = None,
    request_id: str = "",
) -> tuple[ScimRequest, ScimToken | None]:
    """The unsaved log row of one request (secrets removed, sizes capped), and the token a 401 is filed under."""
    token = None
    if integration is None and status == 401 and token_prefix:
        token = _token_for_prefix(token_prefix)
        integration = token.integration if token else None
    entry = ScimRequest(
        integration=integration,
        tenant_id=integration.tenant_id if integration else None,
        token_prefix=token_prefix[:16],
        received_at=received_at,
        method=method[:8],
        path=token_redact(path)[:2048],  # a token pasted into a filter or query string
        status=status,
        duration_ms=duration_ms,
        scim_type=scim_type[:32],
        error_detail=token_redact(error_detail)[:2000],  # details may quote the request
        resource_type=resource_type[:16],
        resource_id=token_redact(resource_id)[:64],  # the id in the URL, whatever was put there
        request_body=loggable_body(body),
        source_ip=source_ip,
        request_id=request_id[:64],
    )
    return entry, token


def request_log_alerts(entry: ScimRequest, token: ScimToken | None) -> None:
    """Move the integration's alerting state for one written row (provisioning.alerts)."""
    integration = entry.integration
    try:
        if integration is not None:
            alerts.request_recorded(integration=integration, entry=entry, token=token)
        elif entry.status == 401:
            alerts.invalid_tokens_from_ip_check(source_ip=entry.source_ip)
    except Exception:
        # Alerting is a side effect: it must never turn a logged request into an error.
        logger.exception("SCIM alerting failed for request %s", entry.request_id)


def request_log_insert_many(entries: list[ScimRequest]) -> None:
    """Write many rows with one COPY, committed like ``_insert`` (the writer thread, never inside a transaction)."""
    copy_insert(ScimRequest, entries, asynchronous_commit=True)


def _insert(entry: ScimRequest) -> None:
    """One INSERT, for a row the batching writer does not take (request_log_writer.deferred):
    inside a caller's transaction, with batching off, or off PostgreSQL."""
    instance_insert(entry)


def _token_for_prefix(prefix: str) -> ScimToken | None:
    """The one token with this lookup prefix, whatever its state; None if none or ambiguous."""
    matches = list(ScimToken.objects.select_related("integration__tenant").filter(prefix=prefix[:16])[:2])
    return matches[0] if len(matches) == 1 else None
