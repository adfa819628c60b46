"""SCIM error documents (RFC 7644 §3.12): every failure on /scim is one of these."""

from __future__ import annotations

import json

from django.http import HttpResponse
from django_scim import exceptions as scim_exceptions

from directory.unavailable import RETRY_AFTER_SECONDS
from provisioning.scim.constants import ERROR_SCHEMA, SCIM_CONTENT_TYPE, ScimType
from provisioning.tokens import token_redact


class ScimError(scim_exceptions.SCIMException):
    """django-scim2's exception, rendered with ``status`` as a string (RFC 7644 §3.12).

    Entra fails to parse an error whose status is a JSON number.
    """

    def __init__(self, status: int, detail: str, scim_type: str | None = None, headers: dict | None = None):
        super().__init__(detail, status=status, scim_type=scim_type)
        self.headers = headers or {}

    def to_dict(self) -> dict:
        # Details may quote the request (a path, an id, a filter); a token pasted there is not echoed.
        body = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": token_redact(str(self.detail))}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def error_response(error: scim_exceptions.SCIMException) -> HttpResponse:
    if not isinstance(error, ScimError):
        error = ScimError(int(error.status), str(error.detail), error.scim_type)
    response = HttpResponse(json.dumps(error.to_dict()), status=error.status, content_type=SCIM_CONTENT_TYPE)
    for name, value in error.headers.items():
        response[name] = value
    return response


def bad_request(detail: str, scim_type: str = ScimType.INVALID_VALUE) -> ScimError:
    return ScimError(400, detail, scim_type)


def invalid_filter(detail: str) -> ScimError:
    return ScimError(400, detail, ScimType.INVALID_FILTER)


def invalid_path(detail: str) -> ScimError:
    return ScimError(400, detail, ScimType.INVALID_PATH)


def mutability(detail: str) -> ScimError:
    return ScimError(400, detail, ScimType.MUTABILITY)


def not_found(resource: str, resource_id: str) -> ScimError:
    return ScimError(404, f"{resource} {resource_id} not found")


def conflict(detail: str) -> ScimError:
    return ScimError(409, detail, ScimType.UNIQUENESS)


def unavailable() -> ScimError:
    """The database is unreachable: come back in a few seconds (directory/unavailable.py)."""
    return ScimError(503, "The directory is temporarily unavailable.",
                     headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def unauthorized(detail: str) -> ScimError:
    return ScimError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="SpaceIQ SCIM"'})
