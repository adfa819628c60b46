"""Planner statistics kept up with young tables (spaceiq_site/postgresql/statistics.py).

The tests need committed rows and PostgreSQL's own statistics views, so they
run outside a test transaction, on a probe table of their own.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from spaceiq_site.postgresql import statistics

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def probe():
    """An empty table analyzed as empty, as ``migrate`` leaves every table; returns a function adding rows."""
    count = 0
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS stats_probe")
        # Autovacuum (on where PostgreSQL's defaults rule) must not analyze it behind the test's back.
        cursor.execute("CREATE TABLE stats_probe (id int PRIMARY KEY, tenant int NOT NULL) "
                       "WITH (autovacuum_enabled = off)")
        cursor.execute("ANALYZE stats_probe")

    def grow_to(rows: int) -> None:
        nonlocal count
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO stats_probe SELECT g, 1 FROM generate_series(%s::int, %s::int) g",
                           [count + 1, rows])
            cursor.execute("SELECT pg_stat_force_next_flush()")  # report the inserts when this statement ends
        count = rows
        deadline = time.monotonic() + 5
        while live_rows() < rows and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live_rows() == rows

    yield grow_to
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE stats_probe")


def live_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'stats_probe'")
        return cursor.fetchone()[0]


def statistics_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'stats_probe'")
        return cursor.fetchone()[0]


def test_a_young_table_is_analyzed_each_time_it_outgrows_twice_its_statistics(probe):
    probe(150)
    assert "stats_probe" not in statistics.outgrown_tables_analyze(), "below the first 200 rows"
    assert statistics_rows() == 0
    probe(300)
    assert "stats_probe" in statistics.outgrown_tables_analyze()
    assert statistics_rows() == 300
    assert "stats_probe" not in statistics.outgrown_tables_analyze(), "analyzed once per growth"
    probe(750)
    assert "stats_probe" not in statistics.outgrown_tables_analyze(), "2 x 300 + 200 = 800 not reached"
    probe(900)
    assert "stats_probe" in statistics.outgrown_tables_analyze()
    assert statistics_rows() == 900


def test_a_table_past_the_young_size_is_left_to_autovacuum(probe, monkeypatch):
    probe(300)
    assert "stats_probe" in statistics.outgrown_tables_analyze()
    monkeypatch.setattr(statistics, "YOUNG_ROWS", 300)
    probe(2000)
    assert "stats_probe" not in statistics.outgrown_tables_analyze()
    assert statistics_rows() == 300


def test_one_process_analyzes_at_a_time_and_the_others_skip_the_round(probe):
    probe(300)
    params = connection.get_connection_params()
    dsn = psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items()
                                            if k in ("dbname", "user", "host", "port", "password")})
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [statistics.ANALYZE_LOCK])
        assert statistics.outgrown_tables_analyze() == []
        assert statistics_rows() == 0
        other.execute("SELECT pg_advisory_unlock(%s)", [statistics.ANALYZE_LOCK])
    assert "stats_probe" in statistics.outgrown_tables_analyze()


def test_a_process_checks_at_most_every_few_seconds(probe, monkeypatch):
    monkeypatch.setattr(statistics, "next_check_at", 0.0)
    statistics.outgrown_tables_analyze_due()  # this process's check, now: the next is CHECK_SECONDS away
    assert statistics.next_check_at > time.monotonic()
    probe(300)
    monkeypatch.setattr(statistics, "next_check_at", time.monotonic() + 3600)  # as if just checked
    assert statistics.outgrown_tables_analyze_due() == [], "checked less than CHECK_SECONDS ago"
    assert statistics_rows() == 0
    monkeypatch.setattr(statistics, "next_check_at", time.monotonic() - 1)
    assert "stats_probe" in statistics.outgrown_tables_analyze_due()


def test_a_table_the_apps_role_does_not_own_is_left_alone(probe):
    """ANALYZE would skip it with a warning in the server's log, every 2 seconds, in every process."""
    probe(300)
    with connection.cursor() as cursor:
        cursor.execute("DROP ROLE IF EXISTS stats_not_owner")
        cursor.execute("CREATE ROLE stats_not_owner")
        cursor.execute("SET ROLE stats_not_owner")
        try:
            assert "stats_probe" not in statistics.outgrown_tables_analyze()
        finally:
            cursor.execute("RESET ROLE")
            cursor.execute("DROP ROLE stats_not_owner")
    assert "stats_probe" in statistics.outgrown_tables_analyze()
