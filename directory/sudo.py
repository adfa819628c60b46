""""Sudo mode": sensitive actions need a password entered in the last 10 minutes.

The time of the last password entry lives in the session (set at sign-in and
at re-authentication).
When it is stale, the protected view answers with a password prompt that
carries the original form fields, so confirming the password completes the
action the admin asked for instead of sending them back to start again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

SUDO_SESSION_KEY = "password_entered_at"
SUDO_FAILURES_KEY = "sudo_failures"
SUDO_WINDOW_SECONDS = 10 * 60
# Someone guessing the password of a session they hijacked gets a few tries,
# then loses the session altogether.
MAX_FAILURES = 5
PASSWORD_FIELD = "sudo_password"


def sudo_mark(request: HttpRequest) -> None:
    """Record that the signed-in person has just entered their password."""
    request.session[SUDO_SESSION_KEY] = int(time.time())
    request.session.pop(SUDO_FAILURES_KEY, None)


def sudo_is_fresh(request: HttpRequest) -> bool:
    entered = request.session.get(SUDO_SESSION_KEY)
    return isinstance(entered, int) and 0 <= time.time() - entered < SUDO_WINDOW_SECONDS


class ReauthenticateForm(forms.Form):
    sudo_password = forms.CharField(
        label="Password", strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_sudo_password(self) -> str:
        password = self.cleaned_data["sudo_password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password. Try again.")
        return password


def sudo_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run ``view`` only if the password was entered recently; otherwise ask for it.

    Use inside ``tenant_admin_required`` and on POST-only views.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if sudo_is_fresh(request):
            return view(request, *args, **kwargs)
        form = ReauthenticateForm(
            request.POST if PASSWORD_FIELD in request.POST else None, user=request.user
        )
        if form.is_bound:
            if form.is_valid():
                sudo_mark(request)
                return view(request, *args, **kwargs)
            failures = request.session.get(SUDO_FAILURES_KEY, 0) + 1
            request.session[SUDO_FAILURES_KEY] = failures
            if failures >= MAX_FAILURES:
                logout(request)
                return redirect("accounts:sign-in")
        carried = [
            (name, value)
            for name in request.POST
            if name not in ("csrfmiddlewaretoken", PASSWORD_FIELD)
            for value in request.POST.getlist(name)
        ]
        return render(
            request,
            "accounts/reauthenticate.html",
            {"form": form, "action": request.path, "carried": carried},
            status=400 if form.is_bound else 200,
        )

    return wrapper
