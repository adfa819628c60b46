"""The load generator's HTTP/1.1 connection (bench/client.py) reads every way a response can end.

A canned server on a local socket answers each request with the next of a
list of raw responses; ``None`` closes the connection instead of answering.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from bench.client import Connection


@contextmanager
def canned_server(responses: list[bytes | None]) -> Iterator[tuple[int, list[bytes]]]:
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        pending = list(responses)
        while pending:
            conn, _ = listener.accept()
            with conn:
                while pending:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    if not request:
                        break
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), 0)
                    while len(body) < length:
                        body += conn.recv(65536)
                    received.append(head + b"\r\n\r\n" + body)
                    answer = pending.pop(0)
                    if answer is None:
                        break  # close without answering: the client retries on a new connection
                    conn.sendall(answer)
                    if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        listener.close()
        thread.join(5)


def test_content_length_bodies_over_one_kept_alive_connection() -> None:
    with canned_server([b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Query-Count: 2\r\n\r\nhello",
                        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"]) as (port, received):
        conn = Connection("127.0.0.1", port, timeout=5)
        assert conn.exchange("GET", "/scim/Users", b"Accept: application/scim+json\r\n") == (
            200, {"content-length": "5", "x-query-count": "2"}, b"hello")
        first = conn.sock
        status, _, payload = conn.exchange("POST", "/scim/Users", b"", b'{"a": 1}')
        assert (status, payload) == (201, b"{}")
        assert conn.sock is first  # kept alive
    assert received[0].startswith(b"GET /scim/Users HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"Accept: application/scim+json\r\n" in received[0]
    assert received[1].endswith(b'Content-Length: 8\r\n\r\n{"a": 1}')


def test_chunked_and_no_body_responses() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nWiki\r\n6;ext=1\r\npedia \r\n0\r\nX-Trailer: 1\r\n\r\n")
    with canned_server([chunked, b"HTTP/1.1 204 No Content\r\n\r\n"]) as (port, _):
        conn = Connection("127.0.0.1", port, timeout=5)
        assert conn.exchange("GET", "/a", b"")[2] == b"Wikipedia "
        assert conn.exchange("DELETE", "/b", b"")[:1] == (204,)


def test_connection_close_and_close_delimited_bodies_reconnect() -> None:
    with canned_server([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
                        b"HTTP/1.0 200 OK\r\n\r\nuntil the end"]) as (port, _):
        conn = Connection("127.0.0.1", port, timeout=5)
        assert conn.exchange("GET", "/a", b"")[2] == b"ok"
        assert conn.sock is None  # closed as the server said
        assert conn.exchange("GET", "/b", b"")[2] == b"until the end"
        assert conn.sock is None


def test_an_idle_connection_the_server_closed_is_retried_once() -> None:
    with canned_server([b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", None,
                        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"]) as (port, received):
        conn = Connection("127.0.0.1", port, timeout=5)
        assert conn.exchange("GET", "/a", b"")[2] == b"1"
        assert conn.exchange("GET", "/b", b"")[2] == b"2"
    assert [r.split(b" ")[1] for r in received] == [b"/a", b"/b", b"/b"]
