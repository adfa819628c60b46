"""The status at a glance of an integration, computed from its SCIM request log.

One function of the request log and ``Integration.last_request_at``, so the
tile and the integration page always say the same thing. Failure reasons come
from ``provisioning.failure_reasons`` so they read as in the logs and emails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateformat import format as date_format

from provisioning.failure_reasons import failure_reason
from provisioning.models import Integration, ScimRequest, ScimToken
from provisioning.registry import kind_get

FAILURE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class IntegrationStatus:
    level: str  # inactive | waiting | connected | healthy | failing | silent
    text: str
    at: datetime | None = None

    @property
    def badge(self) -> str:
        return {
            "healthy": "badge-ok", "connected": "badge-ok", "failing": "badge-danger", "silent": "badge-warn",
        }.get(self.level, "")


def silence_threshold() -> timedelta:
    return timedelta(hours=getattr(settings, "SCIM_SILENCE_HOURS", 3))


def when(moment: datetime) -> str:
    """How times read in status sentences: '26 Nov 2026, 07:12 UTC'."""
    local = timezone.localtime(moment)
    return date_format(local, "j M Y, H:i T")


def _is_test_connection_q() -> Q:
    # Entra's Test Connection is GET /Users?filter=userName eq "<random>",
    # answered with 200 and no results; Okta and OneLogin send the same shape.
    return Q(method="GET", path__contains="/Users", status=200)


def integration_status(integration: Integration, *, now: datetime | None = None) -> IntegrationStatus:
    now = now or timezone.now()
    entry = kind_get(integration.kind)
    provider = entry.provider if entry else "your identity provider"
    if integration.state == Integration.State.INACTIVE:
        return IntegrationStatus("inactive", "Deactivated — no token is accepted", integration.deactivated_at)
    if integration.state != Integration.State.ACTIVE:
        return IntegrationStatus("inactive", "Not activated")

    requests = ScimRequest.objects.filter(integration=integration)
    latest = requests.order_by("-received_at").values_list("received_at", flat=True).first()
    last = max((t for t in (latest, integration.last_request_at) if t is not None), default=None)
    if last is None:
        return IntegrationStatus("waiting", f"Waiting for the first request from {provider}")

    failures = list(
        requests.filter(received_at__gte=now - FAILURE_WINDOW, status__gte=400)
        .values("status", "scim_type")
        .annotate(n=Count("id"))
        .order_by("-n", "status")
    )
    failed = sum(row["n"] for row in failures)
    if failed:
        # Several (status, scimType) pairs can share one reason; count by reason.
        reasons: Counter[str] = Counter()
        for row in failures:
            reasons[failure_reason(row["status"], row["scim_type"])] += row["n"]
        reason = reasons.most_common(1)[0][0]
        noun = "request" if failed == 1 else "requests"
        return IntegrationStatus("failing", f"Failing — {failed} failed {noun} in the last hour: {reason}", last)

    threshold = silence_threshold()
    if now - last > threshold:
        hours = int(threshold.total_seconds() // 3600) or 1
        return IntegrationStatus("silent", f"Silent — no request for over {hours} hours", last)

    # exists() stops at the first real sync request, so this stays cheap on
    # a busy integration; it only scans when every request was a test.
    if not requests.exclude(_is_test_connection_q()).exists():
        return IntegrationStatus("connected", f"Connected — Test Connection received {when(last)}", last)
    return IntegrationStatus("healthy", f"Healthy — last sync activity {when(last)}", last)


@dataclass(frozen=True)
class TokenState:
    text: str
    badge: str
    usable: bool


def token_state(token: ScimToken, *, now: datetime | None = None) -> TokenState:
    """How a token's status reads in the token table."""
    now = now or timezone.now()
    if token.revoked_at is not None:
        return TokenState(f"Revoked {when(token.revoked_at)}", "badge-danger", False)
    if token.expires_at is not None:
        if token.expires_at <= now:
            return TokenState(f"Expired {when(token.expires_at)}", "badge-danger", False)
        return TokenState(f"Expires {when(token.expires_at)}", "badge-warn", True)
    return TokenState("Active", "badge-ok", True)
