"""Email on the real path: an SMTP server on localhost, and the outbox row of what was sent."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message


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


def use_smtp(settings, server: SmtpServer) -> None:
    """Point this test process's email settings at ``server``."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = server.host
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""


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
