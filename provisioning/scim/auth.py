"""Bearer-token authentication and the request log for every SCIM request.

Wraps every SCIM view function (provisioning.scim.views.ScimViewMixin.as_view), with
django-scim2's decorator-style middleware contract (also its
AUTH_CHECK_MIDDLEWARE setting). The token identifies the tenant and
integration; the request is logged with one INSERT once the response is known,
so the log survives a broker outage.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import time
import uuid
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from directory.audit import Actor
from provisioning import request_log_writer
from provisioning.models import ScimToken
from provisioning.registry import kind_get
from provisioning.request_log import request_log_record
from provisioning.scim import errors, rate_limit
from provisioning.scim.constants import MAX_BODY_BYTES, SCIM_CONTENT_TYPE
from provisioning.token_cache import cached_token_verify
from provisioning.tokens import lookup_prefix

logger = logging.getLogger(__name__)
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
# Writing last-used on every request would double the writes of a sync; a
# minute's precision is what the console shows anyway.
_TOUCH_EVERY = timedelta(seconds=60)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _loggable(text: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogate (both arrive in URLs and bodies)."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _has_lone_surrogate(body: bytes) -> bool:
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _error_fields(response: HttpResponse) -> tuple[str, str]:
    if response.status_code < 400 or not response.get("Content-Type", "").startswith(SCIM_CONTENT_TYPE):
        return "", ""
    try:
        body = json.loads(response.content)
    except (ValueError, TypeError):
        return "", ""
    return str(body.get("scimType") or ""), str(body.get("detail") or "")


def _content_length(request: HttpRequest) -> int | None:
    """The declared body size; None when the header is not a number (a 400, not a 500)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


def _resource_type(path: str) -> str:
    lowered = path.lower()
    if "/users" in lowered:
        return "User"
    if "/groups" in lowered:
        return "Group"
    return ""


def _touch(token: ScimToken, ip: str | None, now: Any) -> None:
    if token.last_used_at and now - token.last_used_at < _TOUCH_EVERY and token.last_used_ip == ip:
        return
    try:
        # Integration.last_request_at is kept by the request log (provisioning.alerts).
        ScimToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
        # The token cache keeps this instance, and this write does not make it
        # verify the token again (provisioning migration 0006): keep it current.
        token.last_used_at, token.last_used_ip = now, ip
    except (DatabaseError, InterfaceError):
        # The request's own work is done (and committed): answering 503 now
        # would make the client retry a write that succeeded. Last-used is cosmetic.
        logger.warning("SCIM token last-used not recorded (database unavailable)")


class ScimAuth:
    """Decorator-style middleware around one SCIM view (django-scim2's contract)."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        functools.update_wrapper(self, get_response)  # keeps the view's name and attributes (view_class)

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        started = time.monotonic()
        received_at = timezone.now()
        # META, not request.headers: that would build a dict of every header on each request.
        supplied_id = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = supplied_id if _REQUEST_ID.match(supplied_id) else uuid.uuid4().hex
        ip = client_ip(request)
        token: ScimToken | None = None
        raw = ""
        try:
            match = _BEARER.match(request.META.get("HTTP_AUTHORIZATION", ""))
            raw = match.group(1) if match else ""
            token = cached_token_verify(raw) if raw else None
            # The throttle is consulted only once verification has failed: a
            # valid token is never slowed or refused by it (rate_limit.py).
            retry_after = rate_limit.blocked_for(ip=ip, prefix=lookup_prefix(raw)) if token is None else None
            if retry_after:
                response = errors.error_response(rate_limit.too_many_failures(retry_after))
            elif token is None:
                response = errors.error_response(errors.unauthorized(
                    "Missing bearer token." if not raw else
                    "The bearer token is not valid: it is unknown, revoked, expired, or its integration is deactivated."
                ))
                rate_limit.failure_record(ip=ip, prefix=lookup_prefix(raw))
            elif (length := _content_length(request)) is None:
                response = errors.error_response(errors.bad_request("Invalid Content-Length header.", "invalidSyntax"))
            elif length > MAX_BODY_BYTES:
                response = errors.error_response(errors.ScimError(
                    413, f"The request body is larger than {MAX_BODY_BYTES} bytes."
                ))
            else:
                integration = token.integration
                entry = kind_get(integration.kind)
                request.tenant = integration.tenant
                request.scim_token = token
                request.scim_integration = integration
                request.scim_actor = Actor(
                    label=f"{entry.provider if entry else integration.kind} (token {token.display})",
                    source_ip=ip, request_id=request.request_id, integration_kind=integration.kind,
                )
                response = self.get_response(request, *args, **kwargs)
                _touch(token, ip, received_at)
        except (OperationalError, InterfaceError):
            response = errors.error_response(errors.unavailable())
        response["X-Request-ID"] = request.request_id
        self.log(request, response, token, raw, ip, received_at, started, kwargs)
        return response

    def log(self, request: HttpRequest, response: HttpResponse, token: ScimToken | None, raw: str,
            ip: str | None, received_at: Any, started: float, kwargs: dict) -> None:
        scim_type, detail = _error_fields(response)
        # A request that succeeded may still leave a note ("kept 1 undeclared attribute: …").
        detail = detail or getattr(request, "scim_note", "")
        body = b""
        if response.status_code >= 400 or request.method in ("POST", "PUT", "PATCH"):
            try:
                body = request.body[: 64 * 1024] if response.status_code != 413 else b""
            except Exception:
                body = b""
        path = _loggable(request.get_full_path())
        if b"\x00" in body:
            body = body.replace(b"\x00", b"\\x00")
        if _SURROGATE_ESCAPE.search(body) and _has_lone_surrogate(body):
            # "\ud800" alone is valid JSON but no text PostgreSQL can store: log the body as sent, unparsed.
            body = b"[not valid Unicode] " + body
        fields = {
            "integration": token.integration if token else None,
            "received_at": received_at,
            "method": request.method or "",
            "path": path,
            "status": response.status_code,
            "duration_ms": int((time.monotonic() - started) * 1000),
            "token_prefix": token.prefix if token else (lookup_prefix(raw) or ""),
            "scim_type": scim_type,
            "error_detail": _loggable(detail),
            "resource_type": _resource_type(request.path),
            "resource_id": _loggable(str(getattr(request, "scim_resource_id", None) or kwargs.get("uuid") or "")),
            "body": body,
            "source_ip": ip,
            "request_id": request.request_id,
        }
        if request_log_writer.deferred():
            request_log_writer.writer.submit(fields)  # written behind the response, in a batch
            return
        try:
            request_log_record(**fields)
        except (DatabaseError, InterfaceError):
            # The database is down: the response already says 503; nothing to log into.
            logger.warning("SCIM request log not written (database unavailable)", exc_info=False)
