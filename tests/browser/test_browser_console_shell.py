"""Signing in and reaching Settings in a real browser."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser_helpers import account_menu, open_settings, screenshot, sign_in


@pytest.mark.browser
def test_admin_signs_in_and_reaches_settings_from_the_account_menu(page, admin):
    sign_in(page, admin.user_name)
    expect(page.get_by_text("Acme Corp")).to_be_visible()
    open_settings(page)
    expect(page).to_have_url(re.compile(r"/settings/$"))
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    screenshot(page, "settings")


@pytest.mark.browser
def test_wrong_password_is_reported_in_the_browser(page, admin):
    sign_in(page, admin.user_name, "wrong-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match")


@pytest.mark.browser
def test_non_admin_gets_403_and_no_settings_entry(page, member):
    sign_in(page, member.user_name)
    page.get_by_role("button", name="Account menu").click()
    expect(account_menu(page).get_by_role("link", name="Settings")).to_have_count(0)
    response = page.goto("/settings/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="You don't have access to this page")).to_be_visible()


@pytest.mark.browser
def test_console_works_at_phone_width(page, admin):
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, admin.user_name)
    page.get_by_role("button", name="Account menu").click()
    settings_link = account_menu(page).get_by_role("link", name="Settings")
    expect(settings_link).to_be_visible()
    box = settings_link.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375
    settings_link.click()
    expect(page.get_by_role("heading", name="Settings", exact=True)).to_be_visible()
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 375
    screenshot(page, "settings-phone")


@pytest.mark.browser
def test_sign_out_from_the_account_menu(page, admin):
    sign_in(page, admin.user_name)
    page.get_by_role("button", name="Account menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
