"""The benchmark's own PostgreSQL: a throwaway cluster with PostgreSQL's default settings.

Production runs PostgreSQL with autovacuum on, its default, and what
autovacuum does during a run (its CPU, and the planner statistics it gathers,
which decide the plans of every statement) is part of what the benchmark
measures. The PostgreSQL server of a developer's or CI machine is shared and
may be configured otherwise (this project's runs with ``autovacuum = off``),
so each run initialises a cluster of its own in a temporary directory with
the server binaries installed on the machine (Debian's
``/usr/lib/postgresql/<major>/bin``, or ``BENCH_PG_BINDIR``), listening on a
free local port with trust authentication and its socket in that directory,
and removes it at the end: the machine's own server is neither used nor
changed.

Every setting is PostgreSQL's default but two that only log:
``log_autovacuum_min_duration = 0`` writes a line for each automatic vacuum
and analyze, with its CPU, which the run reports (``autovacuum_actions``),
stamped in UTC (``log_timezone``) to place each in the phase it ended in.
``settings`` adds others (``--autovacuum-off`` passes ``autovacuum=off``).

Run as root (initdb and postgres refuse to), the cluster's files and
processes belong to the ``postgres`` account.
"""

from __future__ import annotations

import datetime as dt
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.processes import children, cpu_seconds, free_port

SUPERUSER = "postgres"
LOG_ONLY_SETTINGS = {"log_autovacuum_min_duration": "0", "log_timezone": "UTC"}


def server_binaries() -> Path:
    """The directory of initdb, pg_ctl and postgres: ``BENCH_PG_BINDIR``, else the newest Debian install, else PATH."""
    explicit = os.environ.get("BENCH_PG_BINDIR")
    if explicit:
        candidates = [Path(explicit)]
    else:
        def major(path: Path) -> float:
            try:
                return float(path.parent.name)
            except ValueError:
                return 0.0

        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
        on_path = shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for directory in candidates:
        if all((directory / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    raise SystemExit("bench: no PostgreSQL server binaries (initdb, pg_ctl, postgres) found under "
                     "/usr/lib/postgresql/*/bin or on PATH; install PostgreSQL's server package or set BENCH_PG_BINDIR")


@dataclass
class AutovacuumAction:
    """One automatic vacuum or analyze, as PostgreSQL logged it."""

    kind: str  # "vacuum" or "analyze"
    database: str
    table: str
    cpu_s: float
    elapsed_s: float
    ended_at: float  # seconds since the epoch


_ACTION = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+) UTC .*'
                     r'automatic (vacuum|analyze) of table "([^".]+)\.([^".]+)\.([^"]+)"')
_USAGE = re.compile(r"system usage: CPU: user: ([\d.]+) s, system: ([\d.]+) s, elapsed: ([\d.]+) s")


def parse_autovacuum_log(text: str) -> list[AutovacuumAction]:
    """Each ``automatic vacuum|analyze of table`` entry with the CPU of its ``system usage`` line."""
    actions: list[AutovacuumAction] = []
    pending: tuple[float, str, str, str] | None = None
    for line in text.splitlines():
        if match := _ACTION.search(line):
            at = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()
            pending = (at, match.group(2), match.group(3), match.group(5))
        elif pending and (usage := _USAGE.search(line)):
            at, kind, database, table = pending
            actions.append(AutovacuumAction(kind, database, table, float(usage.group(1)) + float(usage.group(2)),
                                            float(usage.group(3)), at))
            pending = None
    return actions


class Cluster:
    """A PostgreSQL cluster of the run's own, from ``start()`` until ``stop()`` removes it."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.settings = {**LOG_ONLY_SETTINGS, **(settings or {})}
        self.bindir = server_binaries()
        self.port = 0
        self.directory: Path | None = None
        self.postmaster = 0
        self._account: pwd.struct_passwd | None = pwd.getpwnam(SUPERUSER) if os.geteuid() == 0 else None

    # --- life cycle -------------------------------------------------------------------

    def _run(self, *args: str) -> None:
        kwargs = {"user": self._account.pw_uid, "group": self._account.pw_gid, "extra_groups": []} \
            if self._account else {}
        result = subprocess.run([str(self.bindir / args[0]), *args[1:]], capture_output=True, text=True,
                                check=False, env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"},
                                **kwargs)
        if result.returncode != 0:
            raise SystemExit(f"bench: {args[0]} failed ({result.returncode}):\n{result.stdout[-2000:]}"
                             f"{result.stderr[-2000:]}" + (self.log_tail() if args[0] == "pg_ctl" else ""))

    def start(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="spaceiq-bench-pg-"))
        if self._account:
            os.chown(self.directory, self._account.pw_uid, self._account.pw_gid)
        data = self.directory / "data"
        self._run("initdb", "-D", str(data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        self.port = free_port()
        options = [f"-c port={self.port}", "-c listen_addresses=127.0.0.1",
                   f"-c unix_socket_directories={self.directory}"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        self._run("pg_ctl", "-D", str(data), "-l", str(self.log_path), "-w", "-t", "60", "-o", " ".join(options),
                  "start")
        self.postmaster = int((data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away) and remove its directory."""
        if self.directory is None:
            return
        if self.postmaster:
            try:
                self._run("pg_ctl", "-D", str(self.directory / "data"), "-m", "immediate", "-w", "stop")
            except SystemExit as exc:  # already gone: nothing to stop
                print(f"warning: {exc}")
            self.postmaster = 0
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def removal_command(self) -> str:
        """The shell command that stops and removes the cluster (for a run that keeps it)."""
        stop = f"{self.bindir / 'pg_ctl'} -D {self.directory}/data -m immediate stop"
        if self._account:
            stop = f"runuser -u {SUPERUSER} -- {stop}"
        return f"{stop} && rm -rf {self.directory}"

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the run reads ----------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "server.log"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return "\nserver log:\n" + self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def log_offset(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def autovacuum_actions(self, since: int, until: int | None = None) -> list[AutovacuumAction]:
        """Automatic vacuums and analyzes logged between two ``log_offset()`` readings (``until``: now).

        PostgreSQL writes an action's lines when it ends: give it a moment."""
        time.sleep(0.2)
        with self.log_path.open("rb") as fh:
            fh.seek(since)
            text = fh.read(None if until is None else max(until - since, 0)).decode(errors="replace")
        return parse_autovacuum_log(text)

    def cpu_seconds(self) -> float:
        """CPU time of every process of the cluster so far: the postmaster, its live children and those it reaped.

        The postmaster reaps every process it starts (backends, autovacuum
        workers, the checkpointer ...), and the kernel adds a reaped child's CPU
        to the parent's ``cutime``/``cstime``: so the difference of two
        readings is exact, short-lived autovacuum workers included.
        """
        own = cpu_seconds(self.postmaster, with_reaped_children=True) or 0.0
        return own + sum(cpu_seconds(pid) or 0.0 for pid in children(self.postmaster))
