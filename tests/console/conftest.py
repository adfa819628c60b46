"""Fixtures of the console tests: the ``auditor`` persona beside conftest's admin, member and outsider."""

from __future__ import annotations

import pytest

from tests.console_helpers import make_auditor


@pytest.fixture
def auditor(tenant, admin):
    """An auditor of ``tenant`` (the admin exists first, as in every real tenant)."""
    return make_auditor(tenant)


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client
