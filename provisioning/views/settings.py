"""The Settings hub: the sections an admin can configure."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from directory.permissions import tenant_admin_required
from provisioning.settings_sections import settings_sections


@tenant_admin_required
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "settings/index.html", {"sections": settings_sections()})
