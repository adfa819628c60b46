"""Throttling of failed SCIM authentication, per source IP and per token lookup prefix.

Counters are fixed-window counts of 401s in the Django cache (Redis in
production, ``REDIS_URL``), incremented atomically, so every gunicorn worker on
every app server shares them. A source whose failures reach the limit gets a
429 SCIM error with ``Retry-After`` until its window ends, instead of a 401.

A valid token is never refused because of these limits: identity providers
call from shared address ranges (Entra's provisioning service calls every
customer's endpoint from the same Azure IPs), so blocking an address outright
would let one tenant's misconfigured or hostile source lock out every other
tenant. Tokens carry 256 random bits, so the limit is not what keeps them
secret; it bounds the work and the log noise of an attack and tells a client
stuck on a dead token to back off (docs/security.md).

The limiter fails open: with the cache unreachable, SCIM traffic carries on
without throttling rather than stopping.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from provisioning.scim.errors import ScimError

logger = logging.getLogger(__name__)

# Part of every key; tests swap it per test so counts never leak between them.
NAMESPACE = "scim-auth-fail"


@dataclass(frozen=True)
class _Limit:
    scope: str
    max_failures: int
    window: int


def _limits() -> tuple[_Limit, _Limit]:
    window = settings.SCIM_AUTH_FAILURE_WINDOW_SECONDS
    return (
        _Limit("ip", settings.SCIM_AUTH_FAILURES_PER_IP, window),
        _Limit("prefix", settings.SCIM_AUTH_FAILURES_PER_PREFIX, window),
    )


def source_key(ip: str | None) -> str:
    """The unit an address is counted in: the address, or its /64 for IPv6.

    One IPv6 host usually owns a whole /64, so counting single addresses would
    give it 2**64 fresh budgets.
    """
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _subjects(ip: str | None, prefix: str | None) -> list[tuple[_Limit, str]]:
    ip_limit, prefix_limit = _limits()
    subjects = [(ip_limit, source_key(ip))]
    if prefix:
        subjects.append((prefix_limit, prefix))
    return subjects


def _window(limit: _Limit, now: float) -> tuple[int, float]:
    start = int(now // limit.window) * limit.window
    return start, start + limit.window - now


def _key(limit: _Limit, subject: str, start: int) -> str:
    return f"{NAMESPACE}:{limit.scope}:{subject}:{start}"


def blocked_for(*, ip: str | None, prefix: str | None) -> int | None:
    """Seconds until this source may fail again, or None if it is not blocked."""
    now = time.time()
    keys = {}
    for limit, subject in _subjects(ip, prefix):
        start, remaining = _window(limit, now)
        keys[_key(limit, subject, start)] = (limit, remaining)
    try:
        counts = cache.get_many(list(keys))
    except Exception:  # fail open: an outage of the cache must not stop provisioning
        logger.warning("SCIM auth rate limit not checked: the cache is unavailable")
        return None
    waits = [
        max(1, math.ceil(remaining))
        for key, (limit, remaining) in keys.items()
        if int(counts.get(key) or 0) >= limit.max_failures
    ]
    return max(waits) if waits else None


def failure_record(*, ip: str | None, prefix: str | None) -> None:
    """Count one failed authentication against the source address and the token prefix."""
    now = time.time()
    try:
        for limit, subject in _subjects(ip, prefix):
            start, remaining = _window(limit, now)
            key = _key(limit, subject, start)
            # add() then incr(): both atomic in Redis, so concurrent workers never lose a count.
            cache.add(key, 0, timeout=math.ceil(remaining) + 5)
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr: start again
                cache.add(key, 1, timeout=math.ceil(remaining) + 5)
    except Exception:  # fail open, as in blocked_for
        logger.warning("SCIM auth failure not counted: the cache is unavailable")


def too_many_failures(retry_after: int) -> ScimError:
    return ScimError(
        429,
        "Too many requests with invalid bearer tokens from this source or for this token. "
        f"Invalid tokens are refused for the next {retry_after} seconds; valid tokens keep working.",
        headers={"Retry-After": str(retry_after)},
    )
