"""Fixtures only the SCIM protocol tests use."""

from __future__ import annotations

import pytest

from tests.scim_client import ScimClient, issue_token


@pytest.fixture
def other_scim(other_tenant) -> ScimClient:
    from django.test import Client

    return ScimClient(Client(), issue_token(other_tenant))


@pytest.fixture
def steady_bookkeeping(monkeypatch) -> None:
    """No last-used or last-request write during the test.

    They are written every 60 and 5 seconds, so a slow machine could see an
    extra statement between requests whose statements a test counts.
    """
    from datetime import timedelta

    from provisioning import alerts
    from provisioning.scim import auth

    monkeypatch.setattr(alerts, "LAST_REQUEST_PRECISION", timedelta(hours=1))
    monkeypatch.setattr(auth, "_TOUCH_EVERY", timedelta(hours=1))
