"""Settings → API keys in a real browser (issue 15): an admin creates a key, copies it from the page
that shows it once, and revokes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from directory.api_keys import api_key_verify
from directory.models import ApiKey
from tests.browser_helpers import create_api_key, screenshot, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

EVERYTHING = "Read the directory, logs and audit events"


def test_an_admin_creates_a_key_reads_it_once_and_revokes_it(page, admin, tenant):
    sign_in(page, admin.user_name)
    raw = create_api_key(page, label="SIEM export", scope=EVERYTHING)
    key = api_key_verify(raw)
    assert key is not None and key.tenant == tenant
    assert (key.label, key.scope, key.created_by) == ("SIEM export", ApiKey.Scope.ALL, admin)
    expect(page.get_by_role("button", name="Copy API key")).to_be_visible()
    expect(page.get_by_role("link", name="API documentation")).to_have_attribute("href", "/api/v1/docs/")
    screenshot(page, "api-key-created")

    # Shown once: opening the page again lists the key without its value.
    page.goto("/settings/api-keys/")
    expect(page.get_by_label("API key", exact=True)).to_have_count(0)
    row = page.get_by_role("row", name=key.display)
    expect(row).to_contain_text("SIEM export")
    expect(row).to_contain_text(EVERYTHING)
    expect(row).to_contain_text("Ada Admin")
    expect(row).to_contain_text("Never")
    assert raw not in page.content()

    page.get_by_role("button", name=f"Revoke {key.display}").click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    revoked = page.get_by_role("region", name="Revoked")
    expect(revoked).to_contain_text("SIEM export")
    expect(revoked).to_contain_text("Revoked")
    expect(page.get_by_role("button", name=f"Revoke {key.display}")).to_have_count(0)
    assert api_key_verify(raw) is None
    screenshot(page, "api-keys-revoked")


def test_creating_a_key_asks_for_the_password_again(page, admin, monkeypatch):
    sign_in(page, admin.user_name)
    # Pretend the ten minutes have passed (the live server runs in this process).
    monkeypatch.setattr("directory.sudo.SUDO_WINDOW_SECONDS", 0)
    page.goto("/settings/api-keys/")
    page.get_by_label("Label", exact=True).fill("Log shipper")
    page.get_by_label("Scope", exact=True).select_option(label="Read logs and audit events")
    page.get_by_role("button", name="Create API key").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm and continue").click()
    expect(page.get_by_text("That is not your password")).to_be_visible()
    assert not ApiKey.objects.exists()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm and continue").click()
    key = api_key_verify(page.get_by_label("API key", exact=True).input_value())
    assert key is not None and key.scope == ApiKey.Scope.LOGS and key.label == "Log shipper"
