"""The benchmark runs end to end on tiny sizes and every request succeeds.

No timing is asserted here: the targets live in the benchmark (``make bench``).
Each run starts a PostgreSQL cluster of its own (bench/postgres.py, removed
when it ends), a Celery queue of its own, and writes its JSON to a temporary
directory without touching bench/RESULTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run_bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "result.json"
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--json", str(out), "--no-record", "--workers", "2", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    figures = json.loads(out.read_text())
    assert not Path(figures["postgres_cluster"]["directory"]).exists(), "the run's PostgreSQL cluster was left behind"
    return figures


TINY = ("--users", "20", "--groups", "2", "--members", "10", "--concurrency", "2")


@pytest.mark.celery
def test_alternated_rounds_of_both_servers_and_the_sso_storm_run_without_errors_with_autovacuum_on(tmp_path):
    result = _run_bench(tmp_path, *TINY, "--rounds", "2", "--sso-signins", "20")
    assert result["errors"] == 0
    assert result["machine"]["autovacuum"] == "on" and result["machine"]["postgres"]
    # Both servers run the same number of gunicorn workers, each with REDIS_URL set.
    assert result["processes"] == {"ours": {"workers": 2, "redis_url_set": True},
                                   "stock": {"workers": 2, "redis_url_set": True}}
    rounds = result["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    for r in rounds:
        full = r["ours"]["full"]
        assert [p["phase"] for p in full["phases"]] == ["initial", "incremental", "deprovisioning"]
        kinds = full["overall"]["kinds"]
        assert {"user.lookup", "user.create", "group.lookup", "group.create", "group.add_members", "user.get",
                "user.patch", "user.disable", "user.delete"} <= set(kinds)
        assert kinds["user.create"]["requests"] == 20 and kinds["user.delete"]["queries_mean"] is not None
        assert r["stock"]["common"]["overall"]["requests"] == r["ours"]["common"]["overall"]["requests"] > 0
        assert r["ours"]["request_log"]["missing"] == 0
        for replayed in (full, r["ours"]["common"], r["stock"]["common"]):
            cpu = replayed["cpu_ms_per_request"]
            assert cpu["workers_ms"] > 0 and cpu["postgres_ms"] >= cpu["postgres_backends_ms"] > 0
        assert isinstance(r["ours"]["autovacuum"], list) and isinstance(r["stock"]["autovacuum"], list)
    # The figures reported are the medians of the rounds, and the ratio is that of the medians.
    median = result["median"]
    assert median["ours"]["rps"] == round((rounds[0]["ours"]["common"]["overall"]["rps"]
                                           + rounds[1]["ours"]["common"]["overall"]["rps"]) / 2, 1)
    comparison = result["comparison"]
    assert comparison["rounds"] == 2 and len(comparison["ratio_per_round"]) == 2
    assert comparison["ratio"] == round(median["ours"]["rps"] / median["stock"]["rps"], 2) > 0
    assert comparison["cpu_ms_per_request"]["stock"]["total_ms"] > 0
    assert result["memory"]["ours"]["peak_rss_mb_max"] > 0
    # The SSO storm, once, on ours' last turn: people the replay provisioned sign in with signed SAML responses.
    assert "sso" not in rounds[0]["ours"]
    sso = result["sso"]
    assert sso["errors"] == 0 and sso["signins"] == 20 and sso["people"] > 0
    assert sso["signins_per_s"] > 0 and sso["latency_ms"]["p99"] > 0
    assert sso["cpu_ms_per_signin"]["workers_ms"] > 0 and sso["cpu_ms_per_signin"]["postgres_ms"] > 0
    assert sso["counted"]["signins"] > 0 and sso["counted"]["queries_mean"] > 0
    bare = sso["bare"]
    assert bare["sample"] == 20 and bare["library_ms"] > 0 and bare["library_compiled_schema_ms"] > 0
    assert bare["ours_saml_ms"] > 0


@pytest.mark.celery
def test_the_earlier_shape_without_autovacuum_still_runs(tmp_path):
    result = _run_bench(tmp_path, *TINY, "--rounds", "1", "--no-stock", "--sso-signins", "0", "--autovacuum-off")
    assert result["errors"] == 0
    assert result["machine"]["autovacuum"] == "off"
    assert result["rounds"][0]["ours"]["full"]["overall"]["requests"] > 0 and "comparison" not in result


TINY_AUDIT = ("--scale-audit-events", "2000", "--scale-audit-others", "2", "--scale-audit-other-events", "300")


def _check_audit_events(audit: dict) -> None:
    """The audit-events part (bench/audit_events.py) at a tiny size: every case answered, from real next links."""
    assert audit["errors"] == 0 and audit["navigation_errors"] == []
    seeded = audit["seeded"]
    # 2,000 + 2 x 300 seeded events and each tenant's tenant.created; the API keys' events come after the count
    assert seeded["seeded_tenants_rows"] == 2000 + 2 * 300 + 3 and seeded["transactions"] > 3
    assert seeded["table_rows"] > seeded["seeded_tenants_rows"]  # the run's other tenants' events too
    cases = audit["cases"]
    from bench.audit_events import CASES, FIRST, MIDDLE, TAIL

    assert list(cases) == CASES
    for name, case in cases.items():
        assert case["requests"] == audit["repeat"] and case["errors"] == 0, name
        assert case["server_ms"]["p50"] > 0 and case["client_ms"]["max"] >= case["client_ms"]["p50"], name
    assert cases[FIRST]["rows_per_page"] == 100 and cases[MIDDLE]["rows_per_page"] == 100
    assert cases[TAIL]["rows_per_page"] == 0
    assert audit["target_met"] == all(c["target_met"] for c in cases.values())


@pytest.mark.celery
def test_scale_mode_runs_on_tiny_tenants_without_errors(tmp_path):
    result = _run_bench(tmp_path, "--scale", "--scale-people", "300", "--scale-small", "100", "--scale-groups", "3",
                        "--scale-big-group", "60", "--scale-repeat", "2", *TINY_AUDIT)
    assert result["errors"] == 0
    sizes = result["scale"]["sizes"]
    assert sizes["scale-large"]["people"] == 300 and sizes["scale-small"]["people"] == 100
    # 300 seeded people and the tenant's admin, 100 a page
    assert sizes["scale-large"]["operations"]["GET /Users full listing (per page)"]["pages"] == 4
    assert all(v["ratio"] is not None for v in result["scale"]["ratios"].values())
    _check_audit_events(result["scale"]["audit_events"])
    # Its rows in bench/RESULTS.md's shape (to a file of the test's own), and that of a --scale-audit-only run.
    from bench.run import append_results_row

    results = tmp_path / "RESULTS.md"
    append_results_row(results, result)
    append_results_row(results, {**result, "scale": {"sizes": {}, "ratios": {},
                                                      "audit_events": result["scale"]["audit_events"]}})
    both, alone = results.read_text().splitlines()[-2:]
    assert "| 300 vs 100 people, 3 groups |" in both and "x; " in both and "(2000 events + 2 x 300)" in both
    assert "| audit events only |" in alone and "-; -; -; " in alone and "(2000 events + 2 x 300)" in alone


@pytest.mark.parametrize("server", ["ours", "stock"])
def test_the_instruction_count_runs_each_kind_in_process(tmp_path, server):
    """bench/instructions.py's counted process, without valgrind around it: every kind answers 2xx."""
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    for kind in ("lookup", "create", "get", "patch"):
        url = f"{base}/bench_instructions_smoke_{server}_{os.getpid()}"
        result = subprocess.run(
            [sys.executable, "bench/instructions.py", "--child", server, kind, "3", "--setup", "2",
             "--database-url", url],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
        subprocess.run([sys.executable, "-c", f"from bench import harness; harness.drop_database({url!r})"],
                       cwd=ROOT, env=env, check=True, timeout=60)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
