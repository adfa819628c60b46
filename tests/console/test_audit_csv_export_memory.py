"""A year of audit events exports in bounded memory: 100,000 rows, streamed."""

import tracemalloc

import pytest
from django.urls import reverse

from directory.models import AuditEvent

EVENTS = 100_000


@pytest.mark.django_db
def test_exporting_100000_events_stays_in_bounded_memory(admin_client, tenant):
    batch = [
        AuditEvent(
            tenant=tenant, actor_label="Microsoft Entra ID (token siq_scim_abcd1234…)", action="person.updated",
            target_type="person", target_id=f"00000000-0000-0000-0000-{i:012d}", target_label=f"person{i}@acme.example",
            details={"changes": {"title": {"old": "Engineer", "new": f"Manager {i}"}}}, source_ip="20.190.128.1",
        )
        for i in range(EVENTS)
    ]
    AuditEvent.objects.bulk_create(batch, batch_size=5000)
    del batch
    response = admin_client.get(reverse("provisioning:audit-log-export"))
    assert response.streaming
    tracemalloc.start()
    try:
        lines = 0
        size = 0
        for chunk in response.streaming_content:
            lines += chunk.count(b"\n")
            size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines >= EVENTS + 1  # the header, then one line per event (the admin's own events too)
    assert size > 15_000_000  # the whole export went through...
    print(f"CSV export: {lines} lines, {size / 1e6:.1f} MB streamed, peak {peak / 1e6:.1f} MB traced")
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1024 / 1024:.1f} MB"  # ...without being held in memory
