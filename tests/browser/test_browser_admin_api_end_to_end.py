"""Issue 15's whole path: an admin creates a key on the API keys page, a SIEM client holding only that key
and the README's contract pages through people, groups and audit events, polls the next link, sees a
change made afterwards in the console exactly once, and is refused once the key is revoked."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent, Group, Person
from tests.browser_helpers import create_api_key, screenshot, sign_in
from tests.conftest import make_person

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

ENTRA = Actor.system("Microsoft Entra ID")
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class Siem:
    """What a SIEM's collector does, and nothing more: a base URL, the key, the Link header."""

    def __init__(self, base: str, key: str) -> None:
        self.base, self.key = base, key

    def get(self, url: str) -> tuple[int, dict, str | None]:
        request = urllib.request.Request(url if url.startswith("http") else self.base + url,
                                         headers={"Authorization": f"Bearer {self.key}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                link = _NEXT.search(response.headers.get("Link", ""))
                return response.status, json.loads(response.read()), link.group(1) if link else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), None

    def all_pages(self, url: str) -> tuple[list[dict], str | None]:
        """Follow rel="next" until a page is empty or there is none; returns the rows and the last next link."""
        rows: list[dict] = []
        while True:
            status, body, next_url = self.get(url)
            assert status == 200, body
            rows += body["results"]
            if not body["results"] or next_url is None:
                return rows, next_url
            url = next_url


def test_a_siem_reads_and_polls_with_a_key_made_in_the_console(page, live_server, admin, tenant, other_tenant):
    for n in range(5):
        make_person(tenant, f"person{n}@acme.example")
    services.group_create(tenant=tenant, actor=ENTRA, display_name="Floor 2 badge holders",
                          member_ids=list(Person.objects.filter(tenant=tenant).values_list("pk", flat=True)[:3]))
    group = services.group_create(tenant=tenant, actor=ENTRA, display_name="Visitors")
    make_person(other_tenant, "stranger@globex.example")

    sign_in(page, admin.user_name)
    siem = Siem(live_server.url, create_api_key(page, label="Sentinel collector",
                                                scope="Read the directory, logs and audit events"))

    people, _ = siem.all_pages("/api/v1/people/?limit=2")
    assert sorted(p["user_name"] for p in people) == sorted(
        Person.objects.filter(tenant=tenant).values_list("user_name", flat=True))
    groups, _ = siem.all_pages("/api/v1/groups/?limit=1")
    assert sorted(g["display_name"] for g in groups) == ["Floor 2 badge holders", "Visitors"]
    events, poll = siem.all_pages("/api/v1/audit-events/?limit=7")
    assert [e["id"] for e in events] == sorted(
        AuditEvent.objects.filter(tenant=tenant).values_list("pk", flat=True))
    assert any(e["action"] == "api_key.created" for e in events)
    assert poll is not None
    assert siem.get(poll)[1]["results"] == []

    # A change in the console after the SIEM caught up.
    page.goto(f"/groups/{group.pk}/")
    page.get_by_label("Role for members").select_option(label="Auditor")
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_role("status")).to_contain_text("Role for members of Visitors: Auditor.")

    status, body, poll = siem.get(poll)
    assert status == 200
    assert [(e["action"], e["target_label"]) for e in body["results"]] == [("group.role_changed", "Visitors")]
    assert siem.get(poll)[1]["results"] == []  # exactly once

    # Revoked in the console: the next request is refused.
    page.goto("/settings/api-keys/")
    page.get_by_role("button", name=re.compile(r"^Revoke Sentinel collector")).click()
    expect(page.get_by_role("status").first).to_contain_text("is revoked")
    status, body, _ = siem.get(poll)
    assert status == 401 and body == {"detail": "The API key is not valid, or has been revoked."}
    assert Group.objects.get(pk=group.pk).role == "auditor"
    screenshot(page, "api-key-revoked-after-polling")
