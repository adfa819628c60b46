"""A benchmark run's databases, gunicorn servers, Celery worker, CPU and memory meters (bench/processes.py starts
and stops processes for it and for the tests)."""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import processes
from bench.processes import (
    GUNICORN_CONF,
    ROOT,
    children,
    cpu_seconds,
    environment_of,
    free_port,
    gunicorn_command,
    status_kb,
    terminate,
    wait_for_children,
    wait_until_answering,
)

PY = sys.executable


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


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


def setting(url: str, name: str) -> str:
    """A setting of the PostgreSQL server of ``url`` (``SHOW``)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_admin_url(url), autocommit=True) as conn:
        return str(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0])


def analyze(url: str) -> None:
    """ANALYZE the whole database of ``url`` (autovacuum's statistics pass, run on demand).

    Returns once the backend that ran it is gone and reaped, so its CPU is not
    counted in a measurement that starts next (``Cluster.cpu_seconds`` counts
    a process when the postmaster reaps it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


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
        self.workers = workers
        self.env = {**env, "BENCH_WSGI_MODULE": wsgi_module, "BENCH_QUERY_COUNT": "1" if query_count else "0"}
        self.args = ["-w", str(workers), "-k", worker_class, "--threads", str(threads),
                     "--backlog", "2048"]  # timeout: gunicorn.conf.py
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix=f"spaceiq-bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.memory = MemorySampler()

    def start(self, probe_path: str, token: str, timeout: float = 60) -> None:
        self.process = subprocess.Popen(gunicorn_command("bench.wsgi", self.port, *self.args), cwd=ROOT,
                                        env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until_answering(self.process, self.port, probe_path, headers={"Authorization": f"Bearer {token}"},
                                 timeout=timeout, name=f"{self.name}: gunicorn", output=self.tail)
        except RuntimeError as exc:
            raise SystemExit(f"{exc}\n(log {self.log.name})") from None
        self.memory.start(self.process.pid)

    def running_workers(self) -> dict[str, Any]:
        """The workers gunicorn runs (all of them started) and whether each has REDIS_URL: what the run reports."""
        assert self.process is not None
        pids = wait_for_children(self.process.pid, self.workers)
        return {"workers": len(pids),
                "redis_url_set": bool(pids) and all(environment_of(pid).get("REDIS_URL") for pid in pids)}

    def tail(self, chars: int = 4000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        self.memory.stop()
        terminate(self.process)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


class CpuMeter:
    """CPU time one server costs the machine: its gunicorn workers and PostgreSQL.

    PostgreSQL is counted twice over: the backends of the server's database
    (found through ``pg_stat_activity``, this meter's own connection
    excluded), and, with ``postgres_cpu`` (bench/postgres.py's
    ``Cluster.cpu_seconds``), every process of the run's own cluster:
    backends, autovacuum workers, the WAL writer, the checkpointer. The
    servers run one after the other, so the whole cluster's CPU during a
    server's phases is that server's: the work autovacuum does for it
    included. gunicorn's master and the kernel's loopback work are left
    out: they are the same for both servers, and the throughput ratio
    already includes them. The load generator's CPU (this process, every
    thread) is counted apart, as ``client_s``: it shares the machine's cores
    with the server, so it is part of what a requests-per-second figure
    measures. Processes that start during a measurement count from zero.
    """

    def __init__(self, master: int, database_url: str, postgres_cpu: Callable[[], float] | None = None) -> None:
        import psycopg

        self.master = master
        self.database = database_name(database_url)
        self.conn = psycopg.connect(_admin_url(database_url), autocommit=True)
        self.postgres_cpu = postgres_cpu
        self.workers = 0.0
        self.backends = 0.0
        self.cluster = 0.0
        self.client = 0.0
        self.windows: list[tuple[float, float]] = []  # each measurement's start and end, seconds since the epoch

    def _snapshot(self) -> tuple[dict[int, float], dict[int, float], float]:
        backends = [row[0] for row in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database])]
        workers = {pid: cpu for pid in children(self.master) if (cpu := cpu_seconds(pid)) is not None}
        postgres = {pid: cpu for pid in backends if (cpu := cpu_seconds(pid)) is not None}
        return workers, postgres, self.postgres_cpu() if self.postgres_cpu else 0.0

    def start(self) -> None:
        self._before = self._snapshot()
        self._started = time.time()
        self._client_before = time.process_time()

    def stop(self) -> None:
        self.client += time.process_time() - self._client_before
        self.windows.append((self._started, time.time()))
        workers, backends, cluster = self._snapshot()
        self.workers += sum(cpu - self._before[0].get(pid, 0.0) for pid, cpu in workers.items())
        self.backends += sum(cpu - self._before[1].get(pid, 0.0) for pid, cpu in backends.items())
        self.cluster += cluster - self._before[2]

    @property
    def postgres(self) -> float:
        """PostgreSQL's CPU: the whole cluster's when known, else the database's backends'."""
        return self.cluster if self.postgres_cpu else self.backends

    def seconds(self) -> dict[str, float]:
        return {"workers_s": round(self.workers, 3), "postgres_s": round(self.postgres, 3),
                "postgres_backends_s": round(self.backends, 3), "client_s": round(self.client, 3)}

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds per request: gunicorn workers, PostgreSQL (the whole cluster when known), its
        database's backends, their total, and the load generator."""
        per = 1000 / requests if requests else 0.0
        workers, postgres = self.workers * per, self.postgres * per
        return {"workers_ms": round(workers, 3), "postgres_ms": round(postgres, 3),
                "postgres_backends_ms": round(self.backends * per, 3), "client_ms": round(self.client * per, 3),
                "total_ms": round(workers + postgres, 3)}

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
            kb = max(status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS"))
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

    def summary(self) -> dict[str, Any]:
        mb = sorted((kb / 1024 for kb in self.peaks.values()), reverse=True)
        return {"workers_seen": len(mb), "peak_rss_mb_max": round(mb[0], 1) if mb else 0.0,
                "peak_rss_mb_each": [round(v, 1) for v in mb]}


class CeleryWorker(processes.CeleryWorker):
    """A real Celery worker on Redis, consuming only this run's own queue (emptied when it stops)."""

    def __init__(self, env: dict[str, str], queue: str) -> None:
        super().__init__({**env, "LOG_LEVEL": "INFO"}, queue, name="bench")

    def start(self, timeout: float = 60) -> None:
        try:
            super().start(timeout)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None

    def stop(self, kill: bool = False) -> None:
        super().stop(kill)
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
