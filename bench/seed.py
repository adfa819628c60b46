"""Seed a tenant for scale mode through the directory services (run by bench/scale.py).

``python -m bench.seed SLUG --people N --groups G --big-group K`` with the
app's environment: N people (directory.services.person_bulk_create, with their
audit events), G groups (group_create), the first of them with K members
(group_members_add), the others with 10 each. Prints one JSON line: the big
group's id and a sample of the people, for the measurements.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _with_retries(write, attempts: int = 5) -> None:
    """Run one all-or-nothing chunk; on a lost database connection wait and run it again.

    (A shared machine may restart PostgreSQL under us.) A chunk whose commit
    landed before the connection dropped raises UniquenessConflict on the retry:
    it is done.
    """
    from django.db import InterfaceError, OperationalError, connection

    from directory.errors import UniquenessConflict

    for attempt in range(1, attempts + 1):
        try:
            write()
            return
        except UniquenessConflict:
            if attempt == 1:
                raise
            return
        except (OperationalError, InterfaceError):
            if attempt == attempts:
                raise
            connection.close()
            time.sleep(3)


def django_setup() -> None:
    """Django set up for a seeding script run as its own process (``python bench/seed*.py``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaceiq_site.settings")
    import django

    django.setup()


def main() -> None:
    django_setup()
    from directory import services
    from directory.audit import Actor
    from directory.models import Person, Source, Tenant

    parser = argparse.ArgumentParser()
    parser.add_argument("slug")
    parser.add_argument("--people", type=int, required=True)
    parser.add_argument("--groups", type=int, required=True)
    parser.add_argument("--big-group", type=int, required=True)
    parser.add_argument("--chunk", type=int, default=5000)
    args = parser.parse_args()

    started = time.monotonic()
    tenant = Tenant.objects.get(slug=args.slug)
    actor = Actor.system("bench seed")
    for first in range(0, args.people, args.chunk):
        _with_retries(lambda first=first: services.person_bulk_create(
            tenant=tenant, actor=actor, source=Source.SCIM, people=[
            {
                "user_name": f"p{i:07d}@{args.slug}.example", "external_id": f"x-{args.slug}-{i}",
                "display_name": f"Person {i}", "given_name": "Person", "family_name": str(i),
                "title": "Engineer", "department": f"Dept {i % 50}", "employee_number": str(i),
                "emails": [{"primary": True, "type": "work", "value": f"p{i:07d}@{args.slug}.example"}],
                "phone_numbers": [{"type": "work", "value": "+1 206 555 0100"}],
            }
            for i in range(first, min(first + args.chunk, args.people))
        ]))
    ids = list(Person.objects.filter(tenant=tenant, source=Source.SCIM).order_by("created", "id")
               .values_list("pk", flat=True))
    big = services.group_create(tenant=tenant, actor=actor, display_name="Everyone big", source=Source.SCIM,
                                member_ids=ids[: args.big_group])
    for g in range(1, args.groups):
        members = [ids[(g * 10 + k) % len(ids)] for k in range(10)] if ids else []
        services.group_create(tenant=tenant, actor=actor, display_name=f"Seed group {g}", source=Source.SCIM,
                              external_id=f"g-{g}", member_ids=members)
    # A freshly bulk-loaded table has no planner statistics and no visibility
    # map until autovacuum comes by (PostgreSQL >= 13 vacuums and analyzes
    # insert-only tables on its own, within a minute or so); without them the
    # planner picks poor plans and counts read the heap. Measure the steady
    # state: do now what autovacuum would do.
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE directory_person, directory_group, directory_membership, "
                       "directory_auditevent")
        # Write the seed's dirty pages out now: the checkpoint that would otherwise flush
        # them falls in the measurements that follow, and only in the large tenant's.
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError:  # needs superuser or pg_checkpoint (PostgreSQL 15): measure without
            print("warning: CHECKPOINT not allowed; measuring with the seed's writes still pending",
                  file=sys.stderr)
    step = max(len(ids) // 200, 1)
    sample = [str(pk) for pk in ids[::step]][:200]
    print(json.dumps({
        "big_group": str(big.pk), "people": len(ids), "sample": sample,
        "non_members": [str(pk) for pk in ids[args.big_group:args.big_group + 1000]],
        "seconds": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    main()
