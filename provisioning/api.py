"""Logs in the admin REST API: the audit trail, the SCIM request log, the SSO log, and integrations.

Event lists are read in commit order with a cursor that can be polled forever
(directory.api_pagination.EventCursorPagination). Scope: "Read logs and audit
events". Request bodies are never returned: they may hold what Entra sent.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from directory.api import BAD_CURSOR, ApiView, api_responses, query_params
from directory.api_access import ReadsLogs, api_tenant
from directory.api_pagination import CURSOR_PARAM, EventCursorPagination
from directory.models import AuditEvent
from provisioning.audit_log import AuditFilter, action_label, audit_events_filtered
from provisioning.failure_reasons import failure_reason, is_failure
from provisioning.models import Integration, ScimRequest
from provisioning.registry import kind_get
from provisioning.selectors import integrations_by_kind
from provisioning.sso.models import SsoSignIn
from provisioning.sso.reasons import REASONS
from provisioning.status import integration_status
from spaceiq_site.postgresql.commit_order import first_page_since

# --- Serializers ---------------------------------------------------------------------------------


class AuditEventSerializer(serializers.ModelSerializer):
    action_label = serializers.SerializerMethodField(help_text="The action in the audit log page's words.")

    class Meta:
        model = AuditEvent
        fields = ["id", "occurred_at", "actor_label", "actor_person_id", "action", "action_label", "target_type",
                  "target_id", "target_label", "details", "source_ip", "request_id"]

    def get_action_label(self, event: AuditEvent) -> str:
        return action_label(event.action)


class ProvisioningRequestSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.kind", allow_null=True, default=None)
    outcome = serializers.SerializerMethodField()
    reason = serializers.SerializerMethodField(help_text="Why it failed, in plain words; empty on success.")

    class Meta:
        model = ScimRequest
        fields = ["id", "received_at", "integration", "method", "path", "status", "outcome", "reason", "scim_type",
                  "error_detail", "resource_type", "resource_id", "duration_ms", "source_ip", "request_id"]

    def get_outcome(self, entry: ScimRequest) -> str:
        return "failure" if is_failure(entry.status) else "success"

    def get_reason(self, entry: ScimRequest) -> str:
        return failure_reason(entry.status, entry.scim_type) if is_failure(entry.status) else ""


class SsoSignInSerializer(serializers.ModelSerializer):
    integration = serializers.CharField(source="integration.kind")
    reason_text = serializers.SerializerMethodField(help_text="The refusal in plain words; empty on success.")

    class Meta:
        model = SsoSignIn
        fields = ["id", "occurred_at", "integration", "flow", "outcome", "reason", "reason_text", "detail",
                  "name_id", "person_id", "reference", "source_ip"]

    def get_reason_text(self, signin: SsoSignIn) -> str:
        reason = REASONS.get(signin.reason)
        return reason.admin if reason else ""


class IntegrationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()
    state = serializers.ChoiceField(choices=Integration.State.choices)
    status = serializers.CharField(help_text="inactive, waiting, connected, healthy, failing or silent.")
    status_text = serializers.CharField()
    activated_at = serializers.DateTimeField(allow_null=True)
    last_request_at = serializers.DateTimeField(allow_null=True)


# --- Query parameters ----------------------------------------------------------------------------


class TimeRangeQuery(serializers.Serializer):
    since = serializers.DateTimeField(required=False, help_text="At or after this time.")
    until = serializers.DateTimeField(required=False, help_text="Before this time.")


class AuditEventsQuery(TimeRangeQuery):
    action = serializers.CharField(required=False, max_length=64, help_text="An action, e.g. person.created.")
    actor = serializers.CharField(required=False, max_length=255,
                                  help_text="A person's id, or part of the actor's name.")
    target = serializers.CharField(required=False, max_length=255,
                                   help_text="A person's or group's id, or part of the target's name.")


class ProvisioningRequestsQuery(TimeRangeQuery):
    integration = serializers.CharField(required=False, max_length=32, help_text="An integration kind, e.g. azure.")
    outcome = serializers.ChoiceField(choices=["success", "failure"], required=False)


class SsoSignInsQuery(TimeRangeQuery):
    integration = serializers.CharField(required=False, max_length=32, help_text="An integration kind, e.g. azure.")
    outcome = serializers.ChoiceField(choices=SsoSignIn.Outcome.choices, required=False)


# --- Views ---------------------------------------------------------------------------------------


class EventListView(ApiView, generics.ListAPIView):
    permission_classes = [ReadsLogs]
    pagination_class = EventCursorPagination


def _integration_log(queryset: Any, params: dict[str, Any], *, time_field: str) -> Any:
    """A log's rows with their integration, narrowed to ``integration`` (a kind) and the time range."""
    queryset = queryset.select_related("integration")
    if "integration" in params:
        queryset = queryset.filter(integration__kind=params["integration"])
    return _time_range(queryset, time_field, params)


def _time_range(queryset: Any, field: str, params: dict[str, Any]) -> Any:
    if "since" in params:
        queryset = queryset.filter(**{f"{field}__gte": params["since"]})
    if "until" in params:
        queryset = queryset.filter(**{f"{field}__lt": params["until"]})
    return queryset


@extend_schema(parameters=[AuditEventsQuery], tags=["logs"],
               responses=api_responses(AuditEventSerializer, bad_query=True, not_found=BAD_CURSOR))
class AuditEvents(EventListView):
    """Every audit event of the tenant, oldest first in the order they were committed.

    Poll the next link: it returns the events recorded since, each exactly once.
    """

    serializer_class = AuditEventSerializer

    def get_queryset(self) -> Any:
        params = query_params(AuditEventsQuery, self.request)
        tenant = api_tenant(self.request)
        if "since" in params and not self.request.query_params.get(CURSOR_PARAM):
            # A first page from a time: it starts where in commit order its first event is (bench/audit_events.py).
            since = params.pop("since")
            events = audit_events_filtered(tenant=tenant, filters=AuditFilter(**params))
            return first_page_since(events, tenant_id=tenant.pk, column="occurred_at", since=since)
        return audit_events_filtered(tenant=tenant, filters=AuditFilter(**params))


@extend_schema(parameters=[ProvisioningRequestsQuery], tags=["logs"],
               responses=api_responses(ProvisioningRequestSerializer, bad_query=True, not_found=BAD_CURSOR))
class ProvisioningRequests(EventListView):
    """The SCIM request log: one entry per request an identity provider sent, never its body."""

    serializer_class = ProvisioningRequestSerializer

    def get_queryset(self) -> Any:
        params = query_params(ProvisioningRequestsQuery, self.request)
        queryset = _integration_log(ScimRequest.objects.filter(tenant=api_tenant(self.request)), params,
                                    time_field="received_at")
        if params.get("outcome") == "failure":
            return queryset.filter(status__gte=400)
        if params.get("outcome") == "success":
            return queryset.filter(status__lt=400)
        return queryset


@extend_schema(parameters=[SsoSignInsQuery], tags=["logs"],
               responses=api_responses(SsoSignInSerializer, bad_query=True, not_found=BAD_CURSOR))
class SsoSignIns(EventListView):
    """The single sign-on log: every sign-in, refusal and test."""

    serializer_class = SsoSignInSerializer

    def get_queryset(self) -> Any:
        params = query_params(SsoSignInsQuery, self.request)
        queryset = _integration_log(SsoSignIn.objects.filter(tenant=api_tenant(self.request)), params,
                                    time_field="occurred_at")
        return queryset.filter(outcome=params["outcome"]) if "outcome" in params else queryset


@extend_schema(tags=["logs"], responses=api_responses(IntegrationSerializer(many=True)))
class Integrations(ApiView):
    """The tenant's integrations (those ever activated) with their status at a glance."""

    permission_classes = [ReadsLogs]
    pagination_class = None

    def get(self, request: Request) -> Response:
        rows = []
        for kind, integration in sorted(integrations_by_kind(tenant=api_tenant(request)).items()):
            entry, status = kind_get(kind), integration_status(integration)
            rows.append({
                "kind": kind, "name": entry.name if entry else kind, "state": integration.state,
                "status": status.level, "status_text": status.text, "activated_at": integration.activated_at,
                "last_request_at": integration.last_request_at,
            })
        return Response(IntegrationSerializer(rows, many=True).data)
