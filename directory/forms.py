"""Forms of the directory pages."""

from __future__ import annotations

from typing import Any

from django import forms

from directory.models import ApiKey, Person, Role, Source

STATUS_CHOICES = [("", "Any status"), ("active", "Active"), ("deactivated", "Deactivated")]
SOURCE_CHOICES = [("", "Any source"), *Source.choices]


class SignInForm(forms.Form):
    """The sign-in page's form: the sign-in view and the lockout page (directory.signin) both render it."""

    email = forms.CharField(
        label="Email", max_length=320, widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    password = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class PeopleFilterForm(forms.Form):
    q = forms.CharField(label="Search people", required=False, max_length=200)
    status = forms.ChoiceField(label="Status", choices=STATUS_CHOICES, required=False)
    source = forms.ChoiceField(label="Source", choices=SOURCE_CHOICES, required=False)


class PersonEditForm(forms.Form):
    """The main attributes of a console-created person.

    Field names are the service's attribute names, so a service error on
    ``InvalidValue.attribute`` lands next to the right field.
    """

    user_name = forms.CharField(label="User name", max_length=255, help_text="Usually the work email address.")
    display_name = forms.CharField(label="Display name", max_length=512, required=False)
    given_name = forms.CharField(label="First name", max_length=255, required=False)
    family_name = forms.CharField(label="Last name", max_length=255, required=False)
    work_email = forms.EmailField(label="Work email", max_length=320, required=False)
    title = forms.CharField(label="Job title", max_length=255, required=False)
    department = forms.CharField(label="Department", max_length=255, required=False)
    employee_number = forms.CharField(label="Employee number", max_length=255, required=False)
    is_active = forms.BooleanField(label="Active (can be found and sign in)", required=False)

    @classmethod
    def for_person(cls, person: Person) -> PersonEditForm:
        initial = {name: getattr(person, name) for name in cls.base_fields if name != "work_email"}
        initial["work_email"] = person.work_email or ""
        return cls(initial=initial)

    def changes_for(self, person: Person) -> dict[str, Any]:
        """The service ``changes`` mapping; blank optional fields clear the attribute."""
        data = self.cleaned_data
        changes: dict[str, Any] = {
            name: (data[name].strip() or None) if isinstance(data[name], str) else data[name]
            for name in self.fields if name not in ("work_email", "user_name")
        }
        changes["user_name"] = data["user_name"].strip()
        email = data["work_email"].strip()
        if email != (person.work_email or ""):
            others = [e for e in person.emails or [] if str(e.get("type", "")).lower() != "work"]
            changes["emails"] = ([{"value": email, "type": "work", "primary": True}] if email else []) + others
        return changes


# The choices of every role select in the console: a person's console role, a group's
# "Role for members". "None" (the empty value) means the source gives no role at all.
ROLE_CHOICES = [("", "None"), *Role.choices]


class RoleSelectForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, required=False)

    def chosen(self) -> Role | None:
        value = self.cleaned_data["role"]
        return Role(value) if value else None


class ApiKeyCreateForm(forms.Form):
    label = forms.CharField(
        label="Label", max_length=ApiKey._meta.get_field("label").max_length,
        help_text="What the key is for, e.g. “SIEM export”. You will see it in the list and the audit log.",
    )
    scope = forms.ChoiceField(label="Scope", choices=ApiKey.Scope.choices, initial=ApiKey.Scope.DIRECTORY)
