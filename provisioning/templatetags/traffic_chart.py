"""``{% traffic_chart_for integration range %}``: the data behind _traffic_chart.html."""

from __future__ import annotations

from django import template

from provisioning.models import Integration
from provisioning.traffic_chart import DEFAULT_RANGE, TrafficChart, traffic_chart

register = template.Library()


@register.simple_tag
def traffic_chart_for(integration: Integration, range_key: str | None = None) -> TrafficChart:
    return traffic_chart(integration=integration, range_key=range_key or DEFAULT_RANGE)
