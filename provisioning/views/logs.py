"""Provisioning logs: one integration's SCIM requests, and one request explained."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.permissions import console_reader_required
from provisioning.failure_reasons import explain
from provisioning.models import Integration, ScimRequest, ScimToken
from provisioning.registry import IntegrationKind, kind_get
from provisioning.selectors import integration_get

PAGE_SIZE = 50
STATUS_FILTERS = (("all", "All requests"), ("failed", "Failed"))


def integration_in_any_state_or_404(request: HttpRequest, kind: str) -> tuple[IntegrationKind, Integration]:
    """The tenant's integration of ``kind``, activated or not (logs and SSO exist before activation)."""
    entry = kind_get(kind)
    integration = integration_get(tenant=request.tenant, kind=kind) if entry else None
    if entry is None or integration is None:
        raise Http404("No such integration.")
    return entry, integration


@console_reader_required
@require_GET
def integration_logs(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_in_any_state_or_404(request, kind)
    status = request.GET.get("status", "all")
    if status not in dict(STATUS_FILTERS):
        status = "all"
    requests = ScimRequest.objects.filter(integration=integration).defer("request_body").order_by("-received_at", "-id")
    if status == "failed":
        requests = requests.filter(status__gte=400)
    page = Paginator(requests, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (r, explain(r.status, r.scim_type, kind=kind, resource_type=r.resource_type).reason if r.status >= 400 else "")
        for r in page.object_list
    ]
    return render(request, "provisioning/integration_logs.html", {
        "entry": entry, "integration": integration, "page": page, "rows": rows, "status": status,
        "status_filters": STATUS_FILTERS,
    })


@console_reader_required
@require_GET
def integration_log_detail(request: HttpRequest, kind: str, request_id: int) -> HttpResponse:
    entry, integration = integration_in_any_state_or_404(request, kind)
    logged = ScimRequest.objects.filter(integration=integration, pk=request_id).first()
    if logged is None:
        raise Http404("No such request in this integration's log.")
    explanation = None
    token = None
    if logged.status >= 400:
        explanation = explain(logged.status, logged.scim_type, kind=kind, resource_type=logged.resource_type)
    if logged.token_prefix:
        # Which of this integration's tokens was used (only its display form).
        token = ScimToken.objects.filter(integration=integration, prefix=logged.token_prefix).first()
    return render(request, "provisioning/integration_log_detail.html", {
        "entry": entry, "integration": integration, "logged": logged, "explanation": explanation, "token": token,
        "clashing_name": _clashing_name(logged),
    })


def _clashing_name(logged: ScimRequest) -> str:
    """For a uniqueness conflict, the name that clashed, so the admin can look it up."""
    if logged.status != 409 or not logged.request_body:
        return ""
    try:
        body = json.loads(logged.request_body)
    except ValueError:
        return ""  # a body cut at the size cap is not JSON any more
    key = "displayName" if logged.resource_type == "Group" else "userName"
    value = body.get(key) if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""
