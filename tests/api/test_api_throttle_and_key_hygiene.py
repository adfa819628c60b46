"""A per-key throttle kept in the shared cache, and an API key that appears nowhere after its creation page."""

from __future__ import annotations

import json
import logging

import pytest
import redis
from django.core.cache import cache

from directory.keyed_secrets import API_KEY_PREFIX, LOOKUP_LENGTH
from directory.models import ApiKey
from provisioning.logging_filters import RedactTokens
from tests.api.conftest import ApiClient, api_key_for
from tests.scim.test_token_hygiene import db_text_holding


@pytest.fixture
def fresh_throttle():
    for key in ApiKey.objects.all():
        cache.delete(f"throttle_api_key_{key.pk}")


def test_the_throttle_answers_429_with_retry_after_per_key(settings, tenant):
    settings.API_THROTTLE_RATE = "3/minute"
    first, second = ApiClient(api_key_for(tenant)), ApiClient(api_key_for(tenant, label="second"))
    for key in ApiKey.objects.all():
        cache.delete(f"throttle_api_key_{key.pk}")
    assert [first.get("/people/").status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get("/people/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"].startswith("Request was throttled.")
    # Another key of the same tenant has its own allowance.
    assert second.get("/people/").status_code == 200


def test_the_throttle_counts_in_the_shared_cache(settings, tenant):
    """Kept in Redis, so every worker process counts the same key (not in one process's memory)."""
    settings.API_THROTTLE_RATE = "100/minute"
    api = ApiClient(api_key_for(tenant))
    key = ApiKey.objects.get()
    cache.delete(f"throttle_api_key_{key.pk}")
    api.get("/people/")
    stored = redis.Redis.from_url(settings.REDIS_URL)
    assert any(f"throttle_api_key_{key.pk}".encode() in name for name in stored.scan_iter(count=1000))


@pytest.fixture
def everything_logged(caplog):
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def test_a_key_is_in_no_api_response_log_line_cache_key_or_column(settings, tenant, everything_logged):
    raw = api_key_for(tenant)
    secret_part = raw[len(API_KEY_PREFIX) + LOOKUP_LENGTH:]
    api = ApiClient(raw)
    responses = [
        api.get("/people/"), api.get("/audit-events/"), api.get("/api-keys/"),
        api.get(f"/people/{raw}/"), api.get("/people/", {"search": raw}), api.get("/audit-events/", {"actor": raw}),
        api.get(f"/nothing/{raw}"), ApiClient(raw[:-2] + "zz").get("/people/"),
        api.client.get("/api/v1/people/", {"api_key": raw}),
    ]
    # A key in the query string is refused (it would come back in the next link, and URLs are logged).
    assert [r.status_code for r in responses[4:6]] + [responses[-1].status_code] == [400, 400, 400]
    places = {f"response {n}": r.content.decode() + json.dumps(dict(r.headers.items()))
              for n, r in enumerate(responses)}
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactTokens) for f in h.filters))
    places["log records"] = "\n".join(handler.format(r) for r in everything_logged.records)
    stored = redis.Redis.from_url(settings.REDIS_URL)
    places["cache keys"] = "\n".join(k.decode("utf-8", "replace") for k in stored.scan_iter(count=1000))
    for secret in (raw, secret_part):
        leaks = [where for where, text in places.items() if secret in text]
        assert leaks == [], leaks
        assert db_text_holding(secret) == []
    assert any("siq_api_[removed]" in handler.format(r) for r in everything_logged.records)
