"""Forms of the integrations console."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from directory.models import Role
from directory.services.roles import APP_ROLE_VALUE_MAX
from directory.validators import no_control_characters

GRACE_CHOICES: list[tuple[str, str, timedelta]] = [
    ("0", "None — the old token stops now", timedelta(0)),
    ("1h", "1 hour", timedelta(hours=1)),
    ("1d", "1 day", timedelta(days=1)),
    ("3d", "3 days", timedelta(days=3)),
    ("7d", "7 days", timedelta(days=7)),
]
_GRACE = {key: delta for key, _, delta in GRACE_CHOICES}


class NotificationSettingsForm(forms.Form):
    notification_email = forms.EmailField(
        label="Notification Email", required=False, max_length=254,
        # Django's address check lets a quoted local part hold some control characters.
        validators=[no_control_characters],
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="Where we write when provisioning fails. A shared mailbox works well.",
    )
    notify_on_failure = forms.BooleanField(
        label="Send an email notification when a failure occurs", required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        missing = not data.get("notification_email") and "notification_email" not in self.errors
        if data.get("notify_on_failure") and missing:
            self.add_error("notification_email", "Enter the address to notify, or untick the checkbox below.")
        return data


class ActivationForm(NotificationSettingsForm):
    pass


class TokenGenerateForm(forms.Form):
    label = forms.CharField(
        label="Label", max_length=100, required=False,
        help_text="What this token is for, e.g. “Entra production”.",
    )


class TokenRotateForm(forms.Form):
    grace = forms.ChoiceField(
        label="Keep the old token working for", choices=[(k, label) for k, label, _ in GRACE_CHOICES], initial="1d",
    )

    @property
    def grace_period(self) -> timedelta:
        return _GRACE[self.cleaned_data["grace"]]


class RoleMappingForm(forms.Form):
    """The Role mapping section: one role select per listed app-role value, posted as ``value`` and
    ``role`` pairs in page order, and optionally a value the integration has not sent yet."""

    new_value = forms.CharField(label="App role value", required=False, max_length=APP_ROLE_VALUE_MAX,
                                help_text="A value your identity provider will send, such as SpaceIQ.Auditor.")
    new_role = forms.ChoiceField(label="Role", choices=Role.choices, required=False, initial=Role.MEMBER)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        values, roles = self.data.getlist("value"), self.data.getlist("role")
        if len(values) != len(roles):
            raise forms.ValidationError("The form is out of date. Open the page again and make your changes there.")
        chosen: dict[str, Role] = {}
        for value, role in zip(values, roles, strict=True):
            value = value.strip()
            if not value or len(value) > APP_ROLE_VALUE_MAX or role not in Role.values:
                raise forms.ValidationError(f"Choose Member, Auditor or Admin for “{value[:80]}”.")
            chosen[value] = Role(role)
        new_value = (data.get("new_value") or "").strip()
        if new_value:
            chosen[new_value] = Role(data.get("new_role") or Role.MEMBER)
        # The mapping matches values case-insensitively: one choice per value, the last one posted.
        data["roles"] = {value: role for value, role in
                         {v.lower(): (v, r) for v, r in chosen.items()}.values()}
        return data
