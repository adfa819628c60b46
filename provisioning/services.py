"""Writes for integrations and their tokens. Each records its audit event in
the same transaction; emails are queued in the outbox."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from directory.audit import Actor, audit_event_record
from directory.models import Person, Tenant
from provisioning import emails
from provisioning.models import Integration, ScimToken
from provisioning.registry import kind_get
from provisioning.tokens import token_generate

MAX_ROTATION_GRACE = timedelta(days=7)


def integration_for(*, tenant: Tenant, kind: str) -> Integration:
    """The tenant's row for ``kind``, created (not activated) on first use."""
    if kind_get(kind) is None:
        raise ValueError(f"unknown integration kind {kind!r}")
    integration, _ = Integration.objects.get_or_create(tenant=tenant, kind=kind)
    return integration


def _audit(integration: Integration, actor: Actor, action: str, details: dict | None = None) -> None:
    entry = kind_get(integration.kind)
    audit_event_record(
        tenant=integration.tenant_id, actor=actor, action=action, target_type="integration",
        target_id=integration.pk, target_label=entry.name if entry else integration.kind, details=details,
    )


@transaction.atomic
def token_issue(
    *, integration: Integration, actor: Actor, created_by: Person | None = None, label: str = "",
    confirmed: bool = True, announce: bool = True,
) -> tuple[ScimToken, str]:
    """Create a token; returns the row and the plaintext, which is never stored.

    ``confirmed=False`` drafts a token for the activation dialog: it works only
    once the admin presses Activate (``integration_activate``).
    """
    new = token_generate()
    token = ScimToken.objects.create(
        integration=integration, label=label[:100], prefix=new.prefix, digest=new.digest,
        created_by=created_by, confirmed=confirmed,
    )
    if confirmed:
        _audit(integration, actor, "token.generated", {"token": token.display, "label": token.label})
        if announce:  # a rotation announces both tokens in one notice instead
            emails.token_generated(token=token, actor=actor)
    return token, new.raw


@transaction.atomic
def integration_activate(
    *, integration: Integration, actor: Actor, draft_token: ScimToken | None = None,
    notification_email: str | None = None, notify_on_failure: bool | None = None,
) -> Integration:
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    was_active = integration.is_active
    if notification_email is not None:
        integration.notification_email = notification_email
    if notify_on_failure is not None:
        integration.notify_on_failure = notify_on_failure
    integration.state = Integration.State.ACTIVE
    integration.activated_at = timezone.now()
    integration.deactivated_at = None
    integration.save()
    if draft_token is not None:
        ScimToken.objects.filter(pk=draft_token.pk, integration=integration).update(confirmed=True)
        # Other drafts of abandoned dialogs must never become usable.
        ScimToken.objects.filter(integration=integration, confirmed=False).exclude(pk=draft_token.pk).delete()
    if not was_active:
        _audit(integration, actor, "integration.activated", {
            "notification_email": integration.notification_email,
            "notify_on_failure": integration.notify_on_failure,
        })
    if draft_token is not None:
        draft_token.confirmed = True
        draft_token.integration = integration
        _audit(integration, actor, "token.generated", {"token": draft_token.display, "label": draft_token.label})
        emails.token_generated(token=draft_token, actor=actor)
    return integration


@transaction.atomic
def integration_deactivate(*, integration: Integration, actor: Actor) -> Integration:
    """Stop the integration; every token stops working at once."""
    now = timezone.now()
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    if integration.state != Integration.State.ACTIVE:
        return integration
    integration.state = Integration.State.INACTIVE
    integration.deactivated_at = now
    integration.save(update_fields=["state", "deactivated_at"])
    revoked = ScimToken.objects.filter(integration=integration, revoked_at__isnull=True).update(revoked_at=now)
    _audit(integration, actor, "integration.deactivated", {"tokens_revoked": revoked})
    emails.integration_deactivated(integration=integration, actor=actor, tokens_revoked=revoked)
    return integration


@transaction.atomic
def notification_settings_update(
    *, integration: Integration, actor: Actor, notification_email: str, notify_on_failure: bool
) -> Integration:
    old = {"notification_email": integration.notification_email, "notify_on_failure": integration.notify_on_failure}
    new = {"notification_email": notification_email, "notify_on_failure": notify_on_failure}
    if old == new:
        return integration
    Integration.objects.filter(pk=integration.pk).update(**new)
    integration.notification_email = notification_email
    integration.notify_on_failure = notify_on_failure
    _audit(integration, actor, "integration.notifications_changed", {"old": old, "new": new})
    return integration


@transaction.atomic
def token_rotate(
    *, token: ScimToken, actor: Actor, grace: timedelta, created_by: Person | None = None
) -> tuple[ScimToken, str]:
    """Issue a replacement; the old token keeps working for ``grace`` (0 to 7 days)."""
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise ValueError("The grace period must be between none and 7 days.")
    now = timezone.now()
    old = ScimToken.objects.select_for_update().get(pk=token.pk)
    new_token, raw = token_issue(
        integration=old.integration, actor=actor, created_by=created_by, label=old.label, confirmed=True,
        announce=False,
    )
    if grace == timedelta(0):
        old.revoked_at = now
    else:
        old.expires_at = min(old.expires_at or now + grace, now + grace)
    old.save(update_fields=["revoked_at", "expires_at"])
    _audit(old.integration, actor, "token.rotated", {
        "old_token": old.display, "new_token": new_token.display,
        "old_token_works_until": (old.revoked_at or old.expires_at).isoformat(),
    })
    emails.token_rotated(old=old, new=new_token, actor=actor, old_works_until=old.revoked_at or old.expires_at)
    return new_token, raw


@transaction.atomic
def token_revoke(*, token: ScimToken, actor: Actor) -> ScimToken:
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    ScimToken.objects.filter(pk=token.pk).update(revoked_at=token.revoked_at)
    _audit(token.integration, actor, "token.revoked", {"token": token.display})
    emails.token_revoked(token=token, actor=actor)
    return token
