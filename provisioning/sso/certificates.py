"""Reading the identity provider's signing certificate as admins paste or upload it.

Entra offers three downloads: "Certificate (Base64)" (PEM, sometimes without its
armour lines), "Certificate (Raw)" (DER, a ``.cer`` file) and the Federation
Metadata XML (base64 DER inside ``<X509Certificate>``). All of them end up here
as one normalised PEM plus the facts the console shows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.utils import timezone

PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


class CertificateError(ValueError):
    """The input is not a usable X.509 certificate; the message is shown to the admin."""


@dataclass(frozen=True)
class CertificateFacts:
    pem: str
    subject: str
    thumbprint: str  # SHA-1 of the DER, upper-case hex, as Entra shows it
    not_before: datetime
    not_after: datetime

    @property
    def body(self) -> str:
        """The base64 DER on one line: what python3-saml's settings take."""
        return "".join(self.pem.strip().splitlines()[1:-1])


def _der_from(data: bytes) -> bytes:
    if data[:1] == b"\x30":  # a DER SEQUENCE, the "Certificate (Raw)" .cer file: binary, nothing to strip
        return data  # (its last byte is the signature's, and one in 43 is a whitespace byte's value)
    stripped = data.strip()
    if not stripped:
        raise CertificateError("Paste the certificate or upload its file.")
    if stripped.startswith(b"-----BEGIN"):
        match = PEM_BLOCK.search(stripped)
        if match is None:
            raise CertificateError("The PEM armour is incomplete: keep the BEGIN and END lines together.")
        if match.group(1) != b"CERTIFICATE":
            label = match.group(1).decode("ascii").lower()
            raise CertificateError(f"This is a {label}, not an X.509 certificate. Paste the signing certificate.")
        stripped = match.group(2)
    if stripped[:1] == b"\x30":  # a DER SEQUENCE: the "Certificate (Raw)" .cer file
        return stripped
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", stripped), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError("This is not an X.509 certificate: it is neither PEM, Base64 nor a .cer file.") from None


def certificate_read(data: str | bytes, *, now: datetime | None = None) -> CertificateFacts:
    """Parse and check one certificate; raises ``CertificateError`` with words for the admin."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    der = _der_from(raw)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise CertificateError("This is not an X.509 certificate: it could not be parsed.") from None
    now = now or timezone.now()
    if cert.not_valid_after_utc <= now:
        raise CertificateError(
            f"This certificate expired on {cert.not_valid_after_utc:%d %b %Y}. "
            "Download the active certificate from your identity provider."
        )
    pem = cert.public_bytes(Encoding.PEM).decode("ascii")
    return CertificateFacts(
        pem=pem,
        subject=cert.subject.rfc4514_string()[:512] or "(no subject)",
        thumbprint=hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
