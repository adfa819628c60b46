"""What the SSO tab shows, for the integration page and the activation dialog alike."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest

from directory.security_headers import allow_form_target
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
    if config is not None and config.login_url:
        # The Test single sign-on form's answer redirects to the saved Login URL.
        login = urlsplit(config.login_url)
        allow_form_target(request, f"{login.scheme}://{login.netloc}")
    return {
        "sso_sp": sp_for(integration=integration),
        "sso_config": config,
        "sso_configured": sso_is_configured(config),
        "sso_certificates": certificates,
        "sso_form": form,
        "sso_instructions": f"provisioning/sso/instructions/{entry.kind}.html",
    }

