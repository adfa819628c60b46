"""Fixtures for single sign-on: a test Entra directory, and SSO configured with it."""

from __future__ import annotations

import pytest

from tests.sso.idp import EntraIdP


@pytest.fixture(scope="session")
def entra() -> EntraIdP:
    """Keys are made once per run: RSA key generation is the slow part."""
    return EntraIdP()


@pytest.fixture(scope="session")
def other_entra() -> EntraIdP:
    return EntraIdP()


def configure_sso(tenant, idp: EntraIdP, *, kind: str = "azure", login_url: bool = True, activate: bool = True,
                  **options):
    from directory.audit import Actor
    from provisioning import services as provisioning_services
    from provisioning.models import Integration
    from provisioning.sso import services
    from provisioning.sso.certificates import certificate_read
    from provisioning.sso.selectors import sso_config_of

    integration = provisioning_services.integration_for(tenant=tenant, kind=kind)
    if activate:
        Integration.objects.filter(pk=integration.pk).update(state=Integration.State.ACTIVE)
        integration.refresh_from_db()
    services.sso_settings_save(
        integration=integration, actor=Actor.system("test"), idp_entity_id=idp.entity_id,
        login_url=idp.login_url if login_url else "", require_sso=options.pop("require_sso", False),
        create_people=options.pop("create_people", False), certificates=[certificate_read(idp.certificate.pem)],
    )
    return sso_config_of(integration=integration)


def sp_for_config(config):
    from provisioning.sso.selectors import sp_for

    return sp_for(integration=config.integration)


@pytest.fixture
def sso(tenant, entra):
    return configure_sso(tenant, entra)


@pytest.fixture
def sp(sso):
    return sp_for_config(sso)


@pytest.fixture
def other_sso(other_tenant, other_entra):
    return configure_sso(other_tenant, other_entra)


def post_acs(client, sp, saml_response: str, relay_state: str = ""):
    from urllib.parse import urlsplit

    data = {"SAMLResponse": saml_response}
    if relay_state:
        data["RelayState"] = relay_state
    return client.post(urlsplit(sp.acs_url).path, data)
