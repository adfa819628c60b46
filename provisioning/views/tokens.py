"""Generating, rotating and revoking SCIM tokens on the integration page.

All three need a recently entered password (sudo mode). A new token is shown
once, in the response of the POST that creates it, sent with no-store; it is
never put in the session, a message, a redirect or a log line.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from directory.console_actor import console_actor
from directory.permissions import tenant_admin_required
from directory.sudo import sudo_required
from provisioning import services
from provisioning.forms import TokenGenerateForm, TokenRotateForm
from provisioning.models import ScimToken
from provisioning.selectors import token_get
from provisioning.status import when
from provisioning.views.integrations import detail_context, integration_or_404

TEMPLATE = "provisioning/integration_detail.html"


def _token_or_404(request: HttpRequest, kind: str, token_id: int) -> ScimToken:
    token = token_get(tenant=request.tenant, kind=kind, token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    return token


@never_cache
@tenant_admin_required
@require_POST
@sudo_required
def token_generate(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    if not integration.is_active:
        messages.error(request, f"{entry.name} is deactivated. Activate it again to get a new token.")
        return redirect("provisioning:integration-detail", kind=kind)
    form = TokenGenerateForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, detail_context(request, entry, integration, generate_form=form), status=400)
    token, raw = services.token_issue(
        integration=integration, actor=console_actor(request), created_by=request.user,
        label=form.cleaned_data["label"],
    )
    context = detail_context(request, entry, integration, new_token=raw, new_token_row=token,
                             new_token_note="Your new token works now, alongside the existing ones.")
    return render(request, TEMPLATE, context)


@never_cache
@tenant_admin_required
@require_POST
@sudo_required
def token_rotate(request: HttpRequest, kind: str, token_id: int) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    old = _token_or_404(request, kind, token_id)
    if not integration.is_active or old.revoked_at is not None:
        messages.error(request, f"{old.display} can no longer be rotated. Generate a new token instead.")
        return redirect("provisioning:integration-detail", kind=kind)
    form = TokenRotateForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, detail_context(request, entry, integration, rotate_errors={old.pk: form}),
                      status=400)
    token, raw = services.token_rotate(
        token=old, actor=console_actor(request), grace=form.grace_period, created_by=request.user
    )
    old.refresh_from_db()
    if old.revoked_at is not None:
        note = f"{old.display} stopped working now. Paste the new token into {entry.provider} straight away."
    else:
        note = (f"{old.display} keeps working until {when(old.expires_at)}. "
                f"Paste the new token into {entry.provider} before then.")
    context = detail_context(request, entry, integration, new_token=raw, new_token_row=token, new_token_note=note)
    return render(request, TEMPLATE, context)


@tenant_admin_required
@require_POST
@sudo_required
def token_revoke(request: HttpRequest, kind: str, token_id: int) -> HttpResponse:
    integration_or_404(request, kind)
    token = _token_or_404(request, kind, token_id)
    services.token_revoke(token=token, actor=console_actor(request))
    messages.success(request, f"{token.display} is revoked. Requests using it are refused from now on.")
    return redirect("provisioning:integration-detail", kind=kind)
