"""What happens when an identity provider posts a SAML response to an ACS URL.

In order: parse with the integration's settings; look the InResponseTo up
among the AuthnRequests we sent (server-side: the cross-site POST brings no
session); let the toolkit run every check; accept each assertion ID once;
find the person the NameID names. Every outcome is one SSO log row and one
audit event; only a sign-in changes the browser's session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from directory.audit import Actor
from directory.errors import DirectoryError
from directory.models import Person, Source
from directory.services import person_create
from provisioning.models import SsoAuthnRequest, SsoConfig, SsoSignIn
from provisioning.registry import kind_get
from provisioning.sso import services
from provisioning.sso.reasons import CHECKS, REASONS
from provisioning.sso.saml import (
    Assertion,
    SamlRefusal,
    response_in_response_to,
    response_parse,
    response_validate,
)
from provisioning.sso.selectors import idp_of, person_for_name_id, sp_of, sso_is_usable

logger = logging.getLogger(__name__)

# The toolkit allows this much clock difference (python3-saml's ALLOWED_CLOCK_DRIFT);
# a replayed assertion must be remembered at least until it would be refused anyway.
CLOCK_SKEW = timedelta(minutes=5)

CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_CLAIM = "http://schemas.microsoft.com/identity/claims/"


@dataclass
class Outcome:
    """The result of one POST to an ACS URL."""

    record: SsoSignIn
    person: Person | None = None
    pending: SsoAuthnRequest | None = None
    assertion: Assertion | None = None

    @property
    def succeeded(self) -> bool:
        return self.record.outcome == SsoSignIn.Outcome.SUCCEEDED

    @property
    def is_test(self) -> bool:
        return self.record.flow == SsoSignIn.Flow.TEST


def idp_actor(config: SsoConfig, source_ip: str | None, request_id: str = "") -> Actor:
    entry = kind_get(config.integration.kind)
    provider = entry.provider if entry else config.integration.kind
    return Actor(label=f"{provider} (single sign-on)", source_ip=source_ip, request_id=request_id)


def _check_list(failed: str | None) -> list[dict[str, str]]:
    """The checks for the Test single sign-on page: passed up to the failure, then not reached."""
    result, reached_failure = [], False
    for key, label in CHECKS:
        if failed is None:
            state = "passed"
        elif key == failed:
            state, reached_failure = "failed", True
        else:
            state = "not_checked" if reached_failure or key not in _CHECKED_BEFORE.get(failed, ()) else "passed"
        result.append({"key": key, "label": label, "state": state})
    return result


# Which checks certainly passed when a given one fails: the toolkit checks the message, the
# status and InResponseTo first, and the signature last; we check replay and the person after it.
_CHECKED_BEFORE: dict[str, tuple[str, ...]] = {
    "status": ("configuration", "message"),
    "in_response_to": ("configuration", "message", "status"),
    "time": ("configuration", "message", "status", "in_response_to"),
    "destination": ("configuration", "message", "status", "in_response_to", "time"),
    "audience": ("configuration", "message", "status", "in_response_to", "time", "destination"),
    "issuer": ("configuration", "message", "status", "in_response_to", "time", "destination", "audience"),
    "signature": ("configuration", "message", "status", "in_response_to"),
    "replay": tuple(k for k, _ in CHECKS if k not in ("replay", "person")),
    "person": tuple(k for k, _ in CHECKS if k != "person"),
}


def _remember_assertion(config: SsoConfig, assertion: Assertion) -> None:
    """Accept each assertion ID once (the shared cache: every process sees it)."""
    lifetime = CLOCK_SKEW + timedelta(minutes=1)
    if assertion.not_on_or_after is not None:
        lifetime += max(timedelta(0), assertion.not_on_or_after - timezone.now())
    key = f"sso:assertion:{config.pk}:{assertion.assertion_id}"
    try:
        fresh = cache.add(key, 1, timeout=int(min(lifetime, timedelta(days=1)).total_seconds()))
    except Exception as exc:  # a cache that does not answer cannot vouch for freshness: refuse
        logger.warning("SSO replay store unavailable: %s", type(exc).__name__)
        raise SamlRefusal("replay_store_unavailable") from None
    if not assertion.assertion_id or not fresh:
        raise SamlRefusal("replayed")


def _person_just_in_time(config: SsoConfig, assertion: Assertion, actor: Actor) -> Person | None:
    """Create the person from the assertion (the "Create people who are not provisioned yet" setting)."""
    def first(name: str) -> str | None:
        values = assertion.attributes.get(name) or []
        return values[0][:255] if values and values[0] else None

    email = first(CLAIM + "emailaddress")
    try:
        return person_create(
            tenant=config.integration.tenant, actor=actor, user_name=assertion.name_id, source=Source.SSO,
            given_name=first(CLAIM + "givenname"), family_name=first(CLAIM + "surname"),
            display_name=first(MS_CLAIM + "displayname"),
            emails=[{"value": email, "type": "work", "primary": True}] if email else [],
        )
    except DirectoryError:
        return None


def acs_process(*, config: SsoConfig, saml_response: str, actor: Actor, too_large: bool = False) -> Outcome:
    """Handle one POST to ``config``'s ACS URL; the outcome is logged and audited."""
    pending: SsoAuthnRequest | None = None
    assertion: Assertion | None = None
    flow = SsoSignIn.Flow.IDP
    try:
        if too_large:
            raise SamlRefusal("too_large")
        if not saml_response:
            raise SamlRefusal("no_response")
        if not sso_is_usable(config):
            raise SamlRefusal("not_configured" if config.integration.state != "inactive" else "integration_inactive")
        sp = sp_of(config)
        idp = idp_of(config)
        if not idp.certificates:
            raise SamlRefusal("certificate_expired")
        response = response_parse(saml_response, sp=sp, idp=idp)
        in_response_to = response_in_response_to(response)
        if in_response_to:
            pending = SsoAuthnRequest.objects.filter(request_id=in_response_to[:64], config=config).first()
            if pending is not None and pending.purpose == SsoAuthnRequest.Purpose.TEST:
                flow = SsoSignIn.Flow.TEST
            elif pending is not None:
                flow = SsoSignIn.Flow.SP
            if pending is None or pending.expires_at <= timezone.now():
                raise SamlRefusal("in_response_to_unknown", in_response_to=in_response_to)
            if pending.answered_at is not None:
                raise SamlRefusal("in_response_to_answered", in_response_to=in_response_to)
        assertion = response_validate(response, sp=sp, request_id=in_response_to or None)
        if pending is not None and not services.authn_request_claim(request=pending):
            raise SamlRefusal("in_response_to_answered", in_response_to=in_response_to)
        _remember_assertion(config, assertion)
        if not assertion.name_id:
            raise SamlRefusal("no_name_id")
        person = person_for_name_id(tenant_id=config.integration.tenant_id, name_id=assertion.name_id)
        if person is None and config.create_people and flow != SsoSignIn.Flow.TEST:
            person = _person_just_in_time(config, assertion, actor)
        if person is None:
            raise SamlRefusal("unknown_person")
        if not person.is_active:
            raise SamlRefusal("inactive_person")
    except SamlRefusal as refusal:
        return _refused(config, actor, flow, refusal, pending, assertion)
    outcome = SsoSignIn.Outcome.TESTED if flow == SsoSignIn.Flow.TEST else SsoSignIn.Outcome.SUCCEEDED
    record = services.sso_signin_record(
        config=config, actor=actor, flow=flow, outcome=outcome, name_id=assertion.name_id, person=person,
        assertion_id=assertion.assertion_id, in_response_to=assertion.in_response_to,
        details=_test_details(assertion, None) if flow == SsoSignIn.Flow.TEST else {},
    )
    return Outcome(record=record, person=person, pending=pending, assertion=assertion)


def _refused(config: SsoConfig, actor: Actor, flow: str, refusal: SamlRefusal, pending: SsoAuthnRequest | None,
             assertion: Assertion | None) -> Outcome:
    reason = REASONS.get(refusal.reason, REASONS["invalid"])
    # The toolkit's own words go to the log for the admin, never to the browser.
    logger.info("SSO sign-in refused for integration %s: %s (%s)", config.integration_id, refusal.reason,
                refusal.detail)
    record = services.sso_signin_record(
        config=config, actor=actor, flow=flow, outcome=SsoSignIn.Outcome.REFUSED, reason=refusal.reason,
        detail=refusal.detail, name_id=assertion.name_id if assertion else refusal.name_id,
        assertion_id=assertion.assertion_id if assertion else "",
        in_response_to=(assertion.in_response_to if assertion else refusal.in_response_to),
        details=_test_details(assertion, reason.check) if flow == SsoSignIn.Flow.TEST else {},
    )
    return Outcome(record=record, pending=pending, assertion=assertion)


def _test_details(assertion: Assertion | None, failed_check: str | None) -> dict[str, Any]:
    """What the Test single sign-on page shows: what the identity provider sent, and the checks."""
    details: dict[str, Any] = {"checks": _check_list(failed_check)}
    if assertion is not None:
        details.update({
            "name_id": assertion.name_id, "name_id_format": assertion.name_id_format,
            "issuer": assertion.issuer, "attributes": assertion.attributes,
            "session_index": assertion.session_index,
        })
    return details
