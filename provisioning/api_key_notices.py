"""Security notices about API keys: what ``directory.api_keys.api_key_changed`` announces, emailed to the
tenant's admins, as SCIM tokens' generated and revoked notices are.

The directory sends the signal inside the transaction of the change; the email is queued in the outbox
in that same transaction (provisioning.notifications), so it goes out once, on commit, and a rolled-back
change sends nothing.
"""

from __future__ import annotations

from typing import Any

from directory.api_keys import ApiKeyChange, api_key_changed
from provisioning import emails


def api_key_change_announce(sender: Any, change: ApiKeyChange, **kwargs: Any) -> None:
    if change.what == "created":
        emails.api_key_created(key=change.key, actor=change.actor)
    elif change.what == "revoked":
        emails.api_key_revoked(key=change.key, actor=change.actor)
    else:
        raise ValueError(f"unknown API key change {change.what!r}")


def connect() -> None:
    api_key_changed.connect(api_key_change_announce, dispatch_uid="provisioning.api_key_notices")
