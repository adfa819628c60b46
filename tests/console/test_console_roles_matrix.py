"""Who reaches which console URL, by role, for every URL of the console (issue 14).

Every named URL of the ``directory`` and ``provisioning`` namespaces is classified in ``ACCESS``;
a new URL without a class fails ``test_every_console_url_is_classified`` until it gets one (and so
gets tested). URLs with parameters are built for tenant A's objects with the tenant-walls matrix's
``ROUTES``; the others are reversed as they are.

- ``read``: admins and auditors GET it (200); a member gets 403.
- ``write``: admins only. An auditor (with a fresh password, so a 403 is the role's answer, not a
  password prompt) and a member get 403 for every method, and nothing of the tenant changes.
- ``member``: every active person of the tenant, auditors too (their profile, the directory).
- ``home``: the console's home for admins and auditors; a member is sent to their profile.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from directory import services
from directory.audit import Actor
from directory.models import Role
from tests.console.test_tenant_walls_matrix import ROUTES, Side, build_world, snapshot, url_for
from tests.console_helpers import api_keys_in, enter_sudo, make_auditor, tokens_in

CONSOLE_NAMESPACES = ("directory", "provisioning")
ACCESS: dict[str, str] = {
    "directory:home": "home",
    "directory:people": "read",
    "directory:person-detail": "read",
    "directory:person-edit": "write",
    "directory:person-role": "write",
    "directory:groups": "read",
    "directory:group-detail": "read",
    "directory:group-role": "write",
    "directory:my-profile": "member",
    "directory:people-directory": "member",
    "directory:directory-person": "member",
    "directory:api-keys": "read",
    "directory:api-key-create": "write",
    "directory:api-key-revoke": "write",
    "provisioning:settings": "read",
    "provisioning:integrations": "read",
    "provisioning:integration-detail": "read",
    # Opening the activation dialog drafts a token: a write, even on GET.
    "provisioning:integration-activate": "write",
    "provisioning:integration-deactivate": "write",
    "provisioning:integration-notifications": "write",
    "provisioning:integration-role-mapping": "write",
    "provisioning:integration-custom-attributes": "write",
    "provisioning:token-generate": "write",
    "provisioning:token-rotate": "write",
    "provisioning:token-revoke": "write",
    "provisioning:integration-logs": "read",
    "provisioning:integration-log-detail": "read",
    "provisioning:sso-settings": "write",
    "provisioning:sso-certificate-remove": "write",
    "provisioning:sso-test": "write",
    "provisioning:sso-test-result": "read",
    "provisioning:sso-log": "read",
    "provisioning:audit-log": "read",
    "provisioning:audit-log-export": "read",
}
WRITE_DATA: dict[str, dict[str, Any]] = {
    # What an admin would post, so a 403 is not the answer to a malformed form.
    "provisioning:token-rotate": {"grace": "0"},
    "provisioning:integration-activate": {"notification_email": "it@acme.example"},
    "provisioning:integration-custom-attributes": {"action": "add", "name": "badgeNumber", "type": "string"},
    "directory:api-key-create": {"label": "SIEM", "scope": "all"},
}


def console_url_names() -> set[str]:
    """Every named URL pattern of the console's namespaces, with or without parameters."""
    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, entry.namespace or namespace)
            elif isinstance(entry, URLPattern) and entry.name and namespace in CONSOLE_NAMESPACES:
                names.add(f"{namespace}:{entry.name}")

    walk(get_resolver().url_patterns, "")
    return names


def urls_of(name: str, side: Side) -> list[str]:
    """The URLs of ``name`` for ``side``'s objects (one URL for a route without parameters)."""
    if name in ROUTES:
        return [url_for(name, kwargs) for kwargs in ROUTES[name].build(side)]
    return [reverse(name)]


def methods_of(name: str) -> tuple[str, ...]:
    return ROUTES[name].methods if name in ROUTES else ("GET", "POST")


def data_of(name: str) -> dict[str, Any]:
    return {**(ROUTES[name].data if name in ROUTES else {}), **WRITE_DATA.get(name, {})}


def _names(kind: str) -> list[str]:
    return sorted(name for name, access in ACCESS.items() if access == kind)


@pytest.fixture
def world_a(db, tenant, admin, other_tenant, outsider) -> Side:
    a, _b = build_world(tenant, admin, other_tenant, outsider)
    return a


def _signed_in(person) -> Client:
    client = Client()
    client.force_login(person)
    enter_sudo(client)
    return client


def _request(client: Client, method: str, url: str, data: dict[str, Any]):
    return client.get(url) if method == "GET" else client.post(url, data)


def test_every_console_url_is_classified():
    found = console_url_names()
    unknown = sorted(found - set(ACCESS))
    assert not unknown, (
        f"Console URLs with no access class: {unknown}. Add each to ACCESS in {__name__} (read, write, member "
        "or home) and decorate its view to match (directory.permissions)."
    )
    assert not sorted(set(ACCESS) - found), "ACCESS names URLs that no longer exist"


@pytest.mark.parametrize("name", _names("read") + _names("member") + _names("home"))
def test_an_auditor_reads_every_read_page_and_sees_no_way_to_change_anything(name, world_a):
    auditor = make_auditor(world_a.tenant)
    client = _signed_in(auditor)
    for url in urls_of(name, world_a):
        response = client.get(url)
        assert response.status_code == 200, f"GET {url} as an auditor: {response.status_code}"
        body = b"".join(response.streaming_content) if response.streaming else response.content
        # No token or API key value, ever; and no form that changes something: the one POST form
        # left is the account menu's Sign out.
        assert not tokens_in(body), f"GET {url} shows a token value to an auditor"
        assert not api_keys_in(body), f"GET {url} shows an API key to an auditor"
        if response["Content-Type"].startswith("text/html"):
            html = body.decode()
            assert html.count('method="post"') == 1, f"GET {url} offers an auditor a form that changes something"
            assert 'action="/accounts/sign-out/"' in html


@pytest.mark.parametrize("name", _names("write"))
def test_an_auditor_gets_403_on_every_write_url_and_changes_nothing(name, world_a):
    auditor = make_auditor(world_a.tenant)
    client = _signed_in(auditor)
    before = snapshot(world_a.tenant)
    for url in urls_of(name, world_a):
        for method in methods_of(name):
            response = _request(client, method, url, data_of(name))
            assert response.status_code == 403, f"{method} {url} as an auditor: {response.status_code}"
            assert b"Your role in <bdi>Acme Corp</bdi> is Auditor" in response.content
            assert not tokens_in(response.content) and not api_keys_in(response.content)
    after = snapshot(world_a.tenant)
    assert after == before, f"{name}: an auditor's request changed the tenant"


@pytest.mark.parametrize("name", _names("read") + _names("write"))
def test_a_member_gets_403_on_every_console_url(name, world_a, member):
    client = _signed_in(member)
    before = snapshot(world_a.tenant)
    for url in urls_of(name, world_a):
        for method in methods_of(name) if ACCESS[name] == "write" else ("GET",):
            response = _request(client, method, url, data_of(name))
            assert response.status_code == 403, f"{method} {url} as a member: {response.status_code}"
            html = response.content.decode()
            # The 403 page of a member points at what they have: their profile and the directory.
            assert reverse("directory:my-profile") in html and reverse("directory:people-directory") in html
    assert snapshot(world_a.tenant) == before, f"{name}: a member's request changed the tenant"


@pytest.mark.django_db
def test_a_member_lands_on_their_profile_and_reaches_the_directory(client, member):
    client.force_login(member)
    assert client.get(reverse("directory:home"))["Location"] == reverse("directory:my-profile")
    for name in _names("member"):
        if name not in ROUTES:
            assert client.get(reverse(name)).status_code == 200, name


@pytest.mark.parametrize("name", _names("write"))
def test_an_admin_gets_past_the_role_check_on_every_write_url(name, world_a):
    """The control of the auditor's 403s: the same requests by an admin are not refused."""
    client = _signed_in(world_a.admin)
    url = urls_of(name, world_a)[-1]
    for method in methods_of(name):
        status = _request(client, method, url, data_of(name)).status_code
        assert status != 403 and status < 500, f"{method} {url} as an admin: {status}"


# --- The role is read on every request ---------------------------------------------------------

AUDIT_LOG = reverse("provisioning:audit-log")
SETTINGS = reverse("provisioning:settings")


@pytest.mark.django_db
def test_a_console_role_change_applies_on_the_persons_next_request(client, tenant, admin, member):
    actor = Actor(label="Ada Admin (ada.admin@acme.example)", person_id=admin.pk)
    client.force_login(member)
    assert client.get(AUDIT_LOG).status_code == 403

    services.console_role_set(person=member, role=Role.AUDITOR, actor=actor)
    assert client.get(AUDIT_LOG).status_code == 200  # same session, next request
    notifications = reverse("provisioning:integration-role-mapping", args=["azure"])
    enter_sudo(client)
    assert client.post(notifications, {"value": "Admin", "role": "member"}).status_code == 403

    services.console_role_set(person=member, role=Role.ADMIN, actor=actor)
    assert client.get(reverse("provisioning:integration-activate", args=["azure"])).status_code == 200

    services.console_role_set(person=member, role=None, actor=actor)
    assert client.get(SETTINGS).status_code == 403
    assert client.get(reverse("directory:home"))["Location"] == reverse("directory:my-profile")


@pytest.mark.django_db
def test_a_group_role_applies_to_its_members_on_their_next_request(client, tenant, admin, member):
    actor = Actor.system("test")
    group = services.group_create(tenant=tenant, actor=actor, display_name="SpaceIQ Auditors",
                                  member_ids=[member.pk])
    client.force_login(member)
    assert client.get(AUDIT_LOG).status_code == 403
    services.group_role_set(group=group, role=Role.AUDITOR, actor=actor)
    assert client.get(AUDIT_LOG).status_code == 200
    services.group_members_remove(group=group, actor=actor, person_ids=[member.pk])
    assert client.get(AUDIT_LOG).status_code == 403
