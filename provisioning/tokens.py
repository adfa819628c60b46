"""SCIM bearer tokens: generate, hash, verify.

A token is ``siq_scim_`` followed by 43 URL-safe characters (256 random bits).
The database keeps the first 8 of those characters as a lookup prefix and an
HMAC-SHA256 of the whole token keyed by ``SCIM_TOKEN_HASH_KEY``; the plaintext
exists only in the response that shows it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from provisioning.models import Integration, ScimToken

TOKEN_PREFIX = "siq_scim_"
LOOKUP_LENGTH = 8
_RANDOM_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class NewToken:
    raw: str
    prefix: str
    digest: str


def token_digest(raw: str) -> str:
    return hmac.new(settings.SCIM_TOKEN_HASH_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()


def token_generate() -> NewToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)
    return NewToken(raw=raw, prefix=raw[len(TOKEN_PREFIX):][:LOOKUP_LENGTH], digest=token_digest(raw))


def lookup_prefix(raw: str) -> str | None:
    """The lookup prefix of something that looks like one of our tokens, else None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) < len(TOKEN_PREFIX) + 40 or len(raw) > 200:
        return None
    return raw[len(TOKEN_PREFIX):][:LOOKUP_LENGTH]


def usable_tokens_q() -> Q:
    now = timezone.now()
    return (
        Q(confirmed=True, revoked_at__isnull=True, integration__state=Integration.State.ACTIVE)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def token_verify(raw: str) -> ScimToken | None:
    """The usable token matching ``raw``, with its integration and tenant, or None.

    The digest comparison is constant-time; the prefix only narrows the rows.
    """
    prefix = lookup_prefix(raw)
    if prefix is None:
        return None
    digest = token_digest(raw)
    candidates = ScimToken.objects.select_related("integration__tenant").filter(usable_tokens_q(), prefix=prefix)
    match = None
    for candidate in candidates:
        if hmac.compare_digest(candidate.digest, digest):
            match = candidate
    return match
