"""Who may call the admin REST API (/api/v1/): API keys, their scopes, and a throttle per key.

DRF's extension points only: an authentication class (``Authorization: Bearer
siq_api_…``), permission classes per scope, and DRF's own rate throttle kept in
the shared cache (Redis in production), so every worker counts the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from directory.api_keys import api_key_used, api_key_verify
from directory.console_actor import client_ip
from directory.models import ApiKey, Tenant


@dataclass(frozen=True)
class ApiClient:
    """The caller of an API request: the key, standing in for ``request.user``."""

    key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def tenant(self) -> Tenant:
        return self.key.tenant


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer siq_api_…``; anything else is a 401 naming what to send."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None  # DRF answers 401 "Authentication credentials were not provided."
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the API key as 'Authorization: Bearer siq_api_…'.")
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from None
        key = api_key_verify(raw)
        if key is None:
            # Same answer for unknown, revoked and SCIM tokens: nothing to learn from the difference.
            raise exceptions.AuthenticationFailed("The API key is not valid, or has been revoked.")
        api_key_used(key, client_ip(request))
        return ApiClient(key), key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'  # makes DRF answer 401 rather than 403


def api_tenant(request: Request) -> Tenant:
    return request.user.tenant


class _ScopePermission(permissions.BasePermission):
    scope: str

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if not key.allows(self.scope):
            self.message = f"This API key's scope does not include '{ApiKey.Scope(self.scope).label}'."
            return False
        return True


class ReadsDirectory(_ScopePermission):
    scope = ApiKey.Scope.DIRECTORY


class ReadsLogs(_ScopePermission):
    scope = ApiKey.Scope.LOGS


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """DRF's rate throttle, counted per API key in the shared cache; 429 with ``Retry-After``."""

    scope = "api_key"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_RATE

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        key = request.auth
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema (drf-spectacular) describes ``ApiKeyAuthentication``."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An API key from Settings > API keys: siq_api_…"}
