"""Starting, watching and stopping the processes of a benchmark or a test: one copy for both.

bench/harness.py starts the benchmarked servers and their Celery worker with
these, and the tests that need a real gunicorn (tests/live_gunicorn.py) start
theirs with the same helpers: a free local port, gunicorn under production's
gunicorn.conf.py, waiting until it answers, a Celery worker waited for until
it is ready, stopping a process, and reading a process's CPU, memory and
children from ``/proc``. Standard library only.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN_CONF = ROOT / "gunicorn.conf.py"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def terminate(process: subprocess.Popen | None, timeout: float = 20.0, kill: bool = False) -> None:
    """Stop a child process (politely, or with SIGKILL when ``kill``) and reap it; SIGKILL if it lingers."""
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


def gunicorn_command(wsgi_module: str, port: int, *options: str) -> list[str]:
    """gunicorn serving ``wsgi_module`` on 127.0.0.1:``port`` with gunicorn.conf.py; ``options`` override it."""
    return [sys.executable, "-m", "gunicorn", wsgi_module, "-c", str(GUNICORN_CONF), "-b", f"127.0.0.1:{port}",
            *options]


def http_status(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> int:
    """The status of one GET to 127.0.0.1:``port`` (raises OSError when nothing answers)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_until_answering(process: subprocess.Popen, port: int, path: str, *, headers: dict[str, str] | None = None,
                         status: int = 200, timeout: float = 60.0, name: str = "gunicorn",
                         output: Callable[[], str] = str) -> None:
    """Poll ``path`` until it answers ``status``; raise RuntimeError (with ``output()``) if the process exits
    or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{output()}")
        try:
            if http_status(port, path, headers) == status:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {path} with {status} within {timeout:.0f} s:\n{output()}")


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def wait_for_children(pid: int, count: int, timeout: float = 30.0) -> list[int]:
    """The children of ``pid`` once there are ``count`` of them (gunicorn starts its workers one by one)."""
    deadline = time.monotonic() + timeout
    while len(found := children(pid)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float | None:
    """User + system CPU time of a process so far (None once it is gone); with ``with_reaped_children``,
    plus that of the children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = int(fields[11]) + int(fields[12])
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM ...), 0 when unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def environment_of(pid: int) -> dict[str, str]:
    """The environment a running process was started with (empty when unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


class CeleryWorker:
    """A real Celery worker of the app on Redis (``env`` has the broker), consuming ``queue`` only."""

    def __init__(self, env: dict[str, str], queue: str, *, pool: str = "solo", name: str = "worker") -> None:
        self.env, self.queue, self.pool, self.name = env, queue, pool, name
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float = 60.0) -> None:
        self.output = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "spaceiq_site", "worker", "-Q", self.queue, f"--pool={self.pool}",
             "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat",
             "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if " ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("Celery worker did not start:\n" + "".join(self.output[-40:]))

    def stop(self, kill: bool = False) -> None:
        terminate(self.process, kill=kill)

    @property
    def log(self) -> str:
        return "".join(self.output)
