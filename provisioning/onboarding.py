"""Bringing a new tenant to life: the tenant, its first admin, the welcome email."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from directory import services as directory_services
from directory.audit import Actor
from directory.models import Person, Role, Source, Tenant
from provisioning import emails


@transaction.atomic
def tenant_onboard(
    *, slug: str, name: str, admin_email: str, admin_password: str, actor: Actor, source: str = Source.CONSOLE
) -> tuple[Tenant, Person]:
    tenant = directory_services.tenant_create(slug=slug, name=name, actor=actor)
    work_emails = [{"value": admin_email, "type": "work", "primary": True}]
    # Validated against an unsaved person so the similarity check sees the email.
    validate_password(admin_password, user=Person(tenant=tenant, user_name=admin_email, emails=work_emails))
    admin = directory_services.person_create(
        tenant=tenant,
        actor=actor,
        user_name=admin_email,
        emails=work_emails,
        password=admin_password,
        console_role=Role.ADMIN,
        source=source,
    )
    emails.welcome_admin(tenant=tenant, admin=admin)
    return tenant, admin
