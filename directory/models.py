"""The directory: tenants, the people in them, their groups, and the audit trail.

A ``Person`` is both a console user (an admin signs in as one) and a record
provisioned by an identity provider. SCIM values are stored exactly as sent so
they can be returned verbatim: single-valued attributes in their own columns,
multi-valued ones (emails, phone numbers, addresses, ...) as JSON lists.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Source(models.TextChoices):
    SCIM = "scim", "SCIM"
    CONSOLE = "console", "Console"
    SEED = "seed", "Seed"
    SSO = "sso", "Single sign-on"  # created at first sign-in (SSO "Create people who are not provisioned yet")


class Role(models.TextChoices):
    """What a person may do in the console. A person's effective role (``Person.role``) is the
    highest of their role sources (directory.services.roles)."""

    MEMBER = "member", "Member"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


# Member < Auditor < Admin: the effective role is the source with the highest rank.
ROLE_RANK: dict[str, int] = {Role.MEMBER: 0, Role.AUDITOR: 1, Role.ADMIN: 2}


class PersonManager(BaseUserManager["Person"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str) -> Person:
        # Sign-in resolves people through directory.auth_backend; this exists
        # for Django's own tooling and is ambiguous across tenants by design.
        return self.get(user_name__iexact=username)


class Person(AbstractBaseUser):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No index of its own: every index of the table starts with tenant (Meta), and a
    # redundant single-column one only misled the planner (spaceiq_site.postgresql.statistics).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="people", db_index=False)
    user_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, null=True, blank=True)

    name_formatted = models.CharField(max_length=512, null=True, blank=True)
    given_name = models.CharField(max_length=255, null=True, blank=True)
    family_name = models.CharField(max_length=255, null=True, blank=True)
    middle_name = models.CharField(max_length=255, null=True, blank=True)
    honorific_prefix = models.CharField(max_length=64, null=True, blank=True)
    honorific_suffix = models.CharField(max_length=64, null=True, blank=True)
    display_name = models.CharField(max_length=512, null=True, blank=True)
    nick_name = models.CharField(max_length=255, null=True, blank=True)
    profile_url = models.CharField(max_length=1024, null=True, blank=True)
    title = models.CharField(max_length=255, null=True, blank=True)
    user_type = models.CharField(max_length=255, null=True, blank=True)
    preferred_language = models.CharField(max_length=64, null=True, blank=True)
    locale = models.CharField(max_length=64, null=True, blank=True)
    timezone = models.CharField(max_length=64, null=True, blank=True)

    # Multi-valued attributes, each a list of objects exactly as sent.
    emails = models.JSONField(default=list, blank=True)
    phone_numbers = models.JSONField(default=list, blank=True)
    addresses = models.JSONField(default=list, blank=True)
    ims = models.JSONField(default=list, blank=True)
    photos = models.JSONField(default=list, blank=True)
    entitlements = models.JSONField(default=list, blank=True)
    roles = models.JSONField(default=list, blank=True)
    x509_certificates = models.JSONField(default=list, blank=True)
    # Denormalised from ``emails`` for indexed lookups (Entra matches on
    # emails[type eq "work"].value); maintained by the services.
    work_email = models.CharField(max_length=320, null=True, blank=True)

    # Enterprise extension (RFC 7643 §4.3).
    employee_number = models.CharField(max_length=255, null=True, blank=True)
    cost_center = models.CharField(max_length=255, null=True, blank=True)
    organization = models.CharField(max_length=255, null=True, blank=True)
    division = models.CharField(max_length=255, null=True, blank=True)
    department = models.CharField(max_length=255, null=True, blank=True)
    # Custom extension attributes (Entra's urn:…:extension:<Name>:2.0:User:<attribute> keys), keyed by
    # that full name, each value as sent: declared ones (CustomAttribute) and undeclared ones alike.
    custom_attributes = models.JSONField(default=dict, blank=True)
    manager = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )

    is_active = models.BooleanField(default=True)
    # The effective role, the highest of the role sources; written only by directory.services.roles.
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    # The role an admin granted in the console (None: none), by whom and when.
    console_role = models.CharField(max_length=16, choices=Role.choices, null=True, blank=True)
    console_role_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    console_role_at = models.DateTimeField(null=True, blank=True)
    # The integration kind ("azure") whose SCIM token last sent ``roles``, whose app-role mapping
    # applies to them, and its provider's name for the console ("Microsoft Entra ID"): directory
    # cannot read provisioning's registry.
    app_roles_kind = models.CharField(max_length=32, null=True, blank=True)
    app_roles_provider = models.CharField(max_length=100, blank=True, default="")
    # Set while this person keeps Admin only because a change would have left the tenant
    # without an active admin; cleared when another admin exists.
    kept_as_last_admin_since = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CONSOLE)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    # Bumped by every service write; exposed as SCIM meta.version (W/"<n>").
    version = models.PositiveIntegerField(default=1)

    objects = PersonManager()

    USERNAME_FIELD = "user_name"
    EMAIL_FIELD = "work_email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("user_name"), name="person_user_name_unique_per_tenant_ci"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "external_id"], name="person_tenant_external_id"),
            models.Index("tenant", Lower("work_email"), name="person_tenant_work_email_ci"),
            models.Index(fields=["tenant", "created", "id"], name="person_tenant_created"),
            models.Index(fields=["tenant", "is_active"], name="person_tenant_active"),
            # The tenant's admins and auditors (the last-admin check, security notices): few rows, so
            # a partial index that the many members' INSERTs never write.
            models.Index(fields=["tenant", "role"], name="person_tenant_console_role",
                         condition=~models.Q(role=Role.MEMBER)),
        ]

    def __str__(self) -> str:
        return self.display_name or self.user_name

    @property
    def is_tenant_admin(self) -> bool:
        """Whether the effective role is Admin (read-only: roles change through directory.services.roles)."""
        return self.role == Role.ADMIN

    @property
    def label(self) -> str:
        """The best human name we have, for the console and audit trail."""
        if self.display_name:
            return self.display_name
        parts = [p for p in (self.given_name, self.family_name) if p]
        return " ".join(parts) if parts else self.user_name

    @property
    def primary_email(self) -> str | None:
        for email in self.emails or []:
            if isinstance(email, dict) and email.get("primary") in (True, "True", "true"):
                return email.get("value")
        if self.work_email:
            return self.work_email
        for email in self.emails or []:
            if isinstance(email, dict) and email.get("value"):
                return email["value"]
        return self.user_name if "@" in self.user_name else None


class Group(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the unique (tenant, LOWER(display_name)) and (tenant, external_id) indexes.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups", db_index=False)
    display_name = models.CharField(max_length=255)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.CONSOLE)
    # "Role for members": every member has at least this role (None: the group gives no role).
    role = models.CharField(max_length=16, choices=Role.choices, null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_modified = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)
    members = models.ManyToManyField(Person, through="Membership", related_name="member_of")

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("display_name"), name="group_display_name_unique_per_tenant_ci"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "external_id"], name="group_tenant_external_id"),
            models.Index(fields=["tenant", "created", "id"], name="group_tenant_created"),
        ]

    def __str__(self) -> str:
        return self.display_name


class Membership(models.Model):
    # Indexed by the unique (group, person) constraint.
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint("group", "person", name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} in {self.group_id}"


class AppRoleMapping(models.Model):
    """Which of our roles an app-role value sent by one integration's SCIM client stands for.

    Without a row, ``directory.services.roles.DEFAULT_APP_ROLE_MAPPING`` applies: "Admin" is Admin,
    "Auditor" is Auditor, anything else ("User", "msiam_access") is Member.
    """

    # Indexed by the unique (tenant, integration_kind, value) constraint.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="app_role_mappings", db_index=False)
    integration_kind = models.CharField(max_length=32)
    value = models.CharField(max_length=255)  # lower-cased: roles match on value case-insensitively
    role = models.CharField(max_length=16, choices=Role.choices)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["integration_kind", "value"]
        constraints = [
            models.UniqueConstraint("tenant", "integration_kind", "value", name="app_role_mapping_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.integration_kind}:{self.value} → {self.role}"


class CustomAttributeType(models.TextChoices):
    """The SCIM types a custom attribute can be declared with (RFC 7643 §2.3)."""

    STRING = "string", "String"
    INTEGER = "integer", "Integer"
    BOOLEAN = "boolean", "Boolean"
    DATE_TIME = "dateTime", "Date-time"


class CustomAttribute(models.Model):
    """A custom extension attribute a tenant declared: advertised in its /Schemas, type-checked on
    write, filterable, shown on the person page when ``shown_in_directory``.

    Its values live on the person (``Person.custom_attributes``) under ``full_name``.
    """

    # Indexed by the unique (tenant, LOWER(schema), LOWER(name)) constraint.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="declared_custom_attributes",
                               db_index=False)
    schema = models.CharField(max_length=200)  # urn:ietf:params:scim:schemas:extension:<Name>:2.0:User
    name = models.CharField(max_length=64)
    type = models.CharField(max_length=16, choices=CustomAttributeType.choices, default=CustomAttributeType.STRING)
    shown_in_directory = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["schema", "name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("schema"), Lower("name"),
                                    name="custom_attribute_unique_per_tenant_ci"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        """The key Entra sends and the person's values are stored under: ``<schema>:<name>``."""
        return f"{self.schema}:{self.name}"


class ReceivedCustomAttribute(models.Model):
    """A custom attribute an identity provider sent before the tenant declared it: its values are kept
    on the people as sent, and the integration page lists it with a Declare button."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    schema = models.CharField(max_length=200)
    name = models.CharField(max_length=64)
    # The JSON type of the first value seen ("string", "number", "boolean"): the type Declare proposes.
    value_type = models.CharField(max_length=16, blank=True)
    first_seen = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["first_seen", "id"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("schema"), Lower("name"),
                                    name="received_custom_attribute_unique_per_tenant_ci"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.schema}:{self.name}"


class AuditEvent(models.Model):
    """One thing that happened, written in the transaction of the change itself.

    Append-only: nothing updates or deletes rows except the retention purge.
    """

    # Indexed by the three (tenant, ...) indexes below: one index fewer to write per change.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="audit_events", db_index=False)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_label = models.CharField(max_length=255)
    actor_person_id = models.UUIDField(null=True, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=512, blank=True)
    details = models.JSONField(default=dict, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-occurred_at"], name="audit_tenant_time"),
            models.Index(fields=["tenant", "target_id"], name="audit_tenant_target"),
            models.Index(fields=["tenant", "action"], name="audit_tenant_action"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_label}"


class ApiKey(models.Model):
    """A key for the admin REST API (/api/v1/): read-only, for one tenant, with a scope.

    Stored like a SCIM token (directory.keyed_secrets): the lookup prefix and a
    keyed hash; the key itself is shown once, on the page that creates it.
    """

    class Scope(models.TextChoices):
        DIRECTORY = "directory", "Read the directory"
        LOGS = "logs", "Read logs and audit events"
        ALL = "all", "Read the directory, logs and audit events"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices)
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    # No constraint and nothing done on delete: deleting a person (Entra's SCIM DELETE) spends no
    # statement on API keys. The list reads them with select_related, so a deleted creator reads as None.
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                   related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                   related_name="+")

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return self.display

    @property
    def display(self) -> str:
        """How the console and the audit trail name a key: its label and the start of the key."""
        return f"{self.label} (siq_api_{self.prefix}…)"

    def allows(self, scope: str) -> bool:
        return self.scope in (scope, self.Scope.ALL)


class PersonSession(models.Model):
    """A session a person signed in with (recorded on ``user_logged_in``, forgotten on ``user_logged_out``).

    The database session backend stores each session's data encoded, so without
    this table the only way to find a person's sessions would be decoding every
    row. Deprovisioning (``directory.services.person_sessions_end``) uses it to
    end all of them in the transaction that deactivates or deletes the person.
    ``session_key`` is no foreign key to ``django_session``: that table belongs
    to the session engine, which creates and deletes its rows on its own.
    """

    session_key = models.CharField(max_length=40, primary_key=True)
    # person_delete ends (and forgets) the person's sessions itself, in its transaction: no
    # database constraint, so Django's deletion collector spends no second DELETE on this table.
    person = models.ForeignKey(Person, on_delete=models.DO_NOTHING, db_constraint=False, related_name="sessions")
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"session of {self.person_id}"
