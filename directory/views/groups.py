"""Groups: the list with member counts and roles, one group's page with its members, its
"Role for members" and its history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from directory import services
from directory.console_actor import console_actor
from directory.errors import LastAdminError
from directory.forms import RoleSelectForm
from directory.models import Group, Person
from directory.permissions import console_reader_required, is_console_reader, tenant_admin_required
from directory.selectors import audit_events_for, group_get
from directory.selectors import group_list as group_list_select
from directory.sudo import sudo_required
from directory.views.managed_by import managed_by

PAGE_SIZE = 50
HISTORY_LIMIT = 50


@console_reader_required
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    groups = group_list_select(tenant=request.tenant, search=query)
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "directory/groups/list.html", {"page": page, "query": query})


def _group_or_404(request: HttpRequest, group_id: Any) -> Group:
    group = group_get(tenant=request.tenant, group_id=group_id)
    if group is None:
        raise Http404("No such group.")
    return group


def _detail(request: HttpRequest, group: Group, *, status: int = 200, **extra: Any) -> HttpResponse:
    members = (
        Person.objects.filter(tenant=request.tenant, memberships__group=group)
        .only("id", "user_name", "display_name", "given_name", "family_name", "is_active", "source", "role")
        .order_by("user_name", "id")
    )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    history = list(audit_events_for(tenant=request.tenant, target_id=group.pk)[:HISTORY_LIMIT])
    return render(request, "directory/groups/detail.html", {
        "group": group, "page": page, "history": history, "managed_by": managed_by(group.source, history),
        "role_form": RoleSelectForm(initial={"role": group.role or ""}), "role_error": None, **extra,
    }, status=status)


@console_reader_required
@require_GET
def group_detail(request: HttpRequest, group_id: Any) -> HttpResponse:
    return _detail(request, _group_or_404(request, group_id))


@tenant_admin_required
@require_POST
@sudo_required  # a group's role can make every member an admin
def group_role(request: HttpRequest, group_id: Any) -> HttpResponse:
    group = _group_or_404(request, group_id)
    form = RoleSelectForm(request.POST)
    if not form.is_valid():
        return _detail(request, group, status=400, role_form=form)
    role = form.chosen()
    try:
        services.group_role_set(group=group, role=role, actor=console_actor(request))
    except LastAdminError:
        return _detail(request, _group_or_404(request, group_id), status=400, role_form=form, role_error=(
            "This would take the admin role from the last admin of this company. Make someone else an admin first."
        ))
    messages.success(request, f"Role for members of {group.display_name}: {role.label if role else 'None'}.")
    request.user.refresh_from_db(fields=["role"])
    if not is_console_reader(request.user):
        return redirect("directory:home")  # the change took their own console away
    return redirect("directory:group-detail", group_id=group.pk)
