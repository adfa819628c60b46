"""Integrations with identity providers, their SCIM tokens, the SCIM request
log, and the outbox of emails to send."""

from __future__ import annotations

from django.db import models

from directory.models import Person, Tenant


class Integration(models.Model):
    """One identity provider connection of a tenant (one row per tenant and kind)."""

    class State(models.TextChoices):
        PENDING = "pending", "Not activated"
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Deactivated"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="integrations")
    kind = models.CharField(max_length=32)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    notification_email = models.EmailField(blank=True)
    notify_on_failure = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    last_request_at = models.DateTimeField(null=True, blank=True)
    # Alerting state, kept here so the SCIM request path needs one cheap
    # UPDATE at most (provisioning.alerts): when the current run of failures
    # began (None while healthy), the first success after it (set until the
    # recovery is confirmed and announced), when the latest failure summary
    # was claimed (the start of its quiet period), and up to when failures
    # were reported.
    failing_since = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    failure_summary_at = models.DateTimeField(null=True, blank=True)
    failures_reported_until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint("tenant", "kind", name="integration_unique_kind_per_tenant")]

    def __str__(self) -> str:
        return f"{self.kind} ({self.tenant_id})"

    @property
    def is_active(self) -> bool:
        return self.state == self.State.ACTIVE


class ScimToken(models.Model):
    """A SCIM bearer token, stored as a lookup prefix plus a keyed hash."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="tokens")
    label = models.CharField(max_length=100, blank=True)
    # The first characters of the token (after "siq_scim_"), safe to show and
    # used to find the row without scanning every hash.
    prefix = models.CharField(max_length=16, db_index=True)
    digest = models.CharField(max_length=64)
    created = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # A token stays usable until it expires (rotation grace) or is revoked.
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Until the admin presses Activate in the dialog the token does nothing.
    confirmed = models.BooleanField(default=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"siq_scim_{self.prefix}…"

    @property
    def display(self) -> str:
        return f"siq_scim_{self.prefix}…"


class ScimRequest(models.Model):
    """The provisioning request log: one row per SCIM request."""

    # Indexed by (integration, -received_at) below: one index fewer to write per request.
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="requests", db_index=False
    )
    # Indexed on PostgreSQL by the commit-order index, (tenant, commit_order, id) (migration 0008).
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                               db_index=False)
    token_prefix = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(db_index=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=2048)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    scim_type = models.CharField(max_length=32, blank=True)
    error_detail = models.TextField(blank=True)
    resource_type = models.CharField(max_length=16, blank=True)
    resource_id = models.CharField(max_length=64, blank=True)
    request_body = models.TextField(blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "-received_at"], name="scimrequest_integration_time"),
            # Invalid-token requests per source IP (alerts); partial, so the
            # ordinary insert of an attributed request does not maintain it.
            models.Index(
                fields=["source_ip", "received_at"], name="scimrequest_unattributed_ip",
                condition=models.Q(integration__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status}"


class Notification(models.Model):
    """The email outbox: what was (or is to be) sent, so each email goes out once.

    Rows are written in the transaction of the event that causes them; a task
    queued on commit delivers them, and a periodic task drains anything the
    broker never received.
    """

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=48)
    # Same key → same email: retries and duplicate triggers collapse into one row.
    dedupe_key = models.CharField(max_length=200, unique=True)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["sent_at", "created"], name="notification_pending")]

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.to)}"


# Single sign-on rows live in their own module; imported here so they belong to this app.
from provisioning.sso.models import SsoAuthnRequest, SsoCertificate, SsoConfig, SsoSignIn  # noqa: E402

__all__ = [
    "Integration", "Notification", "ScimRequest", "ScimToken",
    "SsoAuthnRequest", "SsoCertificate", "SsoConfig", "SsoSignIn",
]
