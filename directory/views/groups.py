"""Groups: the list with member counts, one group's page with its members and history."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.models import Person
from directory.permissions import tenant_admin_required
from directory.selectors import audit_events_for, group_get
from directory.selectors import group_list as group_list_select
from directory.views.managed_by import managed_by

PAGE_SIZE = 50
HISTORY_LIMIT = 50


@tenant_admin_required
@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:200]
    groups = group_list_select(tenant=request.tenant, search=query)
    page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "directory/groups/list.html", {"page": page, "query": query})


@tenant_admin_required
@require_GET
def group_detail(request: HttpRequest, group_id: Any) -> HttpResponse:
    group = group_get(tenant=request.tenant, group_id=group_id)
    if group is None:
        raise Http404("No such group.")
    members = (
        Person.objects.filter(tenant=request.tenant, memberships__group=group)
        .only("id", "user_name", "display_name", "given_name", "family_name", "is_active", "source")
        .order_by("user_name", "id")
    )
    page = Paginator(members, PAGE_SIZE).get_page(request.GET.get("page"))
    history = list(audit_events_for(tenant=request.tenant, target_id=group.pk)[:HISTORY_LIMIT])
    return render(request, "directory/groups/detail.html", {
        "group": group, "page": page, "history": history, "managed_by": managed_by(group.source, history),
    })
