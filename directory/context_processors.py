from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from directory.permissions import is_tenant_admin


def console(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"console_tenant": None, "console_is_admin": False}
    return {"console_tenant": user.tenant, "console_is_admin": is_tenant_admin(user)}
