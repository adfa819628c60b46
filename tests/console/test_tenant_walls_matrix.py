"""Tenant walls, generated from the URLConf: an admin or token of tenant B gets
nothing of tenant A through any URL that takes a parameter.

Every URL pattern with a parameter (id, kind, uuid, ...) is discovered from
``get_resolver()``. Each must have an entry in ``ROUTES`` saying how to build
its URLs for one tenant's objects; a new URL without one fails
``test_every_url_with_a_parameter_is_in_the_matrix`` until whoever adds it
registers it here (and so gets it tested). For every entry:

- ``object`` routes name one row (a person, group, token, logged request, SCIM
  resource): B gets 403 or 404 for every object of A, with every method, and
  the same URL built for B's own object works (so the 404 is the wall, not a
  malformed URL). A 405 is accepted only if B's own object gets 405 too.
- ``kind`` routes take an integration kind, which selects within the signed-in
  tenant: B only ever sees its own, so nothing of A may appear in the page.
- ``global`` routes serve documents that belong to no tenant (SCIM schemas):
  B gets exactly what A gets.
- ``public`` routes are reached by anyone's browser by design (single sign-on:
  the ACS, the Sign-on URL, SP metadata): B, signed in, gets no session of A's
  and sees no data of A's; the only trace left in A is the refusal it logged.

After each route's requests, every row of tenant A is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from directory.models import ApiKey, AppRoleMapping, AuditEvent, CustomAttribute, Group, Membership, Person
from provisioning.models import Integration, Notification, ScimRequest, ScimToken, SsoCertificate, SsoConfig
from provisioning.request_log_writer import writer
from tests.conftest import make_person
from tests.console_helpers import enter_sudo
from tests.entra import requests as entra
from tests.scim_client import ScimClient, issue_token

# --- The two tenants' worlds -------------------------------------------------------


@dataclass
class Side:
    tenant: Any
    admin: Person
    token: str
    people: list[Person] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    tokens: list[ScimToken] = field(default_factory=list)
    logged: list[int] = field(default_factory=list)
    kinds: tuple[str, ...] = ("azure",)
    certificates: list[int] = field(default_factory=list)
    sso_tests: list[str] = field(default_factory=list)
    api_keys: list[ApiKey] = field(default_factory=list)


def _populate(side: Side, *, domain: str, group_name: str) -> Side:
    scim = ScimClient(Client(), side.token)
    user = scim.post("/Users", {**entra.CREATE_USER, "userName": f"sam@{domain}", "externalId": f"sam-{domain}",
                                "emails": [{"primary": True, "type": "work", "value": f"sam@{domain}"}]})
    assert user.status_code == 201, user.content
    group = scim.post("/Groups", {**entra.CREATE_GROUP, "displayName": group_name, "externalId": group_name})
    assert group.status_code == 201, group.content
    assert scim.patch(f"/Groups/{group.json()['id']}", entra.add_members(user.json()["id"])).status_code in (200, 204)
    scim.get("/Users/00000000-0000-0000-0000-000000000000")  # a failed request in the log too
    console_person = make_person(side.tenant, f"casey@{domain}", display_name="Casey Console")
    side.people = [side.admin, console_person, Person.objects.get(pk=user.json()["id"])]
    side.groups = [Group.objects.get(pk=group.json()["id"])]
    side.tokens = list(ScimToken.objects.filter(integration__tenant=side.tenant, integration__kind="azure"))
    # Outside a test transaction (the browser tests) log rows are written behind the responses.
    assert writer.flush()
    side.logged = list(ScimRequest.objects.filter(tenant=side.tenant).values_list("pk", flat=True))
    assert side.logged and side.tokens
    _single_sign_on(side)
    _api_keys(side, domain=domain)
    return side


def _api_keys(side: Side, *, domain: str) -> None:
    """An API key of the side's, and a revoked one: walls hold for dead rows too."""
    from directory import services as directory_services
    from directory.audit import Actor

    actor = Actor.system("test")
    live, _ = directory_services.api_key_create(tenant=side.tenant, label=f"SIEM {domain}", scope="all", actor=actor)
    dead, _ = directory_services.api_key_create(tenant=side.tenant, label=f"Old {domain}", scope="logs", actor=actor)
    directory_services.api_key_revoke(key=dead, actor=actor)
    side.api_keys = [live, dead]


def _single_sign_on(side: Side) -> None:
    """SSO configured on the side's Azure integration, with one Test single sign-on in its log."""
    from directory.audit import Actor
    from provisioning.sso import services as sso_services
    from tests.sso.conftest import configure_sso
    from tests.sso.idp import EntraIdP

    config = configure_sso(side.tenant, EntraIdP())
    side.certificates = [c.pk for c in config.certificates.all()]
    test = sso_services.sso_signin_record(config=config, actor=Actor.system("test"), flow="test",
                                          outcome="tested", name_id=side.admin.user_name, person=side.admin)
    side.sso_tests = [test.reference]


def build_world(tenant, admin, other_tenant, outsider) -> tuple[Side, Side]:
    """Tenant A (two integrations, a revoked token) and tenant B, each with people, a group and a request log."""
    a = _populate(Side(tenant, admin, issue_token(tenant), kinds=("azure", "okta")),
                  domain="acme.example", group_name="A-Wall-Group")
    issue_token(tenant, kind="okta")
    # A second, revoked token of A: walls hold for dead rows too.
    from directory.audit import Actor
    from provisioning import services

    revoked, _ = services.token_issue(integration=a.tokens[0].integration, actor=Actor.system("test"))
    services.token_revoke(token=revoked, actor=Actor.system("test"))
    a.tokens.append(revoked)
    # A's roles: its group's "Role for members" and an app-role mapping, which B may neither see nor change.
    from directory import services as directory_services

    directory_services.group_role_set(group=a.groups[0], role="auditor", actor=Actor.system("test"))
    directory_services.app_role_mapping_set(tenant=tenant, integration_kind="azure", value="A-Mapped-Role",
                                            role="auditor", actor=Actor.system("test"))
    b = _populate(Side(other_tenant, outsider, issue_token(other_tenant)),
                  domain="globex.example", group_name="B-Own-Group")
    return a, b


@pytest.fixture
def world(db, tenant, admin, other_tenant, outsider) -> tuple[Side, Side]:
    return build_world(tenant, admin, other_tenant, outsider)


def markers(a: Side) -> list[str]:
    """Strings only tenant A's data contains; none may appear in anything B is shown."""
    return ["acme.example", a.tenant.name, "A-Wall-Group", "A-Mapped-Role", "a-mapped-role",
            *(t.prefix for t in a.tokens), *(k.prefix for k in a.api_keys)]


def snapshot(tenant) -> dict[str, list]:
    """Every row of ``tenant``, as values, to compare before and after."""
    return {
        "people": sorted(map(str, Person.objects.filter(tenant=tenant).values())),
        "groups": sorted(map(str, Group.objects.filter(tenant=tenant).values())),
        "memberships": sorted(map(str, Membership.objects.filter(group__tenant=tenant).values())),
        "integrations": sorted(map(str, Integration.objects.filter(tenant=tenant).values())),
        "tokens": sorted(map(str, ScimToken.objects.filter(integration__tenant=tenant).values())),
        "requests": sorted(map(str, ScimRequest.objects.filter(tenant=tenant).values())),
        "audit": sorted(map(str, AuditEvent.objects.filter(tenant=tenant).values())),
        "notifications": sorted(map(str, Notification.objects.filter(tenant=tenant).values())),
        # The settings, not the failure-alert state (a refused sign-in at A's ACS moves A's own alert).
        "app_role_mappings": sorted(map(str, AppRoleMapping.objects.filter(tenant=tenant).values())),
        "custom_attributes": sorted(map(str, CustomAttribute.objects.filter(tenant=tenant).values())),
        "api_keys": sorted(map(str, ApiKey.objects.filter(tenant=tenant).values())),
        "sso_configs": sorted(map(str, SsoConfig.objects.filter(integration__tenant=tenant).values(
            "id", "integration_id", "idp_entity_id", "login_url", "require_sso", "create_people"))),
        "sso_certificates": sorted(map(str, SsoCertificate.objects.filter(
            config__integration__tenant=tenant).values())),
    }


# --- The registry: how to build each parameterised URL for one side ---------------------


@dataclass(frozen=True)
class Route:
    params: frozenset[str]
    build: Callable[[Side], list[dict[str, Any]]]
    scope: str = "object"  # object | kind | global
    methods: tuple[str, ...] = ("GET", "POST")
    data: dict[str, Any] = field(default_factory=dict)


def _people(side: Side) -> list[dict]:
    return [{"person_id": p.pk} for p in side.people]


def _kinds(side: Side) -> list[dict]:
    return [{"kind": kind} for kind in side.kinds]


def _tokens(side: Side) -> list[dict]:
    return [{"kind": "azure", "token_id": t.pk} for t in side.tokens]


def _scim_ids(side: Side) -> list[dict]:
    return [{"uuid": str(p.pk)} for p in side.people] + [{"uuid": str(g.pk)} for g in side.groups]


def _resource_type_ids(side: Side) -> list[dict]:
    return [{"uuid": "User"}, {"uuid": "Group"}]


def _schema_ids(side: Side) -> list[dict]:
    return [{"uuid": f"urn:ietf:params:scim:schemas:core:2.0:{name}"} for name in ("User", "Group")]


SCIM_METHODS = ("GET", "PUT", "PATCH", "DELETE", "POST")
PERSON_EDIT = {"user_name": "stolen@globex.example", "display_name": "Stolen", "is_active": "on"}
ROUTES: dict[str, Route] = {
    "directory:person-detail": Route(frozenset({"person_id"}), _people),
    "directory:person-edit": Route(frozenset({"person_id"}), _people, data=PERSON_EDIT),
    "directory:person-role": Route(frozenset({"person_id"}), _people, data={"role": "admin"}),
    "directory:directory-person": Route(frozenset({"person_id"}), _people, methods=("GET",)),
    "directory:group-detail": Route(frozenset({"group_id"}), lambda s: [{"group_id": g.pk} for g in s.groups]),
    "directory:group-role": Route(frozenset({"group_id"}), lambda s: [{"group_id": g.pk} for g in s.groups],
                                  methods=("POST",), data={"role": "admin"}),
    "directory:api-key-revoke": Route(frozenset({"key_id"}), lambda s: [{"key_id": k.pk} for k in s.api_keys],
                                      methods=("POST",)),
    "provisioning:integration-detail": Route(frozenset({"kind"}), _kinds, scope="kind"),
    "provisioning:integration-activate": Route(frozenset({"kind"}), _kinds, scope="kind",
                                               data={"notification_email": "it@globex.example"}),
    "provisioning:integration-deactivate": Route(frozenset({"kind"}), _kinds, scope="kind"),
    "provisioning:integration-notifications": Route(frozenset({"kind"}), _kinds, scope="kind",
                                                    data={"notification_email": "it@globex.example"}),
    "provisioning:integration-role-mapping": Route(frozenset({"kind"}), _kinds, scope="kind", methods=("POST",),
                                                   data={"value": ["Admin", "User"], "role": ["member", "admin"],
                                                         "new_value": "Posted-Role", "new_role": "admin"}),
    "provisioning:integration-custom-attributes": Route(frozenset({"kind"}), _kinds, scope="kind", methods=("POST",),
                                                        data={"action": "add", "name": "postedAttr", "type": "string"}),
    "provisioning:token-generate": Route(frozenset({"kind"}), _kinds, scope="kind", data={"label": "B's"}),
    "provisioning:integration-logs": Route(frozenset({"kind"}), _kinds, scope="kind"),
    "provisioning:token-rotate": Route(frozenset({"kind", "token_id"}), _tokens, data={"grace": "0"}),
    "provisioning:token-revoke": Route(frozenset({"kind", "token_id"}), _tokens),
    "provisioning:integration-log-detail": Route(
        frozenset({"kind", "request_id"}), lambda s: [{"kind": "azure", "request_id": r} for r in s.logged]
    ),
    "provisioning:sso-settings": Route(frozenset({"kind"}), _kinds, scope="kind", methods=("POST",),
                                       data={"idp_entity_id": "https://sts.windows.net/b/", "login_url": ""}),
    "provisioning:sso-test": Route(frozenset({"kind"}), _kinds, scope="kind", methods=("POST",)),
    "provisioning:sso-log": Route(frozenset({"kind"}), _kinds, scope="kind", methods=("GET",)),
    "provisioning:sso-certificate-remove": Route(
        frozenset({"kind", "certificate_id"}),
        lambda s: [{"kind": "azure", "certificate_id": c} for c in s.certificates], methods=("POST",),
    ),
    "provisioning:sso-test-result": Route(
        frozenset({"kind", "reference"}), lambda s: [{"kind": "azure", "reference": r} for r in s.sso_tests],
        methods=("GET",),
    ),
}
for _name, _methods in (("start", ("GET",)), ("acs", ("POST",)), ("metadata", ("GET",))):
    ROUTES[f"sso:{_name}"] = Route(
        frozenset({"tenant", "kind"}), lambda s: [{"tenant": s.tenant.slug, "kind": "azure"}], scope="public",
        methods=_methods, data={"SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4="},
    )
for _ns in ("scim", "scim-v2"):
    ROUTES[f"{_ns}:users"] = Route(frozenset({"uuid"}), _scim_ids, methods=SCIM_METHODS)
    ROUTES[f"{_ns}:groups"] = Route(frozenset({"uuid"}), _scim_ids, methods=SCIM_METHODS)
    ROUTES[f"{_ns}:resource-types"] = Route(frozenset({"uuid"}), _resource_type_ids, scope="global", methods=("GET",))
    ROUTES[f"{_ns}:schemas"] = Route(frozenset({"uuid"}), _schema_ids, scope="global", methods=("GET",))

# The admin REST API (/api/v1/): read-only, an API key of B asks for A's objects.
ROUTES["api-person"] = Route(frozenset({"person_id"}), _people, methods=("GET",))
ROUTES["api-group"] = Route(frozenset({"group_id"}), lambda s: [{"group_id": g.pk} for g in s.groups],
                            methods=("GET",))
ROUTES["api-group-members"] = Route(frozenset({"group_id"}), lambda s: [{"group_id": g.pk} for g in s.groups],
                                    methods=("GET",))

SCIM_MOUNTS = {"scim": "/scim", "scim-v2": "/scim/v2"}
SCIM_RESOURCES = {"users": "Users", "groups": "Groups", "resource-types": "ResourceTypes", "schemas": "Schemas"}


def discovered_routes() -> dict[str, frozenset[str]]:
    """Every named URL pattern that takes a parameter, with its parameters (includes walked)."""
    found: dict[str, frozenset[str]] = {}

    def params_of(pattern) -> set[str]:
        converters = getattr(pattern, "converters", None)
        if converters:
            return set(converters)
        regex = getattr(pattern, "regex", None)
        return set(regex.groupindex) if regex is not None else set()

    def walk(patterns, namespace: str, inherited: set[str]) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else (
                    entry.namespace or namespace)
                walk(entry.url_patterns, inner, inherited | params_of(entry.pattern))
            elif isinstance(entry, URLPattern):
                params = inherited | params_of(entry.pattern)
                if params:
                    name = f"{namespace}:{entry.name}" if namespace else (entry.name or entry.lookup_str)
                    found[name] = frozenset(params)

    walk(get_resolver().url_patterns, "", set())
    return found


def url_for(name: str, kwargs: dict[str, Any]) -> str:
    namespace, _, route = name.rpartition(":")
    if namespace in SCIM_MOUNTS:
        # django-scim2's patterns do not reverse (lookaheads); build, then check they resolve back.
        url = f"{SCIM_MOUNTS[namespace]}/{SCIM_RESOURCES[route]}/{kwargs['uuid']}"
    else:
        url = reverse(name, kwargs=kwargs)
    assert resolve(url).view_name == name, (url, resolve(url).view_name)
    return url


# --- The tests ---------------------------------------------------------------------------------


def test_every_url_with_a_parameter_is_in_the_matrix():
    found = discovered_routes()
    unknown = sorted(set(found) - set(ROUTES))
    assert not unknown, (
        f"URL patterns with parameters that the tenant-walls matrix cannot fill: {unknown}. "
        "Register each in ROUTES (tests/console/test_tenant_walls_matrix.py) with how to build it for one tenant's "
        "objects."
    )
    stale = sorted(set(ROUTES) - set(found))
    assert not stale, f"ROUTES entries for URLs that no longer exist: {stale}"
    for name, params in found.items():
        assert ROUTES[name].params == params, (name, params)


def _console_request(client: Client, method: str, url: str, data: dict):
    return client.get(url) if method == "GET" else client.post(url, data)


def _assert_no_trace_of(a: Side, response, where: str) -> None:
    text = response.content.decode("utf-8", "replace") + json.dumps(dict(response.headers))
    for marker in markers(a):
        assert marker not in text, f"{where} shows {marker!r} of tenant A"


API_ROUTES = sorted(name for name in ROUTES if name.startswith("api-"))
CONSOLE = sorted(name for name in ROUTES if name.split(":")[0] not in SCIM_MOUNTS and name not in API_ROUTES)
SCIM_ROUTES = sorted(name for name in ROUTES if name.split(":")[0] in SCIM_MOUNTS)


@pytest.mark.parametrize("name", API_ROUTES)
def test_an_api_key_of_tenant_b_gets_nothing_of_tenant_a_on_the_api(name, world):
    from tests.api.conftest import ApiClient, api_key_for

    a, b = world
    route = ROUTES[name]
    b_api = ApiClient(api_key_for(b.tenant, label="B's SIEM"))
    before = snapshot(a.tenant)
    for kwargs in route.build(a):
        url = url_for(name, kwargs)
        response = b_api.get(url)
        assert response.status_code == 404, f"GET {url} with B's key: {response.status_code}"
        assert response["Content-Type"] == "application/json"
        _assert_no_trace_of(a, response, f"GET {url} with B's key")
    after = snapshot(a.tenant)
    assert after == before, f"{name}: tenant A changed"
    own = url_for(name, route.build(b)[-1])
    assert b_api.get(own).status_code == 200, own


@pytest.mark.parametrize("name", CONSOLE)
def test_an_admin_of_tenant_b_gets_nothing_of_tenant_a_in_the_console(name, world, client):
    a, b = world
    route = ROUTES[name]
    client.force_login(b.admin)
    enter_sudo(client)
    before = snapshot(a.tenant)
    own_status: dict[str, int] = {}
    for kwargs in route.build(a):
        url = url_for(name, kwargs)
        for method in route.methods:
            response = _console_request(client, method, url, route.data)
            where = f"{method} {url} as B"
            if route.scope == "object":
                if response.status_code == 405:
                    own_status.setdefault(method, 0)
                    continue
                assert response.status_code in (403, 404), f"{where}: {response.status_code}"
            else:
                assert response.status_code < 500, f"{where}: {response.status_code}"
            if route.scope == "public":
                assert client.get("/").wsgi_request.user == b.admin, f"{where}: B's session changed"
            _assert_no_trace_of(a, response, where)
    after = snapshot(a.tenant)
    if route.scope == "public":
        # A refused sign-in at A's ACS is A's to see, in its SSO log and audit trail.
        after["audit"] = [row for row in after["audit"] if "'sso.signin_refused'" not in row]
    assert after == before, f"{name}: tenant A changed"

    if route.scope == "object":
        # Control: the same URL built for B's own object gets past the wall.
        own = url_for(name, route.build(b)[-1])
        for method in route.methods:
            status = _console_request(client, method, own, route.data).status_code
            if method in own_status:
                assert status == 405, f"{method} {own}: 405 for A's object but {status} for B's own"
            else:
                assert status not in (403, 404) and status < 500, f"{method} {own} (B's own): {status}"


def _scim_request(scim: ScimClient, method: str, url: str):
    path = url.removeprefix(scim.prefix)
    if method == "GET":
        return scim.get(path)
    if method == "DELETE":
        return scim.delete(path)
    if method == "PATCH":
        return scim.patch(path, entra.DISABLE_DEFAULT)
    body = {**entra.CREATE_USER, "userName": "stolen@globex.example", "displayName": "Stolen"}
    return scim.put(path, body) if method == "PUT" else scim.post(path, body)


@pytest.mark.parametrize("name", SCIM_ROUTES)
def test_a_token_of_tenant_b_gets_nothing_of_tenant_a_on_scim(name, world):
    a, b = world
    route = ROUTES[name]
    namespace = name.split(":")[0]
    b_scim = ScimClient(Client(), b.token, prefix=SCIM_MOUNTS[namespace])
    a_scim = ScimClient(Client(), a.token, prefix=SCIM_MOUNTS[namespace])
    # What A itself gets from the tenant-less documents (asked before the snapshot: A's own use is logged).
    reference = {}
    if route.scope == "global":
        reference = {url: a_scim.get(url.removeprefix(a_scim.prefix)).json()
                     for url in (url_for(name, kwargs) for kwargs in route.build(a))}
    before = snapshot(a.tenant)
    for kwargs in route.build(a):
        url = url_for(name, kwargs)
        for method in route.methods:
            response = _scim_request(b_scim, method, url)
            where = f"{method} {url} with B's token"
            assert response["Content-Type"].startswith("application/scim+json"), where
            if route.scope == "global":
                assert response.status_code == 200, where
                assert response.json() == reference[url], where
            elif method == "POST":
                # POST to a resource URL is not a way to reach it: refused, or
                # (if the library treats it as a create) a new object of B's own.
                assert response.status_code in (400, 404, 405, 409, 201), f"{where}: {response.status_code}"
            else:
                assert response.status_code == 404, f"{where}: {response.status_code}"
            _assert_no_trace_of(a, response, where)
    assert snapshot(a.tenant) == before, f"{name}: tenant A changed"

    if route.scope == "object":
        own = url_for(name, {"uuid": str(b.people[-1].pk if name.endswith("users") else b.groups[0].pk)})
        assert _scim_request(b_scim, "GET", own).status_code == 200, own
