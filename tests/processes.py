"""What a test runs beside itself: child processes, threads, and the free ports they listen on."""

from __future__ import annotations

import socket
import subprocess
import threading


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_subprocess() -> str:
    """The URL of the database this test is using (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def stop_process(process: subprocess.Popen | None, timeout: float = 20.0, kill: bool = False) -> None:
    """Terminate (or kill) a child process and reap it; escalate to SIGKILL if it lingers."""
    if process is None or process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def concurrently(target, *, threads: int, args: tuple = ()) -> None:
    """Run ``target(*args)`` in ``threads`` threads at once and wait for all of them."""
    started = [threading.Thread(target=target, args=args) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
