"""``/healthz`` and ``/readyz`` for load balancers and orchestrators (docs/operations.md).

``/healthz`` says the process answers: no database, no cache, nothing else.
``/readyz`` says it can do its work: PostgreSQL answers ``SELECT 1``, the
cache takes and returns a key, the Celery broker answers a PING, and a worker
ran the heartbeat task recently. Both answer JSON with ``Cache-Control:
no-store`` (a 503 also with ``Retry-After``, directory/unavailable.py); a
failed check says what failed in a few fixed words, never an exception's text
(a URL in it could carry a password).

They are answered by ``HealthCheckMiddleware``, first in ``MIDDLEWARE``,
before anything else runs, as Sentry answers ``/_health/``. A load balancer
probes a target by its address, so its Host header is no name in
``DJANGO_ALLOWED_HOSTS`` and CommonMiddleware would refuse it (400); and a
probe must never read or save a session (``SESSION_SAVE_EVERY_REQUEST``
writes one for any request carrying a cookie), meet CSRF, the sign-in
redirect, the lockouts of django-axes or the SCIM lane. Nothing of the
response depends on the Host header, so answering before it is checked opens
nothing.

The worker check reads a timestamp that the ``worker_heartbeat`` task
(provisioning.tasks, run by beat every minute) writes into the shared cache:
one cache read per probe. ``celery inspect ping`` would ask live, but it
broadcasts to every worker on the broker, including other deployments' on a
shared Redis, and waits its whole timeout when none answers. The heartbeat
also proves the path a task takes (beat, broker, a worker), and a Redis
restart costs it at most a minute.

In demo mode (``CELERY_TASK_ALWAYS_EAGER``: no broker, tasks run in-process)
the broker and worker checks pass as "not used".
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache as memoized
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse

from directory.unavailable import with_retry_after

logger = logging.getLogger(__name__)

HEARTBEAT_KEY = "celery-worker-heartbeat"
# Beat queues the heartbeat every minute (settings.CELERY_BEAT_SCHEDULE); five missed is a stopped worker.
HEARTBEAT_MAX_AGE = timedelta(minutes=5)
# Kept longer than it counts, so /readyz can say how long ago the last one was.
_HEARTBEAT_KEPT = 24 * 3600
BROKER_TIMEOUT_SECONDS = 1
NOT_USED = "not used (tasks run in-process)"


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {"status": "ok" if self.ok else "failed", **({"detail": self.detail} if self.detail else {})}


def _failed(what: str, exc: BaseException) -> Check:
    # The exception's class only: its message can quote a URL, and a URL a password.
    return Check(False, f"{what} ({type(exc).__name__})")


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return _failed("unreachable", exc)
    return Check(True)


def cache_check() -> Check:
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        cache.set(key, value, timeout=10)
        read = cache.get(key)
    except Exception as exc:
        return _failed("unreachable", exc)
    return Check(True) if read == value else Check(False, "a key set was not read back")


@memoized
def _redis_client(url: str):
    """One client (and connection pool) per broker URL and process: a probe costs one round trip."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url, socket_connect_timeout=BROKER_TIMEOUT_SECONDS, socket_timeout=BROKER_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),  # redis-py retries ten times by default: one second means one second
    )


def broker_check() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(True, NOT_USED)
    url = settings.CELERY_BROKER_URL
    try:
        if urlsplit(url).scheme in ("redis", "rediss", "unix"):
            _redis_client(url).ping()
        else:  # AMQP: connect, as a worker would
            from kombu import Connection

            with Connection(url, connect_timeout=BROKER_TIMEOUT_SECONDS) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                       timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:
        return _failed("unreachable", exc)
    return Check(True)


def worker_heartbeat_record() -> None:
    """A worker is alive: called by the ``worker_heartbeat`` task, which beat queues every minute."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=_HEARTBEAT_KEPT)


def worker_check() -> Check:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return Check(True, NOT_USED)
    try:
        seen = cache.get(HEARTBEAT_KEY)
    except Exception as exc:
        return _failed("heartbeat unreadable, the cache is unreachable", exc)
    if seen is None:
        return Check(False, "no heartbeat recorded (is a worker and beat running?)")
    age = max(0, int(time.time() - float(seen)))
    if age > HEARTBEAT_MAX_AGE.total_seconds():
        return Check(False, f"last heartbeat {age} s ago (is a worker and beat running?)")
    return Check(True, f"last heartbeat {age} s ago")


CHECKS: dict[str, Callable[[], Check]] = {
    "database": database_check,
    "cache": cache_check,
    "celery_broker": broker_check,
    "celery_worker": worker_check,
}


def _json(status: int, body: dict) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return _json(200, {"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    results = {name: check() for name, check in CHECKS.items()}
    ok = all(result.ok for result in results.values())
    if not ok:
        logger.warning("Not ready: %s", ", ".join(
            f"{name} {result.detail}" for name, result in results.items() if not result.ok
        ))
    response = _json(200 if ok else 503, {
        "status": "ok" if ok else "failed",
        "checks": {name: result.as_json() for name, result in results.items()},
    })
    return response if ok else with_retry_after(response)


ENDPOINTS = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answers ``ENDPOINTS`` before any other middleware runs (first in ``MIDDLEWARE``; see above)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = ENDPOINTS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = _json(405, {"status": "method not allowed"})
            response["Allow"] = "GET, HEAD"
            return response
        return view(request)
