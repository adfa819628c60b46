"""Creating and revoking API keys for the admin REST API (directory.api_keys has the format)."""

from __future__ import annotations

from django.utils import timezone

from directory.api_keys import ApiKeyChange, api_key_changed, api_key_generate
from directory.audit import Actor, audit_event_record
from directory.models import ApiKey, Person, Tenant
from directory.services.transactions import service_atomic


@service_atomic
def api_key_create(*, tenant: Tenant, label: str, scope: str, actor: Actor,
                   created_by: Person | None = None) -> tuple[ApiKey, str]:
    """A new key for ``tenant``; returns the row and the key itself, which is never stored."""
    if scope not in ApiKey.Scope.values:
        raise ValueError(f"unknown API key scope {scope!r}")
    new = api_key_generate()
    key = ApiKey.objects.create(tenant=tenant, label=label.strip()[:100], scope=scope, prefix=new.prefix,
                                digest=new.digest, created_by=created_by)
    audit_event_record(tenant=tenant, actor=actor, action="api_key.created", target_type="api_key",
                       target_id=key.pk, target_label=key.display,
                       details={"scope": key.get_scope_display()})
    api_key_changed.send(sender=ApiKey, change=ApiKeyChange(key=key, what="created", actor=actor))
    return key, new.raw


@service_atomic
def api_key_revoke(*, key: ApiKey, actor: Actor, revoked_by: Person | None = None) -> ApiKey:
    """Revoke ``key`` (a key already revoked is left as it is); requests with it get 401 from now on."""
    now = timezone.now()
    if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now, revoked_by=revoked_by):
        return key
    key.revoked_at, key.revoked_by = now, revoked_by
    audit_event_record(tenant=key.tenant_id, actor=actor, action="api_key.revoked", target_type="api_key",
                       target_id=key.pk, target_label=key.display)
    api_key_changed.send(sender=ApiKey, change=ApiKeyChange(key=key, what="revoked", actor=actor))
    return key
