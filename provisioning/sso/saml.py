"""The SAML toolkit (OneLogin's python3-saml), wrapped in one module.

Everything that touches SAML XML goes through here: the toolkit settings are
built per request from the integration's stored configuration, the toolkit
checks every signature, and the rest of the product sees plain values
(``Assertion``) or a reason code (``SamlRefusal``).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import onelogin.saml2
from django.conf import settings as django_settings
from django.urls import reverse
from lxml import etree
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden, NotSupportedError

from provisioning.sso.reasons import reason_for_toolkit_code

# The largest SAMLResponse form we read. Entra's responses are a few kB; a
# hundred group claims make tens of kB. Anything bigger is refused with a 413.
MAX_RESPONSE_BYTES = 256 * 1024
# How long a person has at the identity provider to answer our AuthnRequest.
AUTHN_REQUEST_TTL_SECONDS = 10 * 60


class SamlRefusal(Exception):
    """A response we do not accept; ``reason`` is a key of provisioning.sso.reasons.REASONS."""

    def __init__(self, reason: str, detail: str = "", *, name_id: str = "", in_response_to: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail
        self.name_id = name_id
        self.in_response_to = in_response_to


@dataclass(frozen=True)
class ServiceProvider:
    """Our side of one integration: the values the admin copies into the identity provider."""

    entity_id: str  # "SAML Audience URI" (Entra: Identifier)
    acs_url: str  # "SAML CallBack Endpoint URL" (Entra: Reply URL)
    sign_on_url: str  # "Sign-on URL" (Entra: Sign on URL)
    metadata_url: str


def service_provider(*, tenant_slug: str, kind: str) -> ServiceProvider:
    args = {"tenant": tenant_slug, "kind": kind}
    base = django_settings.SITE_URL
    metadata = base + reverse("sso:metadata", kwargs=args)
    # The entity ID is the metadata URL, unique per tenant and integration, so
    # two SpaceIQ tenants can be two apps in one Entra directory.
    return ServiceProvider(entity_id=metadata, acs_url=base + reverse("sso:acs", kwargs=args),
                           sign_on_url=base + reverse("sso:start", kwargs=args), metadata_url=metadata)


@dataclass(frozen=True)
class IdentityProvider:
    entity_id: str
    login_url: str
    certificates: tuple[str, ...]  # base64 DER, one per trusted certificate (at most two)


# Built once per process for each pair of values (both frozen, the certificates included) and
# shared: the toolkit only reads its settings once built, and a changed configuration (another
# entity ID, Login URL or certificate) is another key. Building them checks every value and
# re-armours every certificate, which a sign-in would otherwise pay each time.
@functools.lru_cache(maxsize=256)
def toolkit_settings(sp: ServiceProvider, idp: IdentityProvider) -> OneLogin_Saml2_Settings:
    idp_settings: dict[str, Any] = {"entityId": idp.entity_id, "x509certMulti": {"signing": list(idp.certificates)}}
    if idp.login_url:
        idp_settings["singleSignOnService"] = {"url": idp.login_url, "binding": C.BINDING_HTTP_REDIRECT}
    return OneLogin_Saml2_Settings({
        # strict: every check of the response (audience, destination, times, issuer, ...) runs.
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": sp.entity_id,
            "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": C.NAMEID_UNSPECIFIED,
        },
        "idp": idp_settings,
        "security": {
            # Entra signs the assertion by default, the response, or both (its three signing
            # options); the toolkit insists on at least one signature whatever these say.
            "wantAssertionsSigned": False,
            "wantMessagesSigned": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": True,  # no SHA-1 signatures or digests
            "rejectUnsolicitedResponsesWithInResponseTo": False,  # we look InResponseTo up ourselves
        },
    # The toolkit's own IdP settings check would refuse a configuration without a Login URL,
    # which only sign-in started by SpaceIQ needs; issuer and certificates are checked by
    # SsoSettingsForm and response_parse instead.
    }, sp_validation_only=True)


def toolkit_request_data(sp: ServiceProvider) -> dict[str, Any]:
    """The toolkit's view of the request: the ACS URL as configured, not as the proxy saw it,
    so Destination and Recipient are compared with what the admin gave the identity provider."""
    url = urlsplit(sp.acs_url)
    return {"https": "on" if url.scheme == "https" else "off", "http_host": url.netloc,
            "script_name": url.path, "post_data": {}, "get_data": {}}


# --- The schema, compiled once per thread -----------------------------------------
# python3-saml compiles saml-schema-protocol-2.0.xsd (and the four schemas it imports)
# on every validate_xml() call (`make bench`'s SSO storm measures the library with and
# without that). validate_xml is the toolkit's public static method;
# ours keeps its contract (the parsed document, or "unloaded_xml" / "invalid_xml")
# and compiles each schema once. lxml's XMLSchema objects are not shared between threads.
SCHEMA_DIR = Path(onelogin.saml2.__file__).parent / "schemas"
_compiled = threading.local()


def compiled_schema(name: str) -> etree.XMLSchema:
    schemas = getattr(_compiled, "schemas", None)
    if schemas is None:
        schemas = _compiled.schemas = {}
    if name not in schemas:
        schemas[name] = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))
    return schemas[name]


def validate_xml_with_compiled_schema(xml: Any, schema: str, debug: bool = False) -> Any:
    """OneLogin_Saml2_XML.validate_xml with the schema compiled once."""
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # the toolkit's own contract: any parse failure is "unloaded_xml"
        return "unloaded_xml"
    return document if compiled_schema(schema).validate(document) else "invalid_xml"


OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml_with_compiled_schema)


# --- Responses -------------------------------------------------------------------
@dataclass(frozen=True)
class Assertion:
    """What a valid response says, read from the signed assertion only."""

    name_id: str
    name_id_format: str
    attributes: dict[str, list[str]]
    assertion_id: str
    not_on_or_after: datetime | None
    session_index: str
    in_response_to: str
    issuer: str


def response_parse(saml_response: str, *, sp: ServiceProvider, idp: IdentityProvider) -> OneLogin_Saml2_Response:
    """Decode and parse the form value with this integration's settings; nothing is checked yet."""
    if not idp.certificates or not idp.entity_id:
        raise SamlRefusal("not_configured")
    toolkit = toolkit_settings(sp, idp)
    try:
        return OneLogin_Saml2_Response(toolkit, saml_response)
    except (DTDForbidden, EntitiesForbidden, NotSupportedError):
        raise SamlRefusal("forbidden_xml") from None
    except Exception as exc:  # garbage Base64, not XML, encrypted without a key: never a 500
        raise SamlRefusal("malformed", type(exc).__name__) from None


def response_in_response_to(response: OneLogin_Saml2_Response) -> str:
    """The request this response answers ("" when the identity provider started the sign-in)."""
    try:
        return response.get_in_response_to() or ""
    except Exception:
        raise SamlRefusal("malformed") from None


def response_validate(response: OneLogin_Saml2_Response, *, sp: ServiceProvider, request_id: str | None) -> Assertion:
    """Every check of python3-saml's strict mode, with our configuration; raises SamlRefusal.

    Values are read only after validation, by the toolkit, from the signed assertion.
    """
    try:
        response.is_valid(toolkit_request_data(sp), request_id=request_id, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefusal(reason_for_toolkit_code(exc.code), str(exc)) from None
    except Exception as exc:  # xmlsec and lxml errors on hostile input
        raise SamlRefusal("invalid", f"{type(exc).__name__}: {exc}") from None
    try:
        not_on_or_after = response.get_assertion_not_on_or_after()
        return Assertion(
            name_id=(response.get_nameid() or "").strip(),
            name_id_format=response.get_nameid_format() or "",
            attributes={k: [str(v) for v in values] for k, values in response.get_attributes().items()},
            assertion_id=response.get_assertion_id() or "",
            not_on_or_after=datetime.fromtimestamp(not_on_or_after, tz=UTC) if not_on_or_after else None,
            session_index=response.get_session_index() or "",
            in_response_to=response.get_in_response_to() or "",
            issuer=(response.get_issuers() or [""])[0],
        )
    except OneLogin_Saml2_ValidationError as exc:
        raise SamlRefusal(reason_for_toolkit_code(exc.code), str(exc)) from None


# --- Requests and metadata ---------------------------------------------------------
def authn_request_url(*, sp: ServiceProvider, idp: IdentityProvider, relay_state: str = "",
                      force_authn: bool = False) -> tuple[str, str]:
    """The Login URL with a deflated, Base64 AuthnRequest (HTTP-Redirect binding), and its ID."""
    toolkit = toolkit_settings(sp, idp)
    request = OneLogin_Saml2_Authn_Request(toolkit, force_authn=force_authn, set_nameid_policy=False)
    parameters = {"SAMLRequest": request.get_request()}
    if relay_state:
        parameters["RelayState"] = relay_state
    return OneLogin_Saml2_Utils.redirect(idp.login_url, parameters), request.get_id()


def sp_metadata_xml(sp: ServiceProvider) -> str:
    """Our SP metadata (Entra's "Upload metadata file" reads Identifier and Reply URL from it)."""
    toolkit = OneLogin_Saml2_Settings({
        "strict": True,
        "sp": {"entityId": sp.entity_id,
               "assertionConsumerService": {"url": sp.acs_url, "binding": C.BINDING_HTTP_POST},
               "NameIDFormat": C.NAMEID_EMAIL_ADDRESS},
    }, sp_validation_only=True)
    metadata = toolkit.get_sp_metadata()
    return metadata.decode("utf-8") if isinstance(metadata, bytes) else metadata


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    login_url: str
    certificates: tuple[str, ...]


class MetadataError(ValueError):
    """Federation metadata we cannot use; the message is shown to the admin."""


def idp_metadata_read(xml: str | bytes) -> IdpMetadata:
    """Entity ID, signing certificates and Login URL from Entra's Federation Metadata XML."""
    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except (DTDForbidden, EntitiesForbidden, NotSupportedError):
        raise MetadataError("The metadata carries a DOCTYPE or entity declaration, which SpaceIQ refuses.") from None
    except Exception:
        raise MetadataError("This is not SAML federation metadata: the XML could not be read.") from None
    idp = parsed.get("idp") or {}
    if not idp.get("entityId"):
        raise MetadataError("The metadata names no identity provider (no IDPSSODescriptor with an entityID).")
    multi = (idp.get("x509certMulti") or {}).get("signing") or []
    certificates = tuple(multi) if multi else ((idp["x509cert"],) if idp.get("x509cert") else ())
    if not certificates:
        raise MetadataError("The metadata lists no signing certificate.")
    return IdpMetadata(entity_id=idp["entityId"], login_url=(idp.get("singleSignOnService") or {}).get("url", ""),
                       certificates=certificates)
