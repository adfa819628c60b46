"""What every signed-in person sees, admin or not: their own profile and the people directory.

Read-only: the identity provider (or an admin) owns these records. Only the
person's own tenant, and only its active people.
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.custom_attributes import custom_attributes_shown
from directory.permissions import tenant_member_required
from directory.selectors import directory_people, directory_person_get, person_groups

PAGE_SIZE = 50
SEARCH_MAX = 200


@tenant_member_required
@require_GET
def my_profile(request: HttpRequest) -> HttpResponse:
    # Read again rather than from request.user: the manager comes with the person in one query.
    person = directory_person_get(tenant=request.tenant, person_id=request.user.pk)
    if person is None:  # deactivated between the session check and now
        raise Http404("No such person.")
    return render(request, "directory/member/my_profile.html", {
        "person": person, "groups": person_groups(tenant=request.tenant, person_id=person.pk),
        "custom_attributes_shown": custom_attributes_shown(person=person),
    })


@tenant_member_required
@require_GET
def people_directory(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:SEARCH_MAX]
    people = directory_people(tenant=request.tenant, search=query)
    page = Paginator(people, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "directory/member/people_directory.html", {"page": page, "query": query})


@tenant_member_required
@require_GET
def directory_person(request: HttpRequest, person_id: Any) -> HttpResponse:
    person = directory_person_get(tenant=request.tenant, person_id=person_id)
    if person is None:  # another tenant's, deactivated, or no one: the same answer
        raise Http404("No such person.")
    return render(request, "directory/member/colleague.html", {
        "person": person, "groups": person_groups(tenant=request.tenant, person_id=person.pk),
        "custom_attributes_shown": custom_attributes_shown(person=person),
    })
