"""Who may see what, by the signed-in person's effective role (``Person.role``):

- Admin: the whole console, reading and changing.
- Auditor: reads the console (People, Groups, the audit log, provisioning and SSO
  logs, integration status) and changes nothing: every write view answers 403.
- Member: no console; their own profile and the people directory, which every
  active person of the tenant has.

Each view carries exactly one of three decorators: ``console_reader_required``
(pages an auditor may read), ``tenant_admin_required`` (every write, and every
page that exists only to make one) or ``tenant_member_required``.

The role is read from ``request.user``, which the session backend loads from
the database on every request (``TenantEmailBackend.get_user``); nothing caches
it, so a role change applies from the person's next request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from directory.models import Role

CONSOLE_ROLES = frozenset({Role.ADMIN, Role.AUDITOR})


def console_role(user: Any) -> Role | None:
    """ADMIN or AUDITOR for an active person who may open the console; None for everyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return Role(user.role) if user.role in CONSOLE_ROLES else None


def is_tenant_admin(user: Any) -> bool:
    return console_role(user) == Role.ADMIN


def is_console_reader(user: Any) -> bool:
    """Admins and auditors: whoever may read the console."""
    return console_role(user) is not None


def _role_checked(view: Callable[..., HttpResponse], allowed: Callable[[Any], bool],
                  refusal: str) -> Callable[..., HttpResponse]:
    """Signed-out visitors go to sign-in; signed-in people ``allowed`` refuses get 403, whose page
    (templates/403.html) tells an auditor the console is read-only for them and a member where
    their profile and the people directory are."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not allowed(request.user):
            raise PermissionDenied(refusal)
        request.tenant = request.user.tenant  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper


def console_reader_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Read-only console pages: admins and auditors of the tenant."""
    return _role_checked(view, is_console_reader, "Only administrators and auditors can open this page.")


def tenant_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Every change, and every page that exists only to make one: admins of the tenant."""
    return _role_checked(view, is_tenant_admin, "Only administrators of this tenant can do this.")


def tenant_member_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Any active person of a tenant, whatever their role; signed-out visitors go to sign-in.
    ``request.tenant`` is the person's own tenant, the only one the view may read."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # The session backend already refuses deactivated people (TenantEmailBackend.get_user).
        if not request.user.is_authenticated or not request.user.is_active:
            return redirect_to_login(request.get_full_path())
        request.tenant = request.user.tenant  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
