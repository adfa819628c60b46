"""Writes to a tenant's custom attributes: declare, change, remove, and record the undeclared ones received.

The values themselves are a person attribute (``custom_attributes``), written by
``person_create`` / ``person_update`` like any other.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from directory.audit import Actor, audit_event_record
from directory.custom_attributes import (
    DEFAULT_SCHEMA,
    MAX_DECLARED_PER_TENANT,
    name_check,
    schema_check,
)
from directory.errors import InvalidValue, UniquenessConflict
from directory.models import CustomAttribute, CustomAttributeType, ReceivedCustomAttribute, Tenant
from directory.services.transactions import service_atomic


@service_atomic
def custom_attribute_declare(
    *,
    tenant: Tenant,
    actor: Actor,
    name: str,
    type: str = CustomAttributeType.STRING,
    schema: str = DEFAULT_SCHEMA,
    shown_in_directory: bool = False,
) -> CustomAttribute:
    """Declare ``<schema>:<name>``: its values are type-checked from now on, advertised in the tenant's
    /Schemas and filterable. An attribute received before is declared under the spelling it came with."""
    name, schema = name_check(name), schema_check(schema)
    if type not in CustomAttributeType.values:
        raise InvalidValue("type", f"must be one of {', '.join(CustomAttributeType.labels)}")
    # Locks the tenant's declarations against a concurrent declare racing past the limit.
    Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
    declared = CustomAttribute.objects.filter(tenant=tenant)
    if declared.filter(name__iexact=name, schema__iexact=schema).exists():
        raise UniquenessConflict("Attribute name", name)
    if declared.count() >= MAX_DECLARED_PER_TENANT:
        raise InvalidValue("name", f"a company can declare at most {MAX_DECLARED_PER_TENANT} custom attributes")
    received = (ReceivedCustomAttribute.objects.filter(tenant=tenant, name__iexact=name, schema__iexact=schema)
                .first())
    if received is not None:
        name, schema = received.name, received.schema  # the spelling the values are stored under
        received.delete()
    try:
        with transaction.atomic():
            attribute = CustomAttribute.objects.create(
                tenant=tenant, schema=schema, name=name, type=type, shown_in_directory=shown_in_directory)
    except IntegrityError:
        raise UniquenessConflict("Attribute name", name) from None
    audit_event_record(
        tenant=tenant, actor=actor, action="custom_attribute.declared", target_type="custom_attribute",
        target_id=attribute.pk, target_label=attribute.full_name,
        details={"type": type, "shown_in_directory": shown_in_directory,
                 "received_before": received is not None},
    )
    return attribute


@service_atomic
def custom_attribute_update(*, attribute: CustomAttribute, actor: Actor, shown_in_directory: bool) -> CustomAttribute:
    """Show or hide the attribute on the person page."""
    if attribute.shown_in_directory == shown_in_directory:
        return attribute
    old = attribute.shown_in_directory
    attribute.shown_in_directory = shown_in_directory
    attribute.save(update_fields=["shown_in_directory"])
    audit_event_record(
        tenant=attribute.tenant_id, actor=actor, action="custom_attribute.updated", target_type="custom_attribute",
        target_id=attribute.pk, target_label=attribute.full_name,
        details={"changes": {"shown_in_directory": {"old": old, "new": shown_in_directory}}},
    )
    return attribute


@service_atomic
def custom_attribute_remove(*, attribute: CustomAttribute, actor: Actor) -> None:
    """Remove the declaration. People keep their values, as sent, and the attribute is listed as
    received again: what the identity provider sends is never thrown away."""
    tenant_id, full_name, pk = attribute.tenant_id, attribute.full_name, attribute.pk
    attribute.delete()
    ReceivedCustomAttribute.objects.bulk_create(
        [ReceivedCustomAttribute(tenant_id=tenant_id, schema=attribute.schema, name=attribute.name)],
        ignore_conflicts=True,
    )
    audit_event_record(
        tenant=tenant_id, actor=actor, action="custom_attribute.removed", target_type="custom_attribute",
        target_id=pk, target_label=full_name,
    )


def custom_attributes_received_record(*, tenant_id: int, received: Iterable[tuple[str, str, str]]) -> None:
    """Remember undeclared attributes seen for the first time ((schema, name, JSON type)), in the caller's
    transaction (the person write that keeps their values). A name another request recorded
    meanwhile is left as it was (first seen stays first)."""
    ReceivedCustomAttribute.objects.bulk_create(
        [ReceivedCustomAttribute(tenant_id=tenant_id, schema=schema, name=name, value_type=value_type)
         for schema, name, value_type in received],
        ignore_conflicts=True,
    )
