"""Fixtures only the SCIM protocol tests use."""

from __future__ import annotations

import pytest

from tests.scim_client import ScimClient, issue_token


@pytest.fixture
def other_scim(other_tenant) -> ScimClient:
    from django.test import Client

    return ScimClient(Client(), issue_token(other_tenant))
