"""Explicit hostile inputs of issue 7 ("Bad input") not covered by test_scim_errors_and_auth.py,
and regressions for what the fuzzing in test_fuzz_scim.py found."""

from __future__ import annotations

import json
import unicodedata
import urllib.parse

import pytest

from directory.models import AuditEvent, Group, Person
from provisioning.models import ScimRequest
from provisioning.scim.constants import ENTERPRISE_SCHEMA, MAX_PATCH_OPERATIONS, PATCH_OP
from provisioning.scim.schemas import COMMON, ENTERPRISE, GROUP, USER
from tests.entra import requests as entra
from tests.scim.test_fuzz_scim import assert_directory_consistent, check_response

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
WRONG_TYPES = [42, 4.2, True, False, [], {}, [1, "x"], {"value": {"nested": [1]}}, [[["deep"]]], "x" * 5000]


def assert_error(response, status: int, scim_type: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/scim+json"
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status)
    if scim_type:
        assert body.get("scimType") == scim_type, body
    return body


def lookup(scim, user_name: str) -> dict:
    return scim.get("/Users", filter=f"userName eq {json.dumps(user_name)}").json()


# --- 10,000 operations ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_a_10000_operation_patch_is_too_many_and_changes_nothing(scim, kind):
    created = scim.post(f"/{kind}", entra.CREATE_USER if kind == "Users" else entra.CREATE_GROUP).json()
    op = {"op": "Replace", "path": "displayName", "value": "Renamed"}
    body = {"schemas": [PATCH_OP], "Operations": [op] * 10_000}
    assert len(json.dumps(body)) < 1_048_576  # under the size limit, so the operation count is what fails
    error = assert_error(scim.patch(f"/{kind}/{created['id']}", body), 400, "tooMany")
    assert str(MAX_PATCH_OPERATIONS) in error["detail"]
    model = Person if kind == "Users" else Group
    assert model.objects.get(pk=created["id"]).version == 1
    advertised = scim.get("/ServiceProviderConfig").json()["patch"]
    assert advertised["supported"] is True
    # Exactly the advertised limit is accepted.
    body["Operations"] = [op] * MAX_PATCH_OPERATIONS
    assert scim.patch(f"/{kind}/{created['id']}", body).status_code in (200, 204)


# --- Unicode user names ---------------------------------------------------------------------


@pytest.mark.django_db
def test_user_names_differing_only_by_case_clash(scim):
    """userName is caseExact=false (RFC 7643 §4.1.1): ALICE@… and alice@… are one name: 409 uniqueness,
    and the lookup Entra does before a POST finds the existing user whatever the case."""
    alice = scim.post("/Users", {"userName": "Alice.Ünal@contoso.com"}).json()
    for other in ("alice.ünal@contoso.com", "ALICE.ÜNAL@CONTOSO.COM", "aLICE.üNAL@contoso.com"):
        assert_error(scim.post("/Users", {"userName": other}), 409, "uniqueness")
        assert [r["id"] for r in lookup(scim, other)["Resources"]] == [alice["id"]]
    bob = scim.post("/Users", {"userName": "bob@contoso.com"}).json()
    rename = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "userName",
                                                     "value": "ALICE.ÜNAL@contoso.com"}]}
    assert_error(scim.patch(f"/Users/{bob['id']}", rename), 409, "uniqueness")
    assert Person.objects.filter(user_name__iexact="alice.ünal@contoso.com").count() == 1


@pytest.mark.django_db
def test_user_names_differing_only_by_unicode_normalisation_clash(scim):
    """Decision: canonically equivalent user names are the same user name.

    "José" can arrive as U+00E9 (NFC, what Windows and Entra send) or as "e" + U+0301
    (NFD, what macOS input produces). Unicode says they are the same text; two people whose
    names render identically in the console would be a homograph trap, and Entra's lookup
    would find one and clash with the other. So the directory stores user names in NFC
    (directory.services.canonical_user_name), the per-tenant unique index on
    LOWER(user_name) makes the two spellings clash (409 uniqueness), and userName filters
    are normalised the same way, so a lookup with either spelling finds the user.
    Compatibility forms (NFKC: "ﬀ" vs "ff") are different names and do not clash.
    A client that sends NFD gets NFC back: the same text, canonically.
    """
    nfc, nfd = "Jos\u00e9@contoso.com", "Jose\u0301@contoso.com"
    assert nfc != nfd and unicodedata.normalize("NFC", nfd) == nfc
    created = scim.post("/Users", {"userName": nfd})
    assert created.status_code == 201
    assert created.json()["userName"] == nfc
    assert_error(scim.post("/Users", {"userName": nfc}), 409, "uniqueness")
    assert_error(scim.post("/Users", {"userName": unicodedata.normalize("NFD", nfc.upper())}), 409, "uniqueness")
    for spelling in (nfc, nfd, nfd.upper()):
        assert [r["id"] for r in lookup(scim, spelling)["Resources"]] == [created.json()["id"]]
    # Re-sending the other spelling is no change at all.
    same = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "userName", "value": nfd}]}
    assert scim.patch(f"/Users/{created.json()['id']}", same).status_code == 200
    assert Person.objects.get(pk=created.json()["id"]).version == 1
    # Compatibility equivalents are different names.
    assert scim.post("/Users", {"userName": "\ufb00@contoso.com"}).status_code == 201
    assert scim.post("/Users", {"userName": "ff@contoso.com"}).status_code == 201
    assert_directory_consistent()


@pytest.mark.django_db
def test_a_lookup_finds_a_name_the_database_lowercases_differently_from_python(scim):
    """Regression (found by fuzzing): Python lowers "İ" to "i̇" (two code points), PostgreSQL to "i".
    The filter lowered the value in Python, so `userName eq "İnci@…"` missed the user stored under
    that very name; Entra would then POST and get 409 forever. Both sides are lowered by the database now."""
    created = scim.post("/Users", {"userName": "\u0130nci@contoso.com",
                                   "emails": [{"type": "work", "value": "\u0130nci@contoso.com"}]}).json()
    assert [r["id"] for r in lookup(scim, "\u0130nci@contoso.com")["Resources"]] == [created["id"]]
    by_email = scim.get("/Users", filter='emails[type eq "work"].value eq "\u0130nci@contoso.com"').json()
    assert by_email["totalResults"] == 1
    for text in ('emails.value eq "\u0130nci@contoso.com"', 'emails.value sw "\u0130nci"',
                 'emails.value ew "\u0130nci@contoso.com"', 'emails.value co "\u0130nc"', 'userName sw "\u0130n"'):
        assert scim.get("/Users", filter=text).json()["totalResults"] == 1, text


# --- Wrong JSON types for every attribute -------------------------------------------------------

USER_ATTRS = [(a.name, a) for a in USER.attributes]
USER_ATTRS += [(f"{ENTERPRISE_SCHEMA}:{a.name}", a) for a in ENTERPRISE.attributes]


@pytest.mark.django_db
@pytest.mark.parametrize("name", [n for n, _ in USER_ATTRS] + ["externalId", "id", "meta", "schemas"])
def test_wrong_json_types_for_every_user_attribute(scim, name):
    """Every attribute of provisioning/scim/schemas.py, sent with every wrong JSON type, on POST, PUT and
    PATCH: a SCIM 400 (or the value is ignored, for read-only attributes), never a 5xx; nothing half-written."""
    existing = scim.post("/Users", {"userName": "typed@contoso.com"}).json()
    for i, wrong in enumerate(WRONG_TYPES):
        doc = {"userName": f"u{i}@contoso.com", name: wrong}
        if name.startswith(ENTERPRISE_SCHEMA) and i % 2:
            doc = {"userName": doc["userName"], ENTERPRISE_SCHEMA: {name.rsplit(":", 1)[1]: wrong}}
        for method, path, body in [
            ("post", "/Users", doc),
            ("put", f"/Users/{existing['id']}", {**doc, "userName": "typed@contoso.com"}),
            ("patch", f"/Users/{existing['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "path": name, "value": wrong}]}),
            ("patch", f"/Users/{existing['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Add", "value": {name: wrong}}]}),
        ]:
            response = getattr(scim, method)(path, body)
            check_response(response, method.upper(), path, body)
            if response.status_code >= 400:
                assert response.json().get("scimType") in (
                    "invalidValue", "invalidSyntax", "mutability", "invalidPath", "uniqueness", "noTarget"
                ), (name, wrong, response.json())
    assert_directory_consistent()


@pytest.mark.django_db(transaction=True)  # autocommit, as in production (a failed group POST ends its transaction)
@pytest.mark.parametrize("name", [a.name for a in GROUP.attributes] + ["externalId", "id", "meta"])
def test_wrong_json_types_for_every_group_attribute(scim, name):
    group = scim.post("/Groups", {"displayName": "Typed"}).json()
    for i, wrong in enumerate(WRONG_TYPES):
        for method, path, body in [
            ("post", "/Groups", {"displayName": f"G{i}", name: wrong}),
            ("put", f"/Groups/{group['id']}", {"displayName": "Typed", name: wrong}),
            ("patch", f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Add", "path": name, "value": wrong}]}),
            ("patch", f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [
                {"op": "Replace", "value": {name: wrong}}]}),
        ]:
            response = getattr(scim, method)(path, body)
            check_response(response, method.upper(), path, body)
    assert_directory_consistent()


def test_every_schema_attribute_is_covered():
    covered = {n.rsplit(":", 1)[-1] for n, _ in USER_ATTRS} | {a.name for a in GROUP.attributes}
    covered |= {a.name for a in COMMON.values()}
    assert all(a.name in covered for s in (USER, ENTERPRISE, GROUP) for a in s.attributes)


# --- Regressions: text PostgreSQL cannot store, numbers JSON should not carry ---------------------


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    b'{"userName": "\\ud800@contoso.com"}',  # a lone surrogate: valid JSON, no valid text
    b'{"userName": "ok@contoso.com", "title": "\\udfff"}',
    b'{"userName": "ok@contoso.com", "name": {"givenName": "a\\ud83d"}}',
    b'{"userName": "ok@contoso.com", "title": NaN}',
    b'{"userName": "ok@contoso.com", "emails": [{"value": "a@b.c", "display": Infinity}]}',
    b'{"userName": "ok@contoso.com", "roles": [{"value": 1e999}]}',
    b'{"userName": "raw\x00nul@contoso.com"}',
])
def test_unstorable_text_and_numbers_are_400_and_logged(scim, body):
    before = Person.objects.count(), ScimRequest.objects.count()
    response = scim.post("/Users", body)
    assert_error(response, 400)
    assert Person.objects.count() == before[0]
    assert ScimRequest.objects.count() == before[1] + 1  # the request log survived the body
    assert ScimRequest.objects.order_by("-id").first().status == 400


@pytest.mark.django_db
def test_a_valid_surrogate_pair_is_an_ordinary_character(scim):
    created = scim.post("/Users", b'{"userName": "smile\\ud83d\\ude00@contoso.com"}')
    assert created.status_code == 201 and created.json()["userName"] == "smile\U0001f600@contoso.com"


@pytest.mark.django_db
@pytest.mark.parametrize("text", ['userName eq "a\\u0000b"', 'userName eq "\\ud800"', 'title co "\\udc00x"',
                                  'emails[value eq "\\u0000"]'])
def test_filters_with_unstorable_strings_are_invalid_filter(scim, text):
    assert_error(scim.get("/Users", filter=text), 400, "invalidFilter")
    search = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                          "filter": text})
    # In a body, "\\u0000" may already be refused as a NUL character (invalidValue).
    assert assert_error(search, 400)["scimType"] in ("invalidFilter", "invalidValue")


@pytest.mark.django_db
def test_nul_bytes_and_newlines_in_urls_are_answered_and_logged(scim):
    """Regression: /scim/%0A fell through every SCIM route (the catch-all's "." stops at a
    newline) to the console's HTML 404."""
    before = ScimRequest.objects.count()
    for path in ("/Users/a\x00b", "/Gro\x00ups", "/Users?filter=" + urllib.parse.quote('userName eq "a\x00"'),
                 "/\n", "/Users\n", "/Users/\n\n"):
        response = scim.get(path)
        check_response(response, "GET", path, None)
        assert response.status_code in (200, 400, 404)  # "/Users\n" is read as /Users
    assert ScimRequest.objects.count() == before + 6
    assert all("\x00" not in p for p in ScimRequest.objects.values_list("path", flat=True))


@pytest.mark.django_db
@pytest.mark.parametrize("start", ["1000000000000", str(10**30), "9223372036854775807", "-" + "9" * 40])
def test_absurd_start_indexes_are_an_empty_page(scim, start):
    scim.post("/Users", entra.CREATE_USER)
    response = scim.get("/Users", startIndex=start)
    check_response(response, "GET", "/Users", None)
    if response.status_code == 200:
        assert response.json()["Resources"] == [] or start.startswith("-")


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [31, 33, 1000, 100_000])
def test_deeply_nested_documents(scim, depth):
    body = '{"userName": "deep@contoso.com", "title": ' + "[" * depth + "]" * depth + "}"
    response = scim.post("/Users", body)
    check_response(response, "POST", "/Users", body[:50])
    assert response.status_code == 400
    assert not Person.objects.filter(user_name="deep@contoso.com").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("arrays", "too_deep"), [(30, False), (31, True)])
def test_the_nesting_limit_is_exact(scim, arrays, too_deep):
    # The object and `arrays` arrays: a value 32 levels down is allowed, one 33 levels down is not.
    body = '{"userName": "deep@contoso.com", "title": ' + "[" * arrays + "1" + "]" * arrays + "}"
    response = scim.post("/Users", body)
    assert response.status_code == 400
    assert ("nested too deeply" in response.json()["detail"]) is too_deep


@pytest.mark.django_db
def test_every_change_made_by_the_explicit_cases_is_audited(scim):
    alice = scim.post("/Users", entra.CREATE_USER).json()
    scim.patch(f"/Users/{alice['id']}", entra.DEFAULT_MODE_UPDATE)
    assert AuditEvent.objects.filter(target_id=alice["id"]).count() >= 2
    assert_directory_consistent()


# --- Oversized bodies through the production server ---------------------------------------------


def post_raw(port: int, path: str, headers: dict[str, str], body: bytes, *, chunked: bool) -> tuple[int, str, dict]:
    """POST over a plain socket and read the answer even when the server answers (and closes)
    before the whole body is sent: a refused oversized body may break the pipe mid-send, which
    http.client reports as an error instead of the server's answer."""
    import socket

    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close",
            *(f"{name}: {value}" for name, value in headers.items()),
            "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"]
    parts = ([b"%x\r\n%s\r\n" % (len(body[i:i + 65536]), body[i:i + 65536]) for i in range(0, len(body), 65536)]
             + [b"0\r\n\r\n"]) if chunked else [body]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server has answered already; its answer is waiting to be read
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    header_block, _, payload = received.partition(b"\r\n\r\n")
    lines = header_block.decode("latin-1").split("\r\n")
    fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), fields.get("content-type", ""), json.loads(payload)


@pytest.mark.django_db(transaction=True)
def test_oversized_and_chunked_bodies_through_gunicorn():
    """Over the 1 MiB limit with a Content-Length: 413 before the body is read. Without one
    (chunked transfer encoding), the body is never read into memory at all: a 400 SCIM error,
    so a client cannot get round the size limit by leaving out Content-Length."""
    from tests.conftest import make_tenant
    from tests.faults.test_faults_postgres import Gunicorn
    from tests.scim_client import issue_token

    token = issue_token(make_tenant("big", "Big Bodies"))
    server = Gunicorn(workers=1)
    try:
        server.wait_ready(token)
        body = json.dumps({"userName": "big@contoso.com", "title": "t" * 2_000_000}).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        answers = [post_raw(server.port, "/scim/v2/Users", headers, body, chunked=chunked) for chunked in (False, True)]
    finally:
        server.stop()
    (status, content_type, doc), (chunked_status, chunked_type, chunked_doc) = answers
    assert (status, content_type, doc["schemas"]) == (413, "application/scim+json", [ERROR])
    assert (chunked_status, chunked_type, chunked_doc["schemas"]) == (400, "application/scim+json", [ERROR])
    assert not Person.objects.filter(user_name="big@contoso.com").exists()
