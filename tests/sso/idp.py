"""A test identity provider shaped like Microsoft Entra ID's SAML side.

Keys and certificates are made when it is created; responses are really
signed (xmlsec, through python3-saml's signing helper), so the product's
validation runs exactly as it does against Entra. Shapes follow
Microsoft's SAML protocol reference: an unprefixed Assertion with an ``_``-ID, signed
right after its Issuer, exclusive c14n, RSA-SHA256; NameID in the
emailAddress format; the default claims under their full URIs.

Used by the SSO tests, the browser tests and ``make bench``'s sign-in storm.
"""

from __future__ import annotations

import base64
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
MS_CLAIMS = "http://schemas.microsoft.com/identity/claims/"


def _key_and_certificate(common_name: str, valid_days: int, not_before_days: int = -1):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=not_before_days))
        .not_valid_after(now + timedelta(days=valid_days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert


@dataclass
class SigningCertificate:
    key_pem: str
    cert: x509.Certificate

    @classmethod
    def make(cls, valid_days: int = 3 * 365, common_name: str = "Microsoft Azure Federated SSO Certificate",
             not_before_days: int = -1) -> SigningCertificate:
        return cls(*_key_and_certificate(common_name, valid_days, not_before_days))

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def base64(self) -> str:
        """Entra's "Certificate (Base64)" without the armour lines."""
        return base64.b64encode(self.der).decode()

    @property
    def thumbprint(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class EntraIdP:
    """One Entra directory's enterprise app: its issuer, login URL and signing certificate."""

    directory_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    certificate: SigningCertificate = field(default_factory=SigningCertificate.make)

    @property
    def entity_id(self) -> str:
        return f"https://sts.windows.net/{self.directory_id}/"

    @property
    def login_url(self) -> str:
        return f"https://login.microsoftonline.com/{self.directory_id}/saml2"

    # --- responses -------------------------------------------------------------
    def assertion_xml(
        self, *, name_id: str, audience: str, recipient: str, in_response_to: str | None = None,
        attributes: dict[str, list[str]] | None = None, issued: datetime | None = None,
        lifetime: timedelta = timedelta(hours=1), issuer: str | None = None, assertion_id: str | None = None,
        name_id_xml: str | None = None,
    ) -> str:
        issued = issued or datetime.now(UTC)
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        values = attributes if attributes is not None else self.default_claims(name_id)
        attribute_xml = "".join(
            f'<Attribute Name={quoteattr(name)}>'
            + "".join(f"<AttributeValue>{escape(v)}</AttributeValue>" for v in vals)
            + "</Attribute>"
            for name, vals in values.items()
        )
        name_id_content = name_id_xml if name_id_xml is not None else escape(name_id)
        return (
            f'<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="{assertion_id or "_" + str(uuid.uuid4())}"'
            f' IssueInstant="{_instant(issued)}" Version="2.0">'
            f"<Issuer>{escape(issuer or self.entity_id)}</Issuer>"
            '<Subject><NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">'
            f"{name_id_content}</NameID>"
            f'<SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<SubjectConfirmationData{irt} NotOnOrAfter="{_instant(issued + timedelta(minutes=5))}"'
            f" Recipient={quoteattr(recipient)}/></SubjectConfirmation></Subject>"
            f'<Conditions NotBefore="{_instant(issued - timedelta(minutes=5))}"'
            f' NotOnOrAfter="{_instant(issued + lifetime)}">'
            f"<AudienceRestriction><Audience>{escape(audience)}</Audience></AudienceRestriction></Conditions>"
            f"<AttributeStatement>{attribute_xml}</AttributeStatement>"
            f'<AuthnStatement AuthnInstant="{_instant(issued)}" SessionIndex="_{uuid.uuid4()}">'
            "<AuthnContext><AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
            "</AuthnContextClassRef></AuthnContext></AuthnStatement></Assertion>"
        )

    def default_claims(self, name_id: str, *, given: str = "Ada", surname: str = "Lovelace",
                       display: str | None = None) -> dict[str, list[str]]:
        return {
            MS_CLAIMS + "tenantid": [self.directory_id],
            MS_CLAIMS + "objectidentifier": [str(uuid.uuid4())],
            MS_CLAIMS + "displayname": [display or f"{given} {surname}"],
            MS_CLAIMS + "identityprovider": [self.entity_id],
            "http://schemas.microsoft.com/claims/authnmethodsreferences": [
                "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password"],
            CLAIMS + "givenname": [given],
            CLAIMS + "surname": [surname],
            CLAIMS + "emailaddress": [name_id],
            CLAIMS + "name": [name_id],
        }

    def sign(self, xml: str, *, certificate: SigningCertificate | None = None,
             algorithm: str = C.RSA_SHA256, digest: str = C.SHA256) -> str:
        cert = certificate or self.certificate
        signed = OneLogin_Saml2_Utils.add_sign(xml, cert.key_pem, cert.pem, sign_algorithm=algorithm,
                                               digest_algorithm=digest)
        return signed.decode() if isinstance(signed, bytes) else signed

    def response_xml(
        self, *, assertion: str, destination: str, in_response_to: str | None = None, issuer: str | None = None,
        status: str = "urn:oasis:names:tc:SAML:2.0:status:Success", status_message: str = "",
        second_status: str = "",
    ) -> str:
        irt = f" InResponseTo={quoteattr(in_response_to)}" if in_response_to else ""
        inner = f'<samlp:StatusCode Value="{second_status}"/>' if second_status else ""
        message = f"<samlp:StatusMessage>{escape(status_message)}</samlp:StatusMessage>" if status_message else ""
        return (
            f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_{uuid.uuid4()}"'
            f' Version="2.0" IssueInstant="{_instant(datetime.now(UTC))}" Destination={quoteattr(destination)}{irt}>'
            f'<Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">{escape(issuer or self.entity_id)}</Issuer>'
            f'<samlp:Status><samlp:StatusCode Value="{status}">{inner}</samlp:StatusCode>{message}</samlp:Status>'
            f"{assertion}</samlp:Response>"
        )

    def response(
        self, *, name_id: str, sp, in_response_to: str | None = None, sign: str = "assertion",
        certificate: SigningCertificate | None = None, audience: str | None = None,
        destination: str | None = None, algorithm: str = C.RSA_SHA256, digest: str = C.SHA256,
        **assertion_options,
    ) -> str:
        """The Base64 SAMLResponse Entra would post for ``name_id`` to the service provider ``sp``.

        ``sign``: "assertion" (Entra's default), "response", "both" or "none".
        """
        assertion = self.assertion_xml(
            name_id=name_id, audience=audience or sp.entity_id, recipient=destination or sp.acs_url,
            in_response_to=in_response_to, **assertion_options,
        )
        options = {"certificate": certificate, "algorithm": algorithm, "digest": digest}
        if sign in ("assertion", "both"):
            assertion = self.sign(assertion, **options)
        xml = self.response_xml(assertion=assertion, destination=destination or sp.acs_url,
                                in_response_to=in_response_to)
        if sign in ("response", "both"):
            xml = self.sign(xml, **options)
        return encode(xml)

    def failure_response(self, *, sp, in_response_to: str | None = None) -> str:
        """What Entra posts when the person is not assigned to the app (AADSTS50105)."""
        return encode(self.response_xml(
            assertion="", destination=sp.acs_url, in_response_to=in_response_to,
            status="urn:oasis:names:tc:SAML:2.0:status:Requester",
            second_status="urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
            status_message="AADSTS50105: The signed in user is not assigned to a role for the application.",
        ))

    # --- metadata --------------------------------------------------------------
    def federation_metadata(self, *certificates: SigningCertificate) -> str:
        certs = certificates or (self.certificate,)
        keys = "".join(
            '<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data>'
            f"<X509Certificate>{c.base64}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
            for c in certs
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<EntityDescriptor ID="_{uuid.uuid4()}" entityID="{self.entity_id}" '
            'xmlns="urn:oasis:names:tc:SAML:2.0:metadata">'
            f'<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}'
            f'<SingleLogoutService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.login_url}"/>'
            f'<SingleSignOnService Binding="{C.BINDING_HTTP_REDIRECT}" Location="{self.login_url}"/>'
            f'<SingleSignOnService Binding="{C.BINDING_HTTP_POST}" Location="{self.login_url}"/>'
            "</IDPSSODescriptor></EntityDescriptor>"
        )


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


@dataclass(frozen=True)
class ReceivedAuthnRequest:
    id: str
    issuer: str
    acs_url: str
    relay_state: str
    xml: str


def authn_request_from(redirect_url: str) -> ReceivedAuthnRequest:
    """Read the AuthnRequest of an HTTP-Redirect binding URL as Entra would."""
    query = parse_qs(urlsplit(redirect_url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    root = etree.fromstring(xml.encode())
    issuer = root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer")
    return ReceivedAuthnRequest(
        id=root.get("ID"), issuer=issuer.text if issuer is not None else "",
        acs_url=root.get("AssertionConsumerServiceURL", ""), relay_state=query.get("RelayState", [""])[0], xml=xml,
    )
