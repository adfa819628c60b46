"""Bearer secrets (SCIM tokens, API keys): generated, hashed with a server key, matched, redacted.

A secret is a recognisable prefix (``siq_scim_``, ``siq_api_``) followed by
43 URL-safe characters (256 random bits). The database keeps the first 8 of
those characters as a lookup prefix and an HMAC-SHA256 of the whole secret
keyed by ``SCIM_TOKEN_HASH_KEY`` (the prefix in the text keeps a SCIM token's
digest from ever matching an API key's); the plaintext exists only in the
response that shows it.

Rotating ``SCIM_TOKEN_HASH_KEY`` (docs/security.md): the old key goes into
``SCIM_TOKEN_HASH_KEY_PREVIOUS``; a secret that verifies only under the old
key is accepted and its stored digest re-keyed by the caller, the way Django
upgrades a password hash at sign-in.

No model imports: logging filters load this before the apps are ready.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings

SCIM_TOKEN_PREFIX = "siq_scim_"
API_KEY_PREFIX = "siq_api_"
LOOKUP_LENGTH = 8
_RANDOM_BYTES = 32  # 256 bits
# Anything shaped like one of our secrets, wherever it is pasted (bodies, query
# strings, filters, log lines): replaced with its redacted form.
_SECRET_TEXT = re.compile(r"(siq_scim_|siq_api_)[A-Za-z0-9_\-]+")
_SHARED_PREFIX = "siq_"

T = TypeVar("T")


@dataclass(frozen=True)
class NewSecret:
    raw: str
    prefix: str  # the lookup prefix stored beside the digest
    digest: str


def secret_digest(raw: str, key: str | None = None) -> str:
    key = settings.SCIM_TOKEN_HASH_KEY if key is None else key
    return hmac.new(key.encode(), raw.encode(), hashlib.sha256).hexdigest()


def secret_generate(kind_prefix: str) -> NewSecret:
    raw = kind_prefix + secrets.token_urlsafe(_RANDOM_BYTES)
    return NewSecret(raw=raw, prefix=raw[len(kind_prefix):][:LOOKUP_LENGTH], digest=secret_digest(raw))


def secret_lookup_prefix(raw: str, kind_prefix: str) -> str | None:
    """The lookup prefix of something shaped like one of our secrets of that kind, else None."""
    if not raw.startswith(kind_prefix) or len(raw) < len(kind_prefix) + 40 or len(raw) > 200:
        return None
    return raw[len(kind_prefix):][:LOOKUP_LENGTH]


def secret_match(raw: str, candidates: Iterable[T], digest_of: Callable[[T], str],
                 rekey: Callable[[T, str, str], None]) -> T | None:
    """The candidate whose stored digest is ``raw``'s, compared in constant time, or None.

    A digest under ``SCIM_TOKEN_HASH_KEY_PREVIOUS`` also matches; ``rekey(candidate,
    old_digest, new_digest)`` then stores the digest under the current key.
    """
    digest = secret_digest(raw)
    previous_key = settings.SCIM_TOKEN_HASH_KEY_PREVIOUS
    previous = secret_digest(raw, previous_key) if previous_key else None
    match = None
    for candidate in candidates:
        stored = digest_of(candidate)
        if hmac.compare_digest(stored, digest):
            match = candidate
        elif previous is not None and hmac.compare_digest(stored, previous):
            rekey(candidate, previous, digest)
            match = candidate
    return match


def secrets_redact(text: str) -> str:
    """``text`` with every secret-shaped string cut to ``siq_scim_[removed]`` / ``siq_api_[removed]``."""
    if _SHARED_PREFIX not in text:
        return text
    return _SECRET_TEXT.sub(lambda m: m.group(1) + "[removed]", text)


def may_hold_secret(text: str) -> bool:
    """Cheap pre-check before ``secrets_redact``."""
    return _SHARED_PREFIX in text
