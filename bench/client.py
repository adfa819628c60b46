"""The load generator's HTTP client and its statistics.

One keep-alive ``http.client`` connection per client thread (threads =
concurrency): no third-party client, nothing between the socket and the
timer. A server that closes after each response (gunicorn's sync workers)
makes the connection reconnect transparently on the next request.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

SCIM_JSON = "application/scim+json; charset=utf-8"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


@dataclass
class Sample:
    kind: str
    status: int
    ms: float
    queries: int | None
    server_ms: float | None
    error: str = ""
    server_cpu_ms: float | None = None  # the application thread's CPU time (bench/wsgi.py)


@dataclass
class Recorder:
    """Thread-safe collection of samples for one phase."""

    name: str
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = 0.0
    ended: float = 0.0

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def summary(self) -> dict[str, Any]:
        elapsed = max(self.ended - self.started, 1e-9)
        kinds: dict[str, list[Sample]] = defaultdict(list)
        for s in self.samples:
            kinds[s.kind].append(s)
        errors = [s for s in self.samples if s.error]
        return {
            "phase": self.name,
            "requests": len(self.samples),
            "seconds": round(elapsed, 3),
            "rps": round(len(self.samples) / elapsed, 1),
            "errors": len(errors),
            "error_examples": [f"{s.kind}: {s.error}" for s in errors[:5]],
            "latency_ms": latency(self.samples),
            "kinds": {kind: kind_summary(items) for kind, items in sorted(kinds.items())},
        }


def latency(samples: list[Sample]) -> dict[str, float]:
    ms = [s.ms for s in samples]
    return {"p50": round(percentile(ms, 0.5), 2), "p95": round(percentile(ms, 0.95), 2),
            "p99": round(percentile(ms, 0.99), 2), "max": round(max(ms), 2) if ms else 0.0}


def kind_summary(items: list[Sample]) -> dict[str, Any]:
    queries = [s.queries for s in items if s.queries is not None]
    server = [s.server_ms for s in items if s.server_ms is not None]
    return {
        "requests": len(items),
        "errors": sum(1 for s in items if s.error),
        **latency(items),
        "queries_mean": round(sum(queries) / len(queries), 2) if queries else None,
        "queries_max": max(queries) if queries else None,
        "server_ms_p50": round(percentile(server, 0.5), 2) if server else None,
    }


class Client:
    """A SCIM client over one persistent connection (use one per thread); ``accept="application/json"``
    for the admin REST API."""

    def __init__(self, host: str, port: int, prefix: str, token: str, timeout: float = 60, *,
                 count: bool = False, accept: str = "application/scim+json") -> None:
        self.host, self.port, self.prefix = host, port, prefix.rstrip("/")
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if count:  # ask bench/wsgi.py for X-Query-Count and X-Server-Time-Ms
            self.headers["X-Bench-Count"] = "1"
        self.conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str], float]:
        url = self.prefix + path
        if params:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = SCIM_JSON
        for attempt in (1, 2):
            conn = self._connection()
            started = time.perf_counter()
            try:
                conn.request(method, url, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                ms = (time.perf_counter() - started) * 1000
                if response.will_close:
                    self.close()
                return response.status, payload, {k.lower(): v for k, v in response.getheaders()}, ms
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
                # A kept-alive connection the server closed while idle: retry once on a new one.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def timed(recorder: Recorder, client: Client, kind: str, method: str, path: str, *, body: Any = None,
          params: dict[str, str] | None = None, expect: tuple[int, ...] = (200,)) -> tuple[int, Any]:
    """Send one request, record it, and return (status, parsed JSON or None)."""
    try:
        status, payload, headers, ms = client.request(method, path, body, params)
    except Exception as exc:  # every failure is counted as an error, never raised
        recorder.add(Sample(kind, 0, 0.0, None, None, error=f"{type(exc).__name__}: {exc}"))
        return 0, None
    queries = headers.get("x-query-count")
    server = headers.get("x-server-time-ms")
    cpu = headers.get("x-server-cpu-ms")
    doc = None
    error = ""
    if payload:
        try:
            doc = json.loads(payload)
        except ValueError:
            doc = None
    if status not in expect:
        detail = (doc or {}).get("detail") if isinstance(doc, dict) else payload[:200]
        error = f"{method} {path} -> {status} {detail!r}"
    recorder.add(Sample(kind, status, ms, int(queries) if queries else None,
                        float(server) if server else None, error=error, server_cpu_ms=float(cpu) if cpu else None))
    return status, doc
