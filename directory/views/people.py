"""People: the list, one person's page with where their role comes from, editing console-created
people, and the console role an admin grants."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory import services
from directory.console_actor import console_actor
from directory.custom_attributes import (
    MAX_VALUE_LENGTH,
    custom_attributes_declared,
    custom_attributes_shown,
    custom_value_q,
)
from directory.errors import InvalidValue, LastAdminError, UniquenessConflict
from directory.forms import PeopleFilterForm, PersonEditForm, RoleSelectForm
from directory.models import Person, Role, Source
from directory.permissions import console_reader_required, tenant_admin_required
from directory.selectors import audit_events_for, person_get, person_list
from directory.sudo import sudo_required
from directory.views.managed_by import managed_by

PAGE_SIZE = 50
HISTORY_LIMIT = 50
# Columns the list shows; loading only these keeps 50-row pages light even
# when people carry large multi-valued attributes.
_LIST_COLUMNS = ("id", "user_name", "display_name", "given_name", "family_name", "emails", "work_email",
                 "department", "is_active", "source", "role")
# InvalidValue attributes (SCIM names from group services) → form fields.
_ERROR_FIELDS = {"userName": "user_name", "emails": "work_email", "manager": None}


def _person_or_404(request: HttpRequest, person_id: Any) -> Person:
    person = person_get(tenant=request.tenant, person_id=person_id)
    if person is None:
        raise Http404("No such person.")
    return person


@console_reader_required
@require_GET
def people_list(request: HttpRequest) -> HttpResponse:
    form = PeopleFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    people = person_list(
        tenant=request.tenant, search=(filters.get("q") or "").strip(),
        status=filters.get("status") or "", source=filters.get("source") or "",
    ).only(*_LIST_COLUMNS)
    # The tenant's declared custom attributes: "Custom attribute" = value narrows the list.
    custom = custom_attributes_declared(tenant=request.tenant)
    chosen = next((a for a in custom if a.full_name == request.GET.get("attribute")), None)
    custom_value = (request.GET.get("value") or "")[:MAX_VALUE_LENGTH]
    if chosen is not None and custom_value.strip():
        people = people.filter(custom_value_q(chosen, custom_value))
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "directory/people/list.html", {
        "form": form, "page": page,
        "filtered": any(filters.values()) or bool(chosen and custom_value.strip()),
        "custom_attributes": custom, "custom_chosen": chosen, "custom_value": custom_value,
    })


def _detail_context(request: HttpRequest, person: Person, **extra: Any) -> dict[str, Any]:
    history = list(audit_events_for(tenant=request.tenant, target_id=person.pk)[:HISTORY_LIMIT])
    groups = person.member_of.filter(tenant=request.tenant).order_by("display_name")
    return {
        "person": person,
        "groups": groups,
        "history": history,
        "reports": person.reports.filter(tenant=request.tenant).order_by("user_name")[:20],
        "managed_by": managed_by(person.source, history),
        "editable": person.source != Source.SCIM,
        "role_sources": services.role_sources(person),
        "role_form": RoleSelectForm(initial={"role": person.console_role or ""}),
        "role_error": None,
        "custom_attributes_shown": custom_attributes_shown(person=person),
        **extra,
    }


@console_reader_required
@require_GET
def person_detail(request: HttpRequest, person_id: Any) -> HttpResponse:
    person = _person_or_404(request, person_id)
    return render(request, "directory/people/detail.html", _detail_context(request, person))


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def person_edit(request: HttpRequest, person_id: Any) -> HttpResponse:
    person = _person_or_404(request, person_id)
    if person.source == Source.SCIM:
        # The identity provider owns these people; a console edit would be
        # overwritten on its next cycle, so it is refused rather than lost.
        messages.error(request, "This person is managed by your identity provider and cannot be edited here.")
        return redirect("directory:person-detail", person_id=person.pk)
    if request.method == "GET":
        form = PersonEditForm.for_person(person)
    else:
        form = PersonEditForm(request.POST)
        if form.is_valid() and person.pk == request.user.pk and not form.cleaned_data["is_active"]:
            form.add_error("is_active", "You cannot deactivate yourself; ask another admin.")
        if form.is_valid():
            try:
                services.person_update(person=person, actor=console_actor(request), changes=form.changes_for(person))
            except UniquenessConflict:
                form.add_error("user_name", "Someone in your directory already has this user name.")
            except InvalidValue as exc:
                field = _ERROR_FIELDS.get(exc.attribute, exc.attribute)
                form.add_error(field if field in form.fields else None, str(exc).split(": ", 1)[-1])
            else:
                messages.success(request, f"Saved {person.label}.")
                return redirect("directory:person-detail", person_id=person.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "directory/people/edit.html", {"person": person, "form": form}, status=status)


@tenant_admin_required
@require_POST
@sudo_required  # a console role can make someone an admin
def person_role(request: HttpRequest, person_id: Any) -> HttpResponse:
    person = _person_or_404(request, person_id)
    form = RoleSelectForm(request.POST)
    if not form.is_valid():
        return render(request, "directory/people/detail.html",
                      _detail_context(request, person, role_form=form), status=400)
    role = form.chosen()
    try:
        services.console_role_set(person=person, role=role, actor=console_actor(request))
    except LastAdminError:
        person = _person_or_404(request, person_id)  # as stored: the refused change was rolled back
        context = _detail_context(request, person, role_form=form, role_error=(
            "You are the last admin of this company, so you cannot remove your admin role. "
            "Make someone else an admin first."
            if person.pk == request.user.pk else
            "This is the last admin of this company. Make someone else an admin first."
        ))
        return render(request, "directory/people/detail.html", context, status=400)
    messages.success(request, f"Console role of {person.label}: {role.label if role else 'None'}. "
                              f"Their role is now {person.get_role_display()}.")
    if person.pk == request.user.pk and person.role != Role.ADMIN:
        return redirect("directory:home")  # they can no longer change roles, maybe not even read this page
    return redirect("directory:person-detail", person_id=person.pk)
