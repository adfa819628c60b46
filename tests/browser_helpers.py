"""Steps the browser tests share: signing in, the account menu, Settings, API keys, screenshots."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PASSWORD, ROOT

ARTIFACTS = ROOT / "test-artifacts"


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def account_menu(page):
    return page.locator("#account-menu-items")


def open_settings(page) -> None:
    """Step 1 of the set-up guide: Account menu → Settings."""
    page.get_by_role("button", name="Account menu").click()
    account_menu(page).get_by_role("link", name="Settings").click()
    page.wait_for_load_state()


def create_api_key(page, *, label: str, scope: str, password: str = PASSWORD) -> str:
    """Account menu → Settings → API keys → Label, Scope (its visible text), Create API key, confirming
    the password if the console asks for it. Returns the key from the field labelled "API key".
    The page must show a signed-in admin's console."""
    from playwright.sync_api import expect

    open_settings(page)
    page.get_by_role("link", name="API keys", exact=True).click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    page.get_by_label("Label", exact=True).fill(label)
    page.get_by_label("Scope", exact=True).select_option(label=scope)
    page.get_by_role("button", name="Create API key").click()
    shown = page.get_by_role("heading", name="Copy your new API key now")
    prompt = page.get_by_role("heading", name="Confirm your password")
    expect(shown.or_(prompt)).to_be_visible()
    if prompt.is_visible():
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Confirm and continue").click()
    expect(shown).to_be_visible()
    return page.get_by_label("API key", exact=True).input_value()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
