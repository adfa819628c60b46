"""Saving an integration's Role mapping (the section itself is on the integration page).

Admins only, with a recently entered password: mapping a value to Admin makes everyone the
identity provider sends it to an admin.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from directory.console_actor import console_actor
from directory.errors import InvalidValue, LastAdminError
from directory.permissions import tenant_admin_required
from directory.sudo import sudo_required
from provisioning.forms import RoleMappingForm
from provisioning.role_mapping import role_mapping_save
from provisioning.views.integrations import detail_context, integration_or_404

TEMPLATE = "provisioning/integration_detail.html"


@tenant_admin_required
@require_POST
@sudo_required
def integration_role_mapping(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    form = RoleMappingForm(request.POST)
    error = None
    if form.is_valid():
        try:
            changed = role_mapping_save(tenant=request.tenant, integration_kind=integration.kind,
                                        roles=form.cleaned_data["roles"], actor=console_actor(request))
        except LastAdminError:
            error = ("This would take the admin role from the last admin of this company, so nothing was saved. "
                     "Make someone else an admin first.")
        except InvalidValue as exc:
            error = str(exc).split(": ", 1)[-1]
        else:
            messages.success(request, f"Role mapping saved: {changed} value{'s' if changed != 1 else ''} changed."
                             if changed else "Role mapping saved: nothing changed.")
            return redirect(reverse("provisioning:integration-detail", kwargs={"kind": kind}) + "#role-mapping")
    context = detail_context(request, entry, integration, role_mapping_form=form, role_mapping_error=error)
    return render(request, TEMPLATE, context, status=400)
