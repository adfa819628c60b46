"""The console's landing page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from directory.permissions import is_tenant_admin
from directory.selectors import directory_counts


@login_required
def home(request: HttpRequest) -> HttpResponse:
    context = {"is_admin": is_tenant_admin(request.user)}
    if context["is_admin"]:
        context["counts"] = directory_counts(tenant=request.user.tenant)
    return render(request, "directory/home.html", context)
