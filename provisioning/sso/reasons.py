"""Why a sign-in was refused, in plain words: one entry per reason code.

Each reason says what the admin should do (the SSO log) and which of three
short explanations the person at the browser gets (the refusal page): people
never see configuration details, admins always do.
"""

from __future__ import annotations

from dataclasses import dataclass

from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as V

# What the person at the browser is told, by audience.
FOR_PERSON = {
    "unknown_person": "Your organisation's SpaceIQ has no account for you yet. Your IT administrator "
                      "adds people to SpaceIQ; ask them to give you access.",
    "inactive_person": "Your SpaceIQ account is deactivated, so you cannot sign in. If you think this is "
                       "wrong, ask your IT administrator.",
    "configuration": "Single sign-on to SpaceIQ did not work this time. Try again from your company's app "
                     "portal; if it keeps failing, give your IT administrator the reference below.",
    "idp": "Your identity provider did not sign you in. If you expected to, give your IT administrator the "
           "reference below.",
}


@dataclass(frozen=True)
class Reason:
    admin: str  # the SSO log's plain words
    person: str  # a key of FOR_PERSON
    check: str  # the check of the Test single sign-on page that failed
    status: int = 403


def _r(admin: str, person: str = "configuration", check: str = "message", status: int = 400) -> Reason:
    return Reason(admin, person, check, status)


REASONS: dict[str, Reason] = {
    "not_configured": _r("Single sign-on is not set up for this integration: save the SAML Issuer URL and "
                         "X.509 Certificate in the SSO tab.", check="configuration", status=404),
    "integration_inactive": _r("The integration is deactivated, so its single sign-on is off.",
                               check="configuration", status=403),
    "too_large": _r("The request was larger than a SAML response can be.", status=413),
    "no_response": _r("The request carried no SAMLResponse: the identity provider must POST it "
                      "(HTTP-POST binding) to the SAML CallBack Endpoint URL."),
    "malformed": _r("The SAMLResponse is not a SAML response: it is not Base64-encoded XML, or the XML "
                    "is malformed."),
    "forbidden_xml": _r("The SAMLResponse carries a DOCTYPE or entity declaration, which SpaceIQ refuses "
                        "(XML entity attacks)."),
    "schema": _r("The SAML response does not follow the SAML 2.0 schema."),
    "status": _r("The identity provider answered with an error instead of signing the person in "
                 "(for Entra: often the person is not assigned to the app under Users and groups).",
                 person="idp", check="status", status=403),
    "unsigned": _r("Neither the response nor its assertion is signed. SpaceIQ only accepts signed "
                   "assertions: keep Entra's signing option on \"Sign SAML assertion\".",
                   check="signature", status=403),
    "signature": _r("The certificate saved in SpaceIQ did not sign this response: Entra may have rolled over "
                    "its signing certificate — download the new one and add it in the SSO tab.",
                    check="signature", status=403),
    "wrapping": _r("The signed part of the response is not the part that names the person (a signature "
                   "wrapping attempt, or a response altered after signing).", check="signature", status=403),
    "certificate_expired": _r("Every certificate saved in SpaceIQ has expired, so no response can be trusted. "
                              "Add the identity provider's current signing certificate in the SSO tab.",
                              check="signature", status=403),
    "weak_algorithm": _r("The response is signed with SHA-1. In Entra, set the signing algorithm to SHA-256.",
                         check="signature", status=403),
    "issuer": _r("The response was issued by another identity provider than the SAML Issuer URL saved in "
                 "SpaceIQ. Check that it matches Entra's Microsoft Entra Identifier exactly (with its "
                 "trailing slash).", check="issuer", status=403),
    "audience": _r("The assertion is meant for another application: its Audience is not this integration's "
                   "SAML Audience URI. In Entra, set Identifier (Entity ID) to the SAML Audience URI shown "
                   "in SpaceIQ.", check="audience", status=403),
    "destination": _r("The response was addressed to another URL than this integration's SAML CallBack "
                      "Endpoint URL. In Entra, set Reply URL to the value shown in SpaceIQ.",
                      check="destination", status=403),
    "recipient": _r("The assertion's subject confirmation is for another Reply URL, or has expired.",
                    check="destination", status=403),
    "expired": _r("The assertion has expired (more than 5 minutes of clock difference allowed). Check the "
                  "clock of the identity provider, or sign in again.", check="time", status=403),
    "not_yet_valid": _r("The assertion is not valid yet (more than 5 minutes of clock difference allowed).",
                        check="time", status=403),
    "in_response_to_unknown": _r("The response answers a sign-in request SpaceIQ never sent, or one that "
                                 "expired.", check="in_response_to", status=403),
    "in_response_to_answered": _r("The response answers a sign-in request that was already answered.",
                                  check="in_response_to", status=403),
    "replayed": _r("This assertion was already used to sign in: each assertion is accepted once.",
                   check="replay", status=403),
    "replay_store_unavailable": _r("SpaceIQ could not check that the assertion is new (its cache did not "
                                   "answer), so it refused it. Try again shortly.", check="replay", status=503),
    "no_name_id": _r("The assertion names no person (no NameID).", check="person", status=403),
    "unknown_person": Reason("Nobody in this directory has that user name. Provision the person first, or "
                             "turn on \"Create people who are not provisioned yet\".", "unknown_person", "person"),
    "inactive_person": Reason("The person is deactivated in SpaceIQ.", "inactive_person", "person"),
    "invalid": _r("The identity provider's response failed a SAML check.", status=403),
}

# python3-saml's validation error codes, by the reason we report.
_TOOLKIT_CODES: dict[int, str] = {
    V.UNSUPPORTED_SAML_VERSION: "malformed", V.MISSING_ID: "malformed", V.WRONG_NUMBER_OF_ASSERTIONS: "wrapping",
    V.MISSING_STATUS: "malformed", V.MISSING_STATUS_CODE: "malformed", V.STATUS_CODE_IS_NOT_SUCCESS: "status",
    V.WRONG_SIGNED_ELEMENT: "wrapping", V.ID_NOT_FOUND_IN_SIGNED_ELEMENT: "wrapping",
    V.DUPLICATED_ID_IN_SIGNED_ELEMENTS: "wrapping", V.INVALID_SIGNED_ELEMENT: "wrapping",
    V.DUPLICATED_REFERENCE_IN_SIGNED_ELEMENTS: "wrapping", V.UNEXPECTED_SIGNED_ELEMENTS: "wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES_IN_RESPONSE: "wrapping", V.WRONG_NUMBER_OF_SIGNATURES_IN_ASSERTION: "wrapping",
    V.WRONG_NUMBER_OF_SIGNATURES: "wrapping", V.INVALID_XML_FORMAT: "schema",
    V.WRONG_INRESPONSETO: "in_response_to_unknown", V.MISSING_CONDITIONS: "malformed",
    V.ASSERTION_TOO_EARLY: "not_yet_valid", V.ASSERTION_EXPIRED: "expired", V.RESPONSE_EXPIRED: "expired",
    V.SESSION_EXPIRED: "expired", V.WRONG_NUMBER_OF_AUTHSTATEMENTS: "malformed",
    V.WRONG_DESTINATION: "destination", V.EMPTY_DESTINATION: "destination", V.WRONG_AUDIENCE: "audience",
    V.ISSUER_MULTIPLE_IN_RESPONSE: "issuer", V.ISSUER_NOT_FOUND_IN_ASSERTION: "issuer", V.WRONG_ISSUER: "issuer",
    V.WRONG_SUBJECTCONFIRMATION: "recipient", V.NO_SIGNED_MESSAGE: "unsigned", V.NO_SIGNED_ASSERTION: "unsigned",
    V.NO_SIGNATURE_FOUND: "unsigned", V.INVALID_SIGNATURE: "signature", V.NO_NAMEID: "no_name_id",
    V.EMPTY_NAMEID: "no_name_id", V.DEPRECATED_SIGNATURE_METHOD: "weak_algorithm",
    V.DEPRECATED_DIGEST_METHOD: "weak_algorithm",
}


def reason_for_toolkit_code(code: int | None) -> str:
    return _TOOLKIT_CODES.get(code, "invalid") if code is not None else "invalid"


# The checks of a sign-in, in the order they run, for the Test single sign-on page.
CHECKS: tuple[tuple[str, str], ...] = (
    ("configuration", "Single sign-on is configured"),
    ("message", "The response is a well-formed SAML 2.0 response"),
    ("status", "The identity provider reported success"),
    ("in_response_to", "It answers a request SpaceIQ sent (InResponseTo)"),
    ("signature", "Signed by a certificate saved in SpaceIQ, unaltered"),
    ("time", "Within its validity period (5 minutes of clock difference allowed)"),
    ("destination", "Addressed to this integration's SAML CallBack Endpoint URL"),
    ("audience", "Meant for this integration's SAML Audience URI"),
    ("issuer", "Issued by the saved SAML Issuer URL"),
    ("replay", "Not used before"),
    ("person", "Names an active person of this directory"),
)
