"""A SCIM token appears in exactly one place: the response that shows it once.

Representative flows run with known tokens (issued and rotated in the console,
used by an identity provider, pasted by mistake into bodies, filters and
paths, used after revocation), while everything is captured: every response,
every log record of every logger at DEBUG, every email, every text column of
every table, the sessions and the cache keys. None may hold a token.
"""

from __future__ import annotations

import json
import logging

import pytest
import redis
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import models
from django.db.models.functions import Cast
from django.test import Client
from django.urls import reverse

from provisioning import tasks
from provisioning.logging_filters import RedactTokens
from provisioning.models import Notification, ScimRequest, ScimToken
from provisioning.notifications import notification_deliver
from provisioning.tokens import LOOKUP_LENGTH, TOKEN_PREFIX, token_redact
from tests.console_helpers import activate, enter_sudo, tokens_in
from tests.entra import requests as entra
from tests.scim_client import ScimClient


def secrets_of(raw: str) -> list[str]:
    """The token, and its secret part alone (a redaction that kept it would still leak)."""
    return [raw, raw[len(TOKEN_PREFIX) + LOOKUP_LENGTH:]]


@pytest.fixture
def everything_logged(caplog):
    for name in [None, *logging.root.manager.loggerDict]:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def db_text_holding(secret: str) -> list[str]:
    """Every (table.column) of every model whose text, in any row, contains ``secret``."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, (models.CharField, models.TextField)):
                hits = model._default_manager.filter(**{f"{field.name}__contains": secret})
            elif isinstance(field, models.JSONField):
                hits = model._default_manager.annotate(_as_text=Cast(field.name, models.TextField())).filter(
                    _as_text__contains=secret)
            else:
                continue
            if hits.exists():
                found.append(f"{model._meta.db_table}.{field.column}")
    for session in Session.objects.all():
        if secret in json.dumps(session.get_decoded(), default=str):
            found.append("django_session (decoded)")
    return found


def test_tokens_appear_only_in_the_response_that_shows_them(
    settings, admin, admin_client, everything_logged, django_capture_on_commit_callbacks
):
    settings.SCIM_FAILURE_SUMMARY_DELAY_SECONDS = 0
    responses = []  # (what, response) of everything except the one reveal of each token

    def keep(what, response):
        responses.append((what, response))
        return response

    # The console: activation shows the first token once, rotation the second once.
    first = activate(admin_client)
    enter_sudo(admin_client)
    old = ScimToken.objects.get()
    rotated = admin_client.post(reverse("provisioning:token-rotate", args=["azure", old.pk]), {"grace": "0"})
    assert "no-store" in rotated["Cache-Control"]
    [second] = set(tokens_in(rotated.content)) - {first}
    for name in ("integrations", "settings", "audit-log", "audit-log-export"):
        keep(name, admin_client.get(reverse(f"provisioning:{name}")))
    for name in ("integration-detail", "integration-logs"):
        keep(name, admin_client.get(reverse(f"provisioning:{name}", args=["azure"])))

    # An identity provider using the token, and pasting it where it does not belong.
    scim = ScimClient(Client(), second)
    user = keep("create user", scim.post("/Users", {**entra.CREATE_USER, "password": second,
                                                      "urn:example:unknown": {"apiKey": second}})).json()
    group = keep("create group", scim.post("/Groups", entra.CREATE_GROUP)).json()
    keep("add member", scim.patch(f"/Groups/{group['id']}", entra.add_members(user["id"])))
    keep("filter", scim.get("/Users", filter=f'userName eq "{second}"'))
    keep("filter 2", scim.get("/Groups", filter=f'displayName eq "{second}" or externalId eq "{first}"'))
    keep("bad filter", scim.get("/Users", filter=f'userName zz "{second}"'))
    keep("bad path", scim.patch(f"/Users/{user['id']}", {"schemas": [entra.PATCH_OP], "Operations": [
        {"op": "replace", "path": second, "value": "x"}]}))
    keep("bad value", scim.post("/Users", {"schemas": entra.CREATE_USER["schemas"], "userName": ["not", second]}))
    keep("token as an id", scim.get(f"/Users/{second}"))
    keep("query string", scim.get(f"/Groups?token={second}&access_token={second}"))
    keep("not json", scim.post("/Users", f"token={second}"))
    # The old token, revoked by the rotation, keeps being tried (an IdP not yet updated).
    for _ in range(6):
        keep("revoked token", ScimClient(Client(), first).get("/Users"))
    keep("near miss", ScimClient(Client(), second[:-2] + "xx").get("/Users"))

    # The console pages that show what the IdP sent: every logged request, the people.
    for logged in ScimRequest.objects.filter(integration__isnull=False):
        keep(f"log entry {logged.pk}", admin_client.get(
            reverse("provisioning:integration-log-detail", args=[logged.integration.kind, logged.pk])))
    keep("people", admin_client.get(reverse("directory:people")))
    keep("person", admin_client.get(reverse("directory:person-detail", args=[user["id"]])))

    # Emails: everything queued is rendered and sent.
    tasks.alerts_sweep()
    for notification in Notification.objects.all():
        notification_deliver(notification_id=notification.pk)
    assert Notification.objects.exists() and mail.outbox

    def body(response) -> str:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return content.decode("utf-8", "replace") + json.dumps(dict(response.headers.items()))

    places = {f"response to {what}": body(response) for what, response in responses}
    # Every record as our handler writes it, and its message and arguments.
    # (The request object some records carry is not serialised by our handlers.)
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactTokens) for f in h.filters))
    places["log records"] = "\n".join(
        handler.format(record) + record.getMessage() + repr(record.args) for record in everything_logged.records
    )
    places["emails"] = "\n".join(
        m.subject + m.body + "".join(str(content) for content, _ in getattr(m, "alternatives", []))
        for m in mail.outbox
    )
    cache = redis.Redis.from_url(settings.REDIS_URL)
    places["cache keys"] = "\n".join(key.decode("utf-8", "replace") for key in cache.scan_iter(count=1000))
    for raw in (first, second):
        for secret in secrets_of(raw):
            leaks = [where for where, text in places.items() if secret in text]
            assert not leaks, f"token found in: {leaks}"
            assert db_text_holding(secret) == [], "token found in the database"


def test_a_pasted_token_is_redacted_whole_wherever_it_sits():
    raw = TOKEN_PREFIX + "AbCdEfGh" + "x" * 35
    assert token_redact(f'{{"path": "{raw}"}} ?q={raw}&z=1') == (
        '{"path": "siq_scim_[removed]"} ?q=siq_scim_[removed]&z=1'
    )
    assert token_redact("nothing here") == "nothing here"
