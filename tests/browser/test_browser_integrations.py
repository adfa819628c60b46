"""The admin console in a real browser: the set-up guide path, tokens, deactivation, search, access."""

from __future__ import annotations

import os
import re
import shutil

import pytest
from playwright.sync_api import expect

from directory.audit import Actor
from provisioning import services
from provisioning.models import ScimToken
from provisioning.tokens import token_verify
from tests.browser_helpers import ARTIFACTS, open_settings, screenshot, sign_in
from tests.conftest import PASSWORD, ROOT

DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"


def publish(name: str) -> None:
    """Copy a screenshot next to the README (docs/screenshots/) when asked to.

    Only with UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the
    checkout clean; test-artifacts/ always has the fresh ones.
    """
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ARTIFACTS / f"{name}.png", DOCS_SCREENSHOTS / f"{name}.png")


def activated(tenant, admin, kind: str = "azure") -> str:
    """An active integration with one token, set up without the browser; returns the token."""
    actor = Actor(label="test", person_id=admin.pk)
    integration = services.integration_for(tenant=tenant, kind=kind)
    draft, raw = services.token_issue(
        integration=integration, actor=actor, created_by=admin, label="Created at activation", confirmed=False
    )
    services.integration_activate(integration=integration, actor=actor, draft_token=draft)
    return raw


def tile(page, name: str):
    return page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=name, exact=True))


def follow_the_setup_guide(page, admin) -> tuple[str, str]:
    """Steps 1 to 4 of the set-up guide, by visible labels. Returns (tenant URL, token)."""
    sign_in(page, admin.user_name)
    open_settings(page)
    page.get_by_role("link", name="Third Party Integrations").click()
    expect(page.get_by_role("heading", name="Third Party Integrations")).to_be_visible()
    page.get_by_role("link", name="Provisioning and SSO").click()
    expect(page).to_have_url(re.compile(r"category=provisioning-sso"))
    expect(page.get_by_role("link", name="Provisioning and SSO")).to_have_attribute("aria-current", "page")
    page.get_by_label("Search integrations").fill("azure")
    expect(tile(page, "Okta")).to_be_hidden()
    azure = tile(page, "Azure")
    expect(azure).to_be_visible()
    azure.get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Activate Azure")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("tab", name="Provisioning")).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_role("button", name="Copy Tenant URL")).to_be_visible()
    expect(dialog.get_by_role("button", name="Copy SCIM Bearer Token")).to_be_visible()
    expect(dialog.get_by_text("Test Connection").first).to_be_visible()
    tenant_url = dialog.get_by_label("Tenant URL", exact=True).input_value()
    token = dialog.get_by_label("SCIM Bearer Token", exact=True).input_value()
    dialog.get_by_label("Notification Email").fill("it-alerts@acme.example")
    dialog.get_by_label("Send an email notification when a failure occurs").check()
    dialog.evaluate("element => { element.scrollTop = 0; }")
    screenshot(page, "azure-dialog")
    publish("azure-dialog")
    dialog.get_by_role("button", name="Activate", exact=True).click()
    expect(page.get_by_role("heading", name="Third Party Integrations")).to_be_visible()
    return tenant_url, token


@pytest.mark.browser
def test_the_set_up_guide_path_activates_azure(page, admin, settings):
    tenant_url, token = follow_the_setup_guide(page, admin)
    assert tenant_url == f"{settings.SITE_URL}/scim"
    assert token.startswith("siq_scim_")
    verified = token_verify(token)
    assert verified is not None and verified.integration.kind == "azure"
    assert verified.integration.notification_email == "it-alerts@acme.example"
    expect(page.get_by_role("status").first).to_contain_text("Azure is active")
    expect(tile(page, "Azure")).to_contain_text("Waiting for the first request from Microsoft Entra ID")
    expect(tile(page, "Azure").get_by_role("link", name="Manage Azure")).to_be_visible()
    screenshot(page, "integrations")
    publish("integrations")


@pytest.mark.browser
def test_closing_the_dialog_leaves_nothing_usable(page, admin):
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    tile(page, "Okta").get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Activate Okta")
    token = dialog.get_by_label("SCIM Bearer Token", exact=True).input_value()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(tile(page, "Okta").get_by_role("button", name="Activate")).to_be_focused()
    assert token_verify(token) is None
    tile(page, "Okta").get_by_role("button", name="Activate").click()
    page.get_by_role("dialog").get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    assert not ScimToken.objects.filter(confirmed=True).exists()


@pytest.mark.browser
def test_dialog_tabs_work_with_the_keyboard(page, admin):
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    tile(page, "Azure").get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Activate Azure")
    provisioning_tab = dialog.get_by_role("tab", name="Provisioning")
    provisioning_tab.focus()
    page.keyboard.press("ArrowRight")
    sso_tab = dialog.get_by_role("tab", name="SSO")
    expect(sso_tab).to_be_focused()
    expect(sso_tab).to_have_attribute("aria-selected", "true")
    sso_panel = dialog.get_by_role("tabpanel", name="SSO")
    expect(sso_panel).to_contain_text("Single sign-on (SAML 2.0)")
    expect(sso_panel.get_by_label("SAML Audience URI", exact=True)).to_have_value(re.compile(r"/sso/acme/azure/"))
    expect(sso_panel.get_by_role("button", name="Save SSO settings")).to_be_visible()
    expect(dialog.get_by_label("Tenant URL", exact=True)).to_be_hidden()
    page.keyboard.press("ArrowLeft")
    expect(provisioning_tab).to_have_attribute("aria-selected", "true")
    expect(dialog.get_by_label("Tenant URL", exact=True)).to_be_visible()


@pytest.mark.browser
def test_the_activation_dialog_is_a_page_without_javascript(browser, live_server, admin):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    page = context.new_page()
    try:
        sign_in(page, admin.user_name)
        page.goto("/settings/integrations/?q=okta")
        expect(tile(page, "Azure")).to_be_hidden()
        page.get_by_label("Search integrations").fill("azure")
        page.get_by_role("button", name="Search").click()
        tile(page, "Azure").get_by_role("button", name="Activate").click()
        expect(page).to_have_url(re.compile(r"/settings/integrations/azure/activate/"))
        token = page.get_by_label("SCIM Bearer Token", exact=True).input_value()
        page.get_by_role("button", name="Activate", exact=True).click()
        assert token_verify(token) is not None
    finally:
        context.close()


@pytest.mark.browser
def test_search_filters_tiles_as_you_type(page, admin):
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    search = page.get_by_label("Search integrations")
    search.press_sequentially("okt")
    expect(tile(page, "Okta")).to_be_visible()
    for name in ("Azure", "OneLogin", "Google Workspace", "JumpCloud", "Custom SAML & SCIM"):
        expect(tile(page, name)).to_be_hidden()
    search.fill("entra")
    expect(tile(page, "Azure")).to_be_visible()
    expect(tile(page, "Okta")).to_be_hidden()
    search.fill("no such provider")
    expect(page.get_by_text("No integration matches your search")).to_be_visible()
    search.fill("")
    for name in ("Azure", "Okta", "OneLogin", "Google Workspace", "JumpCloud", "Custom SAML & SCIM"):
        expect(tile(page, name)).to_be_visible()


@pytest.mark.browser
def test_rotate_with_a_grace_period(page, admin, tenant):
    old = activated(tenant, admin)
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    tile(page, "Azure").get_by_role("link", name="Manage Azure").click()
    expect(page.get_by_role("heading", name="Azure", exact=True)).to_be_visible()
    expect(page.get_by_text("Waiting for the first request from Microsoft Entra ID")).to_be_visible()
    prefix = token_verify(old).display
    page.get_by_label(f"Keep {prefix} working for").select_option(label="3 days")
    page.get_by_role("button", name=f"Rotate {prefix}").click()
    new_field = page.get_by_label("New SCIM Bearer Token", exact=True)
    expect(new_field).to_be_visible()
    new = new_field.input_value()
    assert new != old and token_verify(new) is not None
    assert token_verify(old) is not None  # still working during the grace period
    expect(page.get_by_text(re.compile(r"keeps working until"))).to_be_visible()
    expect(page.locator("table.tokens")).to_contain_text("Expires")
    screenshot(page, "integration-page")
    publish("integration-page")
    page.reload()  # the token is shown once: a fresh GET of the page never has it
    page.goto("/settings/integrations/azure/")
    assert new not in page.content()


@pytest.mark.browser
def test_revoke_is_immediate(page, admin, tenant):
    raw = activated(tenant, admin)
    display = token_verify(raw).display
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/azure/")
    page.get_by_role("button", name=f"Revoke {display}").click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    expect(page.locator("table.tokens")).to_contain_text("Revoked")
    assert token_verify(raw) is None


@pytest.mark.browser
def test_deactivate_with_confirmation(page, admin, tenant):
    raw = activated(tenant, admin)
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/azure/")
    page.get_by_role("link", name="Deactivate Azure…").click()
    expect(page.get_by_role("heading", name="Deactivate Azure?")).to_be_visible()
    assert token_verify(raw) is not None  # nothing happens before confirming
    page.get_by_role("button", name="Deactivate", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Its tokens no longer work")
    assert token_verify(raw) is None
    page.goto("/settings/integrations/")
    expect(tile(page, "Azure").get_by_role("button", name="Activate")).to_be_visible()
    expect(tile(page, "Azure")).to_contain_text("Deactivated")


@pytest.mark.browser
def test_token_changes_ask_for_the_password_again(page, admin, tenant, monkeypatch):
    activated(tenant, admin)
    sign_in(page, admin.user_name)
    # Pretend the ten minutes have passed (the live server runs in this process).
    monkeypatch.setattr("directory.sudo.SUDO_WINDOW_SECONDS", 0)
    page.goto("/settings/integrations/azure/")
    page.get_by_label("Label").fill("Entra staging")
    page.get_by_role("button", name="Generate token").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("That is not your password")).to_be_visible()
    assert not ScimToken.objects.filter(label="Entra staging").exists()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm and continue").click()
    new = page.get_by_label("New SCIM Bearer Token", exact=True).input_value()
    assert token_verify(new).label == "Entra staging"


@pytest.mark.browser
def test_non_admins_get_403(page, member):
    sign_in(page, member.user_name)
    for url in ("/settings/integrations/", "/settings/integrations/azure/activate/", "/people/", "/groups/"):
        response = page.goto(url)
        assert response.status == 403, url
        expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="People", exact=True)).to_have_count(0)
    # Not a dead end: the 403 page and the nav lead to the member's own pages.
    expect(nav.get_by_role("link", name="People directory")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("link", name="My profile")).to_be_visible()


@pytest.mark.browser
def test_integrations_and_dialog_fit_a_phone(page, admin):
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    tile(page, "Azure").get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Activate Azure")
    expect(dialog.get_by_label("SCIM Bearer Token", exact=True)).to_be_visible()
    box = dialog.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    page.keyboard.press("Escape")
    activated(admin.tenant, admin)
    for url in ("/people/", f"/people/{admin.pk}/", "/groups/", "/settings/integrations/azure/"):
        page.goto(url)
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, url


@pytest.mark.browser
def test_copy_buttons_put_the_values_on_the_clipboard(page, admin, live_server):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/")
    tile(page, "Azure").get_by_role("button", name="Activate").click()
    dialog = page.get_by_role("dialog", name="Activate Azure")
    dialog.get_by_role("button", name="Copy SCIM Bearer Token").click()
    token_row = dialog.locator(".copy-field").filter(has=page.locator("#scim-token"))
    expect(token_row.get_by_role("status")).to_have_text("Copied")
    token = dialog.get_by_label("SCIM Bearer Token", exact=True).input_value()
    assert page.evaluate("navigator.clipboard.readText()") == token
    dialog.get_by_role("button", name="Copy Tenant URL").click()
    assert page.evaluate("navigator.clipboard.readText()").endswith("/scim")
