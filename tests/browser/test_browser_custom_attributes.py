"""Custom attributes end to end (issue 16): declared on the integration page by its labels, provisioned
through /scim/Users as Entra sends them, shown on the person page, and used to filter the People list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser_end_to_end_scim import NEW_HIRE, scim
from tests.browser.test_browser_integrations import follow_the_setup_guide


@pytest.mark.e2e
@pytest.mark.browser
def test_an_attribute_declared_in_the_console_arrives_from_entra_and_filters_the_people_list(page, admin,
                                                                                            live_server):
    _, token = follow_the_setup_guide(page, admin)
    page.goto("/settings/integrations/azure/")
    section = page.get_by_role("region", name="Custom attributes")
    expect(section.get_by_text("No custom attributes declared yet.")).to_be_visible()
    section.get_by_label("Attribute name", exact=True).fill("building")
    section.get_by_label("Type", exact=True).select_option(label="String")
    section.get_by_label("Shown in directory", exact=True).check()
    section.get_by_role("button", name="Add attribute").click()

    section = page.get_by_role("region", name="Custom attributes")
    expect(page.get_by_text("Custom attribute building added.")).to_be_visible()
    row = section.get_by_role("row").filter(has_text="building")
    expect(row).to_contain_text("String")
    expect(row.get_by_label("Shown in directory: building")).to_be_checked()
    expect(section.get_by_role("button", name="Copy SCIM name of building")).to_be_visible()
    scim_name = section.get_by_label("SCIM name of building", exact=True).input_value()
    assert scim_name == "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User:building"

    # Entra's create: the custom attribute as a top-level key, its URN not in schemas (entra-scim.md §9).
    status, body = scim(live_server.url, token, "POST", "/Users", {**NEW_HIRE, scim_name: "HQ-7"})
    assert status == 201, body
    assert body["urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"] == {"building": "HQ-7"}
    other = {**NEW_HIRE, "userName": "omar.other@acme.example", "externalId": "omar", "displayName": "Omar Other",
             "emails": [{"primary": True, "type": "work", "value": "omar.other@acme.example"}], scim_name: "Annex"}
    status, body = scim(live_server.url, token, "POST", "/Users", other)
    assert status == 201, body

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_role("link", name="Nia Newhire").click()
    custom = page.get_by_role("region", name="Custom attributes")
    expect(custom).to_contain_text("building")
    expect(custom).to_contain_text("HQ-7")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_label("Custom attribute").select_option(label="building")
    page.get_by_label("Value", exact=True).fill("hq-7")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("row").filter(has_text="nia.newhire@acme.example")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="omar.other@acme.example")).to_have_count(0)
    expect(page.get_by_text("1 matching person")).to_be_visible()
