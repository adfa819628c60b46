"""A real Celery worker process on Redis, consuming this run's queue, on the test database and SMTP server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid

from tests.conftest import ROOT, TEST_QUEUE
from tests.mail import SmtpServer
from tests.processes import database_url_for_subprocess, stop_process


class CeleryWorker:
    def __init__(self, env: dict[str, str], pool: str = "solo") -> None:
        self.env = env
        self.pool = pool
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 60.0) -> None:
        self.output = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "spaceiq_site", "worker", "-Q", TEST_QUEUE,
             f"--pool={self.pool}", "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process and self.process.stdout
            for line in self.process.stdout:
                self.output.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "".join(self.output[-40:]))

    def stop(self, kill: bool = False) -> None:
        stop_process(self.process, kill=kill)

    @property
    def log(self) -> str:
        return "".join(self.output)


def worker_env(smtp: SmtpServer, **extra: str) -> dict[str, str]:
    """The environment of a worker process on the test database, queue and SMTP server."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_subprocess(),
        "CELERY_TASK_DEFAULT_QUEUE": TEST_QUEUE,
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_USE_TLS": "false",
        "DATABASE_CONN_MAX_AGE": "0",
        **extra,
    }
