"""Django's PostgreSQL backend with a health check that needs no round trip.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query
of every request that reuses a connection: on the SCIM endpoint, one round
trip in four. A connection the server has given up on (PostgreSQL restarted,
the backend was terminated, an idle timeout) becomes readable: PostgreSQL
sends an error and closes the socket. So an idle connection whose socket has
nothing to read is healthy, and only one with something waiting is asked
with ``SELECT 1`` (which also consumes a harmless notice if that is all it
was). A peer that vanished without closing is caught by neither check: the
query fails, the request answers 503, and Django discards the connection.

Subclassing a built-in backend is the extension point Django documents;
``is_usable`` is the method its health check calls.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
