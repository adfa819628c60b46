"""The Audit log page and its streamed CSV export."""

from __future__ import annotations

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from directory.permissions import console_reader_required
from provisioning.audit_log import (
    ACTION_LABELS,
    AuditFilter,
    action_label,
    audit_csv_lines,
    audit_events_filtered,
    details_summary,
)

PAGE_SIZE = 50


class AuditLogFilterForm(forms.Form):
    actor = forms.CharField(label="Actor", required=False, max_length=255)
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *sorted(ACTION_LABELS.items(), key=lambda i: i[1])]
    )
    target = forms.CharField(label="Person or group", required=False, max_length=255)
    date_from = forms.DateField(label="From date", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To date", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date must be on or after the start date.")
        return cleaned

    def audit_filter(self) -> AuditFilter:
        """The filters to apply; invalid fields are ignored rather than failing the page."""
        self.is_valid()  # Django keeps only the valid fields in cleaned_data
        data = self.cleaned_data
        return AuditFilter(
            actor=(data.get("actor") or "").strip(), action=data.get("action") or "",
            target=(data.get("target") or "").strip(), date_from=data.get("date_from"), date_to=data.get("date_to"),
        )


@console_reader_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditLogFilterForm(request.GET)
    events = audit_events_filtered(tenant=request.tenant, filters=form.audit_filter())
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(event, action_label(event.action), details_summary(event)) for event in page.object_list]
    return render(request, "provisioning/audit_log.html", {"form": form, "page": page, "rows": rows})


@console_reader_required
@require_GET
def audit_log_export(request: HttpRequest) -> StreamingHttpResponse:
    form = AuditLogFilterForm(request.GET)
    events = audit_events_filtered(tenant=request.tenant, filters=form.audit_filter())
    filename = f"audit-log-{request.tenant.slug}-{timezone.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(audit_csv_lines(events), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
