"""Deleting many rows without one long transaction."""

from __future__ import annotations

from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet, *, batch_size: int) -> int:
    """Delete every row of ``queryset`` in batches of ``batch_size``; returns how many.

    Each batch is its own short DELETE, so a purge never holds locks for long
    or bloats a transaction while SCIM traffic and the console keep writing.
    """
    model = queryset.model
    deleted = 0
    while True:
        ids = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        deleted += model.objects.filter(pk__in=ids).delete()[0]
