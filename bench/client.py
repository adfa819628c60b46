"""The load generator's HTTP client and its statistics.

One keep-alive connection per client thread (threads = concurrency): no
third-party client, nothing between the socket and the timer. A server that
closes after each response (gunicorn's sync workers) makes the connection
reconnect on the next request.

The generator shares the machine's two cores with the server it measures,
so every microsecond it spends is one the server does not get, whichever
server it is. ``http.client`` cost it 0.35 ms of CPU per request (it parses
each response's headers with the email package); ``Connection`` writes the
request in one ``sendall`` and parses only what HTTP/1.1 needs (status,
headers, a Content-Length or chunked body): 0.13 ms against a server that
does nothing (docs/benchmark.md).
"""

from __future__ import annotations

import json
import socket
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


class Connection:
    """One HTTP/1.1 connection to a local server, opened on first use and again after the server closed it."""

    def __init__(self, host: str, port: int, timeout: float = 60) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.host_header = f"Host: {host}:{port}\r\n".encode()
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, method: str, target: str, headers: bytes,
                 body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """Send one request (``headers``: complete ``Name: value\\r\\n`` lines) and read its response.

        A kept-alive connection the server closed while idle is retried once on a new one."""
        head = f"{method} {target} HTTP/1.1\r\n".encode() + self.host_header + headers
        if body is not None:
            head += b"Content-Length: %d\r\n" % len(body)
        message = head + b"\r\n" + (body or b"")
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self.sock = socket.create_connection(self.address, timeout=self.timeout)
                self.buffer = b""
            try:
                self.sock.sendall(message)
                return self._response(method)
            except (ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt == 2:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def _read(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        return chunk

    def _until(self, marker: bytes) -> bytes:
        """The buffered bytes up to ``marker``, which is consumed."""
        while (end := self.buffer.find(marker)) < 0:
            self.buffer += self._read()
        found, self.buffer = self.buffer[:end], self.buffer[end + len(marker):]
        return found

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += self._read()
        found, self.buffer = self.buffer[:n], self.buffer[n:]
        return found

    def _response(self, method: str) -> tuple[int, dict[str, str], bytes]:
        status_line, *lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        version, status = status_line[:8], int(status_line[9:12])
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        closing = headers.get("connection", "").lower() == "close" or (
            version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive")
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            payload = b""
        elif "content-length" in headers:
            payload = self._exactly(int(headers["content-length"]))
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self._until(b"\r\n").split(b";")[0], 16):
                parts.append(self._exactly(size))
                self._until(b"\r\n")
            while self._until(b"\r\n"):  # trailers, up to the empty line
                pass
            payload = b"".join(parts)
        else:  # delimited by the end of the connection
            try:
                while True:
                    self.buffer += self._read()
            except ConnectionResetError:
                pass
            payload, self.buffer, closing = self.buffer, b"", True
        if closing:
            self.close()
        return status, headers, payload


class Client:
    """A SCIM client over one persistent connection (use one per thread); ``accept="application/json"``
    for the admin REST API."""

    def __init__(self, host: str, port: int, prefix: str, token: str, timeout: float = 60, *,
                 count: bool = False, accept: str = "application/scim+json") -> None:
        self.host, self.port, self.prefix = host, port, prefix.rstrip("/")
        headers = {"Authorization": f"Bearer {token}", "Accept": accept}
        if count:  # ask bench/wsgi.py for X-Query-Count and X-Server-Time-Ms
            headers["X-Bench-Count"] = "1"
        self.headers = header_lines(headers)
        self.with_body = self.headers + header_lines({"Content-Type": SCIM_JSON})
        self.conn = Connection(host, port, timeout)

    def close(self) -> None:
        self.conn.close()

    def request(self, method: str, path: str, body: Any = None,
                params: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str], float]:
        url = self.prefix + path
        if params:
            url += "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        status, headers, payload = self.conn.exchange(method, url, self.headers if data is None else self.with_body,
                                                      data)
        return status, payload, headers, (time.perf_counter() - started) * 1000


def header_lines(headers: dict[str, str]) -> bytes:
    """Request headers as ``Connection.exchange`` sends them."""
    return "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("latin-1")


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
