"""Content-Security-Policy on every response (Django 5.2 has no built-in CSP),
and the client address behind trusted proxies.

The policy (``settings.CONTENT_SECURITY_POLICY``) allows scripts and styles
only from our own origin: no inline script, no ``style=`` attributes, no
``on*=`` handlers. An injected ``<script>`` in a page therefore does nothing,
which backs up template auto-escaping. Django's SecurityMiddleware and
XFrameOptionsMiddleware set the other headers (HSTS, nosniff, Referrer-Policy,
COOP, X-Frame-Options).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class TrustedProxyClientAddressMiddleware:
    """``REMOTE_ADDR`` := the client's address as seen by our own proxies.

    With ``TRUSTED_PROXY_HOPS`` = n > 0 (``DJANGO_TRUSTED_PROXY_HOPS``), the
    n proxies in front of the app each append the address they received from
    to ``X-Forwarded-For``; the n-th entry from the right is therefore the
    client as our outermost proxy saw it. Entries further left are whatever
    the client wrote and are ignored. Everything downstream — the SCIM and
    sign-in throttles, the audit trail, the request log — reads REMOTE_ADDR.
    With 0 (the default) the header is ignored altogether.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        hops = settings.TRUSTED_PROXY_HOPS
        if hops:
            forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            if len(forwarded) >= hops:
                candidate = forwarded[-hops]
                # Not an address: keep the proxy's, never a made-up one.
                with contextlib.suppress(ValueError):
                    request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(candidate))
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy_with_form_targets(
                policy, *getattr(request, FORM_TARGETS_ATTRIBUTE, ()))
        return response


# The origins a page's forms may be answered from (see allow_form_target).
FORM_TARGETS_ATTRIBUTE = "csp_form_targets"


def allow_form_target(request: HttpRequest, source: str) -> None:
    """Let this response's forms lead to ``source`` (an origin, or a scheme such as "https:").

    Browsers apply CSP form-action to every redirect that follows a form
    submission, so a form whose answer redirects to an identity provider's
    Login URL (Sign in with SSO, Test single sign-on) needs that origin allowed
    on the page that holds the form. Whatever renders such a form calls this.
    """
    setattr(request, FORM_TARGETS_ATTRIBUTE, (*getattr(request, FORM_TARGETS_ATTRIBUTE, ()), source))


def policy_with_form_targets(policy: str, *sources: str) -> str:
    """``policy`` with ``form-action`` widened to ``sources``; everything else as it is."""
    if not sources:
        return policy
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    widened = [f"{d} {' '.join(sources)}" if d.startswith("form-action") else d for d in directives]
    return "; ".join(widened)
