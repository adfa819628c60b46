"""SCIM bearer tokens: generate, hash, verify.

A token is ``siq_scim_`` followed by 43 URL-safe characters (256 random bits).
The database keeps the first 8 of those characters as a lookup prefix and an
HMAC-SHA256 of the whole token keyed by ``SCIM_TOKEN_HASH_KEY``; the plaintext
exists only in the response that shows it.

Rotating ``SCIM_TOKEN_HASH_KEY`` (docs/security.md): the old key goes into
``SCIM_TOKEN_HASH_KEY_PREVIOUS``; a token that verifies only under the old key
is accepted and its stored digest re-keyed on the spot, the way Django upgrades
a password hash at sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
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


# Anything shaped like one of our tokens, wherever it is pasted (bodies, query
# strings, filters): log writers replace it with its redacted form.
_TOKEN_TEXT = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]+")


def token_digest(raw: str, key: str | None = None) -> str:
    key = settings.SCIM_TOKEN_HASH_KEY if key is None else key
    return hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()


def token_redact(text: str) -> str:
    """``text`` with every token-shaped string cut to ``siq_scim_[removed]``."""
    if TOKEN_PREFIX not in text:
        return text
    return _TOKEN_TEXT.sub(TOKEN_PREFIX + "[removed]", text)


def token_generate() -> NewToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)
    return NewToken(raw=raw, prefix=raw[len(TOKEN_PREFIX):][:LOOKUP_LENGTH], digest=token_digest(raw))


def lookup_prefix(raw: str) -> str | None:
    """The lookup prefix of something that looks like one of our tokens, else None."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) < len(TOKEN_PREFIX) + 40 or len(raw) > 200:
        return None
    return raw[len(TOKEN_PREFIX):][:LOOKUP_LENGTH]


def usable_tokens_q(now: datetime) -> Q:
    return (
        Q(confirmed=True, revoked_at__isnull=True, integration__state=Integration.State.ACTIVE)
        & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )


def _usable_with_prefix(prefix: str, now: datetime) -> QuerySet[ScimToken]:
    return (
        ScimToken.objects.select_related("integration__tenant")
        .filter(usable_tokens_q(now), prefix=prefix)
        .order_by()  # no ORDER BY: at most a handful of rows share a prefix
    )


def token_verify(raw: str) -> ScimToken | None:
    """The usable token matching ``raw``, with its integration and tenant, or None.

    The digest comparison is constant-time; the prefix only narrows the rows.
    During a hash-key rotation a digest under the previous key also matches,
    and is replaced by the digest under the current key.
    """
    prefix = lookup_prefix(raw)
    if prefix is None:
        return None
    digest = token_digest(raw)
    previous_key = settings.SCIM_TOKEN_HASH_KEY_PREVIOUS
    previous = token_digest(raw, previous_key) if previous_key else None
    match = None
    for candidate in _usable_with_prefix(prefix=prefix, now=timezone.now()):
        if hmac.compare_digest(candidate.digest, digest):
            match = candidate
        elif previous is not None and hmac.compare_digest(candidate.digest, previous):
            # Conditional on the old digest, so concurrent requests re-key it once.
            ScimToken.objects.filter(pk=candidate.pk, digest=previous).update(digest=digest)
            candidate.digest = digest
            match = candidate
    return match
