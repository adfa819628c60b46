"""Property-based fuzzing of the SCIM endpoint (issue 7, "Bad input").

Random and hostile documents, filters, PATCH operations, paths and query
strings, generated from the same schema registry (provisioning/scim/schemas.py)
and filter grammar (provisioning/scim/filter_parser.py) the server uses. For
every request the server must answer with a SCIM error (4xx,
application/scim+json, the Error schema) or a success, never a 5xx and never
HTML, and it must log the request. After every example the directory must be
consistent (see ``assert_directory_consistent``).

Bounded for CI: the ``ci`` profile runs a fixed, derandomised set of examples
(a few hundred in total) with no deadline, so it cannot flake on a slow
machine. ``SPACEIQ_FUZZ_PROFILE=deep`` runs many more random examples locally.
"""

from __future__ import annotations

import json
import os
import string
import unicodedata
import urllib.parse
from collections import Counter
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from directory.models import AuditEvent, Group, Membership, Person
from provisioning.models import ScimRequest
from provisioning.request_log_writer import writer
from provisioning.scim.constants import ENTERPRISE_SCHEMA, GROUP_SCHEMA, PATCH_OP, USER_SCHEMA
from provisioning.scim.filter_parser import COMPARE_OPS
from provisioning.scim.schemas import COMMON, ENTERPRISE, USER, Attr

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"

settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile("deep", parent=settings.get_profile("ci"), derandomize=False)
PROFILE = settings.get_profile(os.environ.get("SPACEIQ_FUZZ_PROFILE", "ci"))
SCALE = 10 if os.environ.get("SPACEIQ_FUZZ_PROFILE") == "deep" else 1


def fuzz(examples: int):
    return settings(parent=PROFILE, max_examples=examples * SCALE)


# --- Checking every response ----------------------------------------------------------------


STATUSES: Counter = Counter()  # what the fuzzing reached, for SPACEIQ_FUZZ_STATS=1


@pytest.fixture(autouse=True)
def _report_statuses():
    STATUSES.clear()
    yield
    if os.environ.get("SPACEIQ_FUZZ_STATS"):
        print("\nSCIM answers:", dict(sorted(STATUSES.items())))


class Server:
    """Sends requests through Django's test client and checks each answer."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token
        self.sent = 0

    def request(self, method: str, path: str, body: bytes | str | None = None, *, auth: bool = True):
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if auth else {}
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": body, "content_type": "application/scim+json; charset=utf-8"}
        before = ScimRequest.objects.count()
        response = self.client.generic(method, path, **kwargs, **headers)
        self.sent += 1
        STATUSES[(method, response.status_code)] += 1
        check_response(response, method, path, body)
        assert writer.flush()  # log rows are written behind the responses (request_log_writer)
        assert ScimRequest.objects.count() == before + 1, f"request not logged: {method} {path!r}"
        return response

    def json(self, method: str, path: str, doc: Any):
        return self.request(method, path, json.dumps(doc, ensure_ascii=False))


def check_response(response, method: str, path: str, body: Any) -> None:
    where = f"{method} {path!r} body={str(body)[:300]!r}"
    status = response.status_code
    # 501 is the one 5xx allowed: /Bulk and /Me are not implemented (RFC 7644 §3.7, advertised as such).
    assert status < 500 or status == 501, f"{status} for {where}: {response.content[:500]!r}"
    content_type = response.get("Content-Type", "")
    assert "html" not in content_type.lower(), f"HTML answer for {where}"
    if status == 204 or method == "HEAD":
        assert response.content == b"", where
        return
    assert content_type == SCIM_JSON, f"{content_type!r} for {where}"
    doc = json.loads(response.content)
    assert isinstance(doc, dict), where
    if status >= 400:
        assert 400 <= status < 500 or status == 501, where
        assert doc["schemas"] == [ERROR_SCHEMA], where
        assert doc["status"] == str(status) and isinstance(doc["detail"], str) and doc["detail"], where
    else:
        assert status in (200, 201), where
        assert doc.get("schemas"), where


# --- Directory consistency ----------------------------------------------------------------------


def _work_email(emails: Any) -> str | None:
    for email in emails or []:
        if isinstance(email, dict) and str(email.get("type", "")).lower() == "work":
            value = email.get("value")
            return str(value)[:320] if value is not None else None
    return None


def assert_directory_consistent() -> None:
    """Invariants the directory must keep whatever clients send."""
    cross = Membership.objects.exclude(person__tenant_id=models_f("group__tenant_id"))
    assert not cross.exists(), "a membership joins a person and a group of different tenants"
    managers = Person.objects.filter(manager__isnull=False).exclude(manager__tenant_id=models_f("tenant_id"))
    assert not managers.exists(), "a manager lives in another tenant"
    assert not Person.objects.filter(manager_id=models_f("id")).exists(), "a person manages themself"
    people = Person.objects.values_list("id", "tenant_id", "user_name", "emails", "work_email", "version")
    for pk, tenant_id, user_name, emails, work_email, version in people:
        assert version >= 1, pk
        assert isinstance(emails, list) and all(isinstance(e, dict) for e in emails), (pk, emails)
        assert work_email == _work_email(emails), (pk, work_email, emails)
        assert user_name.strip() and "\x00" not in user_name, (pk, user_name)
        assert unicodedata.normalize("NFC", user_name) == user_name, (pk, user_name)  # stored in NFC
    # No two user names of a tenant are the same name by the database's own case rule (what the
    # unique index and the filters use), canonical equivalents included; likewise group names.
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_id, LOWER(NORMALIZE(user_name, NFC)) FROM directory_person "
                       "GROUP BY 1, 2 HAVING COUNT(*) > 1")
        duplicates = cursor.fetchall()
        cursor.execute("SELECT tenant_id, LOWER(display_name) FROM directory_group GROUP BY 1, 2 HAVING COUNT(*) > 1")
        group_duplicates = cursor.fetchall()
    assert not duplicates, f"user names clash within a tenant: {duplicates}"
    assert not group_duplicates, f"group names clash within a tenant: {group_duplicates}"
    assert not Group.objects.filter(version__lt=1).exists()
    # Every change produced its audit event: a creation event, and at least one
    # event per version bump (each service write bumps the version once).
    events = dict(
        AuditEvent.objects.filter(target_type__in=("person", "group"))
        .values_list("target_id").annotate(n=Count("id")).values_list("target_id", "n")
    )
    created = set(
        AuditEvent.objects.filter(action__in=("person.created", "group.created")).values_list("target_id", flat=True)
    )
    for model in (Person, Group):
        for pk, version in model.objects.values_list("id", "version"):
            assert str(pk) in created, f"{model.__name__} {pk} has no creation audit event"
            assert events.get(str(pk), 0) >= version, f"{model.__name__} {pk} v{version}: {events.get(str(pk))}"


def models_f(name: str):
    from django.db.models import F

    return F(name)


# --- Strategies ---------------------------------------------------------------------------------

# Text that hurts: unicode of every category, combining marks, NUL, RTL marks,
# quotes and backslashes, surrogate-free (JSON cannot carry lone surrogates as UTF-8).
hostile_chars = st.characters(codec="utf-8")
hostile_text = st.one_of(
    st.text(hostile_chars, max_size=40),
    st.text(alphabet=string.printable, max_size=40),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\u202e", "İ", "ß", "ﬀ", "e\u0301", "\u00e9", "Ω", "\ufeff",
                     '"', "\\", "\\u0000", "null", "True", "False", "1e309", "-0", "../../etc/passwd",
                     "<script>alert(1)</script>", "' OR 1=1 --", "%00", "%s%s%s", "{{7*7}}"]),
    st.integers(min_value=300, max_value=5000).map(lambda n: "x" * n),  # over every column limit
)
nice_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(
    str.strip)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), hostile_text,
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(hostile_text, children, max_size=4)
    ),
    max_leaves=12,
)


def sometimes_case(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper(), name[:1].upper() + name[1:]])


def good_value(attr: Attr, user_names: bool = False) -> st.SearchStrategy[Any]:
    """A value of the attribute's own type (still with hostile content)."""
    if attr.type == "boolean":
        return st.one_of(st.booleans(), st.sampled_from(["True", "False", "true", "false", " TRUE "]))
    if attr.type == "complex" and attr.multi_valued:
        element = st.fixed_dictionaries(
            {}, optional={sub.name: good_value(sub) for sub in attr.sub_attributes}
        )
        if attr.name == "emails":
            element = st.fixed_dictionaries(
                {"value": st.one_of(st.emails(), hostile_text.map(lambda t: t + "@example.com"))},
                optional={"type": st.sampled_from(["work", "home", "Work", "other", "WORK"]),
                          "primary": st.booleans(), "display": hostile_text},
            )
        return st.lists(element, max_size=3)
    if attr.type == "complex":
        if attr.name == "manager":
            return st.one_of(st.uuids().map(str), st.fixed_dictionaries({"value": st.uuids().map(str)}),
                             st.just(""), st.just({"value": ""}))
        return st.fixed_dictionaries({}, optional={sub.name: good_value(sub) for sub in attr.sub_attributes})
    return hostile_text


def attr_value(attr: Attr) -> st.SearchStrategy[Any]:
    """Mostly well-typed, often the wrong JSON type, sometimes absurd."""
    sane = nice_text if attr.type == "string" else good_value(attr)
    return st.one_of(sane, sane, sane, good_value(attr), json_values)


user_name_text = st.one_of(
    st.emails(),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=20),
    st.sampled_from(["alice@contoso.com", "ALICE@contoso.com", "Alice@Contoso.com", "jos\u00e9@contoso.com",
                     "jose\u0301@contoso.com", "JOS\u00c9@contoso.com", "\u0130nci@contoso.com",
                     "i\u0307nci@contoso.com", "stra\u00dfe@contoso.com", "STRASSE@contoso.com", "ﬀ@contoso.com"]),
)


@st.composite
def user_documents(draw) -> dict:
    hostile = draw(st.booleans())  # half the documents are well-typed, to reach the writes
    attr_value = globals()["attr_value"] if hostile else (
        lambda attr: nice_text if attr.type == "string" else good_value(attr))
    doc: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        doc["schemas"] = draw(st.one_of(st.just([USER_SCHEMA, ENTERPRISE_SCHEMA]), json_values))
    doc[draw(sometimes_case("userName"))] = draw(
        st.one_of(user_name_text, user_name_text, json_values) if hostile else user_name_text)
    for attr in draw(st.lists(st.sampled_from(USER.attributes), max_size=6, unique_by=lambda a: a.name)):
        doc[draw(sometimes_case(attr.name))] = draw(attr_value(attr))
    for attr in draw(st.lists(st.sampled_from(list(COMMON.values())), max_size=2, unique_by=lambda a: a.name)):
        doc[attr.name] = draw(json_values)
    enterprise_attrs = draw(st.lists(st.sampled_from(ENTERPRISE.attributes), max_size=3, unique_by=lambda a: a.name))
    if enterprise_attrs:
        ext = {a.name: draw(attr_value(a)) for a in enterprise_attrs}
        if draw(st.booleans()):
            doc[ENTERPRISE_SCHEMA] = ext
        else:
            for key, value in ext.items():
                doc[f"{ENTERPRISE_SCHEMA}:{key}"] = value
    if draw(st.integers(0, 9)) == 0:
        doc[draw(st.sampled_from(["urn:x:custom", ENTERPRISE_SCHEMA, "nested"]))] = draw(json_values)
    return doc


@st.composite
def group_documents(draw, member_ids: list[str]) -> dict:
    doc: dict[str, Any] = {"schemas": [GROUP_SCHEMA]}
    doc[draw(sometimes_case("displayName"))] = draw(st.one_of(nice_text, nice_text, hostile_text, json_values))
    if draw(st.booleans()):
        doc["externalId"] = draw(st.one_of(hostile_text, json_values))
    if draw(st.booleans()):
        member = st.one_of(
            st.fixed_dictionaries({"value": st.sampled_from(member_ids) if member_ids else st.uuids().map(str)}),
            st.fixed_dictionaries({"value": st.uuids().map(str)}),
            json_values,
        )
        doc["members"] = draw(st.one_of(st.lists(member, max_size=4), json_values))
    for attr in draw(st.lists(st.sampled_from(list(COMMON.values())), max_size=2, unique_by=lambda a: a.name)):
        doc[attr.name] = draw(json_values)
    return doc


# Filter grammar (RFC 7644 §3.4.2.2 as filter_parser.py reads it).
USER_PATHS = [
    "userName", "displayName", "title", "externalId", "id", "active", "name.givenName", "name.familyName",
    "emails", "emails.value", "emails.type", "phoneNumbers.value", "addresses.locality", "meta.created",
    "meta.lastModified", "meta.resourceType", "groups.value", "groups.display", "manager", "manager.value",
    f"{ENTERPRISE_SCHEMA}:department", f"{ENTERPRISE_SCHEMA}:manager", f"{ENTERPRISE_SCHEMA}:manager.value",
    f"{USER_SCHEMA}:userName", "urn:nope:x:y", "nosuch", "name.nosuch", "x509Certificates.value", "roles.primary",
]
GROUP_PATHS = ["displayName", "externalId", "id", "members", "members.value", "members.display", "meta.created",
               f"{GROUP_SCHEMA}:displayName", "nosuch", "members.type"]
filter_values = st.one_of(
    hostile_text.map(lambda s: json.dumps(s)),  # quoted, escaped JSON strings
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", "True", '"True"', '"2024-01-01T00:00:00Z"', '"not-a-date"',
                     '"00000000-0000-0000-0000-000000000000"', '"work"', "1e999", '"\\u0000"', '"\\ud800"', "'x'"]),
)


def filters(paths: list[str]) -> st.SearchStrategy[str]:
    attr_path = st.sampled_from(paths).flatmap(sometimes_case)
    comparison = st.one_of(
        st.tuples(attr_path, st.sampled_from(sorted(COMPARE_OPS)).flatmap(sometimes_case), filter_values)
        .map(" ".join),
        attr_path.map(lambda p: f"{p} pr"),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(["and", "or", "AND", "Or"]), inner).map(" ".join),
            inner.map(lambda f: f"({f})"),
            inner.map(lambda f: f"not ({f})"),
            st.tuples(st.sampled_from(["emails", "members", "addresses", "phoneNumbers", "userName", "groups"]),
                      inner, st.one_of(st.just(""), comparison.map(lambda c: "." + c.split(" ", 1)[0] + " "
                                                                  + c.split(" ", 1)[1] if " " in c else c)))
            .map(lambda t: f"{t[0]}[{t[1]}]{t[2]}"),
        )

    grammar = st.recursive(comparison, extend, max_leaves=6)
    junk = st.one_of(
        st.text(hostile_chars, max_size=60),
        st.text(alphabet='()[]"\\ .:eqandornotpr$', max_size=60),
        st.integers(1, 40).map(lambda n: "(" * n + 'userName eq "x"' + ")" * n),
        st.integers(20, 200).map(lambda n: "not (" * n + 'userName eq "x"' + ")" * n),
    )
    return st.one_of(grammar, grammar, junk)


def patch_paths(paths: list[str]) -> st.SearchStrategy[Any]:
    grammar = st.one_of(
        st.sampled_from(paths).flatmap(sometimes_case),
        st.sampled_from([
            'emails[type eq "work"].value', 'emails[type eq "work"]', 'phoneNumbers[type eq "mobile"].value',
            'addresses[type eq "work"].formatted', 'members[value eq "00000000-0000-0000-0000-000000000000"]',
            'emails[value co "@"]', 'emails[not (type eq "work")].value', 'emails[type eq "work"].nosuch',
            f"{ENTERPRISE_SCHEMA}", f"{ENTERPRISE_SCHEMA}:employeeNumber", "name", "name.formatted",
            "groups", "meta.version", "schemas", "active", "members", "emails[", "emails]", "a.b.c", ".x",
        ]),
        filters(["type", "value", "primary", "display"]).map(lambda f: f"emails[{f}].value"),
    )
    return st.one_of(grammar, grammar, grammar, st.none(), json_values)


@st.composite
def patch_documents(draw, paths: list[str], member_ids: list[str]) -> dict:
    def operation() -> dict:
        op: dict[str, Any] = {}
        if draw(st.integers(0, 19)):
            op[draw(sometimes_case("op"))] = draw(st.one_of(
                st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "ADD"]),
                st.sampled_from(["move", "copy", "test", ""]), json_values))
        if draw(st.integers(0, 4)):
            op[draw(sometimes_case("path"))] = draw(patch_paths(paths))
        if draw(st.integers(0, 4)):
            value = st.one_of(
                json_values,
                st.lists(st.fixed_dictionaries({"value": st.sampled_from(member_ids or ["x"])}), max_size=3),
                st.dictionaries(st.sampled_from([*paths, "name.givenName", f"{ENTERPRISE_SCHEMA}:department",
                                                 "members", "schemas"]), json_values, max_size=3),
            )
            op[draw(sometimes_case("value"))] = draw(value)
        return op

    def sensible_operation() -> dict:
        """A well-formed operation (so the fuzzing reaches the writes), hostile values allowed."""
        op = draw(st.sampled_from(["add", "replace", "Add", "Replace", "remove", "Remove"]))
        if paths is GROUP_PATHS:
            path, value = draw(st.sampled_from([
                ("displayName", nice_text), ("externalId", nice_text),
                ("members", st.lists(st.fixed_dictionaries({"value": st.sampled_from(member_ids)}), max_size=3)),
                (None, st.fixed_dictionaries({}, optional={"displayName": nice_text, "externalId": nice_text})),
            ]))
        else:
            attr = draw(st.sampled_from([a for a in (*USER.attributes, *ENTERPRISE.attributes)
                                         if a.mutability != "readOnly"]))
            path = attr.name if attr in USER.attributes else f"{ENTERPRISE_SCHEMA}:{attr.name}"
            value = nice_text if attr.type == "string" else good_value(attr)
            if attr.name == "manager":
                value = st.sampled_from([*member_ids, ""])
            if attr.name == "emails" and draw(st.booleans()):
                path, value = 'emails[type eq "work"].value', st.emails()
            if attr.name == "userName":
                value = user_name_text
        result: dict[str, Any] = {"op": op, "value": draw(value)}
        if path:
            result["path"] = path
        return result

    hostile = draw(st.booleans())
    operations = [operation() if hostile and draw(st.booleans()) else sensible_operation()
                  for _ in range(draw(st.integers(1, 5)))]
    doc: dict[str, Any] = {"schemas": [PATCH_OP]} if draw(st.integers(0, 9)) else {}
    doc[draw(sometimes_case("Operations"))] = draw(st.one_of(st.just(operations), st.just(operations),
                                                              json_values))
    return doc


def _deep(depth: int) -> str:
    return '{"userName":"deep@x.com","a":' + "[" * depth + "]" * depth + "}"


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=50).map(lambda b: b'{"userName": "' + b + b'@x.com"}'),  # invalid UTF-8 inside a string
    st.sampled_from([b"\xff\xfe\x00{", b"\xc3\x28", b"\xed\xa0\x80", b'{"userName": "\xf0\x28\x8c\x28"}',
                     b'{"userName": "a\\u0000b@x.com"}', b'{"userName": "\\ud800@x.com"}', b"{}", b"null",
                     b"[]", b"1e999999", b'"string"', b'{"userName": "x@x.com",}', b"{'userName': 'x'}",
                     b'{"userName": "dup@x.com", "userName": 1}', b"\xef\xbb\xbf{}", b"NaN", b"{\"a\": NaN}"]),
    st.integers(2, 5000).map(_deep),
    st.integers(2, 100).map(lambda n: ('{"a":' * n + "1" + "}" * n)),
    st.integers(1000, 900_000).map(lambda n: json.dumps({"userName": f"big{n}@x.com", "title": "t" * n})),
)

query_keys = st.one_of(
    st.sampled_from(["filter", "attributes", "excludedAttributes", "startIndex", "count", "sortBy", "sortOrder",
                     "aadOptscim062020", "Filter", "COUNT"]),
    hostile_text,
)
query_values = st.one_of(
    hostile_text, st.integers(-(10**40), 10**40).map(str), st.sampled_from(USER_PATHS).map(str),
    st.lists(st.sampled_from(USER_PATHS + GROUP_PATHS + ["", " ", ",", "members", "groups"]), max_size=5)
    .map(",".join),
    st.just("9" * 5000),
)
path_segments = st.one_of(
    st.sampled_from(["Users", "Groups", "users", "GROUPS", ".search", "Users/.search", "Schemas", "ResourceTypes",
                     "ServiceProviderConfig", "Bulk", "Me", "", "/", "//", "v2", "..", "%2e%2e", "%00", "Users/%00",
                     "Users/00000000-0000-0000-0000-000000000000", "Schemas/" + USER_SCHEMA, "ResourceTypes/User",
                     "Groups/not-a-uuid", "Users/" + "a" * 3000]),
    st.text(hostile_chars, max_size=30).map(lambda t: urllib.parse.quote(t, safe="")),
    st.text(alphabet=string.ascii_letters + "/.%-_~", max_size=30),
)


# --- The tests ------------------------------------------------------------------------------------


@pytest.fixture
def server(client, scim_token) -> Server:
    return Server(client, scim_token)


def _existing_user_ids(server: Server, n: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        r = server.json("POST", "/scim/v2/Users", {"userName": f"seed{i}@contoso.com", "emails": [
            {"type": "work", "value": f"seed{i}@contoso.com"}]})
        ids.append(r.json()["id"])
    return ids


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: no test transaction to poison
@fuzz(90)
@given(doc=user_documents(), method=st.sampled_from(["POST", "POST", "PUT"]))
def test_random_user_documents(server, doc, method):
    if method == "PUT":
        target = Person.objects.filter(tenant__slug="acme").order_by("?").values_list("id", flat=True).first()
        if target is None:
            target = _existing_user_ids(server, 1)[0]
        response = server.json("PUT", f"/scim/v2/Users/{target}", doc)
    else:
        response = server.json("POST", "/scim/v2/Users", doc)
    if response.status_code in (200, 201):
        body = response.json()
        assert body["id"] and body["userName"] and body["active"] in (True, False)
        # What is returned can be read back, and reads back the same.
        again = server.request("GET", f"/scim/v2/Users/{body['id']}")
        assert again.json()["userName"] == body["userName"]
    assert_directory_consistent()


@pytest.mark.django_db(transaction=True)
@fuzz(40)
@given(data=st.data())
def test_random_group_documents(server, data):
    member_ids = list(Person.objects.values_list("id", flat=True)[:5]) or _existing_user_ids(server)
    member_ids = [str(m) for m in member_ids]
    doc = data.draw(group_documents(member_ids))
    method = data.draw(st.sampled_from(["POST", "POST", "PUT"]))
    target = Group.objects.values_list("id", flat=True).first()
    if method == "PUT" and target:
        server.json("PUT", f"/scim/v2/Groups/{target}", doc)
    else:
        server.json("POST", "/scim/v2/Groups", doc)
    assert_directory_consistent()


@pytest.mark.django_db(transaction=True)
@fuzz(60)
@given(body=raw_bodies, where=st.sampled_from([
    ("POST", "/scim/v2/Users"), ("POST", "/scim/v2/Groups"), ("PUT", "/scim/v2/Users/{user}"),
    ("PATCH", "/scim/v2/Users/{user}"), ("PATCH", "/scim/v2/Groups/{group}"), ("POST", "/scim/v2/Users/.search"),
]))
def test_raw_and_malformed_bodies(server, body, where):
    method, path = where
    user = Person.objects.values_list("id", flat=True).first() or _existing_user_ids(server, 1)[0]
    group = Group.objects.values_list("id", flat=True).first()
    if group is None:
        group = server.json("POST", "/scim/v2/Groups", {"displayName": "Fuzz"}).json()["id"]
    server.request(method, path.format(user=user, group=group), body)
    assert_directory_consistent()


@pytest.mark.django_db(transaction=True)
@fuzz(80)
@given(data=st.data())
def test_random_filters(server, data):
    kind = data.draw(st.sampled_from(["Users", "Groups"]))
    text = data.draw(filters(USER_PATHS if kind == "Users" else GROUP_PATHS))
    how = data.draw(st.sampled_from(["query", "query", "search"]))
    if how == "query":
        response = server.request("GET", f"/scim/v2/{kind}?" + urllib.parse.urlencode({"filter": text}))
    else:
        response = server.json("POST", f"/scim/v2/{kind}/.search", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": text,
            "count": data.draw(st.one_of(st.none(), st.integers(-5, 500), hostile_text))})
    if response.status_code == 400:
        assert response.json().get("scimType") in ("invalidFilter", "invalidValue", "invalidSyntax"), text
    elif response.status_code == 200:
        body = response.json()
        assert body["totalResults"] >= len(body["Resources"])


@pytest.mark.django_db(transaction=True)
@fuzz(90)
@given(data=st.data())
def test_random_patches(server, data):
    if not Person.objects.exists():
        _existing_user_ids(server)
    member_ids = [str(m) for m in Person.objects.values_list("id", flat=True)[:5]]
    if not Group.objects.exists():
        server.json("POST", "/scim/v2/Groups", {"displayName": "Fuzz", "members": [{"value": member_ids[0]}]})
    kind = data.draw(st.sampled_from(["Users", "Groups"]))
    paths = USER_PATHS if kind == "Users" else GROUP_PATHS
    model = Person if kind == "Users" else Group
    target = data.draw(st.sampled_from([str(pk) for pk in model.objects.values_list("id", flat=True)[:5]]))
    before = model.objects.get(pk=target)
    response = server.json("PATCH", f"/scim/v2/{kind}/{target}", data.draw(patch_documents(paths, member_ids)))
    after = model.objects.get(pk=target)
    if response.status_code >= 400:
        assert after.version == before.version, "a failed PATCH changed the resource"
    assert_directory_consistent()


@pytest.mark.django_db(transaction=True)
@fuzz(60)
@given(
    method=st.sampled_from(["GET", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]),
    prefix=st.sampled_from(["/scim/", "/scim/v2/", "/scim//", "/scim/v2//", "/scim/v2///"]),
    segments=st.lists(path_segments, min_size=0, max_size=3),
    query=st.lists(st.tuples(query_keys, query_values), max_size=4),
    auth=st.sampled_from([True] * 9 + [False]),
)
def test_random_paths_and_query_strings(server, method, prefix, segments, query, auth):
    path = prefix + "/".join(segments)
    if query:
        path += "?" + urllib.parse.urlencode(query)
    body = None if method in ("GET", "DELETE", "HEAD", "OPTIONS", "TRACE") else "{}"
    if method == "DELETE":  # never delete the seeds the other examples share
        path = path.replace("Users/", "Users/x").replace("Groups/", "Groups/x")
    response = server.request(method, path, body, auth=bool(auth))
    if not auth:
        assert response.status_code in (401, 429)  # 429 once the invalid-token throttle kicks in
    assert_directory_consistent()


name_letters = st.characters(codec="utf-8", categories=("L", "M", "N"), exclude_characters="\x00")
tricky_names = st.one_of(
    st.text(name_letters, min_size=1, max_size=12),
    st.sampled_from(["\u0130", "i\u0307", "\u00df", "SS", "\u1e9e", "\u03a3", "\u03c2", "\u01c5", "\ufb00",
                     "\u212a", "\u00c5", "\u212b", "e\u0301", "\u00e9", "\u0131", "\u0049"]),
).map(lambda t: t + "@contoso.com")
spellings = st.sampled_from([
    str.upper, str.lower, str.swapcase, str.casefold, lambda t: t,
    lambda t: unicodedata.normalize("NFD", t), lambda t: unicodedata.normalize("NFC", t),
    lambda t: unicodedata.normalize("NFD", t.upper()), lambda t: unicodedata.normalize("NFKC", t),
])


@pytest.mark.django_db(transaction=True)
@fuzz(60)
@given(name=tricky_names, spell=spellings)
def test_a_lookup_finds_whatever_a_create_clashes_with(server, name, spell):
    """Entra's loop: GET ?filter=userName eq "x" finds nothing → POST x. If that POST
    is a 409, the lookup must have found the user, or the object fails forever.
    So for any second spelling of a name: 409 ⇒ the lookup finds exactly one user,
    and 201 ⇒ the lookup finds the new user."""
    other = spell(name)
    first = server.json("POST", "/scim/v2/Users", {"userName": name})
    if first.status_code != 201:
        return
    lookup = lambda n: server.request(  # noqa: E731
        "GET", "/scim/v2/Users?" + urllib.parse.urlencode({"filter": f"userName eq {json.dumps(n)}"})).json()
    assert lookup(name)["totalResults"] == 1, name
    second = server.json("POST", "/scim/v2/Users", {"userName": other})
    assert second.status_code in (201, 409), second.content
    found = lookup(other)
    if second.status_code == 409:
        assert second.json()["scimType"] == "uniqueness"
        assert found["totalResults"] == 1, (name, other)
    else:
        assert second.json()["id"] in [r["id"] for r in found["Resources"]], (name, other)
    # The clash rule: the same name once in NFC and lower-cased by the database (as the unique index does).
    with connection.cursor() as cursor:
        cursor.execute("SELECT LOWER(%s) = LOWER(%s)", [unicodedata.normalize("NFC", name),
                                                        unicodedata.normalize("NFC", other)])
        same = cursor.fetchone()[0]
    assert (second.status_code == 409) == same, (name, other)
    server.request("DELETE", f"/scim/v2/Users/{first.json()['id']}")
    if second.status_code == 201:
        server.request("DELETE", f"/scim/v2/Users/{second.json()['id']}")
    assert_directory_consistent()
