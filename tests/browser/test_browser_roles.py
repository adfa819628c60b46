"""Roles in a real browser (issue 14): an admin maps a group to Auditor, a member of that group reads
the console and can change nothing, and a Member has only their profile and the directory."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from directory import services
from directory.audit import Actor
from provisioning.models import ScimToken
from tests.browser_helpers import account_menu, open_settings, screenshot, sign_in
from tests.conftest import make_person
from tests.console.test_console_roles_matrix import ACCESS
from tests.console.test_tenant_walls_matrix import ROUTES, Route
from tests.console_helpers import TOKEN_RE
from tests.scim_client import issue_token

pytestmark = pytest.mark.browser

ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)", integration_kind="azure")
NO_PARAMS = Route(frozenset(), lambda side: [{}])
# Every button or link that changes something, by its visible name: none is for an auditor.
WRITE_CONTROLS = ("Generate token", "Rotate", "Revoke", "Save notification settings", "Deactivate Azure…",
                  "Activate", "Save SSO settings", "Remove", "Test single sign-on", "Save role mapping",
                  "Save role", "Save console role", "Edit")


def write_urls(*, person, group, token: ScimToken) -> list[str]:
    """Every URL the console classifies as a write (tests/console/test_console_roles_matrix.py), for this
    tenant's objects. The role is checked before the object is looked up, so certificate 1 and API key 1 will do."""
    values = {"person_id": person.pk, "group_id": group.pk, "kind": "azure", "token_id": token.pk,
              "certificate_id": 1, "key_id": 1}
    return [reverse(name, kwargs={key: values[key] for key in ROUTES.get(name, NO_PARAMS).params})
            for name, access in sorted(ACCESS.items()) if access == "write"]


POST_FROM_THE_PAGE = """async (url) => {
    // A form post as the page would send it: same origin, the session cookie, and the CSRF token
    // of the page's own form (the account menu's Sign out).
    const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
    const body = new URLSearchParams({csrfmiddlewaretoken: token, role: 'admin', label: 'x', grace: '0'});
    const response = await fetch(url, {method: 'POST', body});
    return {status: response.status, text: await response.text()};
}"""


def test_an_admin_maps_a_group_to_auditor_and_its_member_reads_but_changes_nothing(page, browser, live_server,
                                                                                   admin, tenant):
    issue_token(tenant)  # an active Azure integration with a token
    token = ScimToken.objects.get(integration__tenant=tenant, integration__kind="azure")
    riley = make_person(tenant, "riley@acme.example", display_name="Riley Reviewer")
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="SpaceIQ Auditors",
                                  member_ids=[riley.pk])

    # The admin: Groups → SpaceIQ Auditors → Role for members: Auditor → Save role.
    sign_in(page, admin.user_name)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="SpaceIQ Auditors").click()
    page.get_by_label("Role for members").select_option(label="Auditor")
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status")).to_contain_text("Role for members of SpaceIQ Auditors: Auditor.")
    expect(page.get_by_label("Role for members")).to_have_value("auditor")
    page.get_by_role("link", name="Groups", exact=True).first.click()
    expect(page.get_by_role("row", name=re.compile("SpaceIQ Auditors"))).to_contain_text("Auditor")
    screenshot(page, "roles-group-mapped-to-auditor")

    # Riley, a member of the group, signs in: an auditor.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    auditor = context.new_page()
    auditor.set_default_timeout(15_000)
    sign_in(auditor, riley.user_name)
    nav = auditor.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="People")).to_be_visible()
    expect(nav.get_by_role("link", name="Groups")).to_be_visible()
    open_settings(auditor)
    auditor.get_by_role("link", name="Audit log").click()
    expect(auditor.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
    expect(auditor.locator("table.audit tbody")).to_contain_text("Role for members changed")
    expect(auditor.get_by_role("link", name="Export CSV")).to_be_visible()

    # The integration page: status, tokens (never a value), Role mapping read-only, no buttons.
    auditor.goto("/settings/integrations/")
    auditor.get_by_role("link", name="View Azure").click()
    expect(auditor.get_by_role("heading", name="SCIM tokens")).to_be_visible()
    expect(auditor.get_by_role("heading", name="Role mapping")).to_be_visible()
    expect(auditor.get_by_role("row", name=re.compile("Auditor"))).not_to_have_count(0)
    for name in WRITE_CONTROLS:
        expect(auditor.get_by_role("button", name=name, exact=True)).to_have_count(0)
        expect(auditor.get_by_role("link", name=name, exact=True)).to_have_count(0)
    assert not TOKEN_RE.search(auditor.content())
    auditor.get_by_role("tab", name="SSO").click()
    expect(auditor.get_by_role("button", name="Save SSO settings")).to_have_count(0)
    screenshot(auditor, "roles-auditor-integration-page")

    # The group page: the role read-only.
    auditor.goto(f"/groups/{group.pk}/")
    expect(auditor.get_by_text("Role for members")).to_be_visible()
    expect(auditor.get_by_role("combobox")).to_have_count(0)

    # Every write URL answers 403, opened or posted (with the CSRF token: the 403 is the role's).
    for url in write_urls(person=riley, group=group, token=token):
        response = auditor.goto(url)
        assert response.status == 403, f"GET {url}: {response.status}"
        expect(auditor.get_by_role("heading", name="You don't have access to this page")).to_be_visible()
        posted = auditor.evaluate(POST_FROM_THE_PAGE, url)
        assert posted["status"] == 403, f"POST {url}: {posted['status']}"
        assert "Your role in <bdi>Acme Corp</bdi> is Auditor" in posted["text"], url
    context.close()
    group.refresh_from_db()
    token.refresh_from_db()
    assert group.role == "auditor" and token.revoked_at is None


def test_a_member_sees_only_their_profile_and_the_directory(page, admin, member):
    sign_in(page, member.user_name)
    expect(page).to_have_url(re.compile(r"/me/$"))
    expect(page.get_by_role("heading", name="Mo Member")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(["My profile", "People directory"])
    page.get_by_role("button", name="Account menu").click()
    expect(account_menu(page).get_by_role("link", name="Settings")).to_have_count(0)

    nav.get_by_role("link", name="People directory").click()
    expect(page.get_by_role("link", name="Ada Admin")).to_be_visible()
    screenshot(page, "roles-member-directory")

    for url in ("/people/", "/groups/", "/settings/", "/settings/audit-log/", f"/people/{admin.pk}/"):
        response = page.goto(url)
        assert response.status == 403, url
        expect(page.get_by_role("link", name="My profile").last).to_be_visible()
        expect(page.get_by_role("main").get_by_role("link", name="People directory")).to_be_visible()
