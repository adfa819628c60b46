"""Failed SCIM requests in plain words: a short reason, what it means, what to do.

Shared by the failure summary emails, the traffic chart and the request detail
page, so a failure reads the same everywhere. Keyed by the HTTP status and the
SCIM error type (RFC 7644 §3.12) that the SCIM views answered with.
"""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.registry import kind_get


@dataclass(frozen=True)
class Explanation:
    reason: str  # short, for lists and chart labels
    meaning: str  # one or two sentences, for the detail page
    advice: tuple[str, ...]  # what the admin can do, in order


def is_failure(status: int) -> bool:
    return status >= 400


def failure_reason(status: int, scim_type: str = "") -> str:
    """A short label for a kind of failure, used to group and count them."""
    return explain(status, scim_type).reason


def _provider(kind: str) -> str:
    entry = kind_get(kind)
    return entry.provider if entry else "your identity provider"


def explain(status: int, scim_type: str = "", *, kind: str = "azure", resource_type: str = "") -> Explanation:
    """What a failed request means and what the admin can do about it."""
    provider = _provider(kind)
    thing = {"User": "person", "Group": "group"}.get(resource_type, "person or group")
    if status == 401:
        return Explanation(
            "Invalid, revoked or expired token (401)",
            f"SpaceIQ did not accept the SCIM Bearer Token that {provider} sent. The token was revoked, its "
            "rotation grace period ended, the integration was deactivated, or the token was mistyped.",
            (
                "Open the integration page in SpaceIQ and generate or rotate a token.",
                f"In {provider}, paste the new token into the Secret Token field of the provisioning "
                "Admin Credentials and press Test Connection, then Save.",
                "If you do not recognise this request, someone may be trying old or guessed tokens: "
                "check the source IP and revoke any token you no longer use.",
            ),
        )
    if status == 403:
        return Explanation(
            "Not allowed (403)",
            "The request was authenticated but is not allowed, usually because the integration is not active.",
            ("Check that the integration is active on its page in SpaceIQ; reactivate it with a new token if needed.",),
        )
    if status == 404:
        return Explanation(
            f"{thing.capitalize()} not found (404)",
            f"{provider} referred to a {thing} that does not exist in SpaceIQ: it was deleted here, or "
            f"{provider} still remembers an id from an earlier connection.",
            (
                f"Usually nothing: {provider} creates the {thing} again on its next cycle.",
                f"If it keeps happening, use Restart provisioning in {provider} so it matches everyone again.",
            ),
        )
    if status == 409 or scim_type == "uniqueness":
        attribute = "displayName" if resource_type == "Group" else "userName"
        return Explanation(
            f"{attribute} already exists (409)",
            f"A {'group' if resource_type == 'Group' else 'person'} with that {attribute} already exists in "
            f"SpaceIQ, so {provider} could not create another one.",
            (
                f"If the existing record should be managed by {provider}, make the matching attribute in "
                f"{provider}'s attribute mappings produce the same {attribute}, so it matches instead of creating.",
                "If the existing record was created by hand in the console and is obsolete, delete or rename it "
                "in SpaceIQ; the next cycle then succeeds.",
            ),
        )
    if status == 412 or scim_type == "invalidVers":
        return Explanation(
            "Record changed in between (412)",
            "The record changed between reading and writing it, so the change was refused to avoid losing one.",
            (f"Nothing to do: {provider} retries with the current version.",),
        )
    if status == 413:
        return Explanation(
            "Request too large (413)",
            "The request body was larger than SpaceIQ accepts.",
            ("Reduce the number of members changed at once, or contact support with the request id.",),
        )
    if status == 429:
        return Explanation(
            "Rate limited (429)",
            "Too many requests arrived in a short time; SpaceIQ asked the sender to slow down.",
            (f"Nothing to do if these stop: {provider} retries after the time SpaceIQ gives.",),
        )
    if status >= 500:
        return Explanation(
            f"SpaceIQ server error ({status})",
            "SpaceIQ could not process the request because of a problem on our side. Nothing was changed.",
            (
                f"{provider} retries failed requests on its next cycle.",
                "If it persists, contact SpaceIQ support and quote the request id shown here.",
            ),
        )
    if status == 400:
        return _explain_bad_request(scim_type, provider)
    return Explanation(
        f"Request failed ({status})",
        f"SpaceIQ answered with HTTP {status}.",
        ("Check the error detail below; contact support with the request id if it is unclear.",),
    )


_BAD_REQUEST: dict[str, tuple[str, str]] = {
    "invalidValue": ("Invalid value (400)", "An attribute had a value SpaceIQ cannot store (wrong type, too long, "
                     "or missing where required)."),
    "invalidSyntax": ("Unreadable request (400)", "The request body was not valid SCIM JSON."),
    "invalidFilter": ("Invalid filter (400)", "A search filter could not be understood."),
    "invalidPath": ("Invalid PATCH path (400)", "A PATCH operation named an attribute path SpaceIQ does not know."),
    "noTarget": ("PATCH path matched nothing (400)", "A PATCH operation's path matched no value to change."),
    "mutability": ("Read-only attribute (400)", "The request tried to change an attribute that cannot be changed, "
                   "such as id or meta."),
    "tooMany": ("Too many operations or results (400)", "The request asked for more than SpaceIQ allows at once."),
    "sensitive": ("Sensitive data in URL (400)", "The request carried sensitive data in its URL."),
}


def _explain_bad_request(scim_type: str, provider: str) -> Explanation:
    reason, meaning = _BAD_REQUEST.get(scim_type, ("Bad request (400)", "SpaceIQ could not accept the request."))
    return Explanation(
        reason,
        meaning,
        (
            f"Check {provider}'s attribute mappings for the attribute named in the error detail below: map it "
            "to a source attribute with a valid value, or remove the mapping.",
            "Once fixed, use Provision on demand for one affected user to confirm.",
        ),
    )
