"""Seed audit events for scale mode's audit-events part (run by bench/audit_events.py).

``python -m bench.seed_audit SLUG --events N --others K --other-events M --keys J`` with the
app's environment: creates the tenant ``SLUG`` and K other tenants (``SLUG-other-01`` ...)
through the directory services, then writes N audit events for ``SLUG`` and M for each other
tenant straight into ``directory_auditevent`` with PostgreSQL's COPY (a million events through
the services would take hours), then J API keys of scope "logs" for ``SLUG``
(``directory.services.api_key_create``). Prints one JSON line: the keys, the time range, a time
in the middle of ``SLUG``'s events, counts and how long it took.

What the rows look like, as the app writes them (directory.audit and the services):

- **Transactions.** Each COPY is a transaction of its own, of one tenant, so ``commit_order`` is
  filled by its default (``pg_current_xact_id()``: spaceiq_site.postgresql.commit_order) exactly as
  for the app's own rows. The tenants' transactions interleave, weighted by the events each has
  left; a transaction holds 1 to 200 events (one change, a PATCH of a group, a small batch),
  and one in 50 is a bulk import of 1,000 ``person.created`` events (person_bulk_create).
- **Events.** Actions in a fixed mix (``ACTIONS``: a third person.updated, a fifth sign-ins,
  group member changes, creations, deactivations, role changes ...), each with the actor the app
  records for it (the SCIM token's label, an admin of the console with their person id, the person
  signing in), a person or group target out of the tenant's own, details shaped as the services
  write them (``changes`` with old and new values, ``members`` lists of ids, ``attributes``), a
  source address and a request id.
- **Time.** ``occurred_at`` runs over ``--days`` (180) days up to a minute before the seed
  started, in commit order (all tenants' events share one clock), as the app's
  ``auto_now_add`` gives it; each tenant's ``tenant.created`` event (written by the service
  first, so first in commit order) is moved to just before its seeded events.

Then ``VACUUM ANALYZE directory_auditevent`` and a CHECKPOINT, as bench/seed.py does after its
seed: the steady state autovacuum reaches on its own within a minute or so of a bulk load
(planner statistics, visibility map), measured without the seed's pending writes.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

# (action, weight in thousandths, actor: "scim" | "admin" | "person" | "anonymous")
ACTIONS: list[tuple[str, int, str]] = [
    ("person.created", 150, "scim"),
    ("person.updated", 330, "scim"),
    ("group.members_added", 120, "scim"),
    ("group.members_removed", 50, "scim"),
    ("person.deactivated", 40, "scim"),
    ("person.reactivated", 10, "scim"),
    ("person.deleted", 15, "scim"),
    ("group.created", 10, "scim"),
    ("group.renamed", 5, "admin"),
    ("group.deleted", 3, "scim"),
    ("role.changed", 20, "admin"),
    ("signin.succeeded", 220, "person"),
    ("signin.failed", 25, "anonymous"),
    ("token.rotated", 2, "admin"),
]
_CUMULATIVE = [sum(w for _, w, _ in ACTIONS[: i + 1]) for i in range(len(ACTIONS))]
ATTRIBUTES = ["department", "display_name", "emails", "employee_number", "external_id", "family_name", "given_name",
              "title", "user_name"]
TITLES = ["Engineer", "Senior Engineer", "Staff Engineer", "Designer", "Product Manager", "Analyst", "Director"]
COLUMNS = ("tenant_id", "occurred_at", "actor_label", "actor_person_id", "action", "target_type", "target_id",
           "target_label", "details", "source_ip", "request_id")
BULK_EVERY, BULK_SIZE, MAX_SMALL = 50, 1000, 200


class TenantRows:
    """One tenant's people, groups and admins, and the rows of its events."""

    def __init__(self, tenant_id: int, slug: str, events: int, rng: random.Random) -> None:
        self.tenant_id, self.slug, self.events, self.left = tenant_id, slug, events, events
        self.rng = rng
        self.people = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(max(events // 10, 10))]
        self.groups = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(max(events // 2000, 5))]
        self.admins = [(uuid.UUID(int=rng.getrandbits(128), version=4), f"Admin {k} (admin{k}@{slug}.example)")
                       for k in range(3)]
        self.token = f"Microsoft Entra ID (token siq_scim_{rng.getrandbits(24):06x}…)"
        self.next_person = 0  # bulk imports create people in order

    def _person(self) -> tuple[int, uuid.UUID]:
        i = self.rng.randrange(len(self.people))
        return i, self.people[i]

    def row(self, at: dt.datetime, action: str, actor_kind: str, *, created: int | None = None) -> tuple:
        rng = self.rng
        request_id = f"{rng.getrandbits(128):032x}"
        if actor_kind == "scim":
            actor_label, actor_id, ip = self.token, None, f"20.190.{rng.randrange(128, 192)}.{rng.randrange(1, 255)}"
        elif actor_kind == "admin":
            actor_id, actor_label = self.admins[rng.randrange(len(self.admins))]
            ip = f"10.20.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif actor_kind == "anonymous":
            actor_label, actor_id, ip = "Sign-in form (not signed in)", None, f"198.51.100.{rng.randrange(1, 255)}"
        else:
            actor_label, actor_id, ip = "", None, f"10.30.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        details: dict[str, Any] = {}
        if action.startswith("group.") or action == "token.rotated":
            g = rng.randrange(len(self.groups))
            target_type, target_id, target_label = "group", self.groups[g], f"Team {g}"
            if action in ("group.members_added", "group.members_removed"):
                details = {"members": [str(self.people[rng.randrange(len(self.people))])
                                       for _ in range(rng.randint(1, 20))]}
            elif action == "group.renamed":
                details = {"changes": {"displayName": {"old": f"Team {g} (old)", "new": f"Team {g}"}}}
            elif action == "token.rotated":
                target_type, target_id, target_label = "integration", "", "Microsoft Entra ID"
        else:
            if created is not None:
                i, person = created, self.people[created % len(self.people)]
            else:
                i, person = self._person()
            user_name = f"p{i:07d}@{self.slug}.example"
            target_type, target_id, target_label = "person", person, user_name
            if actor_kind == "person":  # a console sign-in: the person is the actor
                actor_label, actor_id = f"Person {i} ({user_name})", person
            if action == "person.created":
                details = {"source": "scim", "attributes": ATTRIBUTES}
            elif action == "person.updated":
                changes = {}
                for name in rng.sample(["title", "department", "display_name", "family_name"], rng.randint(1, 3)):
                    if name == "title":
                        changes[name] = {"old": rng.choice(TITLES), "new": rng.choice(TITLES)}
                    elif name == "department":
                        changes[name] = {"old": f"Dept {rng.randrange(50)}", "new": f"Dept {rng.randrange(50)}"}
                    else:
                        changes[name] = {"old": f"Person {i}", "new": f"Person {i} {rng.choice('ABCDEFGH')}."}
                details = {"changes": changes}
            elif action == "person.deactivated":
                details = {"sessions_ended": rng.randrange(3)}
            elif action == "role.changed":
                old, new = rng.sample(["member", "auditor", "admin"], 2)
                details = {"old": old, "new": new, "cause": f"{new.title()} through the console role, set by "
                                                            f"{actor_label.split(' (')[0]}"}
            elif action == "signin.failed":
                details = {"account_active": True}
        return (self.tenant_id, at, actor_label, actor_id, action, target_type, str(target_id) if target_id else "",
                target_label, json.dumps(details), ip, request_id)

    def transaction(self, size: int, first_at: dt.datetime, step: dt.timedelta) -> list[tuple]:
        """``size`` events of one transaction, ``step`` apart from ``first_at``: a bulk import or a mix."""
        rows = []
        bulk = size == BULK_SIZE
        for k in range(size):
            at = first_at + step * k
            if bulk:
                rows.append(self.row(at, "person.created", "scim", created=self.next_person))
                self.next_person += 1
            else:
                action, _, actor = ACTIONS[bisect.bisect_right(_CUMULATIVE, self.rng.randrange(1000))]
                rows.append(self.row(at, action, actor))
        self.left -= size
        return rows


def seed_rows(database_url: str, tenants: list[TenantRows], days: float, rng: random.Random,
              end: dt.datetime) -> dict[str, Any]:
    """Write every tenant's events, one COPY per transaction, the tenants' transactions interleaved."""
    import psycopg

    total = sum(t.events for t in tenants)
    start = end - dt.timedelta(days=days)
    per_event = (end - start) / max(total, 1)
    written = transactions = 0
    big = tenants[0]
    middle_at = None
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Durability only (the cluster is thrown away): no WAL flush wait per commit. Rows are alike.
        conn.execute("SET synchronous_commit = off")
        sql = f"COPY directory_auditevent ({', '.join(COLUMNS)}) FROM STDIN"
        while written < total:
            live = [t for t in tenants if t.left]
            tenant = rng.choices(live, weights=[t.left for t in live])[0]
            size = BULK_SIZE if rng.randrange(BULK_EVERY) == 0 else rng.randint(1, MAX_SMALL)
            size = min(size, tenant.left)
            if tenant is big and middle_at is None and big.left - size <= big.events // 2:
                middle_at = start + per_event * (written + big.left - big.events // 2)
            rows = tenant.transaction(size, start + per_event * written, per_event)
            with conn.cursor() as cur, cur.copy(sql) as copy:  # one COPY, one transaction, one commit_order
                for row in rows:
                    copy.write_row(row)
            written += size
            transactions += 1
    return {"transactions": transactions, "first_at": start.isoformat(), "last_at": (start + per_event * total)
            .isoformat(), "middle_at": (middle_at or start).isoformat()}


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.seed import django_setup

    django_setup()
    from django.db import DatabaseError, connection

    from directory.audit import Actor
    from directory.services import api_key_create
    from directory.services.tenants import tenant_create

    parser = argparse.ArgumentParser()
    parser.add_argument("slug")
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--others", type=int, default=10)
    parser.add_argument("--other-events", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=180)
    parser.add_argument("--keys", type=int, default=1)
    args = parser.parse_args()

    started = time.monotonic()
    actor = Actor.system("bench")
    rng = random.Random(15)
    slugs = [(args.slug, args.events)] + [(f"{args.slug}-other-{k:02d}", args.other_events)
                                          for k in range(1, args.others + 1)]
    created = [tenant_create(slug=slug, name=f"Audit {slug}", actor=actor) for slug, _ in slugs]
    tenants = [TenantRows(tenant.pk, slug, events, rng) for tenant, (slug, events) in zip(created, slugs, strict=True)]
    end = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    seeded = seed_rows(os.environ["DATABASE_URL"], tenants, args.days, rng, end)
    seeded["seed_seconds"] = round(time.monotonic() - started, 1)
    with connection.cursor() as cursor:
        # Each tenant was created just now but its events go back months: its "tenant.created" event
        # (the first in commit order) takes the time before them all, as a tenant's first event has.
        cursor.execute("UPDATE directory_auditevent SET occurred_at = %s WHERE action = 'tenant.created' "
                       "AND tenant_id = ANY(%s)", [dt.datetime.fromisoformat(seeded["first_at"])
                                                    - dt.timedelta(minutes=1), [t.tenant_id for t in tenants]])
        vacuum_started = time.monotonic()
        cursor.execute("VACUUM ANALYZE directory_auditevent")
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError:  # needs superuser or pg_checkpoint (PostgreSQL 15): measure without
            print("warning: CHECKPOINT not allowed; measuring with the seed's writes still pending", file=sys.stderr)
        seeded["vacuum_analyze_seconds"] = round(time.monotonic() - vacuum_started, 1)
        cursor.execute("SELECT count(*), count(*) FILTER (WHERE tenant_id = ANY(%s)), "
                       "pg_total_relation_size('directory_auditevent') FROM directory_auditevent",
                       [[t.tenant_id for t in tenants]])
        rows, seeded_rows, size = cursor.fetchone()
    # After the seed, as an admin would create the key of their SIEM: its event is the newest.
    keys = [api_key_create(tenant=created[0], label=f"SIEM {k}", scope="logs", actor=actor)[1]
            for k in range(args.keys)]
    print(json.dumps({
        "slug": args.slug, "events": args.events, "others": args.others, "other_events": args.other_events,
        "table_rows": rows, "seeded_tenants_rows": seeded_rows, "table_mb": round(size / 2**20, 1), "keys": keys,
        **seeded,
        "seconds": round(time.monotonic() - started, 1),
    }))


if __name__ == "__main__":
    main()
