"""Writes for single sign-on. Each records its audit event in the same transaction."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from directory.audit import Actor, audit_event_record
from directory.models import Person
from provisioning.models import Integration, SsoAuthnRequest, SsoCertificate, SsoConfig, SsoSignIn
from provisioning.registry import kind_get
from provisioning.sso import alerts
from provisioning.sso.certificates import CertificateFacts
from provisioning.sso.saml import AUTHN_REQUEST_TTL_SECONDS

# Unambiguous characters for reference codes people read out over the phone.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def reference_new() -> str:
    return "SSO-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(8))


def _integration_label(integration: Integration) -> str:
    entry = kind_get(integration.kind)
    return entry.name if entry else integration.kind


@transaction.atomic
def sso_settings_save(
    *, integration: Integration, actor: Actor, idp_entity_id: str, login_url: str, require_sso: bool,
    create_people: bool, certificates: list[CertificateFacts], replace_certificates: bool = False,
) -> SsoConfig:
    """Save the identity provider's side. ``certificates`` are added to the trusted ones, or replace
    them (``replace_certificates``, when federation metadata lists the full set)."""
    config, _ = SsoConfig.objects.select_for_update().get_or_create(integration=integration)
    before = {"idp_entity_id": config.idp_entity_id, "login_url": config.login_url,
              "require_sso": config.require_sso, "create_people": config.create_people}
    after = {"idp_entity_id": idp_entity_id, "login_url": login_url, "require_sso": require_sso,
             "create_people": create_people}
    changes = {k: {"old": before[k], "new": v} for k, v in after.items() if before[k] != v}
    for name, value in after.items():
        setattr(config, name, value)
    config.save()
    existing = {c.thumbprint: c for c in config.certificates.all()}
    wanted = {c.thumbprint: c for c in certificates}
    added = [facts for thumbprint, facts in wanted.items() if thumbprint not in existing]
    removed = [c for t, c in existing.items() if t not in wanted] if replace_certificates else []
    for cert in removed:
        cert.delete()
    for facts in added:
        SsoCertificate.objects.create(config=config, pem=facts.pem, subject=facts.subject,
                                      thumbprint=facts.thumbprint, not_before=facts.not_before,
                                      not_after=facts.not_after)
    if changes:
        _audit(integration, actor, "sso.settings_updated", {"changes": changes})
    for facts in added:
        _audit(integration, actor, "sso.certificate_added", _cert_details(facts.thumbprint, facts.subject,
                                                                          facts.not_after))
    for cert in removed:
        _audit(integration, actor, "sso.certificate_removed", _cert_details(cert.thumbprint, cert.subject,
                                                                            cert.not_after))
    return config


@transaction.atomic
def sso_certificate_remove(*, integration: Integration, actor: Actor, certificate_id: int) -> bool:
    cert = SsoCertificate.objects.filter(pk=certificate_id, config__integration=integration).first()
    if cert is None:
        return False
    cert.delete()
    _audit(integration, actor, "sso.certificate_removed", _cert_details(cert.thumbprint, cert.subject,
                                                                        cert.not_after))
    return True


def _cert_details(thumbprint: str, subject: str, not_after: Any) -> dict[str, Any]:
    return {"thumbprint": thumbprint, "subject": subject, "expires": not_after.isoformat()}


def _audit(integration: Integration, actor: Actor, action: str, details: dict[str, Any]) -> None:
    audit_event_record(tenant=integration.tenant_id, actor=actor, action=action, target_type="integration",
                       target_id=integration.pk, target_label=_integration_label(integration), details=details)


def authn_request_remember(
    *, config: SsoConfig, request_id: str, purpose: str = SsoAuthnRequest.Purpose.SIGNIN, relay_state: str = "",
    requested_by: Person | None = None,
) -> SsoAuthnRequest:
    """Keep the ID of an AuthnRequest we are sending, so its response can be matched server-side."""
    now = timezone.now()
    return SsoAuthnRequest.objects.create(
        request_id=request_id, config=config, purpose=purpose, relay_state=relay_state[:1024],
        requested_by=requested_by, expires_at=now + timedelta(seconds=AUTHN_REQUEST_TTL_SECONDS),
    )


def authn_request_claim(*, request: SsoAuthnRequest) -> bool:
    """Mark the request answered; False when another response already did (claimed by a conditional UPDATE)."""
    return bool(SsoAuthnRequest.objects.filter(pk=request.pk, answered_at__isnull=True).update(
        answered_at=timezone.now()))


@transaction.atomic
def sso_signin_record(
    *, config: SsoConfig, actor: Actor, flow: str, outcome: str, reason: str = "", detail: str = "",
    name_id: str = "", person: Person | None = None, assertion_id: str = "", in_response_to: str = "",
    details: dict[str, Any] | None = None,
) -> SsoSignIn:
    """One row of the SSO log and its audit event, in one transaction."""
    integration = config.integration
    row = SsoSignIn.objects.create(
        tenant_id=integration.tenant_id, integration=integration, flow=flow, outcome=outcome, reason=reason,
        detail=detail[:2000], name_id=name_id[:512], person=person, reference=reference_new(),
        source_ip=actor.source_ip, assertion_id=assertion_id[:128], in_response_to=in_response_to[:128],
        details=details or {},
    )
    alerts.signin_recorded(config=config, row=row)
    action = {SsoSignIn.Outcome.SUCCEEDED: "sso.signin_succeeded", SsoSignIn.Outcome.TESTED: "sso.test_passed"}.get(
        outcome, "sso.signin_refused")
    audit_details = {"reference": row.reference, "flow": flow, "integration": _integration_label(integration)}
    if reason:
        audit_details["reason"] = reason
    if name_id:
        audit_details["name_id"] = name_id[:512]
    if person is not None:
        audit_event_record(tenant=integration.tenant_id, actor=actor, action=action, target_type="person",
                           target_id=person.pk, target_label=person.user_name, details=audit_details)
    else:
        _audit(integration, actor, action, audit_details)
    now = timezone.now()
    recent = config.last_signin_at is not None and config.last_signin_at > now - timedelta(minutes=1)
    if outcome == SsoSignIn.Outcome.SUCCEEDED and not recent:
        # At most one write a minute to the config row, however many people sign in at 9:00
        # (the condition again in SQL: other processes read the row before this one wrote it).
        SsoConfig.objects.filter(pk=config.pk).exclude(last_signin_at__gt=now - timedelta(minutes=1)).update(
            last_signin_at=now)
    return row
