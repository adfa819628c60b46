"""What the SSO tab shows, for the integration page and the activation dialog alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse

from directory.security_headers import policy_with_form_targets
from provisioning.models import Integration
from provisioning.registry import IntegrationKind
from provisioning.sso.forms import SsoSettingsForm
from provisioning.sso.selectors import sp_for, sso_certificates, sso_config_of, sso_is_configured


def sso_panel_context(request: HttpRequest, entry: IntegrationKind, integration: Integration,
                      form: SsoSettingsForm | None = None) -> dict[str, Any]:
    config = sso_config_of(integration=integration)
    certificates = sso_certificates(config=config)
    if form is None:
        form = SsoSettingsForm(initial={
            "idp_entity_id": config.idp_entity_id if config else "",
            "login_url": config.login_url if config else "",
            "require_sso": config.require_sso if config else False,
            "create_people": config.create_people if config else False,
        }, tenant_id=integration.tenant_id, saved_certificates=len(certificates))
    return {
        "sso_sp": sp_for(integration=integration),
        "sso_config": config,
        "sso_configured": sso_is_configured(config),
        "sso_certificates": certificates,
        "sso_form": form,
        "sso_instructions": f"provisioning/sso/instructions/{entry.kind}.html",
    }


def with_sso_form_targets(response: HttpResponse, context: dict[str, Any]) -> HttpResponse:
    """Let the Test single sign-on form's answer redirect to the saved Login URL (CSP form-action)."""
    config = context.get("sso_config")
    if config is not None and config.login_url:
        parts = urlsplit(config.login_url)
        response["Content-Security-Policy"] = policy_with_form_targets(f"{parts.scheme}://{parts.netloc}")
    return response
