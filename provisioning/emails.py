"""Email messages: one template triad per message, one builder, one function each.

Templates live in ``templates/emails/<name>/{subject.txt,body.txt,body.html}``.
Functions here only render and queue; delivery is provisioning.notifications.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode

from directory.audit import Actor
from directory.models import ApiKey, Person, Tenant
from directory.role_notices import RoleChange
from directory.selectors import tenant_admins
from provisioning import notifications
from provisioning.alert_digests import FailureDigest
from provisioning.models import Integration, Notification, ScimToken, SsoCertificate
from provisioning.notifications import RenderedEmail
from provisioning.registry import kind_get
from provisioning.sso.alert_digests import SsoFailureDigest


def _render_plain(template_name: str, context: dict[str, Any]) -> str:
    # Plain text is not HTML: "O'Brien" must not arrive as "O&#x27;Brien".
    return get_template(template_name).template.render(Context(context, autoescape=False))


def render_email(name: str, context: dict[str, Any]) -> RenderedEmail:
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(_render_plain(f"emails/{name}/subject.txt", context).split())
    return RenderedEmail(
        subject=subject,
        text=_render_plain(f"emails/{name}/body.txt", context),
        html=render_to_string(f"emails/{name}/body.html", context),
    )


def welcome_admin(*, tenant: Tenant, admin: Person) -> None:
    """Tell a tenant's first admin how to sign in and what to do next."""
    email = render_email(
        "welcome",
        {
            "tenant": tenant,
            "admin": admin,
            "sign_in_url": settings.SITE_URL + reverse("accounts:sign-in"),
            "settings_url": settings.SITE_URL + reverse("provisioning:settings"),
        },
    )
    notifications.notification_queue(
        tenant=tenant,
        kind="welcome",
        dedupe_key=f"welcome:{admin.pk}",
        to=[admin.primary_email or admin.user_name],
        email=email,
    )


# --- Shared pieces of the provisioning emails ----------------------------------------


def _absolute(url_name: str, **kwargs: Any) -> str:
    """An absolute console URL; Settings when the page does not exist (yet)."""
    try:
        return settings.SITE_URL + reverse(url_name, kwargs=kwargs or None)
    except NoReverseMatch:
        return settings.SITE_URL + reverse("provisioning:settings")


def _admin_addresses(tenant: Tenant | int) -> list[str]:
    tenant_obj = tenant if isinstance(tenant, Tenant) else Tenant.objects.get(pk=tenant)
    return sorted({a for p in tenant_admins(tenant=tenant_obj) for a in _person_address(p)})


def _integration_context(integration: Integration) -> dict[str, Any]:
    entry = kind_get(integration.kind)
    return {
        "integration": integration,
        "tenant": integration.tenant,
        "integration_name": entry.name if entry else integration.kind,
        "provider": entry.provider if entry else "your identity provider",
        "integration_url": _absolute("provisioning:integration-detail", kind=integration.kind),
        "logs_url": _absolute("provisioning:integration-logs", kind=integration.kind),
        "failed_logs_url": _absolute("provisioning:integration-logs", kind=integration.kind) + "?status=failed",
        "audit_log_url": _absolute("provisioning:audit-log"),
    }


def _queue(
    name: str, *, integration: Integration, to: list[str], dedupe_key: str, **context: Any
) -> Notification | None:
    if not to:
        return None
    email = render_email(name, {**_integration_context(integration), **context})
    return notifications.notification_queue(
        tenant=integration.tenant, kind=name, dedupe_key=dedupe_key, to=to, email=email
    )


# --- Failure summaries, recovery, silence (provisioning.alerts decides when) ----------


def scim_failure_summary(*, integration: Integration, digest: FailureDigest, dedupe_key: str) -> Notification | None:
    """Failures of one integration since the last summary: counts by reason, examples."""
    examples = [
        {"example": e, "url": _absolute("provisioning:integration-log-detail", kind=integration.kind, request_id=e.id)}
        for e in digest.examples
    ]
    return _queue(
        "scim_failure_summary", integration=integration, to=[integration.notification_email],
        dedupe_key=dedupe_key, digest=digest, examples=examples,
        quiet_minutes=settings.SCIM_FAILURE_QUIET_MINUTES,
    )


def scim_recovered(
    *, integration: Integration, failing_since: datetime, recovered_at: datetime, failures: int, dedupe_key: str
) -> Notification | None:
    return _queue(
        "scim_recovered", integration=integration, to=[integration.notification_email], dedupe_key=dedupe_key,
        failing_since=failing_since, recovered_at=recovered_at, failures=failures,
    )


def scim_silent(*, integration: Integration, last_seen: datetime, never: bool, dedupe_key: str) -> Notification | None:
    """Provisioning appears to have stopped; to the notification address, else the admins."""
    to = [integration.notification_email] if integration.notification_email else _admin_addresses(integration.tenant)
    return _queue(
        "scim_silent", integration=integration, to=to, dedupe_key=dedupe_key, last_seen=last_seen, never=never,
        silence_hours=settings.SCIM_SILENCE_HOURS,
    )


# --- Security notices to the tenant's admins --------------------------------------------


def token_generated(*, token: ScimToken, actor: Actor) -> Notification | None:
    integration = token.integration
    return _queue(
        "token_generated", integration=integration, to=_admin_addresses(integration.tenant_id),
        dedupe_key=f"token-generated:{token.pk}", token=token, actor=actor, at=token.created,
    )


def token_rotated(*, old: ScimToken, new: ScimToken, actor: Actor, old_works_until: datetime) -> Notification | None:
    integration = new.integration
    return _queue(
        "token_rotated", integration=integration, to=_admin_addresses(integration.tenant_id),
        dedupe_key=f"token-rotated:{old.pk}:{new.pk}", old=old, new=new, actor=actor, at=new.created,
        old_works_until=old_works_until,
    )


def token_revoked(*, token: ScimToken, actor: Actor) -> Notification | None:
    integration = token.integration
    return _queue(
        "token_revoked", integration=integration, to=_admin_addresses(integration.tenant_id),
        dedupe_key=f"token-revoked:{token.pk}", token=token, actor=actor, at=token.revoked_at,
    )


def integration_deactivated(*, integration: Integration, actor: Actor, tokens_revoked: int) -> Notification | None:
    return _queue(
        "integration_deactivated", integration=integration, to=_admin_addresses(integration.tenant_id),
        dedupe_key=f"integration-deactivated:{integration.pk}:{integration.deactivated_at.isoformat()}",
        actor=actor, at=integration.deactivated_at, tokens_revoked=tokens_revoked,
    )


def invalid_token_used(
    *, integration: Integration, token: ScimToken, count: int, source_ips: list[str], dedupe_key: str
) -> Notification | None:
    """A token of this tenant that no longer works (revoked, expired) keeps being sent."""
    return _queue(
        "invalid_token_used", integration=integration, to=_admin_addresses(integration.tenant_id),
        dedupe_key=dedupe_key, token=token, count=count, source_ips=source_ips,
        token_status=_token_status(token, integration),
    )


def _token_status(token: ScimToken, integration: Integration) -> str:
    """Why the token no longer works, in the words of the token table."""
    if token.revoked_at is not None:
        return f"revoked on {token.revoked_at:%d %b %Y at %H:%M} UTC"
    if token.expires_at is not None:
        return f"expired on {token.expires_at:%d %b %Y at %H:%M} UTC, at the end of its rotation grace period"
    if not integration.is_active:
        return "no longer accepted because the integration is deactivated"
    if not token.confirmed:
        return "a draft from an activation that was never completed"
    return "not accepted (the token sent does not match the stored one)"


# --- Single sign-on (provisioning.sso.alerts decides when) -------------------------------


def _admins_and_notification_address(integration: Integration) -> list[str]:
    """The tenant's active admins and the integration's Notification Email, each address once."""
    addresses = _admin_addresses(integration.tenant)
    known = {address.casefold() for address in addresses}
    if integration.notification_email and integration.notification_email.casefold() not in known:
        addresses.append(integration.notification_email)
    return addresses


def _sso_context(integration: Integration) -> dict[str, Any]:
    log_url = _absolute("provisioning:sso-log", kind=integration.kind)
    return {
        "sso_url": _absolute("provisioning:integration-detail", kind=integration.kind) + "?tab=sso",
        "sso_log_url": log_url,
        "refused_log_url": log_url + "?outcome=refused",
    }


def sso_certificate_expiring(
    *, integration: Integration, certificate: SsoCertificate, successor: SsoCertificate | None, days_left: int,
    dedupe_key: str,
) -> Notification | None:
    """A trusted signing certificate expires soon: how to roll it over without an outage."""
    return _queue(
        "sso_certificate_expiring", integration=integration, to=_admins_and_notification_address(integration),
        dedupe_key=dedupe_key, certificate=certificate, successor=successor, days_left=days_left,
        **_sso_context(integration),
    )


def sso_certificate_expired(
    *, integration: Integration, certificate: SsoCertificate, successor: SsoCertificate | None, dedupe_key: str
) -> Notification | None:
    return _queue(
        "sso_certificate_expired", integration=integration, to=_admins_and_notification_address(integration),
        dedupe_key=dedupe_key, certificate=certificate, successor=successor, **_sso_context(integration),
    )


def sso_failing(*, integration: Integration, digest: SsoFailureDigest, dedupe_key: str) -> Notification | None:
    """Refused sign-ins since the last summary: counts by reason, the latest references."""
    log_url = _absolute("provisioning:sso-log", kind=integration.kind)
    # The SSO log's search finds a row by its reference and filters by a reason code.
    reasons = [{"reason": r, "url": f"{log_url}?{urlencode({'outcome': 'refused', 'q': r.reason})}"}
               for r in digest.reasons]
    examples = [{"row": row, "url": f"{log_url}?{urlencode({'q': row.reference})}"} for row in digest.examples]
    return _queue(
        "sso_failing", integration=integration, to=_admins_and_notification_address(integration),
        dedupe_key=dedupe_key, digest=digest, reasons=reasons, examples=examples,
        quiet_minutes=settings.SSO_FAILURE_QUIET_MINUTES, **_sso_context(integration),
    )


def sso_recovered(
    *, integration: Integration, failing_since: datetime, recovered_at: datetime, failures: int, dedupe_key: str
) -> Notification | None:
    return _queue(
        "sso_recovered", integration=integration, to=_admins_and_notification_address(integration),
        dedupe_key=dedupe_key, failing_since=failing_since, recovered_at=recovered_at, failures=failures,
        **_sso_context(integration),
    )


# --- Roles (directory.role_notices announces, provisioning.role_notices calls these) -------------


def _role_context(person: Person) -> dict[str, Any]:
    return {
        "tenant": person.tenant, "person": person,
        "person_url": _absolute("directory:person-detail", person_id=person.pk),
        "audit_log_url": _absolute("provisioning:audit-log"),
    }


def _person_address(person: Person) -> list[str]:
    address = person.primary_email or person.user_name
    return [address] if address and "@" in address else []


def _merged(*lists: list[str]) -> list[str]:
    """Each address once (compared case-insensitively), in order."""
    seen: dict[str, str] = {}
    for address in (a for addresses in lists for a in addresses):
        seen.setdefault(address.casefold(), address)
    return list(seen.values())


def role_admin_changed(*, change: RoleChange) -> Notification | None:
    """Someone gained or lost Admin: to the tenant's admins (and to a person who lost it)."""
    person = change.person
    to = _merged(_admin_addresses(person.tenant), [] if change.admin_gained else _person_address(person))
    if not to:
        return None
    email = render_email("role_admin_changed", {
        **_role_context(person), "actor": change.actor, "summary": change.summary, "old": change.old.label,
        "new": change.new.label, "at": timezone.now(), "gained": change.admin_gained,
    })
    return notifications.notification_queue(
        tenant=person.tenant, kind="role_admin_changed", dedupe_key=f"role-changed:{change.audit_event_id}",
        to=to, email=email,
    )


def role_kept_as_last_admin(
    *, person: Person, summary: str, actor_name: str, since: datetime, integration_kind: str, dedupe_key: str,
    reminder: bool = False,
) -> Notification | None:
    """A change would have left the tenant without an admin: to that admin and the Notification Email
    of the integration whose change it was (of every active one when no integration made it is known)."""
    integrations = Integration.objects.filter(tenant_id=person.tenant_id).exclude(notification_email="")
    if integration_kind:
        integrations = integrations.filter(kind=integration_kind)
    else:
        integrations = integrations.filter(state=Integration.State.ACTIVE)
    integrations = list(integrations.order_by("kind"))
    to = _merged(_person_address(person), [i.notification_email for i in integrations])
    if not to:
        return None
    names = " and ".join(entry.name if (entry := kind_get(i.kind)) else i.kind for i in integrations)
    email = render_email("role_kept_as_last_admin", {
        **_role_context(person), "summary": summary, "actor_name": actor_name, "at": since,
        "integration_names": names, "reminder": reminder,
    })
    return notifications.notification_queue(
        tenant=person.tenant, kind="role_kept_as_last_admin", dedupe_key=dedupe_key, to=to, email=email,
    )


# --- API keys (directory.api_keys announces, provisioning.api_key_notices calls these) -----------


def _api_key_notice(name: str, *, key: ApiKey, actor: Actor, at: datetime, dedupe_key: str) -> Notification | None:
    """To the tenant's admins. The email names the key by its display (label and lookup prefix) only:
    the key itself exists only in the response of the page that created it."""
    tenant = key.tenant
    to = _admin_addresses(tenant)
    if not to:
        return None
    email = render_email(name, {
        "tenant": tenant, "key": key, "scope": key.get_scope_display(), "actor": actor, "at": at,
        "api_keys_url": _absolute("directory:api-keys"), "audit_log_url": _absolute("provisioning:audit-log"),
    })
    return notifications.notification_queue(tenant=tenant, kind=name, dedupe_key=dedupe_key, to=to, email=email)


def api_key_created(*, key: ApiKey, actor: Actor) -> Notification | None:
    return _api_key_notice("api_key_created", key=key, actor=actor, at=key.created,
                           dedupe_key=f"api-key-created:{key.pk}")


def api_key_revoked(*, key: ApiKey, actor: Actor) -> Notification | None:
    return _api_key_notice("api_key_revoked", key=key, actor=actor, at=key.revoked_at,
                           dedupe_key=f"api-key-revoked:{key.pk}")
