"""The SSO tab's form: what the admin copies from the identity provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms

from directory.models import Person, Role
from provisioning.sso.certificates import CertificateError, CertificateFacts, certificate_read
from provisioning.sso.saml import MetadataError, idp_metadata_read
from provisioning.sso.selectors import MAX_CERTIFICATES

MAX_UPLOAD_BYTES = 512 * 1024


def _is_url_or_urn(value: str) -> bool:
    if value.lower().startswith("urn:"):
        return len(value.split(":")) >= 3 and all(value.split(":")[1:3])
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in value


def _read_upload(upload: Any, label: str) -> bytes:
    if upload.size > MAX_UPLOAD_BYTES:
        raise forms.ValidationError(f"The {label} is larger than {MAX_UPLOAD_BYTES // 1024} kB.")
    return upload.read()


class SsoSettingsForm(forms.Form):
    idp_entity_id = forms.CharField(
        label="SAML Issuer URL", max_length=512, required=False,
        help_text="Entra's Microsoft Entra Identifier, e.g. https://sts.windows.net/<tenant-id>/ (with the "
                  "trailing slash).",
    )
    certificate = forms.CharField(
        label="X.509 Certificate", required=False, widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="Entra's Certificate (Base64), with or without its BEGIN/END lines.",
    )
    certificate_file = forms.FileField(label="Or upload the certificate file (.cer, .pem)", required=False)
    login_url = forms.CharField(
        label="Login URL", max_length=1024, required=False,
        help_text="Optional. Entra's Login URL, needed only for sign-in started from SpaceIQ.",
    )
    metadata_xml = forms.CharField(
        label="Federation Metadata XML", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Paste Entra's Federation Metadata XML instead: it fills the SAML Issuer URL, the "
                  "certificates and the Login URL.",
    )
    metadata_file = forms.FileField(label="Or upload the metadata file (.xml)", required=False)
    require_sso = forms.BooleanField(label="Require single sign-on", required=False)
    create_people = forms.BooleanField(label="Create people who are not provisioned yet", required=False)

    def __init__(self, *args: Any, tenant_id: int, saved_certificates: int, **kwargs: Any) -> None:
        self.tenant_id = tenant_id
        self.saved_certificates = saved_certificates
        self.new_certificates: list[CertificateFacts] = []
        self.from_metadata = False
        super().__init__(*args, **kwargs)

    def clean_idp_entity_id(self) -> str:
        value = self.cleaned_data["idp_entity_id"].strip()
        if value and not _is_url_or_urn(value):
            raise forms.ValidationError("Enter a URL (https://sts.windows.net/<tenant-id>/) or a URN.")
        return value

    def clean_login_url(self) -> str:
        value = self.cleaned_data["login_url"].strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme != "https" or not parts.netloc or " " in value:
                raise forms.ValidationError("Enter the https:// Login URL your identity provider shows.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        metadata = data.get("metadata_xml", "").strip().encode()
        if data.get("metadata_file"):
            try:
                metadata = _read_upload(data["metadata_file"], "metadata file")
            except forms.ValidationError as exc:
                self.add_error("metadata_file", exc)
                return data
        if metadata:
            try:
                parsed = idp_metadata_read(metadata)
            except MetadataError as exc:
                self.add_error("metadata_xml", str(exc))
                return data
            certificates = []
            for body in parsed.certificates:
                try:
                    certificates.append(certificate_read(body))
                except CertificateError:
                    continue  # an expired certificate Entra still lists: keep the usable ones
            if not certificates:
                self.add_error("metadata_xml", "Every certificate in this metadata has expired or cannot be read.")
                return data
            # The two that stay valid longest: the active one and the one Entra will switch to.
            self.new_certificates = sorted(certificates, key=lambda c: c.not_after)[-MAX_CERTIFICATES:]
            self.from_metadata = True
            data["idp_entity_id"] = parsed.entity_id
            data["login_url"] = parsed.login_url or data.get("login_url", "")
        else:
            raw: str | bytes = data.get("certificate", "")
            field = "certificate"
            if data.get("certificate_file"):
                field = "certificate_file"
                try:
                    raw = _read_upload(data["certificate_file"], "certificate file")
                except forms.ValidationError as exc:
                    self.add_error(field, exc)
                    return data
            if raw and raw.strip():
                try:
                    self.new_certificates = [certificate_read(raw)]
                except CertificateError as exc:
                    self.add_error(field, str(exc))
                    return data
                if self.saved_certificates >= MAX_CERTIFICATES:
                    self.add_error(field, "SpaceIQ trusts at most two certificates at once. Remove the one your "
                                          "identity provider no longer signs with, then add this one.")
        self.check_complete(data)
        return data

    def check_complete(self, data: dict[str, Any]) -> None:
        """Errors for a half set-up: a certificate without an issuer or the reverse, and Require
        single sign-on before SSO works or while no admin could still sign in with a password."""
        has_certificate = bool(self.new_certificates) or self.saved_certificates > 0
        if has_certificate and not data.get("idp_entity_id") and "idp_entity_id" not in self.errors:
            self.add_error("idp_entity_id", "Enter the SAML Issuer URL that goes with the certificate.")
        if data.get("idp_entity_id") and not has_certificate:
            self.add_error("certificate", "Add the certificate your identity provider signs with.")
        if data.get("require_sso"):
            if not (data.get("idp_entity_id") and has_certificate):
                self.add_error("require_sso", "Finish setting up single sign-on before you require it.")
            elif not _admin_with_password_exists(self.tenant_id):
                self.add_error("require_sso", "Requiring single sign-on would leave no way back in: no active "
                                              "administrator of this organisation has a password. Set one first.")


def _admin_with_password_exists(tenant_id: int) -> bool:
    admins = Person.objects.filter(tenant_id=tenant_id, role=Role.ADMIN, is_active=True).only("password")
    return any(admin.has_usable_password() for admin in admins)


class SsoSignInForm(forms.Form):
    email = forms.CharField(
        label="Work email", max_length=320,
        widget=forms.EmailInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
