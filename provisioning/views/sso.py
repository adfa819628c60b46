"""The SSO tab of an integration: settings, certificates, Test single sign-on, and the SSO log.

The tab appears on the integration page and in the activation dialog; both
render ``provisioning/sso/_panel.html`` with ``sso_panel_context``. Saving
settings and removing a certificate need a recently entered password (sudo
mode): whoever controls these can sign in as anyone in the tenant.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from directory.console_actor import console_actor
from directory.permissions import console_reader_required, tenant_admin_required
from directory.sudo import sudo_required
from provisioning import services as provisioning_services
from provisioning.models import Integration, SsoAuthnRequest, SsoSignIn
from provisioning.registry import IntegrationKind, kind_get
from provisioning.sso import services
from provisioning.sso.forms import SsoSettingsForm
from provisioning.sso.reasons import REASONS
from provisioning.sso.selectors import (
    sso_certificates,
    sso_config_of,
    sso_is_configured,
    sso_signin_get,
    sso_signins_listed,
)
from provisioning.sso.views import sso_redirect
from provisioning.views.integrations import activation_dialog_context, detail_context
from provisioning.views.logs import integration_in_any_state_or_404
from provisioning.views.sso_panel import sso_panel_context

PAGE_SIZE = 50
OUTCOME_FILTERS = (("", "All sign-ins"), *SsoSignIn.Outcome.choices)


def _render_with_errors(request: HttpRequest, entry: IntegrationKind, integration: Integration,
                        form: SsoSettingsForm) -> HttpResponse:
    """The page the form came from (integration page or activation dialog), with its errors, status 400."""
    sso = sso_panel_context(request, entry, integration, form)
    if request.POST.get("dialog") or integration.state == Integration.State.PENDING:
        context = activation_dialog_context(request, entry, integration, sso=sso)
        return render(request, "provisioning/activate.html", context, status=400)
    context = detail_context(request, entry, integration, selected_tab="sso", **sso)
    return render(request, "provisioning/integration_detail.html", context, status=400)


def _back_to_tab(request: HttpRequest, entry: IntegrationKind, integration: Integration) -> HttpResponse:
    if request.POST.get("dialog") or integration.state == Integration.State.PENDING:
        draft = request.POST.get("draft", "")
        url = reverse("provisioning:integration-activate", kwargs={"kind": entry.kind})
        return redirect(f"{url}?tab=sso" + (f"&draft={draft}" if draft.isdigit() else ""))
    return redirect(reverse("provisioning:integration-detail", kwargs={"kind": entry.kind}) + "?tab=sso")


@never_cache
@tenant_admin_required
@require_POST
@sudo_required
def sso_settings_save(request: HttpRequest, kind: str) -> HttpResponse:
    entry = kind_get(kind)
    if entry is None:
        raise Http404("No such integration.")
    integration = provisioning_services.integration_for(tenant=request.tenant, kind=kind)
    config = sso_config_of(integration=integration)
    form = SsoSettingsForm(request.POST, request.FILES, tenant_id=integration.tenant_id,
                           saved_certificates=len(sso_certificates(config=config)))
    if not form.is_valid():
        return _render_with_errors(request, entry, integration, form)
    data = form.cleaned_data
    services.sso_settings_save(
        integration=integration, actor=console_actor(request), idp_entity_id=data["idp_entity_id"],
        login_url=data["login_url"], require_sso=data["require_sso"], create_people=data["create_people"],
        certificates=form.new_certificates, replace_certificates=form.from_metadata,
    )
    messages.success(request, "SSO settings saved.")
    return _back_to_tab(request, entry, integration)


@never_cache
@tenant_admin_required
@require_POST
@sudo_required
def sso_certificate_remove(request: HttpRequest, kind: str, certificate_id: int) -> HttpResponse:
    entry, integration = integration_in_any_state_or_404(request, kind)
    if not services.sso_certificate_remove(integration=integration, actor=console_actor(request),
                                           certificate_id=certificate_id):
        raise Http404("No such certificate.")
    messages.success(request, "Certificate removed. SpaceIQ no longer trusts responses it signs.")
    return _back_to_tab(request, entry, integration)


@never_cache
@tenant_admin_required
@require_POST
def sso_test_start(request: HttpRequest, kind: str) -> HttpResponse:
    """Test single sign-on: a sign-in for the admin themself whose result is shown, not applied."""
    entry, integration = integration_in_any_state_or_404(request, kind)
    config = sso_config_of(integration=integration)
    if not sso_is_configured(config) or not config.login_url:
        messages.error(request, "Save the SAML Issuer URL, the certificate and the Login URL first: the test "
                                "starts at your identity provider's Login URL.")
        return _back_to_tab(request, entry, integration)
    config.integration = integration
    # ForceAuthn: the identity provider asks who is signing in instead of reusing its session.
    return sso_redirect(config=config, purpose=SsoAuthnRequest.Purpose.TEST, requested_by=request.user,
                        force_authn=True)


@console_reader_required
@require_GET
def sso_test_result(request: HttpRequest, kind: str, reference: str) -> HttpResponse:
    entry, integration = integration_in_any_state_or_404(request, kind)
    record = sso_signin_get(tenant=request.tenant, reference=reference)
    if record is None or record.integration_id != integration.pk or record.flow != SsoSignIn.Flow.TEST:
        raise Http404("No such test.")
    reason = REASONS.get(record.reason) if record.reason else None
    return render(request, "provisioning/sso/test_result.html", {
        "entry": entry, "integration": integration, "record": record, "reason": reason,
        "details": record.details or {},
    })


@console_reader_required
@require_GET
def sso_log(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_in_any_state_or_404(request, kind)
    outcome = request.GET.get("outcome", "")
    if outcome not in dict(OUTCOME_FILTERS):
        outcome = ""
    search = request.GET.get("q", "").strip()[:200]
    rows = sso_signins_listed(integration=integration, outcome=outcome, search=search)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    entries = [(row, REASONS.get(row.reason).admin if row.reason in REASONS else "") for row in page.object_list]
    return render(request, "provisioning/sso/log.html", {
        "entry": entry, "integration": integration, "page": page, "rows": entries, "outcome": outcome,
        "outcome_filters": OUTCOME_FILTERS, "q": search,
    })
