"""Steps the browser tests share: signing in, the account menu, Settings, screenshots."""

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


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
