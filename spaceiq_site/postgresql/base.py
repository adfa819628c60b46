"""Django's PostgreSQL backend, lighter on every request.

**A health check without a round trip.** With ``CONN_HEALTH_CHECKS`` Django
sends ``SELECT 1`` before the first query of every request that reuses a
connection: on the SCIM endpoint, one round trip in four. A connection the
server has given up on (PostgreSQL restarted, the backend was terminated, an
idle timeout) becomes readable: PostgreSQL sends an error and closes the
socket. So an idle connection whose socket has nothing to read is healthy,
and only one with something waiting is asked with ``SELECT 1`` (which also
consumes a harmless notice if that is all it was). A peer that vanished
without closing is caught by neither check: the query fails, the request
answers 503, and Django discards the connection.

**Timestamps read in C.** Django reads ``timestamptz`` columns with a Python
subclass of psycopg's pure-Python loader, only to set the result's tzinfo to
UTC. With the session in UTC (Django sets it) psycopg's C loader already
returns ``datetime.timezone.utc`` datetimes; a person row has three
timestamps and the token of every request six, and parsing them in Python was
a tenth of a SCIM request's CPU.
"""

from __future__ import annotations

import datetime
import select
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import adapt, pq
from psycopg.types import datetime as pg_datetime

try:  # the C implementation (psycopg-binary or psycopg-c); pure Python otherwise
    from psycopg_binary._psycopg import TimestamptzLoader as _CTimestamptzLoader
except ImportError:  # pragma: no cover - depends on the installed psycopg build
    _CTimestamptzLoader = None


class UtcTimestamptzLoader(pg_datetime.TimestamptzLoader):
    """Parses with the C loader (the C class is final, hence a wrapper, not a subclass)."""

    # Django's create_cursor() compares this with the connection's timezone.
    timezone = datetime.UTC

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._c = _CTimestamptzLoader(oid, context)

    def load(self, data: Any) -> datetime.datetime:
        value = self._c.load(data)
        # The session is in UTC (Django sets it); should it not be, convert rather than relabel.
        return value if value.tzinfo is datetime.UTC else value.astimezone(datetime.UTC)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if settings.DATABASE_PREPARED_STATEMENTS:
            # Only directory.compiled_query prepares statements, and those are
            # index lookups by equality whose best plan does not depend on the
            # values. PostgreSQL's default would keep re-planning the ones
            # whose generic plan it estimates dearer: all the planning time
            # preparing was meant to save.
            extra = "-c plan_cache_mode=force_generic_plan"
            params["options"] = f"{params['options']} {extra}" if params.get("options") else extra
            if params.get("prepare_threshold") is None:
                # Django's None turns psycopg's preparing off altogether, even when asked
                # explicitly; a threshold never reached keeps every other query unprepared.
                params["prepare_threshold"] = 2**31 - 1
        if _CTimestamptzLoader is not None and self.timezone is datetime.UTC and "context" in params:
            context = adapt.AdaptersMap(params["context"])  # the template is shared: extend a copy
            context.register_loader("timestamptz", UtcTimestamptzLoader)
            params["context"] = context
        return params

    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()

