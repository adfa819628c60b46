"""Settings → API keys: the keys of the admin REST API (/api/v1/), created and revoked by admins.

Auditors read the list; creating and revoking need an admin who entered their
password in the last 10 minutes (sudo mode), as SCIM tokens do. A new key is
shown once, in the response of the POST that creates it, sent with no-store;
it is never put in the session, a message, a redirect or a log line.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from directory import services
from directory.console_actor import console_actor
from directory.forms import ApiKeyCreateForm
from directory.models import ApiKey
from directory.permissions import console_reader_required, tenant_admin_required
from directory.selectors import api_key_get, api_keys_listed
from directory.sudo import sudo_required

TEMPLATE = "directory/api_keys.html"


def _page(request: HttpRequest, *, form: ApiKeyCreateForm | None = None, status: int = 200,
          **extra: Any) -> HttpResponse:
    keys = list(api_keys_listed(tenant=request.tenant))
    return render(request, TEMPLATE, {
        "active_keys": [key for key in keys if key.revoked_at is None],
        "revoked_keys": [key for key in keys if key.revoked_at is not None],
        "form": form or ApiKeyCreateForm(),
        **extra,
    }, status=status)


def _key_or_404(request: HttpRequest, key_id: int) -> ApiKey:
    key = api_key_get(tenant=request.tenant, key_id=key_id)
    if key is None:
        raise Http404("No such API key.")
    return key


@console_reader_required
@require_GET
def api_keys(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@tenant_admin_required
@require_POST
@sudo_required
def api_key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    key, raw = services.api_key_create(
        tenant=request.tenant, label=form.cleaned_data["label"], scope=form.cleaned_data["scope"],
        actor=console_actor(request), created_by=request.user,
    )
    return _page(request, new_key=raw, new_key_row=key)


@tenant_admin_required
@require_POST
@sudo_required
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key_or_404(request, key_id)
    if key.revoked_at is None:
        services.api_key_revoke(key=key, actor=console_actor(request), revoked_by=request.user)
        messages.success(request, f"{key.display} is revoked. Requests using it are refused from now on.")
    else:
        messages.info(request, f"{key.display} was already revoked.")
    return redirect("directory:api-keys")
