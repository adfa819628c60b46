"""Helpers shared by the console tests (integrations, tokens, directory pages)."""

from __future__ import annotations

import re
import time

from django.urls import reverse

TOKEN_RE = re.compile(r"siq_scim_[A-Za-z0-9_-]{40,}")
# A whole API key (a key's display, "siq_api_" and 8 characters, is no match).
API_KEY_RE = re.compile(r"siq_api_[A-Za-z0-9_-]{40,}")


def enter_sudo(client) -> None:
    """As if the admin had just typed their password (sign-in or re-authentication)."""
    from directory.sudo import SUDO_SESSION_KEY

    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time())
    session.save()


def leave_sudo(client) -> None:
    from directory.sudo import SUDO_SESSION_KEY

    session = client.session
    session[SUDO_SESSION_KEY] = int(time.time()) - 11 * 60
    session.save()


def tokens_in(html: str | bytes) -> list[str]:
    text = html.decode() if isinstance(html, bytes) else html
    return TOKEN_RE.findall(text)


def api_keys_in(html: str | bytes) -> list[str]:
    text = html.decode() if isinstance(html, bytes) else html
    return API_KEY_RE.findall(text)


def draft_id(html: bytes) -> str:
    """The id of the draft token an activation dialog carries in its form."""
    return re.search(rb'name="draft" value="(\d+)"', html).group(1).decode()


def activate(client, kind: str = "azure", **form) -> str:
    """Open the activation dialog, read its token, press Activate. Returns the token."""
    url = reverse("provisioning:integration-activate", args=[kind])
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    [raw] = set(tokens_in(response.content))
    data = {"draft": draft_id(response.content), "notification_email": "it@acme.example", "notify_on_failure": "on",
            **form}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return raw


def make_auditor(tenant, user_name: str = "audrey.auditor@acme.example", **attrs):
    """A person of ``tenant`` whose console role is Auditor, granted as the console grants it."""
    from directory import services
    from directory.audit import Actor
    from directory.models import Role
    from tests.conftest import make_person

    person = make_person(tenant, user_name, **{"display_name": "Audrey Auditor", **attrs})
    return services.console_role_set(person=person, role=Role.AUDITOR, actor=Actor.system("test"))
