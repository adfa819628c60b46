"""Processes of a benchmark run: databases, gunicorn servers, a Celery worker, memory sampling."""

from __future__ import annotations

import http.client
import os
import runpy
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def _admin_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", parts.query, ""))


def recreate_database(url: str) -> None:
    """DROP and CREATE the database of ``url`` (its name must contain "bench")."""
    import psycopg
    from psycopg import sql

    name = database_name(url)
    if "bench" not in name:
        raise SystemExit(f"refusing to drop database {name!r}: a benchmark database's name must contain 'bench'")
    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    """Drop the run's database; a failure here (the server went away) only warns."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(_admin_url(url), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database_name(url))))
    except psycopg.OperationalError as exc:
        print(f"warning: database {database_name(url)} not dropped: {exc}", file=sys.stderr)


def autovacuum_enabled(url: str) -> bool:
    import psycopg

    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        return str(conn.execute("SHOW autovacuum").fetchone()[0]).lower() == "on"


def analyze(url: str) -> None:
    """ANALYZE the whole database of ``url`` (autovacuum's statistics pass, run on demand)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")


def request_log_rows(url: str, slug: str, expected: int, settle: float = 3.0) -> int:
    """Rows of the app's SCIM request log for the tenant ``slug``.

    The app writes its log rows behind the responses, in batches
    (provisioning/request_log_writer.py): wait until ``expected`` rows are
    there, or until the count has not moved for ``settle`` seconds.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        last, since = -1, time.monotonic()
        while True:
            rows = int(conn.execute(
                "SELECT count(*) FROM provisioning_scimrequest r JOIN directory_tenant t ON t.id = r.tenant_id "
                "WHERE t.slug = %s", [slug]).fetchone()[0])
            if rows >= expected or time.monotonic() - since > settle:
                return rows
            if rows != last:
                last, since = rows, time.monotonic()
            time.sleep(0.1)


def postgres_version(url: str) -> str:
    import psycopg

    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PY, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"{' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout


def app_environment(database_url: str, site_url: str, redis_url: str, broker_url: str, queue: str) -> dict[str, str]:
    """Production-like: DEBUG off, PostgreSQL, cache on Redis, Celery on Redis (a queue of this run's own)."""
    env = dict(os.environ)
    for name in ("EMAIL_HOST", "DJANGO_DEBUG", "SPACEIQ_DEMO", "DATABASE_CONN_MAX_AGE"):
        env.pop(name, None)
    env.update({
        "DATABASE_URL": database_url,
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "SITE_URL": site_url,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "TENANT_ADMIN_PASSWORD": secrets.token_urlsafe(24),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
    })
    return env


def issue_token(env: dict[str, str], slug: str, name: str) -> str:
    run(env, "manage.py", "create_tenant", slug, "--name", name, "--admin-email", f"admin@{slug}.example", "--noinput")
    lines = run(env, "manage.py", "issue_scim_token", slug).strip().splitlines()
    token = lines[-1].strip() if lines else ""
    if not token.startswith("siq_scim_"):
        raise SystemExit(f"issue_scim_token printed no token: {lines[-3:]!r}")
    return token


def terminate(process: subprocess.Popen | None) -> None:
    """Stop a child process politely, then for good after 20 seconds."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


GUNICORN_CONF = ROOT / "gunicorn.conf.py"


def gunicorn_production_settings() -> dict[str, Any]:
    """The workers, worker class and threads production runs with (gunicorn.conf.py, read as gunicorn reads it)."""
    conf = runpy.run_path(str(GUNICORN_CONF))
    return {"workers": conf["workers"], "worker_class": conf["worker_class"], "threads": conf["threads"]}


class Server:
    """A gunicorn server of one WSGI module on a free local port, under production's gunicorn.conf.py.

    Both servers of a run get the same file and the same worker options, so
    they differ only in their code."""

    def __init__(self, name: str, wsgi_module: str, env: dict[str, str], *, workers: int, worker_class: str,
                 threads: int, query_count: bool, port: int | None = None) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = {**env, "BENCH_WSGI_MODULE": wsgi_module, "BENCH_QUERY_COUNT": "1" if query_count else "0"}
        self.args = ["-c", str(GUNICORN_CONF), "-w", str(workers), "-k", worker_class, "--threads", str(threads),
                     "-b", f"127.0.0.1:{self.port}", "--backlog", "2048"]  # timeout: gunicorn.conf.py
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"spaceiq-bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.memory = MemorySampler()

    def start(self, probe_path: str, token: str, timeout: float = 60) -> None:
        self.process = subprocess.Popen([PY, "-m", "gunicorn", "bench.wsgi", *self.args], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name}: gunicorn exited ({self.process.returncode}); log {self.log.name}:\n"
                                 + self.tail())
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", probe_path, headers={"Authorization": f"Bearer {token}"})
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    self.memory.start(self.process.pid)
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.name}: gunicorn did not answer within {timeout:.0f}s; log:\n" + self.tail())

    def tail(self, chars: int = 4000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        self.memory.stop()
        terminate(self.process)
        self.log.close()


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time one server costs the machine: its gunicorn workers and the PostgreSQL backends of its database.

    The client's CPU, gunicorn's master and the kernel's loopback work are left
    out: they are the same for both servers, and the throughput ratio already
    includes them. Processes that start during a measurement count from zero;
    PostgreSQL backends are found through ``pg_stat_activity`` (this meter's own
    connection excluded).
    """

    def __init__(self, master: int, database_url: str) -> None:
        import psycopg

        self.master = master
        self.database = database_name(database_url)
        self.conn = psycopg.connect(_admin_url(database_url), autocommit=True)
        self.workers = 0.0
        self.postgres = 0.0

    def _snapshot(self) -> tuple[dict[int, float], dict[int, float]]:
        backends = [row[0] for row in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database])]
        workers = {pid: cpu for pid in children(self.master) if (cpu := _cpu_seconds(pid)) is not None}
        postgres = {pid: cpu for pid in backends if (cpu := _cpu_seconds(pid)) is not None}
        return workers, postgres

    def start(self) -> None:
        self._before = self._snapshot()

    def stop(self) -> None:
        workers, postgres = self._snapshot()
        self.workers += sum(cpu - self._before[0].get(pid, 0.0) for pid, cpu in workers.items())
        self.postgres += sum(cpu - self._before[1].get(pid, 0.0) for pid, cpu in postgres.items())

    def close(self) -> None:
        self.conn.close()


class MemorySampler:
    """Peak resident memory of every gunicorn worker (VmHWM, sampled until the server stops)."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.master: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, master: int) -> None:
        self.master = master
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        if self.master is None:
            return
        for pid in children(self.master):
            kb = max(_status_kb(pid, "VmHWM"), _status_kb(pid, "VmRSS"))
            if kb:
                self.peaks[pid] = max(self.peaks.get(pid, 0), kb)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def summary(self) -> dict[str, float]:
        mb = sorted((kb / 1024 for kb in self.peaks.values()), reverse=True)
        return {"workers_seen": len(mb), "peak_rss_mb_max": round(mb[0], 1) if mb else 0.0,
                "peak_rss_mb_each": [round(v, 1) for v in mb]}


class CeleryWorker:
    """A real Celery worker on Redis, consuming only this run's own queue."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        self.env, self.queue = env, queue
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []

    def start(self, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [PY, "-m", "celery", "-A", "spaceiq_site", "worker", "-Q", self.queue, "--pool=solo",
             "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"bench-{uuid.uuid4().hex[:6]}@%h"],
            cwd=ROOT, env={**self.env, "LOG_LEVEL": "INFO"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )
        ready = threading.Event()

        def pump() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                del self.lines[:-200]
                if " ready." in line:
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise SystemExit("Celery worker did not start:\n" + "".join(self.lines[-40:]))

    def stop(self) -> None:
        terminate(self.process)
        try:
            import redis

            redis.Redis.from_url(self.env["CELERY_BROKER_URL"]).delete(self.queue)
        except Exception:  # cleanup only
            pass


def machine() -> dict[str, str]:
    import platform

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = _status_kb_meminfo()
    return {"nproc": str(os.cpu_count()), "memory_gb": f"{mem_kb / 1024 / 1024:.1f}", "cpu": cpu,
            "python": platform.python_version(), "load_avg_at_start": " ".join(f"{v:.2f}" for v in os.getloadavg())}


def _status_kb_meminfo() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0
