"""The request log written behind the response: a thread of each app process writes it in batches.

Every SCIM request leaves a row in the request log. Written by the request
itself, that row was one statement and one commit per request, as much
database work as a lookup itself (``make bench`` counts statements per
request kind). Here the request hands the row's fields to
this process's writer and returns; the writer wakes every
``SCIM_REQUEST_LOG_BATCH_MS`` (or as soon as a batch is full), builds the rows
(secrets removed, sizes capped: request_log.request_log_entry), writes them
with one COPY and one asynchronous commit, then moves the
alerting state for each, exactly as the request did before.

What can be lost, and when:

- The rows of the last batch interval (200 ms by default) when the process
  is killed outright (SIGKILL, a gunicorn worker timeout). A normal exit
  (gunicorn's graceful stop or restart, ``sys.exit``) writes them first.
- The rows of a batch whose write fails for want of a database (a warning
  says how many): the same rows a request would have failed to write itself.
- The oldest rows beyond a backlog of ``BACKLOG`` per process (a database
  that stays slower than the traffic), counted in a warning.

A row another statement refuses (it should never happen: every value is
sanitised) costs only itself: the batch is retried row by row.

After a batch, at most every few seconds, the writer also analyzes tables
that a first sync has outgrown the statistics of
(``statistics.outgrown_tables_analyze_due``): this thread is the process's
background user of the database while a sync runs.

Off (each request writes its own row) when ``SCIM_REQUEST_LOG_BATCH_MS`` is 0,
on SQLite, and inside a transaction (the test suite's), where a row must be
written by the connection that can see the transaction's data.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from provisioning.request_log import request_log_alerts, request_log_entry, request_log_insert_many
from spaceiq_site import postgresql
from spaceiq_site.postgresql import statistics

logger = logging.getLogger(__name__)

BACKLOG = 50_000
STATEMENT_ROWS = 500  # 16 parameters a row: far below PostgreSQL's 65,535


class RequestLogWriter:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.pid = os.getpid()
        self.cond = threading.Condition()
        self.pending: list[dict[str, Any]] = []
        self.submitted = 0  # rows handed over
        self.finished = 0  # rows written, or given up
        self.thread: threading.Thread | None = None
        self.urgent = False
        self.stopping = False

    def submit(self, fields: dict[str, Any]) -> None:
        """Hand over one row's ``request_log_entry`` arguments; returns at once."""
        if self.pid != os.getpid():
            self._reset()  # a forked child: the parent's thread did not come along
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.stopping = False
                self.thread = threading.Thread(target=self._run, name="scim-request-log", daemon=True)
                self.thread.start()
            if len(self.pending) >= BACKLOG:
                self.pending.pop(0)
                self.finished += 1
                logger.warning("SCIM request log: backlog of %d rows full, the oldest row dropped", BACKLOG)
            self.pending.append(fields)
            self.submitted += 1
            if len(self.pending) >= STATEMENT_ROWS:
                self.cond.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every row handed over so far is written; False on timeout."""
        with self.cond:
            if self.thread is None or self.pid != os.getpid():
                return True
            target = self.submitted
            self.urgent = True
            self.cond.notify_all()
            return self.cond.wait_for(lambda: self.finished >= target, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending, then end the thread (it closes its database connection)."""
        with self.cond:
            thread = self.thread if self.pid == os.getpid() else None
            self.stopping = True
            self.cond.notify_all()
        if thread is not None:
            thread.join(timeout)
        with self.cond:
            self.thread = None

    def _run(self) -> None:
        interval = settings.SCIM_REQUEST_LOG_BATCH_MS / 1000
        try:
            while True:
                with self.cond:
                    self.cond.wait_for(
                        lambda: self.stopping or self.urgent or len(self.pending) >= STATEMENT_ROWS, interval
                    )
                    rows, self.pending = self.pending[:STATEMENT_ROWS], self.pending[STATEMENT_ROWS:]
                    self.urgent = bool(self.pending) and self.urgent
                    done = self.stopping and not self.pending
                if rows:
                    try:
                        if self.write_batch(rows):
                            young_tables_analyze()  # before flush() returns: a caller sees its effect
                    except Exception:  # the thread must outlive any one batch
                        logger.exception("SCIM request log: %d rows not written", len(rows))
                    finally:
                        with self.cond:
                            self.finished += len(rows)
                            self.cond.notify_all()
                if done:
                    return
        finally:
            connection.close()  # this thread's own connection

    @staticmethod
    def write_batch(rows: list[dict[str, Any]]) -> bool:
        """Write the rows; False when the database was unavailable (the rows are dropped, with a warning)."""
        close_old_connections()  # the thread's connection: its age limit, and a broken one dropped
        try:
            built = [row for fields in rows if (row := _built(fields)) is not None]
            try:
                request_log_insert_many([entry for entry, _ in built])
            except (OperationalError, InterfaceError):
                raise
            except Exception:
                logger.exception("SCIM request log: a batch of %d rows was refused; writing them one by one", len(rows))
                built = [(entry, token) for entry, token in built if _write_one(entry)]
        except (OperationalError, InterfaceError):
            logger.warning("SCIM request log: %d rows not written (database unavailable)", len(rows))
            connection.close()
            return False
        for entry, token in built:
            request_log_alerts(entry, token)
        return True


def young_tables_analyze() -> None:
    """Give tables a first sync is filling fresh planner statistics (spaceiq_site.postgresql.statistics).

    Here because this thread is the process's one background user of the
    database while SCIM traffic flows, which is when tables grow.
    """
    try:
        statistics.outgrown_tables_analyze_due()
    except Exception:  # statistics are an optimisation: never worth the writer
        logger.exception("planner statistics: the check for outgrown tables failed")


def _built(fields: dict[str, Any]) -> tuple[Any, Any] | None:
    try:
        return request_log_entry(**fields)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("SCIM request log: row of request %s not built", fields.get("request_id"))
        return None


def _write_one(entry: Any) -> bool:
    try:
        request_log_insert_many([entry])
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        logger.exception("SCIM request log: row of request %s not written", entry.request_id)
        return False
    return True


writer = RequestLogWriter()
atexit.register(writer.stop)


def deferred() -> bool:
    """Whether this request's log row goes to the writer rather than being written by the request."""
    return bool(settings.SCIM_REQUEST_LOG_BATCH_MS) and postgresql.in_use() and (
        not connection.in_atomic_block
    )
