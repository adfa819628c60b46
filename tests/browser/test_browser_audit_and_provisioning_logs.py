"""The Audit log and Provisioning logs pages in a real browser (Playwright, headless Chromium)."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from directory import services
from directory.audit import Actor
from tests.browser_helpers import open_settings, screenshot, sign_in
from tests.conftest import make_person
from tests.scim_traffic import active_integration, conflict, scim_request

ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)", source_ip="20.190.128.1")

pytestmark = pytest.mark.browser


@pytest.fixture
def history(tenant, admin):
    bob = make_person(tenant, "bob@acme.example", title="Engineer")
    services.person_update(person=bob, actor=ENTRA, changes={"title": "Manager"})
    services.person_deactivate(person=bob, actor=ENTRA)
    services.group_create(tenant=tenant, actor=ENTRA, display_name="Engineering", member_ids=[bob.pk])
    return bob


def test_admin_finds_who_changed_a_person_and_exports_it(page, admin, history):
    sign_in(page, admin.user_name)
    open_settings(page)
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log", exact=True)).to_be_visible()
    table = page.locator("table.audit tbody")
    expect(table.get_by_role("row")).to_have_count(page.locator("table.audit tbody tr").count())
    expect(table).to_contain_text("title: Engineer → Manager")

    page.get_by_label("Person or group").fill("bob@acme.example")
    page.get_by_label("Action").select_option(label="Person deactivated")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=person.deactivated"))
    rows = page.locator("table.audit tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Person deactivated")
    expect(rows.first).to_contain_text("Microsoft Entra ID (token siq_scim_abcd1234…)")
    screenshot(page, "audit-log")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("audit-log-acme-")
    with open(download.path(), encoding="utf-8") as exported:
        lines = list(csv.DictReader(io.StringIO(exported.read())))
    assert [line["action"] for line in lines] == ["person.deactivated"]

    rows.first.get_by_role("link", name="bob@acme.example").click()
    expect(page).to_have_url(re.compile(rf"/people/{history.pk}/"))


def test_audit_log_date_filter_error_is_shown_next_to_the_field(page, admin, history):
    sign_in(page, admin.user_name)
    page.goto("/settings/audit-log/")
    page.get_by_label("From date").fill("2026-11-20")
    page.get_by_label("To date").fill("2026-11-10")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("To date")).to_have_accessible_description(
        "The end date must be on or after the start date.")


def test_admin_reads_why_provisioning_failed_and_what_to_do(page, admin, tenant):
    integration = active_integration(tenant)
    for _ in range(3):
        scim_request(integration, 200, method="GET", path="/scim/v2/Users?filter=userName+eq+%22x%22")
    conflict(integration)
    sign_in(page, admin.user_name)
    page.goto("/settings/integrations/azure/logs/")
    expect(page.get_by_role("heading", name="Provisioning logs")).to_be_visible()
    chart = page.locator("svg.traffic-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("g.bar title").last).to_have_text(re.compile(r"3 succeeded, 1 failed"))
    expect(page.locator(".traffic-reasons")).to_contain_text("userName already exists (409): 1")

    page.get_by_role("tab", name="Failed").click()
    expect(page).to_have_url(re.compile(r"status=failed"))
    rows = page.locator("table.requests tbody tr")
    expect(rows).to_have_count(1)
    screenshot(page, "provisioning-logs")
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="What went wrong: userName already exists (409)")).to_be_visible()
    expect(page.get_by_text("A person with that userName already exists in SpaceIQ")).to_be_visible()
    expect(page.get_by_role("heading", name="What you can do")).to_be_visible()
    screenshot(page, "provisioning-log-detail")

    page.get_by_role("link", name="Provisioning logs").click()
    page.get_by_role("link", name="Last 30 days").click()
    expect(page).to_have_url(re.compile(r"range=30d"))
    expect(page.locator("svg.traffic-chart title").first).to_contain_text("last 30 days")


def test_non_admin_gets_403_on_both_pages(page, member, tenant):
    active_integration(tenant)
    sign_in(page, member.user_name)
    assert page.goto("/settings/audit-log/").status == 403
    assert page.goto("/settings/integrations/azure/logs/").status == 403
