"""python manage.py declare_custom_attribute SLUG NAME [--type T] [--schema URN] [--shown]: declare one of a
tenant's custom attributes for scripted set-ups (the conformance run, benchmarks); the console's
Custom attributes section does the same."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from directory import services
from directory.audit import Actor
from directory.custom_attributes import DEFAULT_SCHEMA
from directory.errors import InvalidValue, UniquenessConflict
from directory.models import CustomAttributeType, Tenant


class Command(BaseCommand):
    help = "Declare a custom attribute of a tenant (advertised in its /Schemas, type-checked, filterable)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("--type", default=CustomAttributeType.STRING, choices=CustomAttributeType.values)
        parser.add_argument("--schema", default=DEFAULT_SCHEMA)
        parser.add_argument("--shown", action="store_true", help="show it on the person page")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with the slug '{options['slug']}'.")
        try:
            attribute = services.custom_attribute_declare(
                tenant=tenant, actor=Actor.system("Operator (manage.py declare_custom_attribute)"),
                name=options["name"], type=options["type"], schema=options["schema"],
                shown_in_directory=options["shown"])
        except (InvalidValue, UniquenessConflict) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(attribute.full_name)
