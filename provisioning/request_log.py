"""The provisioning request log: one row per SCIM request, written by the request itself.

Written synchronously (one INSERT) so it survives a broker outage; anything
slower (failure summaries) is queued on commit by provisioning.alerts.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from provisioning.models import Integration, ScimRequest

BODY_LIMIT = 4096
_SECRET_KEYS = ("password", "secret", "token", "authorization")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: ("[removed]" if any(s in str(k).lower() for s in _SECRET_KEYS) else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def loggable_body(body: bytes) -> str:
    """The request body with secrets removed and its size capped."""
    if not body:
        return ""
    try:
        text = json.dumps(_scrub(json.loads(body)), ensure_ascii=False)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = body[:BODY_LIMIT].decode("utf-8", errors="replace")
    if "siq_scim_" in text:  # a token pasted into a body must not reach the log
        text = text.replace("siq_scim_", "siq_scim_[removed]")
    if len(text) > BODY_LIMIT:
        text = text[:BODY_LIMIT] + f"… [{len(text) - BODY_LIMIT} more characters]"
    return text


def request_log_record(
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
) -> ScimRequest:
    return ScimRequest.objects.create(
        integration=integration,
        tenant_id=integration.tenant_id if integration else None,
        token_prefix=token_prefix[:16],
        received_at=received_at,
        method=method[:8],
        path=path[:2048],
        status=status,
        duration_ms=duration_ms,
        scim_type=scim_type[:32],
        error_detail=error_detail[:2000],
        resource_type=resource_type[:16],
        resource_id=resource_id[:64],
        request_body=loggable_body(body),
        source_ip=source_ip,
        request_id=request_id[:64],
    )
