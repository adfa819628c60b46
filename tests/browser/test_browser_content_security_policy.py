"""Every console page runs under the strict CSP in Chromium without a single violation."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.browser_helpers import sign_in
from tests.console.test_tenant_walls_matrix import ROUTES, SCIM_MOUNTS, build_world, url_for

# Reported by Chromium for every blocked inline script, style or handler,
# whether or not the page's own code notices.
WATCH_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""
NOT_PAGES = {"accounts:sign-out", "provisioning:audit-log-export"}  # a POST-only action; a CSV download


def parameterless_console_urls() -> list[str]:
    urls = []

    def walk(patterns, namespace: str, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace in SCIM_MOUNTS:
                    continue
                walk(entry.url_patterns, entry.namespace or namespace, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and not getattr(entry.pattern, "converters", None):
                name = f"{namespace}:{entry.name}"
                if name not in NOT_PAGES:
                    urls.append("/" + prefix + str(entry.pattern))

    walk(get_resolver().url_patterns, "", "")
    return urls


class Watcher:
    def __init__(self, page) -> None:
        self.page = page
        self.messages: list[str] = []
        page.add_init_script(WATCH_VIOLATIONS)
        page.on("console", lambda message: self.messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.messages.append(f"pageerror: {error}"))

    def violations(self) -> list[str]:
        reported = self.page.evaluate("window.__cspViolations || []")
        logged = [m for m in self.messages if "Content Security Policy" in m or "Refused to" in m]
        return reported + logged


@pytest.fixture
def world(transactional_db, tenant, admin, other_tenant, outsider):
    return build_world(tenant, admin, other_tenant, outsider)


@pytest.mark.browser
def test_no_console_page_violates_the_content_security_policy(page, world):
    a, _ = world
    watcher = Watcher(page)

    page.goto("/accounts/sign-in/")
    assert watcher.violations() == [], "sign-in page"
    sign_in(page, a.admin.user_name)

    urls = parameterless_console_urls()
    for name, route in ROUTES.items():
        if name.split(":")[0] not in SCIM_MOUNTS:
            urls.extend(url_for(name, kwargs) for kwargs in route.build(a))
    urls.append("/people/00000000-0000-0000-0000-000000000000/")  # the 404 page
    visited = []
    for url in urls:
        probe = page.request.get(url, max_redirects=0)
        if probe.status == 405 or not probe.headers.get("content-type", "").startswith("text/html"):
            continue  # POST-only actions are not pages
        if probe.status in (301, 302, 303) and not probe.headers.get("location", "").startswith("/"):
            continue  # the Sign-on URL sends the browser to the identity provider: not our page
        response = page.goto(url)
        page.wait_for_load_state("load")
        visited.append(url)
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), url
        assert watcher.violations() == [], f"{url}: {watcher.violations()}"
    assert len(visited) >= 12, visited

    # The activation dialog is built by app.js from a fetched page: it obeys the policy too.
    page.goto("/settings/integrations/")
    page.locator("form[data-opens-dialog] button").first.click()
    page.locator("dialog[open]").wait_for()
    assert watcher.violations() == []


@pytest.mark.browser
def test_the_watcher_does_see_a_violation(page, live_server):
    """The check above is not vacuous: an inline script and style under our policy are reported."""
    from django.conf import settings

    watcher = Watcher(page)
    page.route("**/csp-probe/", lambda route: route.fulfill(
        status=200, headers={"Content-Type": "text/html", "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY},
        body="<!doctype html><p style='color:red'>x</p><script>document.title = 'ran'</script>",
    ))
    page.goto(f"{live_server.url}/csp-probe/")
    assert page.title() != "ran"
    assert len(watcher.violations()) >= 2
