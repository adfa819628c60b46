"""Sign-in and sign-out."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from directory.forms import SignInForm
from directory.signin import (
    attempt_refused_by_lockout,
    signin_failed_record,
    signin_refused_record,
    signin_succeeded_record,
)
from directory.sudo import sudo_mark


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    if not safe:
        next_url = ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url or "directory:home")
    form = SignInForm(request.POST or None)
    error = None
    status = 200
    if request.method == "POST" and form.is_valid():
        person = authenticate(request, username=form.cleaned_data["email"], password=form.cleaned_data["password"])
        refusal = password_signin_refusal(person) if person is not None else None
        if refusal:
            signin_refused_record(request=request, person=person, reason="sso_required")
            context = {"form": SignInForm(initial={"email": form.cleaned_data["email"]}), "error": refusal,
                       "next": next_url, "sso_required": True}
            return render(request, "accounts/sign_in.html", context, status=403)
        if person is not None:
            login(request, person)  # rotates the session key
            sudo_mark(request)  # a password just entered counts for sudo mode
            signin_succeeded_record(request=request, person=person)
            return redirect(next_url or "directory:home")
        if not attempt_refused_by_lockout(request):
            signin_failed_record(request=request, email=form.cleaned_data["email"])
        # Never say which of the two was wrong. (A lockout is rendered by
        # axes' middleware through directory.signin.lockout_response.)
        error = "That email and password do not match an account. Check both and try again."
    elif request.method == "POST":
        error = "Enter your email and password."
    status = 401 if error else status
    return render(request, "accounts/sign_in.html", {"form": form, "error": error, "next": next_url}, status=status)


def password_signin_refusal(person: Any) -> str | None:
    """settings.PASSWORD_SIGNIN_POLICY's answer: why this person may not sign in with a password
    (their organisation requires single sign-on), or None. The policy lives with the SSO
    configuration; the setting keeps this module from importing it."""
    policy = getattr(settings, "PASSWORD_SIGNIN_POLICY", "")
    return import_string(policy)(person) if policy else None


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("accounts:sign-in")
