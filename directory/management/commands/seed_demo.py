"""python manage.py seed_demo: the demo tenant of `make run`, created once."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from directory import services
from directory.audit import Actor
from directory.models import Group, Person, Role, Source, Tenant

DEMO_SLUG = "acme"
DEMO_NAME = "Acme Corp"
DEMO_ADMIN = "admin@acme.example"
_CREDENTIALS = settings.BASE_DIR / "var" / "demo-credentials.txt"

_PEOPLE = [
    ("grace.hopper@acme.example", "Grace", "Hopper", "Rear Admiral", "Engineering", "1001"),
    ("alan.turing@acme.example", "Alan", "Turing", "Principal Scientist", "Research", "1002"),
    ("ada.lovelace@acme.example", "Ada", "Lovelace", "Analyst", "Research", "1003"),
    ("katherine.johnson@acme.example", "Katherine", "Johnson", "Mathematician", "Engineering", "1004"),
    ("linus.pauling@acme.example", "Linus", "Pauling", "Chemist", "Facilities", "1005"),
]
_GROUPS = {"Engineering": [0, 3], "Research": [1, 2], "Everyone": [0, 1, 2, 3, 4]}


class Command(BaseCommand):
    help = "Create the demo tenant 'Acme Corp' with an admin, people and groups (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Actor.system("Demo seed")
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first()
            created = tenant is None
            if created:
                tenant = services.tenant_create(slug=DEMO_SLUG, name=DEMO_NAME, actor=actor)
            password = self._admin_password(tenant, actor)
            people = [self._person(tenant, actor, *row) for row in _PEOPLE]
            for name, members in _GROUPS.items():
                group = Group.objects.filter(tenant=tenant, display_name=name).first()
                if group is None:
                    services.group_create(
                        tenant=tenant, actor=actor, display_name=name, source=Source.SEED,
                        member_ids=[people[i].pk for i in members],
                    )
        self.stdout.write(("Created" if created else "Kept") + f" the demo tenant '{DEMO_NAME}' ({DEMO_SLUG}).")
        if password is None and _CREDENTIALS.exists():
            password = _CREDENTIALS.read_text().splitlines()[1]
        self.stdout.write(f"  Sign in as:  {DEMO_ADMIN}")
        self.stdout.write(f"  Password:    {password or '(unchanged since it was first seeded)'}")

    def _admin_password(self, tenant: Tenant, actor: Actor) -> str | None:
        if Person.objects.filter(tenant=tenant, user_name__iexact=DEMO_ADMIN).exists():
            return None
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or "acme-" + secrets.token_urlsafe(9)
        services.person_create(
            tenant=tenant, actor=actor, user_name=DEMO_ADMIN, given_name="Avery", family_name="Admin",
            display_name="Avery Admin", emails=[{"value": DEMO_ADMIN, "type": "work", "primary": True}],
            password=password, console_role=Role.ADMIN, source=Source.SEED,
        )
        # Kept so a second `make run` can print the credentials again.
        _CREDENTIALS.parent.mkdir(exist_ok=True)
        _CREDENTIALS.write_text(f"{DEMO_ADMIN}\n{password}\n")
        _CREDENTIALS.chmod(0o600)
        return password

    def _person(self, tenant: Tenant, actor: Actor, email: str, given: str, family: str, title: str,
                department: str, number: str) -> Person:
        person = Person.objects.filter(tenant=tenant, user_name__iexact=email).first()
        if person:
            return person
        return services.person_create(
            tenant=tenant, actor=actor, user_name=email, given_name=given, family_name=family,
            display_name=f"{given} {family}", name_formatted=f"{given} {family}", title=title,
            department=department, employee_number=number, source=Source.SEED,
            emails=[{"value": email, "type": "work", "primary": True}],
        )
