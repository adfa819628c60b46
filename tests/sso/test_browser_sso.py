"""The whole single sign-on path in a real browser, by visible labels.

Provision a person through /scim/Users with the token from the Azure dialog;
configure SSO in the SSO tab with the test identity provider's certificate;
sign in started by the identity provider and by SpaceIQ; land on the
person's own page; deactivate them through SCIM; their open session ends on
its next request and their next sign-in is refused with the plain page.

Only Entra itself is simulated: a page posting the signed SAMLResponse (the
My Apps tile) and, for sign-in started by SpaceIQ, Entra's Login URL answered
by Playwright's request routing with the form Entra would post back.
"""

from __future__ import annotations

import html

import pytest
from playwright.sync_api import expect

from provisioning.sso.saml import service_provider
from tests.browser.test_browser_end_to_end_scim import NEW_HIRE, scim
from tests.browser.test_browser_integrations import follow_the_setup_guide, publish, tile
from tests.browser_helpers import screenshot
from tests.sso.idp import authn_request_from

NAME = NEW_HIRE["userName"]


def auto_post(acs_url: str, saml_response: str, relay_state: str = "") -> str:
    """What Entra's browser page does: POST the SAMLResponse to the Reply URL at once."""
    relay = f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">' if relay_state else ""
    return (
        f'<html><body><form method="post" action="{html.escape(acs_url)}">'
        f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">{relay}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        "<script>document.forms[0].submit()</script></body></html>"
    )


def sign_in_from_my_apps(page, entra, sp, name_id: str) -> None:
    """Entra's My Apps tile (sign-in started by the identity provider): a cross-site form POST."""
    page.route("https://myapps.microsoft.com/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body=auto_post(sp.acs_url, entra.response(name_id=name_id, sp=sp))))
    page.goto("https://myapps.microsoft.com/signin/SpaceIQ")
    page.wait_for_load_state()


def answer_as_entra(page, entra, sp, name_id: str) -> None:
    """Entra's Login URL: read the AuthnRequest, sign the person in, post the answer back."""
    def handler(route):
        request = authn_request_from(route.request.url)
        assert request.issuer == sp.entity_id
        saml = entra.response(name_id=name_id, sp=sp, in_response_to=request.id)
        route.fulfill(status=200, content_type="text/html", body=auto_post(sp.acs_url, saml, request.relay_state))

    page.route(entra.login_url + "**", handler)


@pytest.mark.e2e
@pytest.mark.browser
def test_a_provisioned_person_signs_in_with_sso_until_entra_deactivates_them(
        page, browser, admin, live_server, settings, entra):
    settings.SITE_URL = live_server.url
    sp = service_provider(tenant_slug=admin.tenant.slug, kind="azure")

    # Provisioning, with the token from the Azure dialog.
    _, token = follow_the_setup_guide(page, admin)
    status, created = scim(live_server.url, token, "POST", "/Users", NEW_HIRE)
    assert status == 201, created

    # The SSO tab of the integration page (the tile's Manage button).
    tile(page, "Azure").get_by_role("link", name="Manage Azure").click()
    page.get_by_role("tab", name="SSO").click()
    panel = page.get_by_role("tabpanel", name="SSO")
    expect(panel.get_by_label("SAML CallBack Endpoint URL", exact=True)).to_have_value(sp.acs_url)
    expect(panel.get_by_label("SAML Audience URI", exact=True)).to_have_value(sp.entity_id)
    expect(panel.get_by_label("Sign-on URL", exact=True)).to_have_value(sp.sign_on_url)
    panel.get_by_label("SAML Issuer URL", exact=True).fill(entra.entity_id)
    panel.get_by_label("X.509 Certificate", exact=True).fill(entra.certificate.base64)  # Base64, no armour
    panel.get_by_label("Login URL", exact=True).fill(entra.login_url)
    panel.get_by_role("button", name="Save SSO settings").click()
    expect(page.get_by_role("status").first).to_contain_text("SSO settings saved")
    panel = page.get_by_role("tabpanel", name="SSO")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(entra.certificate.thumbprint)
    expect(panel.get_by_role("button", name="Test single sign-on")).to_be_visible()
    screenshot(page, "sso-tab")
    publish("sso-tab")

    # The admin's Test single sign-on: what Entra sent, and which checks passed.
    answer_as_entra(page, entra, sp, admin.user_name)
    panel.get_by_role("button", name="Test single sign-on").click()
    expect(page.get_by_role("heading", name="Test single sign-on")).to_be_visible()
    expect(page.get_by_text("would accept it")).to_be_visible()
    expect(page.get_by_text("Signed by a certificate saved in SpaceIQ, unaltered")).to_be_visible()
    page.unroute(entra.login_url + "**")

    # The employee, in a browser of their own: from the My Apps tile (started by Entra).
    employee = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    person = employee.new_page()
    person.set_default_timeout(15_000)
    sign_in_from_my_apps(person, entra, sp, NAME.upper())  # a UPN's case differs: still the same person
    expect(person.get_by_role("heading", name="Nia Newhire")).to_be_visible()
    expect(person.get_by_role("button", name="Account menu")).to_contain_text("Nia Newhire")

    # Signed out, then in again from SpaceIQ's sign-in page (started by SpaceIQ).
    person.get_by_role("button", name="Account menu").click()
    person.get_by_role("button", name="Sign out").click()
    expect(person.get_by_role("heading", name="Sign in to SpaceIQ")).to_be_visible()
    answer_as_entra(person, entra, sp, NAME)
    person.get_by_role("link", name="Sign in with SSO").click()
    person.get_by_label("Work email").fill(NAME)
    person.get_by_role("button", name="Continue").click()
    expect(person.get_by_role("heading", name="Nia Newhire")).to_be_visible()

    # Entra deactivates them: the open session ends on its next request...
    status, _ = scim(live_server.url, token, "PATCH", f"/Users/{created['id']}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert status in (200, 204)
    person.reload()
    expect(person.get_by_role("heading", name="Sign in to SpaceIQ")).to_be_visible()
    # ...and the next sign-in is refused with the plain page.
    sign_in_from_my_apps(person, entra, sp, NAME)
    expect(person.get_by_role("heading", name="You are not signed in")).to_be_visible()
    expect(person.get_by_text("Your SpaceIQ account is deactivated")).to_be_visible()
    reference = person.locator("[data-reference]").inner_text()
    employee.close()

    # The admin finds that reference in the SSO log, explained.
    page.goto("/settings/integrations/azure/sso-log/")
    expect(page.get_by_role("heading", name="SSO log")).to_be_visible()
    row = page.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("The person is deactivated in SpaceIQ.")
