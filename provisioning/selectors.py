"""Reads for the integrations console. Every selector is scoped to one tenant."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from directory.models import Tenant
from provisioning.models import Integration, ScimToken
from provisioning.registry import kind_get


def integrations_by_kind(*, tenant: Tenant) -> dict[str, Integration]:
    return {i.kind: i for i in Integration.objects.filter(tenant=tenant)}


def integration_get(*, tenant: Tenant, kind: str) -> Integration | None:
    if kind_get(kind) is None:
        return None
    return Integration.objects.filter(tenant=tenant, kind=kind).first()


def tokens_listed(*, integration: Integration) -> QuerySet[ScimToken]:
    """The tokens an admin manages: drafts of unfinished activations are not listed."""
    return (
        ScimToken.objects.filter(integration=integration, confirmed=True)
        .select_related("created_by")
        .order_by("-created", "-id")
    )


def token_get(*, tenant: Tenant, kind: str, token_id: Any) -> ScimToken | None:
    try:
        pk = int(token_id)
    except (TypeError, ValueError):
        return None
    return (
        ScimToken.objects.select_related("integration")
        .filter(pk=pk, confirmed=True, integration__tenant=tenant, integration__kind=kind)
        .first()
    )


def draft_token_get(*, integration: Integration, token_id: Any) -> ScimToken | None:
    """The unconfirmed token drafted for this integration's activation dialog."""
    try:
        pk = int(token_id)
    except (TypeError, ValueError):
        return None
    return ScimToken.objects.filter(
        pk=pk, integration=integration, confirmed=False, revoked_at__isnull=True
    ).first()
