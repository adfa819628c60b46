"""A gunicorn server of the app for tests that need several real worker processes.

Started, awaited and stopped with the benchmark's process helpers
(bench/processes.py), under production's gunicorn.conf.py.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
import time

from bench.processes import gunicorn_command, terminate, wait_until_answering
from tests.conftest import ROOT
from tests.processes import database_url_for_subprocess


def app_env(settings, port: int, **overrides: str) -> dict[str, str]:
    """The environment of an app server on ``port`` sharing this test's database, Redis and keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "CELERY_"))}
    env.update({
        "DATABASE_URL": database_url_for_subprocess(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SCIM_TOKEN_HASH_KEY": settings.SCIM_TOKEN_HASH_KEY,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_DEBUG": "false",
        **overrides,
    })
    return env


class Gunicorn:
    def __init__(self, env: dict[str, str], port: int, *, workers: int, options: tuple[str, ...] = ()) -> None:
        """Production's gunicorn.conf.py, with ``workers`` and any further ``options``."""
        self.port = port
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            gunicorn_command("spaceiq_site.wsgi", port, "-w", str(workers), "--access-logfile", "-",
                             "--access-logformat", "access %(p)s %(s)s %(h)s", "--timeout", "60", *options),
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_until_answering(self.process, self.port, "/accounts/sign-in/", timeout=timeout,
                             output=lambda: "".join(self.lines[-40:]))

    def stop(self) -> None:
        terminate(self.process)

    def pids_answering(self, status: int, host: str) -> set[str]:
        pids = set()
        for line in list(self.lines):
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "access" and parts[2] == str(status) and parts[3] == host:
                pids.add(parts[1])
        return pids


def request(port: int, path: str, token: str | None, source: str = "127.0.0.1") -> tuple[int, dict, bytes, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        return response.status, dict(response.getheaders()), body, time.monotonic() - started
    finally:
        connection.close()
