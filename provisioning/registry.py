"""The integration catalogue: one entry per identity provider we connect to.

State lives in ``Integration`` rows (one per tenant and kind); everything that
describes a kind lives here, in code.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVISIONING_AND_SSO = "provisioning-sso"
CATEGORIES = {PROVISIONING_AND_SSO: "Provisioning and SSO"}


@dataclass(frozen=True)
class IntegrationKind:
    kind: str
    name: str
    provider: str  # how the provider calls itself, used in sentences
    description: str
    logo: str  # static path
    category: str
    instructions_template: str
    keywords: tuple[str, ...] = ()

    @property
    def actor_label(self) -> str:
        return self.provider


KINDS: dict[str, IntegrationKind] = {
    k.kind: k
    for k in (
        IntegrationKind(
            "azure", "Azure", "Microsoft Entra ID",
            "Provision people and groups from Microsoft Entra ID (Azure Active Directory) with SCIM 2.0.",
            "img/integrations/azure.svg", PROVISIONING_AND_SSO, "provisioning/instructions/azure.html",
            ("microsoft", "entra", "azure ad", "aad", "office 365", "scim"),
        ),
        IntegrationKind(
            "okta", "Okta", "Okta",
            "Push people and groups from Okta to SpaceIQ with SCIM 2.0 provisioning.",
            "img/integrations/okta.svg", PROVISIONING_AND_SSO, "provisioning/instructions/okta.html",
            ("scim", "workforce identity"),
        ),
        IntegrationKind(
            "onelogin", "OneLogin", "OneLogin",
            "Provision people and groups from OneLogin through its SCIM provisioner.",
            "img/integrations/onelogin.svg", PROVISIONING_AND_SSO, "provisioning/instructions/onelogin.html",
            ("scim", "one identity"),
        ),
        IntegrationKind(
            "google", "Google Workspace", "Google Workspace",
            "Provision people and groups from Google Workspace with a custom SCIM app.",
            "img/integrations/google.svg", PROVISIONING_AND_SSO, "provisioning/instructions/google.html",
            ("gsuite", "g suite", "google cloud identity", "scim"),
        ),
        IntegrationKind(
            "jumpcloud", "JumpCloud", "JumpCloud",
            "Provision people and groups from JumpCloud's SCIM identity management.",
            "img/integrations/jumpcloud.svg", PROVISIONING_AND_SSO, "provisioning/instructions/jumpcloud.html",
            ("scim",),
        ),
        IntegrationKind(
            "custom", "Custom SAML & SCIM", "your identity provider",
            "Connect any identity provider that speaks SCIM 2.0 (RFC 7643/7644).",
            "img/integrations/custom.svg", PROVISIONING_AND_SSO, "provisioning/instructions/custom.html",
            ("saml", "scim", "generic", "other"),
        ),
    )
}


def kind_get(kind: str) -> IntegrationKind | None:
    return KINDS.get(kind)


def kinds_matching(query: str = "", category: str | None = None) -> list[IntegrationKind]:
    terms = query.lower().split()
    result = []
    for entry in KINDS.values():
        if category and entry.category != category:
            continue
        haystack = " ".join((entry.name, entry.provider, entry.description, *entry.keywords)).lower()
        if all(term in haystack for term in terms):
            result.append(entry)
    return result
