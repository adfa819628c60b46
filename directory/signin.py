"""Sign-in protection: django-axes' hooks and the audit trail of sign-ins.

django-axes (settings ``AXES_*``) counts failed sign-ins in the database per
account and per source address and locks either out for a cool-off period.
This module gives it our notion of an account (the email, case-folded, as
``TenantEmailBackend`` matches it) and of an address (``REMOTE_ADDR``),
renders the lockout on the sign-in page, and writes ``signin.*`` audit events
into the tenant of every account the email belongs to.

Every sign-in, whatever signed the person in (password, single sign-on, the
test client), also records its session, so that deprovisioning can end it
(``directory.services.person_sessions_end``).
"""

from __future__ import annotations

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from directory.audit import Actor, audit_event_record
from directory.console_actor import client_ip, console_actor
from directory.forms import SignInForm
from directory.models import Person
from directory.services import person_session_forget, person_session_record

# Set on a request whose sign-in no password was tried for (single sign-on: the identity
# provider authenticated the person); see SignInAttemptsHandler.
NO_PASSWORD_TRIED = "signin_without_password"


class SignInAttemptsHandler(AxesDatabaseHandler):
    """AXES_HANDLER: django-axes' database handler, minus its clean-up on sign-ins without a password.

    On every successful sign-in axes deletes expired failed attempts (three round trips).
    A single sign-on sign-in tried no password, so it has no attempts to count or clean, and
    a morning sign-in storm would pay that clean-up thousands of times; password sign-ins
    keep the library's behaviour, so expired attempts are still cleaned.
    """

    def user_logged_in(self, sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
        """Skip axes' bookkeeping when the request carries NO_PASSWORD_TRIED."""
        if getattr(request, NO_PASSWORD_TRIED, False):
            return
        super().user_logged_in(sender, request, user, **kwargs)


def signin_username(request: HttpRequest | None, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the email being signed in to, case-folded.

    Django's ``user_login_failed`` passes ``authenticate()``'s keyword
    (``username``), axes' own calls pass ``AXES_USERNAME_FORM_FIELD``
    (``email``), and the form posts ``email``; all three are accepted.
    Case-folding stops ``Ada@x`` and ``ada@x`` from being two budgets.
    """
    credentials = credentials or {}
    value = credentials.get("username") or credentials.get("email")
    if not value and request is not None and request.method == "POST":
        value = request.POST.get("email")
    value = str(value or "").strip().lower()
    return value[:255] or None


def signin_client_ip(request: HttpRequest) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: REMOTE_ADDR, never a client-supplied X-Forwarded-For.

    Behind our own proxies, TrustedProxyClientAddressMiddleware has already put
    the client's address there.
    """
    return client_ip(request)


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the sign-in page saying the account or address is locked (429)."""
    minutes = max(1, lockout_seconds() // 60)
    form = SignInForm(initial={"email": signin_username(request, credentials) or ""})
    response = render(
        request, "accounts/sign_in.html",
        {"form": form, "error": None, "next": "", "locked_out": True, "lockout_minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(lockout_seconds())
    return response


def attempt_refused_by_lockout(request: HttpRequest) -> bool:
    """True when axes refused the attempt without checking the password (already locked)."""
    return bool(getattr(request, "axes_locked_out", False)) and getattr(
        request, "axes_failures_since_start", None
    ) is None


def _accounts(email: str) -> list[Person]:
    if not email:
        return []
    return list(Person.objects.select_related("tenant").filter(user_name__iexact=email).order_by("created")[:10])


def _anonymous_actor(request: HttpRequest | None, ip: str | None = None) -> Actor:
    return Actor(
        label="Sign-in form (not signed in)",
        source_ip=ip or (client_ip(request) if request is not None else None),
        request_id=request.headers.get("X-Request-Id", "")[:64] if request is not None else "",
    )


def signin_succeeded_record(*, request: HttpRequest, person: Person) -> None:
    audit_event_record(
        tenant=person.tenant_id, actor=console_actor(request), action="signin.succeeded",
        target_type="person", target_id=person.pk, target_label=person.label,
    )


def signin_refused_record(*, request: HttpRequest, person: Person, reason: str) -> None:
    """The right password, refused by policy (the tenant requires single sign-on)."""
    audit_event_record(
        tenant=person.tenant_id, actor=_anonymous_actor(request), action="signin.refused", target_type="person",
        target_id=person.pk, target_label=person.label, details={"reason": reason},
    )


def signin_failed_record(*, request: HttpRequest, email: str) -> None:
    """A wrong password (or a deactivated account): filed in each tenant the email belongs to.

    An email of no account is not filed anywhere (there is no tenant to tell);
    axes still counts it against the source address.
    """
    actor = _anonymous_actor(request)
    for person in _accounts(email):
        audit_event_record(
            tenant=person.tenant_id, actor=actor, action="signin.failed", target_type="person",
            target_id=person.pk, target_label=person.label,
            details={"account_active": person.is_active},
        )


def signin_locked_out_record(*, request: HttpRequest | None, username: str | None, ip_address: str | None) -> None:
    actor = _anonymous_actor(request, ip_address)
    for person in _accounts(username or ""):
        audit_event_record(
            tenant=person.tenant_id, actor=actor, action="signin.locked_out", target_type="person",
            target_id=person.pk, target_label=person.label,
            details={"lockout_minutes": max(1, lockout_seconds() // 60),
                     "failure_limit": settings.AXES_FAILURE_LIMIT},
        )


@receiver(user_locked_out, dispatch_uid="directory.signin.locked_out")
def _on_locked_out(sender: Any, request: HttpRequest | None = None, username: str | None = None,
                   ip_address: str | None = None, **kwargs: Any) -> None:
    """Audit a lockout once, when it begins (connected in DirectoryConfig.ready)."""
    # axes sends the signal again for every attempt refused during a lockout;
    # only the attempt that caused it carries a failure count.
    if request is not None and attempt_refused_by_lockout(request):
        return
    signin_locked_out_record(request=request, username=username, ip_address=ip_address)


@receiver(user_logged_in, dispatch_uid="directory.signin.session_record")
def _on_logged_in(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    """Record the session the person signed in with (connected in DirectoryConfig.ready)."""
    session = getattr(request, "session", None)
    if session is None or not isinstance(user, Person):
        return
    if session.session_key is None:
        # login() flushes a session that belonged to someone else, and a flushed session
        # has no key until it is saved; save it now so there is a key to record.
        session.save()
    person_session_record(person=user, session_key=session.session_key)


@receiver(user_logged_out, dispatch_uid="directory.signin.session_forget")
def _on_logged_out(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    """Forget the session being signed out of; logout() deletes the session itself."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        person_session_forget(session_key=session_key)
