"""The sections of the Settings page. A section is listed only once it exists."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class SettingsSection:
    title: str
    description: str
    url_name: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


_SECTIONS = (
    SettingsSection(
        "Third Party Integrations",
        "Connect Microsoft Entra ID, Okta and other identity providers to provision people and groups.",
        "provisioning:integrations",
    ),
    SettingsSection(
        "Audit log",
        "Every change to your directory and every security-relevant action, with who did it and when.",
        "provisioning:audit-log",
    ),
    SettingsSection(
        "API keys",
        "Keys for the read-only REST API, for scripts and tools such as a SIEM that read your directory and logs.",
        "directory:api-keys",
    ),
)


def settings_sections() -> list[SettingsSection]:
    sections = []
    for section in _SECTIONS:
        try:
            section.url  # noqa: B018 - only sections whose page exists are listed
        except NoReverseMatch:
            continue
        sections.append(section)
    return sections
