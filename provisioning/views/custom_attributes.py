"""The Custom attributes section of the integration page: declare, show, remove, and declare what was
received (the section itself is rendered with the page, provisioning.views.integrations.detail_context).

One URL for the section's forms, each naming its ``action``, as the Role mapping section posts one form.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from directory import services
from directory.console_actor import console_actor
from directory.custom_attributes import (
    NAME_MAX_LENGTH,
    PROPOSED_TYPE,
    custom_attribute_get,
    received_custom_attribute_get,
)
from directory.errors import InvalidValue, UniquenessConflict
from directory.models import CustomAttributeType
from directory.permissions import tenant_admin_required
from provisioning.views.integrations import detail_context, integration_or_404

TEMPLATE = "provisioning/integration_detail.html"


class CustomAttributeForm(forms.Form):
    name = forms.CharField(label="Attribute name", max_length=NAME_MAX_LENGTH)
    type = forms.ChoiceField(label="Type", choices=CustomAttributeType.choices, initial=CustomAttributeType.STRING)
    shown_in_directory = forms.BooleanField(label="Shown in directory", required=False)


@tenant_admin_required
@require_POST
def integration_custom_attributes(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    actor, action = console_actor(request), request.POST.get("action")
    form = CustomAttributeForm(request.POST if action == "add" else None)
    try:
        if action == "add":
            if not form.is_valid():
                raise InvalidValue("form", " ".join(f"{form.fields[name].label}: {error}"
                                                    for name, errors in form.errors.items() for error in errors))
            attribute = services.custom_attribute_declare(
                tenant=request.tenant, actor=actor, name=form.cleaned_data["name"].strip(),
                type=form.cleaned_data["type"], shown_in_directory=form.cleaned_data["shown_in_directory"])
            message = f"Custom attribute {attribute.name} added."
        elif action == "declare":
            received = received_custom_attribute_get(tenant=request.tenant, received_id=request.POST.get("received"))
            if received is None:
                raise Http404("No such attribute.")
            attribute = services.custom_attribute_declare(
                tenant=request.tenant, actor=actor, name=received.name, schema=received.schema,
                type=PROPOSED_TYPE.get(received.value_type, CustomAttributeType.STRING))
            message = f"Custom attribute {attribute.name} declared as {attribute.get_type_display()}."
        elif action in ("show", "remove"):
            attribute = custom_attribute_get(tenant=request.tenant, attribute_id=request.POST.get("attribute"))
            if attribute is None:
                raise Http404("No such attribute.")
            if action == "remove":
                services.custom_attribute_remove(attribute=attribute, actor=actor)
                message = (f"Custom attribute {attribute.name} removed. People keep the values they have; "
                           f"new ones are kept as undeclared.")
            else:
                shown = request.POST.get("shown_in_directory") == "on"
                services.custom_attribute_update(attribute=attribute, actor=actor, shown_in_directory=shown)
                message = f"{attribute.name} is {'shown' if shown else 'no longer shown'} in the directory."
        else:
            raise InvalidValue("action", "unknown action")
    except UniquenessConflict as exc:
        error = f"There is already a custom attribute named {exc.value}."
    except InvalidValue as exc:
        error = str(exc).split(": ", 1)[-1]
        error = error[:1].upper() + error[1:]
    else:
        messages.success(request, message)
        return redirect(reverse("provisioning:integration-detail", kwargs={"kind": kind}) + "#custom-attributes")
    context = detail_context(request, entry, integration, custom_attribute_form=form, custom_attribute_error=error)
    return render(request, TEMPLATE, context, status=400)
