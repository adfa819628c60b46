"""The Settings hub: the sections an admin configures (and an auditor reads)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from directory.permissions import console_reader_required
from provisioning.settings_sections import settings_sections


@console_reader_required
@require_GET
def settings_index(request: HttpRequest) -> HttpResponse:
    return render(request, "settings/index.html", {"sections": settings_sections()})
