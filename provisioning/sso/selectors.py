"""Reads for single sign-on; each is scoped to one tenant or one integration."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from directory.models import Person, Tenant
from provisioning.models import Integration, SsoCertificate, SsoConfig, SsoSignIn
from provisioning.sso.saml import IdentityProvider, ServiceProvider, service_provider
from spaceiq_site import postgresql
from spaceiq_site.postgresql import reads

MAX_CERTIFICATES = 2


def sso_config_for(*, tenant_slug: str, kind: str) -> SsoConfig | None:
    """The configuration behind an SSO URL (/sso/<tenant>/<kind>/...), with its certificates."""
    return (
        SsoConfig.objects.select_related("integration__tenant").prefetch_related("certificates")
        .filter(integration__tenant__slug=tenant_slug, integration__kind=kind).first()
    )


def sso_config_of(*, integration: Integration) -> SsoConfig | None:
    return SsoConfig.objects.prefetch_related("certificates").filter(integration=integration).first()


def sso_certificates(*, config: SsoConfig | None) -> list[SsoCertificate]:
    return list(config.certificates.all()) if config is not None else []


def sso_is_configured(config: SsoConfig | None) -> bool:
    return bool(config and config.idp_entity_id and sso_certificates(config=config))


def sso_is_usable(config: SsoConfig | None) -> bool:
    """Configured, and its integration not deactivated (deactivating an integration turns its SSO off)."""
    return sso_is_configured(config) and config.integration.state != Integration.State.INACTIVE


def sp_of(config: SsoConfig) -> ServiceProvider:
    integration = config.integration
    return service_provider(tenant_slug=integration.tenant.slug, kind=integration.kind)


def sp_for(*, integration: Integration) -> ServiceProvider:
    return service_provider(tenant_slug=integration.tenant.slug, kind=integration.kind)


def idp_of(config: SsoConfig, *, now: datetime | None = None) -> IdentityProvider:
    """The identity provider as the toolkit sees it: only certificates still valid are trusted
    (python3-saml does not look at a certificate's dates)."""
    now = now or timezone.now()
    certificates = [c for c in sso_certificates(config=config) if c.not_before <= now < c.not_after]
    return IdentityProvider(
        entity_id=config.idp_entity_id, login_url=config.login_url,
        certificates=tuple("".join(c.pem.strip().splitlines()[1:-1]) for c in certificates),
    )


def person_for_name_id(*, tenant_id: int, name_id: str) -> Person | None:
    """The person the NameID names: their userName, compared case-insensitively (Entra keeps a
    UPN's case, people and provisioning mappings do not always). The NameID, not the email claim.

    LOWER() on both sides is the expression of the index behind userName's uniqueness per
    tenant (person_user_name_unique_per_tenant_ci); ``iexact`` compiles to UPPER() and would
    walk the tenant's people on every sign-in. On PostgreSQL it is the statement of SCIM's
    userName lookup, built once (spaceiq_site.postgresql.reads), not a QuerySet compiled for
    every sign-in of a morning's storm.
    """
    if postgresql.in_use():
        found = reads.tenant_rows_equal(Person, tenant_id=tenant_id, field="user_name", value=name_id,
                                        case_exact=False)
        return found[0] if found else None
    return (
        Person.objects.alias(user_name_ci=Lower("user_name"))
        .filter(tenant_id=tenant_id, user_name_ci=Lower(Value(name_id))).first()
    )


def sso_choices_for_email(*, email: str) -> list[SsoConfig]:
    """Integrations with usable SSO in every tenant where an active person has this user name or
    work email (Sign in with SSO asks which organisation when there are several)."""
    email = email.strip()
    if not email:
        return []
    tenant_ids = Person.objects.filter(is_active=True).filter(
        Q(user_name__iexact=email) | Q(work_email__iexact=email)
    ).values("tenant_id")
    configs = (
        SsoConfig.objects.select_related("integration__tenant").prefetch_related("certificates")
        .filter(integration__tenant_id__in=tenant_ids)
        .exclude(integration__state=Integration.State.INACTIVE)
        .exclude(idp_entity_id="").exclude(login_url="")
        .order_by("integration__tenant__name", "integration__kind")
    )
    return [config for config in configs if sso_is_usable(config)]


def sso_signins_listed(
    *, integration: Integration, outcome: str = "", search: str = "", since: datetime | None = None,
) -> QuerySet[SsoSignIn]:
    qs = SsoSignIn.objects.filter(integration=integration).select_related("person")
    if outcome in SsoSignIn.Outcome.values:
        qs = qs.filter(outcome=outcome)
    if search:
        qs = qs.filter(Q(name_id__icontains=search) | Q(reference__iexact=search.strip()) | Q(reason=search))
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return qs.order_by("-occurred_at", "-id")


def sso_signin_get(*, tenant: Tenant, reference: str) -> SsoSignIn | None:
    return SsoSignIn.objects.filter(tenant=tenant, reference=reference).select_related("person").first()


def tenant_requires_sso(*, tenant_id: int) -> bool:
    return SsoConfig.objects.filter(integration__tenant_id=tenant_id, require_sso=True).exclude(
        integration__state=Integration.State.INACTIVE).exists()
