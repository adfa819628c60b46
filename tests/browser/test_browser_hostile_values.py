"""Hostile values from Entra, shown on every console page that shows them (issue 17).

People and a group are provisioned through /scim as Entra would, with values
that carry a RIGHT-TO-LEFT OVERRIDE (U+202E) and no closing mark, zero-width
characters, and unbroken strings of 500 characters (or the attribute's
limit). Every console page that shows them is opened at 1,280 and at 375
pixels, and the assertions come from the layout the browser computed:

- our own words keep their direction: the letters of every word of ours
  (every text outside a value) stand left to right on screen. An override
  that leaks out of a value reverses them;
- nothing scrolls sideways: the document and every scrollable box are no
  wider than their viewport.

The emails' HTML parts get the same check, and SCIM returns every value as
it was sent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import pytest

from directory import services as directory_services
from directory.audit import Actor
from directory.models import Group, Person
from provisioning import services
from provisioning.models import ScimRequest
from provisioning.request_log_writer import writer
from tests.browser_helpers import screenshot, sign_in
from tests.conftest import make_person

pytestmark = pytest.mark.browser

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE, never closed
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"  # space, non-joiner, joiner, word joiner, BOM
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
# A custom extension attribute Entra sends (entra-scim.md §9), its name as long as names go (200 + 64).
CUSTOM = "urn:" + "c" * 186 + ":2.0:User:" + "b" * 64
# One the admin declared, shown in the directory: its name and value on the person page too.
DECLARED_SCHEMA, DECLARED_NAME = "urn:" + "d" * 186 + ":2.0:User", "e" * 64
PHONE, DESKTOP = {"width": 375, "height": 740}, {"width": 1280, "height": 900}


def hostile(word: str, length: int = 500) -> str:
    """``word`` after an unclosed override and zero-width characters, padded without a break to ``length``."""
    start = f"{RLO}{word}{ZERO_WIDTH}"
    return start + "x" * (length - len(start))


def hostile_address(word: str, length: int = 500) -> str:
    return hostile(word, length - len("@contoso.com")) + "@contoso.com"


MALLORY = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
    "userName": hostile_address("mallory", 255), "externalId": hostile("ext", 255), "active": True,
    "displayName": hostile("Mallory", 500),
    "name": {"formatted": hostile("formatted", 500), "givenName": hostile("given", 255),
             "familyName": hostile("family", 255), "middleName": hostile("middle", 255)},
    "nickName": hostile("nick", 255), "title": hostile("title", 255), "userType": hostile("type", 255),
    "profileUrl": "https://contoso.example/" + hostile("profile", 500),
    "preferredLanguage": hostile("lang", 64), "locale": hostile("locale", 64), "timezone": hostile("tz", 64),
    "emails": [{"primary": True, "type": "work", "value": hostile_address("mail", 320)},
               {"type": "other", "value": hostile_address("other", 500)}],
    "phoneNumbers": [{"type": "mobile", "value": hostile("phone", 500)}],
    "addresses": [{"type": "work", "formatted": hostile("street", 500), "locality": hostile("city", 500),
                   "country": hostile("country", 500)}],
    "roles": [{"primary": True, "type": "WindowsAzureActiveDirectoryRole", "value": hostile("role", 255)}],
    ENTERPRISE: {"employeeNumber": hostile("number", 255), "department": hostile("dept", 255),
                 "costCenter": hostile("cost", 255), "organization": hostile("org", 255),
                 "division": hostile("division", 255)},
    CUSTOM: hostile("badge", 1024),
    f"{DECLARED_SCHEMA}:{DECLARED_NAME}": hostile("declared", 1024),
}


def report(n: int) -> dict:
    """A person who reports to Mallory: the person page lists them separated by our commas."""
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": hostile_address(f"report{n}", 255),
            "displayName": hostile(f"Report{n}", 500), "active": True}


@dataclass
class Provisioned:
    mallory: Person
    group: Group
    admin: Person
    conflict_log: int
    create_log: int


def scim(base: str, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/scim/v2{path}", method=method, data=json.dumps(body, ensure_ascii=False).encode() if body else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def provisioned(live_server, tenant) -> Provisioned:
    """What Entra's first cycles leave behind, sent over HTTP, plus an admin whose own name is hostile."""
    admin = make_person(tenant, "ada.admin@acme.example", admin=True, display_name=hostile("Ada", 500))
    directory_services.custom_attribute_declare(tenant=tenant, actor=Actor.system("test"), name=DECLARED_NAME,
                                                schema=DECLARED_SCHEMA, shown_in_directory=True)
    integration = services.integration_for(tenant=tenant, kind="azure")
    services.integration_activate(integration=integration, actor=Actor.system("test"))
    _, token = services.token_issue(integration=integration, actor=Actor.system("test"), created_by=admin,
                                    label=hostile("token", 100))
    base = live_server.url

    query = urllib.parse.quote(f'userName eq "{MALLORY["userName"]}"')
    assert scim(base, token, "GET", f"/Users?filter={query}")[0] == 200
    status, mallory = scim(base, token, "POST", "/Users", MALLORY)
    assert status == 201, mallory
    for key in ("userName", "displayName", "name", "emails", "phoneNumbers", "addresses", "title", ENTERPRISE):
        assert mallory[key] == MALLORY[key]  # verbatim: SCIM stores and returns what Entra sent
    extension, _, attribute = CUSTOM.rpartition(":")
    assert mallory[extension] == {attribute: MALLORY[CUSTOM]}  # under its URN, as returned to Entra
    reports = []
    for n in (1, 2):
        status, created = scim(base, token, "POST", "/Users", report(n))
        assert status == 201, created
        reports.append(created["id"])
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": mallory["id"]}]}
        assert scim(base, token, "PATCH", f"/Users/{created['id']}", patch)[0] == 200
    # An incremental cycle renames her: the audit log shows old and new side by side.
    rename = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "Replace", "path": "displayName", "value": hostile("Renamed", 500)}]}
    status, renamed = scim(base, token, "PATCH", f"/Users/{mallory['id']}", rename)
    assert status == 200 and renamed["displayName"] == hostile("Renamed", 500)
    status, group = scim(base, token, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": hostile("Group", 255),
        "externalId": hostile("groupext", 255)})
    assert status == 201, group
    members = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "Add", "path": "members", "value": [{"value": mallory["id"]},
                                                                       *({"value": r} for r in reports)]}]}
    assert scim(base, token, "PATCH", f"/Groups/{group['id']}", members)[0] == 204
    status, clash = scim(base, token, "POST", "/Users", {**MALLORY, "externalId": "again"})
    assert status == 409, clash  # Entra retried a create: the log page names the user name it clashed on
    assert writer.flush()
    logs = ScimRequest.objects.filter(integration=integration)
    return Provisioned(
        mallory=Person.objects.get(pk=mallory["id"]), group=Group.objects.get(pk=group["id"]), admin=admin,
        conflict_log=logs.get(status=409).pk, create_log=logs.filter(status=201).order_by("id").first().pk,
    )


# --- What the layout says --------------------------------------------------------------------------

# Our words whose letters stand right to left on screen. Text inside <bdi> is a value, and so is every
# run of text from an override to the next space (the hostile values hold no space): a value shown
# alone in its own box, such as a table cell. Everything else on the page is ours and must read left
# to right, the words after an unisolated value first of all.
REVERSED_WORDS = """(root) => {
  const reversed = [];
  const skip = "bdi, script, style, title, option, select, textarea, pre, svg";
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const element = node.parentElement;
    if (!element || element.closest(skip)) continue;
    const values = [...node.data.matchAll(/\\u202e[^ \\t\\n]*/g)].map((m) => [m.index, m.index + m[0].length]);
    for (const word of node.data.matchAll(/[A-Za-z]{2,}/g)) {
      const end = word.index + word[0].length;
      if (values.some(([from, to]) => word.index < to && end > from)) continue;
      let previous = null;
      for (let i = word.index; i < word.index + word[0].length; i++) {
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getBoundingClientRect();
        if (!box.width) { previous = null; continue; }  // not rendered (a closed menu, a hidden tab)
        if (previous && Math.abs(box.top - previous.top) < 2 && box.left < previous.left - 0.5) {
          reversed.push(`${word[0]} (in <${element.tagName.toLowerCase()} class="${element.className}">)`);
          break;
        }
        previous = box;
      }
    }
  }
  return reversed;
}"""

# Boxes wider than the screen: the document, and every box that scrolls (or would) sideways.
SIDEWAYS = """() => {
  const wide = [];
  const viewport = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > viewport) {
    wide.push(`document: ${document.documentElement.scrollWidth} > ${viewport}`);
    // Which text sticks out: what the message names.
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const range = document.createRange();
    for (let node = walker.nextNode(); node && wide.length < 4; node = walker.nextNode()) {
      range.selectNodeContents(node);
      if (range.getBoundingClientRect().right > viewport + 1) {
        wide.push(`"${node.data.trim().slice(0, 40)}" in <${node.parentElement.tagName.toLowerCase()}> sticks out`);
      }
    }
  }
  for (const element of document.querySelectorAll("body *")) {
    const style = getComputedStyle(element);
    if (["auto", "scroll"].includes(style.overflowX) && element.scrollWidth > element.clientWidth + 1) {
      const name = `<${element.tagName.toLowerCase()} class="${element.className}">`;
      wide.push(`${name}: ${element.scrollWidth} > ${element.clientWidth}`);
    }
  }
  return wide.slice(0, 10);
}"""

# The page title, laid out as a line of our text: "<value> · SpaceIQ" must keep " · SpaceIQ" upright.
TITLE_REVERSED = """(check) => {
  const line = document.createElement("p");
  line.textContent = document.title;
  document.body.append(line);
  const reversed = (new Function("return " + check))()(line);
  line.remove();
  return reversed;
}"""


def assert_layout(page, what: str) -> None:
    reversed_words = page.evaluate(REVERSED_WORDS, page.locator("body").element_handle())
    assert not reversed_words, f"{what}: our words reversed: {reversed_words[:10]}"
    title = page.evaluate(TITLE_REVERSED, REVERSED_WORDS)
    assert not title, f"{what}: the title's words reversed: {title}"
    wide = page.evaluate(SIDEWAYS)
    assert not wide, f"{what}: wider than the screen: {wide}"


def console_pages(p: Provisioned) -> dict[str, str]:
    target = urllib.parse.quote(p.mallory.user_name)
    return {
        "home": "/",
        "people": "/people/",
        "people filtered": f"/people/?q={urllib.parse.quote(RLO + 'report')}&source=scim",
        "person": f"/people/{p.mallory.pk}/",
        "report": f"/people/{Person.objects.exclude(pk=p.mallory.pk).filter(manager=p.mallory).first().pk}/",
        "admin": f"/people/{p.admin.pk}/",
        "admin edit": f"/people/{p.admin.pk}/edit/",
        "groups": "/groups/",
        "groups search": f"/groups/?q={urllib.parse.quote(RLO + 'nothing')}",
        "group": f"/groups/{p.group.pk}/",
        "audit log": "/settings/audit-log/",
        "audit log filtered": f"/settings/audit-log/?target={target}&action=person.updated",
        "audit log by actor": f"/settings/audit-log/?actor={urllib.parse.quote(RLO)}",
        "provisioning logs": "/settings/integrations/azure/logs/",
        "failed requests": "/settings/integrations/azure/logs/?status=failed",
        "failed request": f"/settings/integrations/azure/logs/{p.conflict_log}/",
        "created request": f"/settings/integrations/azure/logs/{p.create_log}/",
        "integration": "/settings/integrations/azure/",
    }


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_hostile_values_keep_to_themselves_on_every_console_page(page, provisioned, viewport):
    page.set_viewport_size(viewport)
    sign_in(page, provisioned.admin.user_name)
    for name, url in console_pages(provisioned).items():
        response = page.goto(url)
        assert response.status == 200, (name, url, response.status)
        assert_layout(page, f"{name} ({url}) at {viewport['width']}px")
        if name in ("person", "audit log filtered", "failed request"):
            screenshot(page, f"hostile-values-{name.replace(' ', '-')}-{viewport['width']}")
    # The account menu opened: the admin's own name, and their user name, in it.
    page.goto("/")
    page.get_by_role("button", name="Account menu").click()
    assert_layout(page, f"account menu at {viewport['width']}px")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "375px"])
def test_a_member_sees_them_safely_too(page, provisioned, viewport):
    """The member's pages: their own profile (their name hostile too), the directory and a colleague's card."""
    mo = make_person(provisioned.admin.tenant, "mo.member@acme.example", display_name=hostile("Mo", 500),
                     title=hostile("title", 255), manager_id=provisioned.mallory.pk)
    report = Person.objects.filter(manager=provisioned.mallory).exclude(pk=mo.pk).first()
    page.set_viewport_size(viewport)
    sign_in(page, mo.user_name)
    for name, url in {"my profile": "/me/", "directory": "/directory/",
                      "directory search": f"/directory/?q={urllib.parse.quote(RLO + 'report')}",
                      "colleague": f"/directory/{provisioned.mallory.pk}/",
                      "colleague's report": f"/directory/{report.pk}/"}.items():
        response = page.goto(url)
        assert response.status == 200, (name, url, response.status)
        assert_layout(page, f"{name} ({url}) at {viewport['width']}px")


def test_the_words_around_a_value_are_ours_on_screen(page, provisioned):
    """Where the issue saw them turned: "Source: SCIM" under the name, "person" after the target."""
    sign_in(page, provisioned.admin.user_name)
    page.goto(f"/people/{provisioned.mallory.pk}/")
    line = page.locator("header.page-head p.help")
    assert "Source: SCIM" in line.inner_text()
    name_box, source_box = page.locator("h1").bounding_box(), line.get_by_text("Source: SCIM").bounding_box()
    assert source_box["y"] > name_box["y"]
    page.goto(f"/settings/audit-log/?target={urllib.parse.quote(provisioned.mallory.user_name)}")
    target = page.locator("table.audit tbody tr").first.locator("td[data-label=Target]")
    letters = target.locator("small").evaluate("""(small) => {
      const range = document.createRange();
      return [...small.textContent].map((_, i) => {
        range.setStart(small.firstChild, i); range.setEnd(small.firstChild, i + 1);
        return range.getBoundingClientRect().left;
      });
    }""")
    assert target.locator("small").inner_text() == "person"
    assert letters == sorted(letters), letters  # p, e, r, s, o, n from left to right


@pytest.mark.parametrize("name", ["role_admin_changed", "token_generated", "scim_failure_summary"])
def test_the_html_part_of_emails_keeps_our_words_upright(page, provisioned, name):
    from provisioning.emails import render_email

    mallory, tenant = provisioned.mallory, provisioned.mallory.tenant
    actor = Actor(label=mallory.label, source_ip="203.0.113.7")
    context = {
        "tenant": tenant, "person": mallory, "actor": actor, "gained": True, "old": "Member", "new": "Admin",
        "summary": "Admin through the console role", "at": mallory.created, "person_url": "https://x/p",
        "audit_log_url": "https://x/a", "integration_name": "Azure", "provider": "Microsoft Entra ID",
        "token": type("Token", (), {"display": "siq_scim_abcd1234…", "label": hostile("label", 100)})(),
        "integration_url": "https://x/i", "failed_logs_url": "https://x/f", "quiet_minutes": 60,
        "digest": type("Digest", (), {"total": 1, "first_at": mallory.created, "last_at": mallory.created,
                                      "reasons": [("userName already exists (409)", 1)]})(),
        "examples": [{"url": "https://x/e", "example": {
            "received_at": mallory.created, "method": "POST", "path": "/scim/v2/Users/" + hostile("path", 200),
            "status": 409, "reason": "userName already exists (409)",
            "detail": f"userName {mallory.user_name!r} is already in use."}}],
    }
    email = render_email(name, context)
    assert mallory.label in email.html or name == "scim_failure_summary"
    for viewport in (DESKTOP, PHONE):
        page.set_viewport_size(viewport)
        page.set_content(email.html)
        reversed_words = page.evaluate(REVERSED_WORDS, page.locator("body").element_handle())
        assert not reversed_words, f"{name} at {viewport['width']}px: {reversed_words[:10]}"
