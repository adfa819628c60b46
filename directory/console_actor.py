"""The ``Actor`` for a change made by a signed-in admin in the console."""

from __future__ import annotations

from django.http import HttpRequest

from directory.audit import Actor


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted
    # proxy rewrites it, and the audit trail must not record a forged address.
    return request.META.get("REMOTE_ADDR") or None


def console_actor(request: HttpRequest) -> Actor:
    user = request.user
    return Actor(
        label=f"{user.label} ({user.user_name})",
        person_id=user.pk,
        source_ip=client_ip(request),
        request_id=request.headers.get("X-Request-Id", "")[:64],
    )
