"""What a test runs beside itself: child processes, threads, and the free ports they listen on."""

from __future__ import annotations

import threading

# Child processes are started and stopped as the benchmark does it.
from bench.processes import free_port
from bench.processes import terminate as stop_process

__all__ = ["concurrently", "database_url_for_subprocess", "free_port", "stop_process"]


def database_url_for_subprocess() -> str:
    """The URL of the database this test is using (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def concurrently(target, *, threads: int, args: tuple = ()) -> None:
    """Run ``target(*args)`` in ``threads`` threads at once and wait for all of them."""
    started = [threading.Thread(target=target, args=args) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
