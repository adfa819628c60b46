"""python manage.py create_tenant SLUG --name NAME --admin-email EMAIL [--noinput]"""

from __future__ import annotations

import getpass
import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email, validate_slug

from directory.audit import Actor
from directory.errors import DirectoryError
from directory.models import Tenant
from provisioning.onboarding import tenant_onboard


class Command(BaseCommand):
    help = "Create a tenant and its first admin, and send the admin a welcome email."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug", help="Short identifier of the tenant (letters, digits, - and _).")
        parser.add_argument("--name", required=True, help="The company's name as shown in the console.")
        parser.add_argument("--admin-email", required=True, help="Email the first admin signs in with.")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive",
            help="Take the password from TENANT_ADMIN_PASSWORD instead of prompting.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug, name, email = options["slug"], options["name"].strip(), options["admin_email"].strip()
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(f"'{slug}' is not a valid slug: use letters, digits, hyphens and underscores.") from None
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"'{email}' is not a valid email address.") from None
        if not name:
            raise CommandError("--name must not be empty.")
        if Tenant.objects.filter(slug=slug).exists():
            raise CommandError(f"A tenant with the slug '{slug}' already exists; choose another slug.")

        if options["interactive"]:
            password = getpass.getpass("Password for the first admin: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            password = os.environ.get("TENANT_ADMIN_PASSWORD", "")
            if not password:
                raise CommandError("Set TENANT_ADMIN_PASSWORD to the first admin's password when using --noinput.")
        try:
            tenant, admin = tenant_onboard(
                slug=slug, name=name, admin_email=email, admin_password=password,
                actor=Actor.system("Operator (manage.py create_tenant)"),
            )
        except ValidationError as exc:
            raise CommandError("The password was refused: " + " ".join(exc.messages)) from None
        except DirectoryError as exc:
            raise CommandError(str(exc)) from None
        message = f"Created tenant '{tenant.name}' ({tenant.slug}) with admin {admin.user_name}."
        self.stdout.write(self.style.SUCCESS(message))
