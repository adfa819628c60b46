"""Email messages: one template triad per message, one builder, one function each.

Templates live in ``templates/emails/<name>/{subject.txt,body.txt,body.html}``.
Functions here only render and queue; delivery is provisioning.notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from directory.models import Person, Tenant
from provisioning import notifications


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(name: str, context: dict[str, Any]) -> RenderedEmail:
    context = {"site_url": settings.SITE_URL, **context}
    subject = " ".join(render_to_string(f"emails/{name}/subject.txt", context).split())
    return RenderedEmail(
        subject=subject,
        text=render_to_string(f"emails/{name}/body.txt", context),
        html=render_to_string(f"emails/{name}/body.html", context),
    )


def welcome_admin(*, tenant: Tenant, admin: Person) -> None:
    """Tell a tenant's first admin how to sign in and what to do next."""
    email = render_email(
        "welcome",
        {
            "tenant": tenant,
            "admin": admin,
            "sign_in_url": settings.SITE_URL + reverse("accounts:sign-in"),
            "settings_url": settings.SITE_URL + reverse("provisioning:settings"),
        },
    )
    notifications.notification_queue(
        tenant=tenant,
        kind="welcome",
        dedupe_key=f"welcome:{admin.pk}",
        to=[admin.primary_email or admin.user_name],
        email=email,
    )
