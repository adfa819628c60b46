from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from directory.models import Role
from directory.permissions import console_role


def console(request: HttpRequest) -> dict[str, Any]:
    """What the page shell and templates ask: whose tenant, and what the signed-in person may do.
    ``console_is_reader`` shows the console (admins and auditors); ``console_is_admin`` shows the
    buttons that change something, which auditors never see."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_tenant": None, "console_is_admin": False, "console_is_reader": False}
    role = console_role(user)
    return {
        "console_tenant": user.tenant,
        "console_is_admin": role == Role.ADMIN,
        "console_is_reader": role is not None,
    }
