"""Session-wide set-up, the personas, and the fixtures several test areas share.

Personas follow the house style: ``admin`` of ``tenant``, ``member`` (a
non-admin of the same tenant), and ``outsider``, the admin of ``other_tenant``.
Every isolation test asks: can the outsider see or change the admin's things?

A fixture only one area uses lives in that area's conftest.py; the real parts
behind the shared ones are in tests/mail.py (SMTP server), tests/worker.py
(Celery worker), tests/scim_client.py (tokens, SCIM client) and
tests/browser_helpers.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The names imported "as" themselves are not used here: tests/live_gunicorn.py and
# tests/scim/test_scim_token_cache.py and test_scim_hot_path_statements.py import them from this module.
from tests.mail import SmtpServer, use_smtp
from tests.processes import database_url_for_subprocess as database_url_for_subprocess
from tests.processes import free_port
from tests.processes import stop_process as stop_process
from tests.scim_client import ScimClient, issue_token
from tests.scim_client import scim_token_remembered as scim_token_remembered

if TYPE_CHECKING:
    from tests.worker import CeleryWorker

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run inside one unless told that this is intended (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"
# A queue of its own per test run, so tasks from other runs are never consumed.
TEST_QUEUE = f"spaceiq-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session", autouse=True)
def _isolated_celery_queue() -> Iterator[None]:
    from spaceiq_site.celery import app

    app.conf.task_default_queue = TEST_QUEUE
    yield
    if not app.conf.task_always_eager:
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.client.delete(TEST_QUEUE)
        except Exception:
            pass


@pytest.fixture(scope="session", autouse=True)
def _request_log_writer_stopped(django_db_setup) -> Iterator[None]:
    """The SCIM request-log writer's connection is closed before the test database is dropped."""
    from provisioning.request_log_writer import writer

    yield
    writer.stop()


def _runs_on_committed_data(request) -> bool:
    """Whether pytest-django runs this test on committed data, emptying the tables after it: the test
    asks for ``transactional_db`` or ``live_server`` (itself or through a fixture), or is marked
    ``django_db(transaction=True)`` (or ``reset_sequences=True``, which implies it)."""
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        return True
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return False

    def transactional(transaction: bool = False, reset_sequences: bool = False, *_args, **_kwargs) -> bool:
        return transaction or reset_sequences

    return transactional(*marker.args, **marker.kwargs)


@pytest.fixture(autouse=True)
def _request_log_written_before_the_tables_are_emptied(request) -> Iterator[None]:
    """SCIM log rows written behind responses (provisioning.request_log_writer) land before a test on
    committed data has its tables emptied, so none is written into the next test's data.

    The database fixture is requested here first, so it is set up before this fixture and torn
    down (the tables emptied) after this fixture's teardown has flushed the writer."""
    if not _runs_on_committed_data(request):
        yield
        return
    from provisioning.request_log_writer import writer

    request.getfixturevalue("transactional_db")
    yield
    writer.flush()


# Cache keys of this run (rate limits) never meet another run's, even when a
# test starts app servers of its own: they inherit the prefix.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:8]}")


@pytest.fixture(autouse=True)
def _fresh_scim_auth_rate_limits(monkeypatch) -> None:
    """Every test starts with no failed SCIM authentications counted against 127.0.0.1."""
    from provisioning.scim import rate_limit

    monkeypatch.setattr(rate_limit, "NAMESPACE", f"scim-auth-fail-{uuid.uuid4().hex[:8]}")


# --- Personas -------------------------------------------------------------------


def make_tenant(slug: str, name: str):
    from directory.audit import Actor
    from directory.services import tenant_create

    return tenant_create(slug=slug, name=name, actor=Actor.system("test"))


def make_person(tenant, user_name: str, *, admin: bool = False, password: str | None = PASSWORD, **attrs):
    from directory.audit import Actor
    from directory.services import person_create

    attrs.setdefault("emails", [{"value": user_name, "type": "work", "primary": True}])
    return person_create(
        tenant=tenant, actor=Actor.system("test"), user_name=user_name, password=password,
        console_role="admin" if admin else None, **attrs,
    )


@pytest.fixture
def tenant(db):
    return make_tenant("acme", "Acme Corp")


@pytest.fixture
def other_tenant(db):
    return make_tenant("globex", "Globex Corporation")


@pytest.fixture
def admin(tenant):
    return make_person(tenant, "ada.admin@acme.example", admin=True, display_name="Ada Admin")


@pytest.fixture
def member(tenant):
    return make_person(tenant, "mo.member@acme.example", display_name="Mo Member")


@pytest.fixture
def outsider(other_tenant):
    return make_person(other_tenant, "olga.outsider@globex.example", admin=True, display_name="Olga Outsider")


@pytest.fixture
def admins(tenant, admin):
    """The tenant's two admins, and a non-admin beside them (who must never be emailed as one)."""
    second = make_person(tenant, "sam.second@acme.example", admin=True)
    make_person(tenant, "nina.nonadmin@acme.example")
    return [admin, second]


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


class Clock:
    """A clock the test moves by hand (fixture ``clock``)."""

    def __init__(self) -> None:
        from django.utils import timezone

        self.now = timezone.now()

    def advance(self, **delta) -> None:
        from datetime import timedelta

        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Time stands still unless the test moves it (django.utils.timezone.now is patched)."""
    from django.utils import timezone as django_timezone

    clock = Clock()
    monkeypatch.setattr(django_timezone, "now", lambda: clock.now)
    return clock


# --- SMTP server and Celery worker ------------------------------------------------


@pytest.fixture
def smtp_server(settings) -> Iterator[SmtpServer]:
    """A real SMTP server on localhost; the test process and ``celery_worker`` send to it."""
    server = SmtpServer(host="127.0.0.1", port=free_port())
    server.start()
    use_smtp(settings, server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def celery_worker(transactional_db, smtp_server) -> Iterator[CeleryWorker]:
    """A real Celery worker process on Redis, using the test database and SMTP server."""
    from django.conf import settings as django_settings

    from tests.worker import CeleryWorker, worker_env

    if django_settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("CELERY_BROKER_URL must point at Redis for tests that run a worker (make test sets it).")
    worker = CeleryWorker(worker_env(smtp_server))
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


# --- Browser ----------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no Playwright browser download)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package (make test does).")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- SCIM -------------------------------------------------------------------------


@pytest.fixture
def scim_token(tenant) -> str:
    return issue_token(tenant)


@pytest.fixture
def scim(client, scim_token) -> ScimClient:
    return ScimClient(client, scim_token)
