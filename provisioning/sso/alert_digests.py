"""What an SSO failure summary says: counts by reason and the most recent refusals.

Built by provisioning.sso.alert_notices, rendered by provisioning.emails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.db.models import Count

from provisioning.models import SsoSignIn
from provisioning.sso.reasons import REASONS

TOP_REASONS = 5
EXAMPLES = 5


@dataclass(frozen=True)
class ReasonCount:
    reason: str  # a key of provisioning.sso.reasons.REASONS
    text: str  # the SSO log's plain words for it
    count: int


@dataclass(frozen=True)
class SsoFailureDigest:
    total: int
    first_at: datetime | None
    last_at: datetime | None
    reasons: list[ReasonCount] = field(default_factory=list)
    other: int = 0  # refusals for reasons beyond the top ones
    examples: list[SsoSignIn] = field(default_factory=list)


def failure_digest(failures: models.QuerySet[SsoSignIn]) -> SsoFailureDigest:
    """Counts by reason and the most recent refusals; a constant number of queries."""
    counts = list(failures.order_by().values("reason").annotate(n=Count("id")).order_by("-n", "reason"))
    total = sum(row["n"] for row in counts)
    if not total:
        return SsoFailureDigest(total=0, first_at=None, last_at=None)
    bounds = failures.aggregate(first=models.Min("occurred_at"), last=models.Max("occurred_at"))
    reasons = [
        ReasonCount(reason=row["reason"], text=REASONS.get(row["reason"], REASONS["invalid"]).admin, count=row["n"])
        for row in counts[:TOP_REASONS]
    ]
    examples = list(
        failures.order_by("-occurred_at", "-id").only("occurred_at", "reference", "reason", "name_id")[:EXAMPLES]
    )
    return SsoFailureDigest(
        total=total, first_at=bounds["first"], last_at=bounds["last"], reasons=reasons,
        other=total - sum(r.count for r in reasons), examples=examples,
    )
