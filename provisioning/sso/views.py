"""The public side of single sign-on: ACS, Sign-on URL, SP metadata, and Sign in with SSO."""

from __future__ import annotations

from django.contrib.auth import login
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory.console_actor import client_ip
from directory.models import Tenant
from directory.security_headers import allow_form_target
from directory.signin import NO_PASSWORD_TRIED
from directory.sudo import sudo_mark
from directory.unavailable import with_retry_after
from provisioning.models import SsoAuthnRequest, SsoConfig
from provisioning.registry import kind_get
from provisioning.sso import services
from provisioning.sso.forms import SsoSignInForm
from provisioning.sso.reasons import FOR_PERSON, REASONS
from provisioning.sso.saml import MAX_RESPONSE_BYTES, authn_request_url, service_provider, sp_metadata_xml
from provisioning.sso.selectors import idp_of, sp_of, sso_choices_for_email, sso_config_for, sso_is_usable
from provisioning.sso.signin import acs_process, idp_actor

SSO_SESSION_KEY = "sso"
BACKEND = "directory.auth_backend.TenantEmailBackend"


def local_path(value: str) -> str:
    """``value`` if it is a path of this site ("/people/"), else "": RelayState and next may only
    send a person somewhere on SpaceIQ."""
    value = (value or "").strip()
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return ""
    return value if url_has_allowed_host_and_scheme(value, allowed_hosts=None) else ""


def _refused_page(request: HttpRequest, reason_key: str, reference: str = "", status: int | None = None
                  ) -> HttpResponse:
    reason = REASONS.get(reason_key, REASONS["invalid"])
    context = {"message": FOR_PERSON[reason.person], "reference": reference}
    response = render(request, "sso/refused.html", context, status=status or reason.status)
    return with_retry_after(response) if response.status_code == 503 else response


@csrf_exempt  # a cross-site POST from the identity provider: its signature, not a CSRF token, protects it
@never_cache
@require_POST
def acs(request: HttpRequest, tenant: str, kind: str) -> HttpResponse:
    config = sso_config_for(tenant_slug=tenant, kind=kind) if kind_get(kind) else None
    too_large = int(request.META.get("CONTENT_LENGTH") or 0) > MAX_RESPONSE_BYTES
    try:
        saml_response = "" if too_large else request.POST.get("SAMLResponse", "")
        relay_state = "" if too_large else request.POST.get("RelayState", "")
    except RequestDataTooBig:  # no Content-Length, body over DATA_UPLOAD_MAX_MEMORY_SIZE
        too_large, saml_response, relay_state = True, "", ""
    if config is None:  # no tenant to log it in: a plain 404
        return _refused_page(request, "not_configured")
    actor = idp_actor(config, client_ip(request), request.headers.get("X-Request-Id", "")[:64])
    outcome = acs_process(config=config, saml_response=saml_response, too_large=too_large, actor=actor)
    if outcome.is_test:
        # The admin's own session is untouched; they read the result on a console page.
        url = reverse("provisioning:sso-test-result",
                      kwargs={"kind": config.integration.kind, "reference": outcome.record.reference})
        return HttpResponseRedirect(url, status=303)
    if not outcome.succeeded:
        return _refused_page(request, outcome.record.reason, outcome.record.reference)
    person = outcome.person
    setattr(request, NO_PASSWORD_TRIED, True)  # nothing for the sign-in throttle to count or clean
    login(request, person, backend=BACKEND)  # a new session key: no session fixation
    sudo_mark(request)  # the person has just authenticated at their identity provider
    # What a Single Logout request would name the session by (NameID and SessionIndex).
    request.session[SSO_SESSION_KEY] = {
        "integration": config.integration_id, "name_id": outcome.assertion.name_id,
        "session_index": outcome.assertion.session_index, "reference": outcome.record.reference,
    }
    target = local_path(outcome.pending.relay_state if outcome.pending else relay_state) or reverse("directory:home")
    return HttpResponseRedirect(target, status=303)


def sso_redirect(*, config: SsoConfig, relay_state: str = "", purpose: str = SsoAuthnRequest.Purpose.SIGNIN,
                 requested_by=None, force_authn: bool = False) -> HttpResponse:
    """Send the browser to the identity provider's Login URL with a new AuthnRequest (HTTP-Redirect)."""
    url, request_id = authn_request_url(sp=sp_of(config), idp=idp_of(config), force_authn=force_authn)
    services.authn_request_remember(config=config, request_id=request_id, purpose=purpose,
                                    relay_state=relay_state, requested_by=requested_by)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def start(request: HttpRequest, tenant: str, kind: str) -> HttpResponse:
    """The Sign-on URL: sign-in started by SpaceIQ, for one integration, without asking anything."""
    config = sso_config_for(tenant_slug=tenant, kind=kind) if kind_get(kind) else None
    if config is None or not sso_is_usable(config) or not config.login_url:
        return _refused_page(request, "not_configured", status=404)
    return sso_redirect(config=config, relay_state=local_path(request.GET.get("next", "")))


@require_GET
def metadata(request: HttpRequest, tenant: str, kind: str) -> HttpResponse:
    if kind_get(kind) is None or not Tenant.objects.filter(slug=tenant).exists():
        raise Http404("No such integration.")
    xml = sp_metadata_xml(service_provider(tenant_slug=tenant, kind=kind))
    response = HttpResponse(xml, content_type="application/samlmetadata+xml; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="spaceiq-{tenant}-{kind}-metadata.xml"'
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def sso_signin(request: HttpRequest) -> HttpResponse:
    """Sign in with SSO: find the organisation by work email, then go to its identity provider."""
    next_path = local_path(request.POST.get("next") or request.GET.get("next", ""))
    form = SsoSignInForm(request.POST or None)
    choices: list[SsoConfig] = []
    status = 200
    if request.method == "POST" and form.is_valid():
        choices = sso_choices_for_email(email=form.cleaned_data["email"])
        if len(choices) == 1:
            return sso_redirect(config=choices[0], relay_state=next_path)
        if not choices:
            form.add_error("email", "No organisation on SpaceIQ signs this email in with single sign-on. "
                                    "Sign in with your password instead, or ask your IT administrator.")
            status = 404
    elif request.method == "POST":
        status = 400
    options = [{"config": c, "tenant": c.integration.tenant, "entry": kind_get(c.integration.kind),
                "url": reverse("sso:start", kwargs={"tenant": c.integration.tenant.slug, "kind": c.integration.kind})
                + (f"?next={next_path}" if next_path else "")} for c in choices]
    # The form's answer redirects to whichever identity provider the email leads to.
    allow_form_target(request, "https:")
    return render(request, "sso/sign_in.html", {"form": form, "choices": options, "next": next_path},
                  status=status)
