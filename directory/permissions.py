"""Who may see what: the console is for active admins of the tenant they belong to; their
own profile and the people directory are for every active person of the tenant."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def is_tenant_admin(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_tenant_admin)


def tenant_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-out visitors go to sign-in; signed-in non-admins get 403, whose page (templates/403.html)
    says the page is for administrators and links to their profile and the people directory."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_tenant_admin(request.user):
            raise PermissionDenied("Only administrators of this tenant can open this page.")
        request.tenant = request.user.tenant  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def tenant_member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any active person of a tenant (admin or not); signed-out visitors go to sign-in.
    ``request.tenant`` is the person's own tenant, the only one the view may read."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The session backend already refuses deactivated people (TenantEmailBackend.get_user).
        if not request.user.is_authenticated or not request.user.is_active:
            return redirect_to_login(request.get_full_path())
        request.tenant = request.user.tenant  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
