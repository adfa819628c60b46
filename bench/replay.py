"""Microsoft Entra ID's provisioning traffic, replayed over HTTP.

Two flavours of the same cycle:

- ``full``: what Entra sends to our endpoint: userName lookups and creates
  with the full attribute set, group lookups by displayName with
  ``excludedAttributes=members``, creates and member additions in batches of
  50; then GET + one PATCH Replace per user (default-mode paths, the
  enterprise extension included) with a Test Connection probe every 100
  requests; then ``active: "False"`` for 10 % and DELETE for 2 %.
- ``common``: the part of that cycle django-scim2's defaults can answer, sent
  byte for byte alike to both servers for the ratio: the same lookups,
  creates, GETs, probes and DELETEs, PATCH Replace of ``name.givenName`` /
  ``name.familyName``, ``active`` as a JSON boolean (the library rejects the
  string), no group lookup (its group filter knows no attribute).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.client import Client, Recorder, timed

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
# Two custom extension attributes on every user of the full flavour, as Entra sends them: top-level
# full-URN keys, the URN not in schemas (entra-scim.md §9). BENCH_CUSTOM_ATTRIBUTES=0 leaves them out,
# to compare the same replay without them.
CUSTOM = "urn:ietf:params:scim:schemas:extension:SpaceIQ:2.0:User"
CUSTOM_ATTRIBUTES = os.environ.get("BENCH_CUSTOM_ATTRIBUTES", "1") != "0"
GROUP_SCHEMAS = ["urn:ietf:params:scim:schemas:core:2.0:Group",
                 "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"]


PHASES = ("initial", "incremental", "deprovisioning")


@dataclass
class Target:
    """One server under test."""

    name: str
    host: str
    port: int
    prefix: str  # "/scim" (ours) or "/scim/v2" (django-scim2's documented mount)
    token: str
    group_patch_status: tuple[int, ...] = (204, 200)
    # Run before each phase, untimed (bench/run.py --autovacuum-off: the statistics pass autovacuum would make).
    before_phase: Callable[[], None] | None = None
    # Ask the server for its SQL count and time per request (the counted pass; bench/wsgi.py).
    count_queries: bool = False

    def prepare(self) -> None:
        if self.before_phase is not None:
            self.before_phase()

    def client(self) -> Client:
        return Client(self.host, self.port, self.prefix, self.token, count=self.count_queries)


@dataclass
class Plan:
    users: int = 2000
    groups: int = 20
    members: int = 100
    batch: int = 50
    concurrency: int = 8
    label: str = field(default_factory=lambda: uuid.uuid4().hex[:6])


def run_tasks(recorder: Recorder, target: Target, concurrency: int, tasks: list[Callable[[Client], None]]) -> None:
    """Run ``tasks`` on ``concurrency`` threads, each with its own connection."""
    lock = threading.Lock()
    position = 0

    def worker() -> None:
        nonlocal position
        client = target.client()
        try:
            while True:
                with lock:
                    if position >= len(tasks):
                        return
                    task = tasks[position]
                    position += 1
                task(client)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    if not recorder.started:
        recorder.started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.ended = time.perf_counter()


def user_document(i: int, label: str, *, custom: bool = False) -> dict[str, Any]:
    given, family = f"Given{i}", f"Family{i}"
    upn = f"user{i:06d}.{label}@contoso.example"
    extra = {f"{CUSTOM}:badgeNumber": f"B-{100000 + i}", f"{CUSTOM}:building": f"HQ-{i % 5}"} if custom else {}
    return {**extra,
        "schemas": USER_SCHEMAS,
        "externalId": f"ext-{label}-{i}", "userName": upn, "active": True, "displayName": f"{given} {family}",
        "title": "Engineer", "preferredLanguage": "en-US",
        "emails": [{"primary": True, "type": "work", "value": upn}],
        "name": {"formatted": f"{given} {family}", "familyName": family, "givenName": given},
        "addresses": [{"type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St",
                       "locality": "Seattle", "region": "WA", "postalCode": "98101", "country": "US"}],
        "phoneNumbers": [{"type": "work", "value": "+1 206 555 0100"}, {"type": "mobile", "value": "+1 206 555 0101"}],
        ENTERPRISE: {"employeeNumber": str(10000 + i), "department": "Retail"},
        "roles": [], "meta": {"resourceType": "User"},
    }


def user_name_filter(name: str) -> dict[str, str]:
    return {"filter": f'userName eq "{name}"'}


def common_patch(i: int) -> dict[str, Any]:
    """The common flavour's PATCH of user ``i``: its two names replaced (what django-scim2 can apply)."""
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "name.familyName", "value": f"Family{i}-b"},
        {"op": "Replace", "path": "name.givenName", "value": f"Given{i}-b"},
    ]}


def _probe(recorder: Recorder) -> Callable[[Client], None]:
    def task(client: Client) -> None:
        timed(recorder, client, "probe", "GET", "/Users", params=user_name_filter(str(uuid.uuid4())))
    return task


def replay(target: Target, plan: Plan, *, flavour: str, meter: Any = None) -> list[Recorder]:
    """Initial, incremental and deprovisioning cycles, one after the other; returns their recorders.

    Before each phase, untimed and unmetered, ``target.prepare()``; a
    ``meter`` (harness.CpuMeter) adds up the CPU the server spends during the
    phases themselves."""
    recorders = []
    phases = replay_phases(target, plan, flavour=flavour)
    for _ in PHASES:
        target.prepare()
        if meter:
            meter.start()
        recorders.append(next(phases))
        if meter:
            meter.stop()
    return recorders


def replay_phases(target: Target, plan: Plan, *, flavour: str) -> Iterator[Recorder]:
    """The cycle as a generator: each phase runs when asked for, and yields its recorder (``replay`` drives it)."""
    full = flavour == "full"
    ids: list[str | None] = [None] * plan.users
    group_ids: list[str | None] = [None] * plan.groups

    # --- initial cycle: users, then groups ----------------------------------------------
    initial = Recorder("initial")

    def create_user(i: int) -> Callable[[Client], None]:
        def task(client: Client) -> None:
            doc = user_document(i, plan.label, custom=full and CUSTOM_ATTRIBUTES)
            status, _ = timed(initial, client, "user.lookup", "GET", "/Users",
                                  params=user_name_filter(doc["userName"]))
            if status != 200:
                return
            status, created = timed(initial, client, "user.create", "POST", "/Users", body=doc, expect=(201,))
            if status == 201 and created:
                ids[i] = str(created["id"])
        return task

    run_tasks(initial, target, plan.concurrency, [create_user(i) for i in range(plan.users)])

    def create_group(g: int) -> Callable[[Client], None]:
        def task(client: Client) -> None:
            name = f"Group {g} {plan.label}"
            if full:
                status, _ = timed(initial, client, "group.lookup", "GET", "/Groups",
                                  params={"excludedAttributes": "members", "filter": f'displayName eq "{name}"'})
                if status != 200:
                    return
            status, created = timed(initial, client, "group.create", "POST", "/Groups", expect=(201,), body={
                "schemas": GROUP_SCHEMAS, "externalId": str(uuid.uuid4()), "displayName": name,
                "meta": {"resourceType": "Group"}})
            if status != 201 or not created:
                return
            gid = group_ids[g] = str(created["id"])
            members = [ids[(g * plan.members + k) % plan.users] for k in range(min(plan.members, plan.users))]
            members = [m for m in members if m]
            for start in range(0, len(members), plan.batch):
                batch = members[start:start + plan.batch]
                timed(initial, client, "group.add_members", "PATCH", f"/Groups/{gid}",
                      expect=target.group_patch_status, body={"schemas": [PATCH_OP], "Operations": [
                          {"op": "Add", "path": "members", "value": [{"value": m} for m in batch]}]})
        return task

    run_tasks(initial, target, plan.concurrency, [create_group(g) for g in range(plan.groups)])
    yield initial

    # --- incremental cycle: GET, then one PATCH of the differences; probes ---------------------
    incremental = Recorder("incremental")

    def update_user(i: int) -> Callable[[Client], None]:
        def task(client: Client) -> None:
            uid = ids[i]
            if uid is None:
                return
            status, _ = timed(incremental, client, "user.get", "GET", f"/Users/{uid}")
            if status != 200:
                return
            if full:
                operations = [
                    {"op": "Replace", "path": "title", "value": f"Senior Engineer {i % 7}"},
                    {"op": "Replace", "path": "name.familyName", "value": f"Family{i}-b"},
                    {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 206 555 0199"},
                    {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"},
                ]
                if CUSTOM_ATTRIBUTES:
                    operations.append({"op": "Replace", "path": f"{CUSTOM}:building", "value": f"HQ-{(i + 1) % 5}"})
                body = {"schemas": [PATCH_OP], "Operations": operations}
            else:
                body = common_patch(i)
            timed(incremental, client, "user.patch", "PATCH", f"/Users/{uid}", body=body)
        return task

    tasks: list[Callable[[Client], None]] = []
    for i in range(plan.users):
        tasks.append(update_user(i))
        if i % 50 == 49:  # two requests per user: a probe every 100 requests
            tasks.append(_probe(incremental))
    run_tasks(incremental, target, plan.concurrency, tasks)
    yield incremental

    # --- deprovisioning: disable 10 %, hard-delete 2 % ------------------------------------------
    deprovisioning = Recorder("deprovisioning")
    disable_count = max(1, plan.users // 10) if plan.users else 0
    delete_count = max(1, plan.users // 50) if plan.users > disable_count else 0

    def disable(i: int) -> Callable[[Client], None]:
        value: Any = "False" if full else False

        def task(client: Client) -> None:
            if ids[i]:
                timed(deprovisioning, client, "user.disable", "PATCH", f"/Users/{ids[i]}", body={
                    "schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "active", "value": value}]})
        return task

    def delete(i: int) -> Callable[[Client], None]:
        def task(client: Client) -> None:
            if ids[i]:
                timed(deprovisioning, client, "user.delete", "DELETE", f"/Users/{ids[i]}", expect=(204,))
        return task

    tasks = [disable(i) for i in range(disable_count)]
    tasks += [delete(i) for i in range(disable_count, disable_count + delete_count)]
    run_tasks(deprovisioning, target, plan.concurrency, tasks)
    yield deprovisioning


def overall(recorders: list[Recorder]) -> Recorder:
    """All phases as one: requests over the sum of the phases' wall time."""
    total = Recorder("overall")
    for r in recorders:
        total.samples.extend(r.samples)
    total.started = 0.0
    total.ended = sum(r.ended - r.started for r in recorders)
    return total
