"""SCIM bearer tokens: generate, hash, verify (directory.keyed_secrets does the cryptography).

A token is ``siq_scim_`` followed by 43 URL-safe characters (256 random bits),
stored as a lookup prefix and a keyed hash; see directory.keyed_secrets for
the format and for rotating ``SCIM_TOKEN_HASH_KEY``.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from directory.keyed_secrets import (
    LOOKUP_LENGTH,
    SCIM_TOKEN_PREFIX,
    NewSecret,
    secret_digest,
    secret_generate,
    secret_lookup_prefix,
    secret_match,
    secrets_redact,
)
from provisioning.models import Integration, ScimToken

TOKEN_PREFIX = SCIM_TOKEN_PREFIX
__all__ = ["LOOKUP_LENGTH", "TOKEN_PREFIX", "lookup_prefix", "token_digest", "token_generate", "token_redact",
           "token_verify", "usable_tokens_q"]

token_digest = secret_digest
# Tokens and API keys alike: a secret of either kind pasted anywhere is cut out.
token_redact = secrets_redact


def token_generate() -> NewSecret:
    return secret_generate(TOKEN_PREFIX)


def lookup_prefix(raw: str) -> str | None:
    """The lookup prefix of something that looks like one of our tokens, else None."""
    return secret_lookup_prefix(raw, TOKEN_PREFIX)


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


def _rekey(token: ScimToken, old: str, new: str) -> None:
    # Conditional on the old digest, so concurrent requests re-key it once.
    ScimToken.objects.filter(pk=token.pk, digest=old).update(digest=new)
    token.digest = new


def token_verify(raw: str) -> ScimToken | None:
    """The usable token matching ``raw``, with its integration and tenant, or None.

    The digest comparison is constant-time; the prefix only narrows the rows.
    During a hash-key rotation a digest under the previous key also matches,
    and is replaced by the digest under the current key.
    """
    prefix = lookup_prefix(raw)
    if prefix is None:
        return None
    candidates = _usable_with_prefix(prefix=prefix, now=timezone.now())
    return secret_match(raw, candidates, lambda token: token.digest, _rekey)
