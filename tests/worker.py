"""A real Celery worker process on Redis, consuming this run's queue, on the test database and SMTP server."""

from __future__ import annotations

import os

from bench import processes
from tests.conftest import TEST_QUEUE
from tests.mail import SmtpServer
from tests.processes import database_url_for_subprocess


class CeleryWorker(processes.CeleryWorker):
    """The benchmark's worker (bench/processes.py) on this test run's queue."""

    def __init__(self, env: dict[str, str], pool: str = "solo") -> None:
        super().__init__(env, TEST_QUEUE, pool=pool, name="test")


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
