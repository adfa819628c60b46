"""Single sign-on state: one SAML configuration per integration, its trusted
certificates, the AuthnRequests we sent and are waiting for, and the SSO log.

Imported by ``provisioning.models`` so the rows belong to the provisioning app.
"""

from __future__ import annotations

from django.db import models

from directory.models import Person, Tenant


class SsoConfig(models.Model):
    """The identity provider's side of one integration's SAML set-up."""

    integration = models.OneToOneField("provisioning.Integration", on_delete=models.CASCADE, related_name="sso")
    # Entra's "Microsoft Entra Identifier": the Issuer of every response.
    idp_entity_id = models.CharField(max_length=512, blank=True)
    # Entra's "Login URL": where sign-in started by SpaceIQ sends the AuthnRequest.
    login_url = models.CharField(max_length=1024, blank=True)
    require_sso = models.BooleanField(default=False)
    create_people = models.BooleanField(default=False)
    last_signin_at = models.DateTimeField(null=True, blank=True)
    # Failure alerting, as for SCIM requests on Integration (provisioning.sso.alerts).
    failing_since = models.DateTimeField(null=True, blank=True)
    recovered_at = models.DateTimeField(null=True, blank=True)
    failure_summary_at = models.DateTimeField(null=True, blank=True)
    failures_reported_until = models.DateTimeField(null=True, blank=True)
    updated = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"SSO of integration {self.integration_id}"


class SsoCertificate(models.Model):
    """A certificate the identity provider signs with; up to two are trusted at once (rollover)."""

    config = models.ForeignKey(SsoConfig, on_delete=models.CASCADE, related_name="certificates")
    pem = models.TextField()
    subject = models.CharField(max_length=512)
    # SHA-1 of the DER, upper-case hex: the "Thumbprint" Entra shows next to the certificate.
    thumbprint = models.CharField(max_length=40)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["not_after", "id"]
        constraints = [models.UniqueConstraint("config", "thumbprint", name="sso_certificate_unique_per_config")]

    def __str__(self) -> str:
        return f"{self.subject} ({self.thumbprint})"


class SsoAuthnRequest(models.Model):
    """An AuthnRequest we sent, kept server-side until its response arrives.

    Entra's response is a cross-site POST that carries no SameSite=Lax session
    cookie, so the pending request IDs cannot live in the session.
    """

    class Purpose(models.TextChoices):
        SIGNIN = "signin", "Sign-in"
        TEST = "test", "Test single sign-on"

    request_id = models.CharField(max_length=64, unique=True)
    config = models.ForeignKey(SsoConfig, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.SIGNIN)
    relay_state = models.CharField(max_length=1024, blank=True)
    # No database constraint and nothing done on delete: deleting a person (SCIM DELETE) must not
    # cost a query per table that mentions them; a dangling id here matches nobody.
    requested_by = models.ForeignKey(Person, null=True, blank=True, on_delete=models.DO_NOTHING,
                                     db_constraint=False, related_name="+")
    created = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.request_id


class SsoSignIn(models.Model):
    """The SSO log: one row per sign-in attempt, successful or refused, and per test."""

    class Flow(models.TextChoices):
        IDP = "idp", "Started by the identity provider"
        SP = "sp", "Started by SpaceIQ"
        TEST = "test", "Test single sign-on"

    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded", "Signed in"
        REFUSED = "refused", "Refused"
        TESTED = "tested", "Test passed"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    integration = models.ForeignKey("provisioning.Integration", on_delete=models.CASCADE, related_name="sso_signins",
                                    db_index=False)
    occurred_at = models.DateTimeField(auto_now_add=True)
    flow = models.CharField(max_length=8, choices=Flow.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    # A key of provisioning.sso.reasons.REASONS ("" on success).
    reason = models.CharField(max_length=48, blank=True)
    detail = models.TextField(blank=True)
    name_id = models.CharField(max_length=512, blank=True)
    # As requested_by above: the log keeps the NameID, and a deleted person's link shows nothing.
    person = models.ForeignKey(Person, null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False,
                               related_name="+")
    # Shown to the person on a refusal page, so the admin can find this row.
    reference = models.CharField(max_length=16, unique=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    assertion_id = models.CharField(max_length=128, blank=True)
    in_response_to = models.CharField(max_length=128, blank=True)
    # What the identity provider sent and which checks passed (the Test single sign-on page).
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "-occurred_at"], name="ssosignin_integration_time"),
            models.Index(fields=["tenant", "-occurred_at"], name="ssosignin_tenant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.outcome}"
