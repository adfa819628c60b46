"""Values SpaceIQ did not write, shown beside its own words (issue 17).

A value from an identity provider or an admin's form may carry a
RIGHT-TO-LEFT OVERRIDE (U+202E) or be written right to left: unisolated, it
turns the direction of the words that follow it. Markup isolates it with
``<bdi>`` (static/css/app.css also lets it wrap anywhere); these filters cover
the places markup cannot go:

- ``{{ value|isolate }}`` where only text goes (``<title>``, ``<option>``,
  attribute values): between FIRST STRONG ISOLATE (U+2068) and POP
  DIRECTIONAL ISOLATE (U+2069), Unicode's plain-text ``<bdi>`` (UAX #9).
- ``{{ value|bdi }}`` in a template rendered both as HTML and as plain text
  (an email body whose HTML part includes its text part): ``<bdi>`` in HTML,
  the value untouched in text.

Neither changes the value itself: SCIM returns it as sent.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


@register.filter(is_safe=True)  # adds no markup: safe text stays safe
def isolate(value: Any) -> Any:
    if value is None or value == "":
        return value
    return f"{FIRST_STRONG_ISOLATE}{value}{POP_DIRECTIONAL_ISOLATE}"


@register.filter(needs_autoescape=True)
def bdi(value: Any, autoescape: bool = True) -> Any:
    if not autoescape:
        return value
    return format_html("<bdi>{}</bdi>", value)
