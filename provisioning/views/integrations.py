"""Third Party Integrations: the catalogue, the activation dialog, the integration page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from directory.console_actor import console_actor
from directory.custom_attributes import (
    DEFAULT_SCHEMA,
    MAX_DECLARED_PER_TENANT,
    MAX_VALUE_LENGTH,
    custom_attributes_declared,
    custom_attributes_received,
)
from directory.models import CustomAttributeType, Role, Source
from directory.permissions import console_reader_required, tenant_admin_required
from directory.selectors import directory_counts
from provisioning import services
from provisioning.forms import (
    GRACE_CHOICES,
    ActivationForm,
    NotificationSettingsForm,
    RoleMappingForm,
    TokenGenerateForm,
)
from provisioning.models import Integration, ScimToken
from provisioning.registry import CATEGORIES, KINDS, PROVISIONING_AND_SSO, IntegrationKind, kind_get
from provisioning.role_mapping import role_mapping_rows
from provisioning.selectors import draft_token_get, integration_get, integrations_by_kind, tokens_listed
from provisioning.status import IntegrationStatus, integration_status, token_state
from provisioning.views.sso_panel import sso_panel_context

# Session key: {kind: [ids of tokens drafted by activation dialogs]}. Only ids
# are kept (the plaintext lives in the dialog's response alone); the dialog
# posts back the id of the token it showed, so with two dialogs open in two
# tabs, Activate confirms the token of the dialog the admin pressed it in.
DRAFTS_SESSION_KEY = "activation_drafts"
MAX_OPEN_DRAFTS = 5


def tenant_scim_url() -> str:
    return f"{settings.SITE_URL}/scim"


def kind_or_404(kind: str) -> IntegrationKind:
    entry = kind_get(kind)
    if entry is None:
        raise Http404("No such integration.")
    return entry


@dataclass(frozen=True)
class Tile:
    entry: IntegrationKind
    integration: Integration | None
    status: IntegrationStatus | None
    search_text: str
    matches: bool

    @property
    def is_active(self) -> bool:
        return bool(self.integration and self.integration.is_active)


def _search_text(entry: IntegrationKind) -> str:
    return " ".join((entry.name, entry.provider, entry.description, *entry.keywords)).lower()


@console_reader_required
@require_GET
def integrations_index(request: HttpRequest) -> HttpResponse:
    category = request.GET.get("category", PROVISIONING_AND_SSO)
    if category not in CATEGORIES:
        category = PROVISIONING_AND_SSO
    query = request.GET.get("q", "").strip()[:100]
    terms = query.lower().split()
    existing = integrations_by_kind(tenant=request.tenant)
    tiles = []
    # Every tile of the category is rendered and the non-matching ones hidden,
    # so filtering as you type (app.js) can bring back what a submitted search hid.
    for entry in KINDS.values():
        if entry.category != category:
            continue
        integration = existing.get(entry.kind)
        shown = integration is not None and integration.state != Integration.State.PENDING
        status = integration_status(integration) if shown else None
        text = _search_text(entry)
        tiles.append(Tile(entry, integration, status, text, all(t in text for t in terms)))
    return render(request, "provisioning/integrations.html", {
        "categories": CATEGORIES, "category": category, "query": query, "tiles": tiles,
        "match_count": sum(t.matches for t in tiles),
    })


def _draft_ids(request: HttpRequest, kind: str) -> list[int]:
    ids = request.session.get(DRAFTS_SESSION_KEY, {}).get(kind, [])
    return ids if isinstance(ids, list) else []


def _draft_remember(request: HttpRequest, kind: str, token: ScimToken) -> None:
    drafts = dict(request.session.get(DRAFTS_SESSION_KEY, {}))
    drafts[kind] = [*_draft_ids(request, kind), token.pk][-MAX_OPEN_DRAFTS:]
    request.session[DRAFTS_SESSION_KEY] = drafts


def _draft_posted(request: HttpRequest, kind: str, integration: Integration | None,
                  posted: str | None = None) -> ScimToken | None:
    """The draft whose dialog was submitted, if this session opened that dialog."""
    posted = posted if posted is not None else request.POST.get("draft")
    if integration is None or not posted or not posted.isdigit():
        return None
    if int(posted) not in _draft_ids(request, kind):
        return None
    return draft_token_get(integration=integration, token_id=posted)


def _draft_forget(request: HttpRequest, kind: str) -> None:
    drafts = dict(request.session.get(DRAFTS_SESSION_KEY, {}))
    drafts.pop(kind, None)
    request.session[DRAFTS_SESSION_KEY] = drafts


def activation_dialog_context(request: HttpRequest, entry: IntegrationKind, integration: Integration | None,
                              *, sso: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """The dialog's context. Without ``raw_token`` it is a dialog whose token was already shown;
    without ``form`` its Activate form starts from the admin's defaults."""
    if integration is None:
        integration = services.integration_for(tenant=request.tenant, kind=entry.kind)
    form = extra.pop("form", None) or ActivationForm(
        initial={"notification_email": request.user.primary_email or "", "notify_on_failure": True})
    if extra.get("draft") is None and request.POST.get("draft", "").isdigit():
        extra["draft"] = _draft_posted(request, entry.kind, integration)
    selected = "sso" if sso is not None or request.GET.get("tab") == "sso" else "provisioning"
    return {"entry": entry, "tenant_url": tenant_scim_url(), "form": form, "raw_token": None,
            "selected_tab": selected, **(sso or sso_panel_context(request, entry, integration)), **extra}


@never_cache  # the response carries a freshly drafted token
@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_activate(request: HttpRequest, kind: str) -> HttpResponse:
    entry = kind_or_404(kind)
    integration = integration_get(tenant=request.tenant, kind=kind)
    if integration is not None and integration.is_active:
        messages.info(request, f"{entry.name} is already active. Manage its tokens here.")
        return redirect("provisioning:integration-detail", kind=kind)

    if request.method == "GET" and integration is not None and request.GET.get("draft"):
        # Back from saving SSO settings: the same dialog, its token already shown once.
        draft = _draft_posted(request, kind, integration, request.GET.get("draft"))
        if draft is not None:
            context = activation_dialog_context(request, entry, integration, draft=draft)
            return render(request, "provisioning/activate.html", context)
    if request.method == "GET":
        integration = integration or services.integration_for(tenant=request.tenant, kind=kind)
        # A draft (confirmed=False) is never accepted by token_verify; it only
        # becomes usable if the admin presses Activate below.
        token, raw = services.token_issue(
            integration=integration, actor=console_actor(request), created_by=request.user,
            label="Created at activation", confirmed=False,
        )
        _draft_remember(request, kind, token)
        form = ActivationForm(
            initial={"notification_email": request.user.primary_email or "", "notify_on_failure": True}
        )
        context = activation_dialog_context(request, entry, integration, form=form, raw_token=raw, draft=token)
        return render(request, "provisioning/activate.html", context)

    form = ActivationForm(request.POST)
    draft = _draft_posted(request, kind, integration)
    if draft is None:
        form.is_valid()
        form.add_error(None, "This dialog is out of date and its token can no longer be activated. "
                             "Open it again to get a new token.")
    elif form.is_valid():
        services.integration_activate(
            integration=integration, actor=console_actor(request), draft_token=draft,
            notification_email=form.cleaned_data["notification_email"],
            notify_on_failure=form.cleaned_data["notify_on_failure"],
        )
        _draft_forget(request, kind)
        messages.success(request, f"{entry.name} is active. In {entry.provider}, press Test Connection, "
                                  "then turn provisioning on.")
        return redirect("provisioning:integrations")
    # The token was shown once, when the dialog opened; it is not shown again.
    return render(request, "provisioning/activate.html",
                  activation_dialog_context(request, entry, integration, form=form, draft=draft), status=400)


def integration_or_404(request: HttpRequest, kind: str) -> tuple[IntegrationKind, Integration]:
    entry = kind_or_404(kind)
    integration = integration_get(tenant=request.tenant, kind=kind)
    if integration is None or integration.state == Integration.State.PENDING:
        raise Http404("This integration has not been activated.")
    return entry, integration


def detail_context(
    request: HttpRequest, entry: IntegrationKind, integration: Integration, **extra: Any
) -> dict[str, Any]:
    tokens = [(token, token_state(token)) for token in tokens_listed(integration=integration)]
    context = {
        "entry": entry,
        "integration": integration,
        "status": integration_status(integration),
        "counts": directory_counts(tenant=request.tenant, source=Source.SCIM),
        "tokens": tokens,
        "tenant_url": tenant_scim_url(),
        "grace_choices": GRACE_CHOICES,
        "generate_form": TokenGenerateForm(),
        "notification_form": NotificationSettingsForm(initial={
            "notification_email": integration.notification_email,
            "notify_on_failure": integration.notify_on_failure,
        }),
        "new_token": None,
        "selected_tab": "sso" if request.GET.get("tab") == "sso" else "provisioning",
        "role_mapping": role_mapping_rows(tenant=request.tenant, integration_kind=integration.kind),
        "role_mapping_form": RoleMappingForm(),
        "role_choices": Role.choices,
        "role_mapping_error": None,
        "custom_attributes": custom_attributes_declared(tenant=request.tenant),
        "received_custom_attributes": custom_attributes_received(tenant=request.tenant),
        "custom_attribute_types": CustomAttributeType.choices,
        "custom_schema_default": DEFAULT_SCHEMA,
        "custom_attribute_form": None,
        "custom_attribute_error": None,
        "custom_attribute_limits": {"declared": MAX_DECLARED_PER_TENANT, "length": MAX_VALUE_LENGTH},
    }
    if "sso_form" not in extra:
        context.update(sso_panel_context(request, entry, integration))
    context.update(extra)
    return context


@console_reader_required
@require_GET
def integration_detail(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    context = detail_context(request, entry, integration)
    return render(request, "provisioning/integration_detail.html", context)


@tenant_admin_required
@require_POST
def integration_notifications(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    form = NotificationSettingsForm(request.POST)
    if not form.is_valid():
        context = detail_context(request, entry, integration, notification_form=form)
        return render(request, "provisioning/integration_detail.html", context, status=400)
    services.notification_settings_update(
        integration=integration, actor=console_actor(request),
        notification_email=form.cleaned_data["notification_email"],
        notify_on_failure=form.cleaned_data["notify_on_failure"],
    )
    messages.success(request, "Notification settings saved.")
    return redirect("provisioning:integration-detail", kind=kind)


@tenant_admin_required
@require_http_methods(["GET", "POST"])
def integration_deactivate(request: HttpRequest, kind: str) -> HttpResponse:
    entry, integration = integration_or_404(request, kind)
    if not integration.is_active:
        messages.info(request, f"{entry.name} is already deactivated.")
        return redirect("provisioning:integration-detail", kind=kind)
    if request.method == "POST":
        services.integration_deactivate(integration=integration, actor=console_actor(request))
        messages.success(request, f"{entry.name} is deactivated. Its tokens no longer work.")
        return redirect("provisioning:integration-detail", kind=kind)
    usable = sum(1 for token in tokens_listed(integration=integration) if token_state(token).usable)
    context = {"entry": entry, "integration": integration, "usable": usable}
    return render(request, "provisioning/deactivate.html", context)
