"""Fixtures the admin REST API tests share: keys for a tenant, and a client that sends one."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

API = "/api/v1"


def api_key_for(tenant, scope: str = "all", label: str = "SIEM") -> str:
    from directory import services
    from directory.audit import Actor

    _, raw = services.api_key_create(tenant=tenant, label=label, scope=scope, actor=Actor.system("test"))
    return raw


class ApiClient:
    """Django's test client sending ``Authorization: Bearer <key>``, as a SIEM would."""

    def __init__(self, key: str | None) -> None:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        self.client = Client(**headers)

    def get(self, path: str, params: dict[str, Any] | None = None):
        url = path if path.startswith(("http://", "https://", "/api/")) else API + path
        return self.client.get(url, params)

    def follow(self, url: str):
        """GET an absolute next link exactly as the API gave it."""
        return self.client.get(url)


@pytest.fixture
def api(tenant) -> ApiClient:
    return ApiClient(api_key_for(tenant))


@pytest.fixture
def outsider_api(other_tenant) -> ApiClient:
    return ApiClient(api_key_for(other_tenant))
