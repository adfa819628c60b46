"""python manage.py issue_scim_token SLUG: print a new SCIM token for scripted set-ups.

Activates the tenant's Azure (Microsoft Entra ID) integration if needed. Only
the token is written to stdout, so ``TOKEN=$(manage.py issue_scim_token acme)``
works.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from directory.audit import Actor
from directory.models import Tenant
from provisioning import services
from provisioning.registry import KINDS


class Command(BaseCommand):
    help = "Issue a SCIM bearer token for a tenant's integration (default: Azure) and print it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("--kind", default="azure", choices=sorted(KINDS))
        parser.add_argument("--label", default="Issued by manage.py issue_scim_token")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f"No tenant with the slug '{options['slug']}'.")
        actor = Actor.system("Operator (manage.py issue_scim_token)")
        with transaction.atomic():
            integration = services.integration_for(tenant=tenant, kind=options["kind"])
            if not integration.is_active:
                services.integration_activate(integration=integration, actor=actor)
                integration.refresh_from_db()
            _, raw = services.token_issue(integration=integration, actor=actor, label=options["label"])
        self.stdout.write(raw)
