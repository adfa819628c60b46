"""Discovery documents: exactly what this server supports (RFC 7643 §5-7)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from provisioning.scim.constants import MAX_RESULTS, SERVICE_PROVIDER_CONFIG_SCHEMA
from provisioning.scim.schemas import ALL_SCHEMAS

# RFC 7643 §5: how a client authenticates (provisioning.scim.auth checks it).
AUTHENTICATION_SCHEMES = [
    {
        "type": "oauthbearertoken",
        "name": "OAuth Bearer Token",
        "description": "Authentication with the SCIM bearer token issued in the SpaceIQ console.",
        "specUri": "https://www.rfc-editor.org/info/rfc6750",
        "primary": True,
    }
]


def service_provider_config(request: Any) -> dict:
    from provisioning.scim.adapters import scim_url

    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": True},
        # /Bulk is not implemented; maxima are stated as the RFC requires.
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": AUTHENTICATION_SCHEMES,
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": scim_url(request, "ServiceProviderConfig"),
        },
    }


def schema_docs(base: str) -> list[dict]:
    return [s.to_doc(f"{base}/scim/Schemas/{s.id}") for s in ALL_SCHEMAS]


def schemas_getter() -> list[dict]:
    """django-scim2's SCHEMAS_GETTER hook, called once as django_scim.views is
    imported (URLs still loading, so no reverse()) for the library's own
    schema view, which is not routed: our SchemasView serves schema_docs()."""
    return [s.to_doc(f"{settings.SITE_URL}/scim/Schemas/{s.id}") for s in ALL_SCHEMAS]
