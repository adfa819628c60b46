"""What the request log keeps of a request body (provisioning/request_log.py, ``loggable_body``)."""

from __future__ import annotations

import json

import pytest

from provisioning.request_log import BODY_LIMIT, NOT_LOGGED, loggable_body


def test_a_body_that_names_no_secret_is_logged_exactly_as_sent():
    body = b'{"userName":  "ada@acme.example",\n "name": {"givenName": "Ada"}, "emails": [{"value": "\xc3\xa9"}]}'
    assert loggable_body(body) == body.decode("utf-8")


@pytest.mark.parametrize("key", ["password", "PassWord", "clientSecret", "access_token", "Authorization",
                                 "pass\\u0077ord", "\\u0070assword", "\\u0050ASSWORD"])
def test_a_secret_is_removed_however_its_key_is_spelled(key):
    body = ('{"userName": "ada@acme.example", "nested": [{"' + key + '": "hunter2"}]}').encode()
    logged = loggable_body(body)
    assert "hunter2" not in logged
    assert json.loads(logged)["nested"][0] == {json.loads(f'"{key}"'): "[removed]"}


def test_a_secret_word_in_a_value_alone_changes_nothing_but_the_spacing():
    logged = loggable_body(b'{"title":"Token   collector"}')
    assert json.loads(logged) == {"title": "Token   collector"}


@pytest.mark.parametrize("body", [b"not json at all \xff", b'{"userName": "ada@acme.example"', b"\xff\xfe{}"])
def test_a_body_that_is_not_json_is_logged_as_text(body):
    logged = loggable_body(body)
    assert logged == body[:BODY_LIMIT].decode("utf-8", errors="replace")


@pytest.mark.parametrize("body", [b'{"userName": "ada", "password": "hunter2"', b'{"pass\\u0077ord": "hunter2",',
                                  # cut at the 64 KiB ScimAuth reads of a body
                                  ('{"password": "hunter2", "pad": "' + "x" * 70_000 + '"}').encode()[:64 * 1024]])
def test_a_body_that_is_not_json_but_may_hold_a_secret_is_not_logged(body):
    assert loggable_body(body) == NOT_LOGGED


def test_a_scim_token_in_a_body_is_redacted_and_a_long_body_is_cut():
    token = "siq_scim_" + "A" * 43
    logged = loggable_body(json.dumps({"note": token, "pad": "x" * 2 * BODY_LIMIT}).encode())
    assert token not in logged and "siq_scim_[removed]" in logged
    assert logged.endswith("more characters]") and len(logged) < BODY_LIMIT + 40
