"""SCIM token hashes are keyed by their own secret, which can be rotated
without breaking any identity provider's token (docs/security.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys

import pytest

from provisioning.models import ScimToken
from tests.conftest import ROOT
from tests.scim_client import ScimClient, issue_token


def digest(key: str, raw: str) -> str:
    return hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def old_key_token(settings, tenant):
    settings.SCIM_TOKEN_HASH_KEY = "old-hash-key"
    settings.SCIM_TOKEN_HASH_KEY_PREVIOUS = ""
    raw = issue_token(tenant)
    assert ScimToken.objects.get().digest == digest("old-hash-key", raw)
    return raw


def test_rotating_the_hash_key_keeps_tokens_working_and_rehashes_them_on_use(settings, client, old_key_token):
    settings.SCIM_TOKEN_HASH_KEY = "new-hash-key"
    settings.SCIM_TOKEN_HASH_KEY_PREVIOUS = "old-hash-key"
    scim = ScimClient(client, old_key_token)
    assert scim.get("/Users").status_code == 200
    assert ScimToken.objects.get().digest == digest("new-hash-key", old_key_token)

    # Once every token has been used (or re-issued), the old key can go.
    settings.SCIM_TOKEN_HASH_KEY_PREVIOUS = ""
    assert scim.get("/Users").status_code == 200


def test_without_the_previous_key_a_rotation_locks_tokens_out(settings, client, old_key_token):
    settings.SCIM_TOKEN_HASH_KEY = "new-hash-key"
    assert ScimClient(client, old_key_token).get("/Users").status_code == 401


def test_a_token_hashed_under_neither_key_is_refused(settings, client, old_key_token):
    settings.SCIM_TOKEN_HASH_KEY = "new-hash-key"
    settings.SCIM_TOKEN_HASH_KEY_PREVIOUS = "another-key"
    assert ScimClient(client, old_key_token).get("/Users").status_code == 401
    assert ScimToken.objects.get().digest == digest("old-hash-key", old_key_token)


def _hash_keys(**env: str) -> dict:
    code = ("import django, json; django.setup(); from django.conf import settings as s; "
            "print(json.dumps([s.SECRET_KEY, s.SCIM_TOKEN_HASH_KEY, s.SCIM_TOKEN_HASH_KEY_PREVIOUS]))")
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_TOKEN_HASH_KEY")}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={**base, "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings", **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_hash_key_comes_from_the_environment_and_is_not_the_secret_key():
    secret, key, previous = _hash_keys(DJANGO_SECRET_KEY="s1", SCIM_TOKEN_HASH_KEY="h2",
                                       SCIM_TOKEN_HASH_KEY_PREVIOUS="h1")
    assert (secret, key, previous) == ("s1", "h2", "h1")
    secret, key, previous = _hash_keys(DJANGO_SECRET_KEY="s1")
    assert key != secret and previous == ""


def test_check_deploy_warns_when_the_hash_key_is_derived_from_the_secret_key(settings):
    from provisioning.checks import scim_token_hash_key_check

    settings.SECRET_KEY = "s1"
    settings.SCIM_TOKEN_HASH_KEY = "s1:scim-token-hash"
    assert [w.id for w in scim_token_hash_key_check()] == ["provisioning.W001"]
    settings.SCIM_TOKEN_HASH_KEY = "a-separate-key"
    assert scim_token_hash_key_check() == []
