"""Everything PostgreSQL-specific, in one place.

``base`` is the database backend (``ENGINE``); ``writes`` the statements the
SCIM hot path sends as one PostgreSQL statement each (with the plain ORM in
their place elsewhere), built from model metadata by ``rows``; ``statistics``
the planner statistics a fresh database needs. ``in_use()`` is the one
question the rest of the code asks ("is this PostgreSQL?") before using a
PostgreSQL-only feature: the demo's SQLite takes the plain ORM path.
"""

from __future__ import annotations

import functools

from django.db import connections


@functools.cache
def in_use(alias: str = "default") -> bool:
    """Whether the database ``alias`` is PostgreSQL (asked on every SCIM request, and a settings
    ENGINE does not change while a process runs: answered once)."""
    return connections[alias].vendor == "postgresql"
