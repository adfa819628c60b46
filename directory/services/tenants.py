"""Creating a tenant."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from directory.audit import Actor, audit_event_record
from directory.errors import UniquenessConflict
from directory.models import Tenant
from directory.services.transactions import service_atomic


@service_atomic
def tenant_create(*, slug: str, name: str, actor: Actor) -> Tenant:
    if Tenant.objects.filter(slug=slug).exists():
        raise UniquenessConflict("slug", slug)
    try:
        with transaction.atomic():
            tenant = Tenant.objects.create(slug=slug, name=name)
    except IntegrityError:
        raise UniquenessConflict("slug", slug) from None
    audit_event_record(
        tenant=tenant, actor=actor, action="tenant.created", target_type="tenant",
        target_id=tenant.pk, target_label=name,
    )
    return tenant
