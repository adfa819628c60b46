"""End to end: the set-up guide in the browser, then Entra's first requests on /scim with that token.

This crosses both halves of the product: the console (issue 4) and the SCIM
service (provisioning/scim). The token is read from the "SCIM Bearer Token"
field exactly as an admin would copy it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from provisioning.request_log_writer import writer
from tests.browser.test_browser_integrations import follow_the_setup_guide, tile

NEW_HIRE = {
    "schemas": [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    ],
    "externalId": "0a1b2c3d-e2e0-4a5b-9c8d-7e6f5a4b3c2d",
    "userName": "nia.newhire@acme.example",
    "active": True,
    "displayName": "Nia Newhire",
    "name": {"formatted": "Nia Newhire", "givenName": "Nia", "familyName": "Newhire"},
    "emails": [{"primary": True, "type": "work", "value": "nia.newhire@acme.example"}],
    "title": "Engineer",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Engineering"},
}


def scim(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/scim{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json",
                 "Accept": "application/scim+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.e2e
@pytest.mark.browser
def test_entra_provisions_a_person_with_the_token_from_the_dialog(page, admin, live_server):
    _, token = follow_the_setup_guide(page, admin)

    # Entra's Test Connection: a filter on a random userName, expecting no results.
    query = urllib.parse.quote('userName eq "7f3e0c1a-test-connection@acme.example"')
    status, body = scim(live_server.url, token, "GET", f"/Users?filter={query}")
    assert status == 200, body
    assert body.get("totalResults") == 0
    # Its log row is written behind the response, within SCIM_REQUEST_LOG_BATCH_MS; an
    # admin opens the console seconds later, this test a few milliseconds later.
    assert writer.flush()
    page.goto("/settings/integrations/")
    expect(tile(page, "Azure")).to_contain_text(re.compile(r"Connected — Test Connection received"))

    # The first cycle creates the person.
    status, body = scim(live_server.url, token, "POST", "/Users", NEW_HIRE)
    assert status == 201, body
    assert writer.flush()
    page.goto("/settings/integrations/")
    expect(tile(page, "Azure")).to_contain_text(re.compile(r"Healthy — last sync activity"))

    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.get_by_label("Source").select_option(label="SCIM")
    page.get_by_role("button", name="Apply").click()
    row = page.get_by_role("row").filter(has_text="nia.newhire@acme.example")
    expect(row).to_contain_text("Nia Newhire")
    expect(row).to_contain_text("Engineering")
    expect(row).to_contain_text("SCIM")
    row.get_by_role("link", name="Nia Newhire").click()
    expect(page.get_by_text("Managed by Microsoft Entra ID")).to_be_visible()
