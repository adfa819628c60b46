"""What a SCIM failure summary says: counts by reason and a few recent examples.

Built by provisioning.alert_notices, rendered by provisioning.emails.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.db.models import Count

from provisioning.failure_reasons import explain
from provisioning.models import ScimRequest

EXAMPLES = 5


@dataclass(frozen=True)
class FailureExample:
    id: int
    received_at: datetime
    method: str
    path: str
    status: int
    reason: str
    detail: str


@dataclass(frozen=True)
class FailureDigest:
    total: int
    first_at: datetime | None
    last_at: datetime | None
    reasons: list[tuple[str, int]] = field(default_factory=list)
    examples: list[FailureExample] = field(default_factory=list)


def failure_digest(failures: models.QuerySet[ScimRequest], *, kind: str) -> FailureDigest:
    """Counts by reason and a few recent examples; a constant number of queries."""
    counts: Counter[str] = Counter()
    for row in failures.values("status", "scim_type", "resource_type").annotate(n=Count("id")):
        counts[explain(row["status"], row["scim_type"], kind=kind, resource_type=row["resource_type"]).reason] += row[
            "n"
        ]
    total = sum(counts.values())
    if not total:
        return FailureDigest(total=0, first_at=None, last_at=None)
    bounds = failures.aggregate(first=models.Min("received_at"), last=models.Max("received_at"))
    examples = [
        FailureExample(
            id=r.pk, received_at=r.received_at, method=r.method, path=r.path, status=r.status,
            reason=explain(r.status, r.scim_type, kind=kind, resource_type=r.resource_type).reason,
            detail=r.error_detail[:300],
        )
        for r in failures.order_by("-received_at", "-id").only(
            "received_at", "method", "path", "status", "scim_type", "resource_type", "error_detail"
        )[:EXAMPLES]
    ]
    return FailureDigest(
        total=total, first_at=bounds["first"], last_at=bounds["last"],
        reasons=sorted(counts.items(), key=lambda item: (-item[1], item[0])), examples=examples,
    )
