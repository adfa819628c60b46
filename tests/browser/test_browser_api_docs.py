"""The admin API's docs page (/api/v1/docs/): Swagger UI from our own static files, under the site's policy.

Swagger UI comes from drf-spectacular-sidecar's files served by us, never a
CDN; the page runs under the same Content-Security-Policy as the console,
without a single violation and without a request to any other host; it lists
every operation of the schema, and an API key entered in "Authorize" makes
"Try it out" work.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.api.conftest import api_key_for
from tests.browser.test_browser_content_security_policy import Watcher

pytestmark = pytest.mark.browser

OPERATIONS = ["/api/v1/audit-events/", "/api/v1/groups/", "/api/v1/groups/{group_id}/",
              "/api/v1/groups/{group_id}/members/", "/api/v1/integrations/", "/api/v1/people/",
              "/api/v1/people/{person_id}/", "/api/v1/provisioning-requests/", "/api/v1/sso-sign-ins/"]


def test_the_docs_list_every_operation_from_our_own_files_under_the_policy(page, tenant):
    watcher = Watcher(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    response = page.goto("/api/v1/docs/")
    assert response.all_headers()["content-security-policy"] == settings.CONTENT_SECURITY_POLICY
    paths = page.locator(".opblock-summary-path")
    expect(paths).to_have_count(len(OPERATIONS))
    # Swagger UI breaks long paths with zero-width spaces.
    assert sorted(text.replace("\u200b", "") for text in paths.all_inner_texts()) == OPERATIONS
    page.wait_for_load_state("networkidle")

    # Try it out with a key of the tenant's.
    page.get_by_role("button", name="Authorize").click()
    page.locator(".auth-container input").fill(api_key_for(tenant, scope="logs"))
    page.locator(".auth-container").get_by_role("button", name="Apply credentials").click()
    page.locator(".auth-container").get_by_role("button", name="Close").click()
    integrations = page.locator("#operations-logs-integrations_list")
    integrations.locator(".opblock-summary").click()
    integrations.get_by_role("button", name="Try it out").click()
    integrations.get_by_role("button", name="Execute").click()
    expect(integrations.locator(".live-responses-table tr.response .response-col_status")).to_have_text("200")

    assert watcher.violations() == [], watcher.violations()
    assert [m for m in watcher.messages if m.startswith(("error", "pageerror"))] == []
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {urlsplit(page.url).hostname}, hosts
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle" in url for url in requested)
    # No badge asking swagger.io to fetch our schema (Swagger UI skips it only on localhost).
    assert page.evaluate("ui.getConfigs().validatorUrl") is None
