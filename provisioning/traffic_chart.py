"""The SCIM traffic chart: requests per hour, succeeded and failed, as server-rendered SVG.

This module computes the numbers and the geometry; the template
``provisioning/_traffic_chart.html`` only draws rectangles and text. Two
aggregate queries per chart whatever the traffic (grouped by hour in the
database), so it stays fast on an initial sync of 100,000 people.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from provisioning.failure_reasons import explain
from provisioning.models import Integration, ScimRequest

RANGES: dict[str, tuple[int, str]] = {"24h": (24, "Last 24 hours"), "30d": (30 * 24, "Last 30 days")}
DEFAULT_RANGE = "24h"

# SVG user units; the SVG scales to its container through its viewBox.
PLOT_WIDTH = 720
PLOT_HEIGHT = 160
LEFT = 44
TOP = 8
BOTTOM = 24
WIDTH = LEFT + PLOT_WIDTH + 8
HEIGHT = TOP + PLOT_HEIGHT + BOTTOM


@dataclass(frozen=True)
class Bar:
    start: datetime
    succeeded: int
    failed: int
    reasons: list[tuple[str, int]]
    x: float
    width: float
    ok_y: float
    ok_height: float
    failed_y: float
    failed_height: float

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def title(self) -> str:
        end = self.start + timedelta(hours=1)
        text = (
            f"{self.start:%d %b %H:%M} to {end:%H:%M} UTC: {self.succeeded} succeeded, {self.failed} failed"
        )
        if self.reasons:
            text += " — " + "; ".join(f"{reason}: {count}" for reason, count in self.reasons)
        return text


@dataclass(frozen=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True)
class XLabel:
    text: str
    x: float


@dataclass(frozen=True)
class TrafficChart:
    range_key: str
    range_label: str
    hours: int
    bars: list[Bar]
    ticks: list[Tick]
    x_labels: list[XLabel]
    succeeded: int
    failed: int
    reasons: list[tuple[str, int]] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    plot_left: int = LEFT
    plot_top: int = TOP
    plot_bottom: int = TOP + PLOT_HEIGHT
    plot_right: int = LEFT + PLOT_WIDTH

    @property
    def total(self) -> int:
        return self.succeeded + self.failed

    @property
    def ranges(self) -> list[tuple[str, str]]:
        return [(key, label) for key, (_, label) in RANGES.items()]


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value`` (axis maximum)."""
    if value <= 1:
        return 1
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def traffic_chart(
    *, integration: Integration, range_key: str = DEFAULT_RANGE, now: datetime | None = None
) -> TrafficChart:
    if range_key not in RANGES:
        range_key = DEFAULT_RANGE
    hours, label = RANGES[range_key]
    now = now or timezone.now()
    last_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = last_hour - timedelta(hours=hours - 1)

    requests = ScimRequest.objects.filter(integration=integration, received_at__gte=first_hour)
    per_hour = {
        row["hour"]: (row["total"] - row["failed"], row["failed"])
        for row in requests.annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values("hour")
        .annotate(total=Count("id"), failed=Count("id", filter=Q(status__gte=400)))
    }
    reasons_per_hour: dict[datetime, Counter[str]] = defaultdict(Counter)
    overall: Counter[str] = Counter()
    failures = (
        requests.filter(status__gte=400)
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .values("hour", "status", "scim_type", "resource_type")
        .annotate(n=Count("id"))
    )
    for row in failures:
        explained = explain(row["status"], row["scim_type"], kind=integration.kind, resource_type=row["resource_type"])
        reason = explained.reason
        reasons_per_hour[row["hour"]][reason] += row["n"]
        overall[reason] += row["n"]

    peak = max((ok + failed for ok, failed in per_hour.values()), default=0)
    axis_max = _nice_ceiling(peak)
    scale = PLOT_HEIGHT / axis_max
    slot = PLOT_WIDTH / hours
    gap = min(slot * 0.2, 4.0) if hours <= 48 else 0.0
    bars: list[Bar] = []
    for index in range(hours):
        start = first_hour + timedelta(hours=index)
        succeeded, failed = per_hour.get(start, (0, 0))
        if not succeeded and not failed:
            continue  # empty hours draw nothing, which keeps 30 days of markup small
        failed_height = failed * scale
        ok_height = succeeded * scale
        bottom = TOP + PLOT_HEIGHT
        bars.append(
            Bar(
                start=start, succeeded=succeeded, failed=failed,
                reasons=reasons_per_hour[start].most_common(),
                x=round(LEFT + index * slot + gap / 2, 2), width=round(max(slot - gap, 0.8), 2),
                failed_y=round(bottom - failed_height, 2), failed_height=round(failed_height, 2),
                ok_y=round(bottom - failed_height - ok_height, 2), ok_height=round(ok_height, 2),
            )
        )
    ticks = [Tick(value=v, y=round(TOP + PLOT_HEIGHT - v * scale, 2)) for v in sorted({0, axis_max // 2, axis_max})]
    every = 3 if hours <= 24 else 24 * 5
    x_labels = [
        XLabel(
            text=(first_hour + timedelta(hours=i)).strftime("%H:%M" if hours <= 24 else "%d %b"),
            x=round(LEFT + i * slot, 2),
        )
        for i in range(0, hours, every)
    ]
    return TrafficChart(
        range_key=range_key, range_label=label, hours=hours, bars=bars, ticks=ticks, x_labels=x_labels,
        succeeded=sum(ok for ok, _ in per_hour.values()), failed=sum(f for _, f in per_hour.values()),
        reasons=sorted(overall.items(), key=lambda item: (-item[1], item[0])),
    )
