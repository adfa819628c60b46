"""Recording SCIM requests the way provisioning/scim/auth.py does, for alerting tests."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from directory.audit import Actor
from provisioning import services
from provisioning.models import Integration, ScimRequest
from provisioning.request_log import request_log_record

ENTRA = Actor(label="test")


def active_integration(tenant, *, kind: str = "azure", email: str = "ops@acme.example", notify: bool = True):
    integration = services.integration_for(tenant=tenant, kind=kind)
    return services.integration_activate(
        integration=integration, actor=ENTRA, notification_email=email, notify_on_failure=notify
    )


def scim_request(
    integration: Integration | None, status: int, *, scim_type: str = "", detail: str = "", method: str = "POST",
    path: str = "/scim/v2/Users", token_prefix: str = "abcd1234", source_ip: str = "203.0.113.7",
    received_at: datetime | None = None, body: bytes = b'{"userName": "bob@acme.example"}',
) -> ScimRequest:
    """One logged request; the integration is loaded afresh, as each SCIM request does."""
    fresh = Integration.objects.get(pk=integration.pk) if integration is not None else None
    return request_log_record(
        integration=fresh, received_at=received_at or timezone.now(), method=method, path=path, status=status,
        duration_ms=12, token_prefix=token_prefix, scim_type=scim_type, error_detail=detail,
        resource_type="User" if "/Users" in path else ("Group" if "/Groups" in path else ""),
        body=body, source_ip=source_ip, request_id="req-test",
    )


def conflict(integration: Integration | None, **kwargs) -> ScimRequest:
    return scim_request(
        integration, 409, scim_type="uniqueness", detail="userName 'bob@acme.example' is already in use.", **kwargs
    )
