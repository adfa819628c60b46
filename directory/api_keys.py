"""API keys for the admin REST API: the key format, its verification, and what creating or revoking one announces.

A key is ``siq_api_`` followed by 256 random bits (directory.keyed_secrets):
stored as a lookup prefix and a keyed hash, shown once. A SCIM token never
verifies here (its prefix differs), and an API key never verifies on SCIM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.dispatch import Signal
from django.utils import timezone

from directory.audit import Actor
from directory.keyed_secrets import API_KEY_PREFIX, NewSecret, secret_generate, secret_lookup_prefix, secret_match
from directory.models import ApiKey

# Last use is recorded at most this often per key: a SIEM polling every few seconds writes no row per request.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKeyChange:
    """An API key was created or revoked (``what``), by ``actor``; announced in the transaction of the change."""

    key: ApiKey
    what: str  # "created" or "revoked"
    actor: Actor


# directory may not import provisioning, which owns email: provisioning.api_key_notices receives this
# inside the transaction and queues the security notice in the outbox, so a rolled-back change sends nothing.
api_key_changed = Signal()


def api_key_generate() -> NewSecret:
    return secret_generate(API_KEY_PREFIX)


def _rekey(key: ApiKey, old: str, new: str) -> None:
    # Conditional on the old digest, so concurrent requests re-key it once.
    ApiKey.objects.filter(pk=key.pk, digest=old).update(digest=new)
    key.digest = new


def api_key_verify(raw: str) -> ApiKey | None:
    """The unrevoked key matching ``raw``, with its tenant, or None (constant-time digest comparison)."""
    prefix = secret_lookup_prefix(raw, API_KEY_PREFIX)
    if prefix is None:
        return None
    candidates = ApiKey.objects.select_related("tenant").filter(prefix=prefix, revoked_at__isnull=True).order_by()
    return secret_match(raw, candidates, lambda key: key.digest, _rekey)


def api_key_used(key: ApiKey, source_ip: str | None) -> None:
    """Record the key's last use (time and address), at most once a minute per key unless the address changes."""
    now = timezone.now()
    if key.last_used_at and now - key.last_used_at < LAST_USED_EVERY and key.last_used_ip == source_ip:
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=source_ip)
    key.last_used_at, key.last_used_ip = now, source_ip
