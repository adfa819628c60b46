"""Identity-provider tolerance, one named rule each.

Every rule here exists because a real client sends something the RFC does not
describe; the comment names the client. Captured requests in tests/entra/
exercise each of them.
"""

from __future__ import annotations

import json
from typing import Any

from provisioning.scim import errors


def normalize_op(op: Any) -> str:
    """Entra sends ``Add``/``Replace``/``Remove`` by default and lower case with
    ``?aadOptscim062020``; RFC 7644 uses lower case. Compare case-insensitively."""
    if not isinstance(op, str) or op.lower() not in ("add", "replace", "remove"):
        raise errors.bad_request(f"Unknown PATCH op {op!r}: use add, replace or remove.", "invalidSyntax")
    return op.lower()


def coerce_boolean(value: Any, attribute: str) -> bool:
    """Entra sends ``active`` and ``primary`` as ``"True"``/``"False"`` strings
    (Microsoft's own validator posts ``"active":"True"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise errors.bad_request(f"{attribute} must be a boolean (true or false).")


def manager_id_from(value: Any) -> Any:
    """The manager's id from any shape Entra uses.

    Default mode sends the bare id string; older Entra documentation shows
    ``[{"value": id}]``; RFC 7643 uses ``{"value": id}``. Removal may come as
    a Replace with ``""``, ``null`` or ``{"value": ""}``.
    """
    if isinstance(value, list):
        if not value:
            return None
        if len(value) != 1:
            raise errors.bad_request("manager takes a single value.")
        value = value[0]
    if isinstance(value, dict):
        value = next((v for k, v in value.items() if k.lower() == "value"), None)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise errors.bad_request("manager.value must be the id of a user.")
    return value


def unwrap_single_value(value: Any) -> Any:
    """Some clients (older Entra, OneLogin) wrap a single-valued attribute's new
    value in a one-element list of ``{"value": ...}``."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and set(value[0]) == {"value"}:
        return value[0]["value"]
    return value


def app_role_from_json_string(element: dict) -> dict:
    """Entra's AppRoleAssignmentsComplex PATCH sends each role as a JSON-encoded *string* inside
    ``value``: ``{"value": "{\\"id\\":\\"…\\",\\"value\\":\\"Admin\\",\\"displayName\\":\\"Admin\\"}"}``.
    Such an element becomes the object it encodes (its ``id``, ``value`` and ``displayName`` as sent);
    any other element is returned unchanged. A string that starts like an object but is none is a
    400 ``invalidValue`` naming it."""
    value = next((v for k, v in element.items() if k.lower() == "value"), None)
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return element
    try:
        decoded = json.loads(value)
    except ValueError:
        raise errors.bad_request(f"The role {value!r} is not valid JSON.") from None
    if not isinstance(decoded, dict):
        raise errors.bad_request(f"The role {value!r} must encode an object with a value.")
    rest = {k: v for k, v in element.items() if k.lower() != "value"}
    return {**rest, **decoded}
