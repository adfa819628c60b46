"""Shared fixtures: personas, and the real parts (Celery worker, SMTP server, browser).

Personas follow the house style: ``admin`` of ``tenant``, ``member`` (a
non-admin of the same tenant), and ``outsider``, the admin of ``other_tenant``.
Every isolation test asks: can the outsider see or change the admin's things?
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM
# refuses to run inside one unless told that this is intended (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
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
def _request_log_writer(django_db_setup, django_db_blocker) -> Iterator[None]:
    """SCIM log rows written behind responses (provisioning.request_log_writer) land before
    each transactional test's data is flushed, and the writer's connection is closed before
    the test database is dropped."""
    from django.test import TransactionTestCase

    from provisioning.request_log_writer import writer

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        writer.flush()
        return original(self)

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original
    writer.stop()


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
        is_tenant_admin=admin, **attrs,
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


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


# --- SMTP server ------------------------------------------------------------------


@dataclass
class SmtpServer:
    """A real SMTP server on localhost (aiosmtpd) that keeps what it receives.

    stop() and start() keep the port and the inbox, for outage tests;
    subclasses change ``deliver`` to refuse or stall.
    """

    host: str
    port: int
    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: object | None = None

    async def deliver(self, envelope) -> str:
        self.record(envelope)
        return "250 Message accepted for delivery"

    def record(self, envelope) -> None:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, _server, _session, envelope):
                return await server.deliver(envelope)

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, count: int = 1, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} email(s) within {timeout}s, got {len(self.messages)}")


def notification_sent(notification_id, timeout: float = 30.0):
    """The notification row once the worker has committed it as sent.

    The worker marks the row sent only after the SMTP server has accepted the
    message, in the transaction that holds its lock, so a test that has just
    seen the message arrive may still read the row before that commit."""
    from provisioning.models import Notification

    deadline = time.monotonic() + timeout
    while True:
        notification = Notification.objects.get(pk=notification_id)
        if notification.sent_at is not None or time.monotonic() > deadline:
            return notification
        time.sleep(0.05)


def concurrently(target, *, threads: int, args: tuple = ()) -> None:
    """Run ``target(*args)`` in ``threads`` threads at once and wait for all of them."""
    started = [threading.Thread(target=target, args=args) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def use_smtp(settings, server: SmtpServer) -> None:
    """Point this test process's email settings at ``server``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""


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


# --- Celery worker ----------------------------------------------------------------


def database_url_for_subprocess() -> str:
    """The URL of the database this test is using (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def stop_process(process: subprocess.Popen | None, timeout: float = 20.0, kill: bool = False) -> None:
    """Terminate (or kill) a child process and reap it; escalate to SIGKILL if it lingers."""
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


@pytest.fixture
def celery_worker(transactional_db, smtp_server) -> Iterator[CeleryWorker]:
    """A real Celery worker process on Redis, using the test database and SMTP server."""
    from django.conf import settings as django_settings

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


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def account_menu(page):
    return page.locator("#account-menu-items")


def open_settings(page) -> None:
    """Step 1 of the set-up guide: Account menu → Settings."""
    page.get_by_role("button", name="Account menu").click()
    account_menu(page).get_by_role("link", name="Settings").click()
    page.wait_for_load_state()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- SCIM -------------------------------------------------------------------------


class ScimClient:
    """Django's test client speaking SCIM with a bearer token, as Entra does."""

    def __init__(self, client, token: str, prefix: str = "/scim") -> None:
        self.client, self.token, self.prefix = client, token, prefix

    def _headers(self) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params):
        return self.client.get(self.prefix + path, params or None, **self._headers())

    def _send(self, method: str, path: str, body):
        import json

        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return getattr(self.client, method)(
            self.prefix + path, data, content_type="application/scim+json; charset=utf-8", **self._headers()
        )

    def post(self, path: str, body):
        return self._send("post", path, body)

    def put(self, path: str, body):
        return self._send("put", path, body)

    def patch(self, path: str, body):
        return self._send("patch", path, body)

    def delete(self, path: str):
        return self.client.delete(self.prefix + path, **self._headers())


def issue_token(tenant, kind: str = "azure") -> str:
    from directory.audit import Actor
    from provisioning import services

    integration = services.integration_for(tenant=tenant, kind=kind)
    services.integration_activate(integration=integration, actor=Actor.system("test"))
    _, raw = services.token_issue(integration=integration, actor=Actor.system("test"))
    return raw


@pytest.fixture
def steady_bookkeeping(monkeypatch) -> None:
    """No last-used or last-request write during the test.

    They are written every 60 and 5 seconds, so a slow machine could see an
    extra statement between requests whose statements a test counts.
    """
    from datetime import timedelta

    from provisioning import alerts
    from provisioning.scim import auth

    monkeypatch.setattr(alerts, "LAST_REQUEST_PRECISION", timedelta(hours=1))
    monkeypatch.setattr(auth, "_TOUCH_EVERY", timedelta(hours=1))


def scim_token_remembered(get) -> None:
    """Bring a token into this process's memory (provisioning/token_cache.py) with ``get()``,
    a SCIM request with it, which must answer 200.

    One request, its log written (the request-log writer records when the
    integration last heard from Entra, up to a batch interval later) and any
    notification delivered, then a second request: whatever the first one
    wrote, the token is in memory after it. (``steady_bookkeeping`` keeps
    later requests from recording last use and last request again.)
    """
    import time

    from provisioning.request_log_writer import writer

    assert get().status_code == 200
    assert writer.flush()
    time.sleep(0.2)  # the notifications reach this connection's socket
    assert get().status_code == 200


@pytest.fixture
def scim_token(tenant) -> str:
    return issue_token(tenant)


@pytest.fixture
def scim(client, scim_token) -> ScimClient:
    return ScimClient(client, scim_token)


@pytest.fixture
def other_scim(other_tenant) -> ScimClient:
    from django.test import Client

    return ScimClient(Client(), issue_token(other_tenant))
