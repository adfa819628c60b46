"""The console's landing page; people without a console role land on their own profile."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from directory.permissions import is_console_reader
from directory.selectors import directory_counts


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not is_console_reader(request.user):
        return redirect("directory:my-profile")
    return render(request, "directory/home.html", {"counts": directory_counts(tenant=request.user.tenant)})
