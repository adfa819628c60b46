"""Deployment checks (``manage.py check --deploy``) for the SCIM secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def scim_token_hash_key_check(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when the token hash key is (derived from) the secret key: rotating one would break the other."""
    key = settings.SCIM_TOKEN_HASH_KEY
    if key in (settings.SECRET_KEY, settings.SECRET_KEY + ":scim-token-hash"):
        return [Warning(
            "SCIM_TOKEN_HASH_KEY is not set on its own; it is derived from DJANGO_SECRET_KEY.",
            hint="Set SCIM_TOKEN_HASH_KEY to a separate random value before rotating DJANGO_SECRET_KEY "
                 "(docs/security.md), or every identity provider's token stops working.",
            id="provisioning.W001",
        )]
    return []
