"""The benchmark runs end to end on tiny sizes and every request succeeds.

No timing is asserted here: the targets live in the benchmark (``make bench``).
Each run uses a database of its own (recreated and dropped by bench/run.py), a
Celery queue of its own, and writes its JSON to a temporary directory without
touching bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench_database_url() -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/spaceiq"
    parts = urlsplit(base)
    if parts.scheme not in ("postgres", "postgresql"):
        pytest.skip("the benchmark needs PostgreSQL (DATABASE_URL)")
    return urlunsplit((parts.scheme, parts.netloc, f"/spaceiq_bench_smoke_{uuid.uuid4().hex[:8]}", parts.query, ""))


def _run_bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "result.json"
    database_url = _bench_database_url()
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    try:
        result = subprocess.run(
            [sys.executable, "bench/run.py", "--database-url", database_url, "--json", str(out), "--no-record",
             "--workers", "2", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
        )
    finally:
        _drop(database_url)  # run.py drops its databases, unless it stopped half-way
        _drop(database_url + "_stock")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return json.loads(out.read_text())


def _drop(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    admin = urlunsplit((parts.scheme.replace("postgresql", "postgres"), parts.netloc, "/postgres", parts.query, ""))
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(parts.path.lstrip("/"))))
    except psycopg.OperationalError:
        pass


@pytest.mark.celery
def test_the_replay_and_the_sso_storm_run_against_our_server_and_the_stock_one_without_errors(tmp_path):
    result = _run_bench(tmp_path, "--users", "20", "--groups", "2", "--members", "10", "--concurrency", "2",
                        "--sso-signins", "20")
    assert result["errors"] == 0
    ours = result["ours"]
    assert [p["phase"] for p in ours["phases"]] == ["initial", "incremental", "deprovisioning"]
    kinds = ours["overall"]["kinds"]
    assert {"user.lookup", "user.create", "group.lookup", "group.create", "group.add_members", "user.get",
            "user.patch", "user.disable", "user.delete"} <= set(kinds)
    assert kinds["user.create"]["requests"] == 20 and kinds["user.delete"]["queries_mean"] is not None
    assert result["stock"]["overall"]["requests"] == result["common_ours"]["overall"]["requests"] > 0
    assert result["comparison"]["ratio"] > 0
    cpu = result["comparison"]["cpu_ms_per_request"]
    assert cpu["ours"]["workers_ms"] > 0 and cpu["ours"]["postgres_ms"] > 0 and cpu["stock"]["total_ms"] > 0
    assert result["memory"]["ours"]["peak_rss_mb_max"] > 0
    assert result["machine"]["postgres"]
    # The SSO storm: people the replay provisioned sign in with signed SAML responses.
    sso = result["sso"]
    assert sso["errors"] == 0 and sso["signins"] == 20 and sso["people"] > 0
    assert sso["signins_per_s"] > 0 and sso["latency_ms"]["p99"] > 0
    assert sso["cpu_ms_per_signin"]["workers_ms"] > 0 and sso["cpu_ms_per_signin"]["postgres_ms"] > 0
    assert sso["counted"]["signins"] > 0 and sso["counted"]["queries_mean"] > 0
    bare = sso["bare"]
    assert bare["sample"] == 20 and bare["library_ms"] > 0 and bare["library_compiled_schema_ms"] > 0
    assert bare["ours_saml_ms"] > 0


@pytest.mark.celery
def test_scale_mode_runs_on_tiny_tenants_without_errors(tmp_path):
    result = _run_bench(tmp_path, "--scale", "--scale-people", "300", "--scale-small", "100", "--scale-groups", "3",
                        "--scale-big-group", "60", "--scale-repeat", "2")
    assert result["errors"] == 0
    sizes = result["scale"]["sizes"]
    assert sizes["scale-large"]["people"] == 300 and sizes["scale-small"]["people"] == 100
    # 300 seeded people and the tenant's admin, 100 a page
    assert sizes["scale-large"]["operations"]["GET /Users full listing (per page)"]["pages"] == 4
    assert all(v["ratio"] is not None for v in result["scale"]["ratios"].values())
