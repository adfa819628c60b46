"""scim2-tester's check_server against a live server of the app: no failures (issue 3).

Runs ``scripts/conformance.py`` (what ``make conformance`` runs) as a
subprocess, on a database of its own next to the test database, so CI runs the
conformance suite with ``make test``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import ROOT
from tests.entra import requests as entra

SCRIPT = ROOT / "scripts" / "conformance.py"


def _conformance_database_url() -> str:
    """The server of DATABASE_URL, with a database name no other run uses."""
    url = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        pytest.fail("The conformance run needs PostgreSQL: set DATABASE_URL to a postgres:// URL (make test does).")
    base = (parts.path.lstrip("/") or "spaceiq")[:30]
    name = f"{base}_conformance_{uuid.uuid4().hex[:10]}"
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def test_scim2_tester_reports_no_failures():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--database-url", _conformance_database_url(), "--drop-database"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    counts = dict(re.findall(r"\b([A-Z]+): (\d+)", output.split("scim2-tester results:", 1)[-1].splitlines()[0]))
    assert counts.get("ERROR") == "0" and counts.get("CRITICAL") == "0", output[-8000:]
    assert int(counts.get("SUCCESS", "0")) > 100, output[-8000:]  # the suite really ran against Users and Groups
    assert "Total checks:" in output and "failures: 0" in output, output[-8000:]


# --- What the conformance run found, pinned in-process ----------------------------


def _attribute(schema: dict, name: str) -> dict:
    return next(a for a in schema["attributes"] if a["name"] == name)


@pytest.mark.django_db
def test_schemas_describe_member_refs_and_active_as_served(scim):
    """members.$ref points at Users (scim2-tester creates a real User to reference);
    active is required because the server always assigns it."""
    group = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group").json()
    ref = next(s for s in _attribute(group, "members")["subAttributes"] if s["name"] == "$ref")
    assert ref["referenceTypes"] == ["User"]
    user = scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    assert _attribute(user, "active")["required"] is True


@pytest.mark.django_db
def test_remove_of_active_is_a_mutability_error_and_changes_nothing(scim):
    created = scim.post("/Users", entra.CREATE_USER).json()
    response = scim.patch(f"/Users/{created['id']}", {
        "schemas": [entra.PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]})
    assert response.status_code == 400 and response.json()["scimType"] == "mutability"
    assert scim.get(f"/Users/{created['id']}").json()["active"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("op", ["add", "replace"])
def test_patch_of_the_whole_extension_ignores_its_schemas_key(scim, op):
    """scim2-models sends the extension object with its own "schemas" member."""
    created = scim.post("/Users", entra.CREATE_USER).json()
    response = scim.patch(f"/Users/{created['id']}", {"schemas": [entra.PATCH_OP], "Operations": [{
        "op": op, "path": entra.ENTERPRISE,
        "value": {"schemas": [entra.ENTERPRISE], "department": "Finance", "costCenter": "CC-9"},
    }]})
    assert response.status_code == 200, response.content
    enterprise = response.json()[entra.ENTERPRISE]
    assert enterprise["department"] == "Finance" and enterprise["costCenter"] == "CC-9"
    assert enterprise["employeeNumber"] == entra.CREATE_USER[entra.ENTERPRISE]["employeeNumber"]
    assert "schemas" not in enterprise
