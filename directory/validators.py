"""Rules on values the directory stores, shared by its services and the console's forms.

User names and email addresses carry no control characters: SpaceIQ writes
them into the headers of the emails it sends a person (a line break there
starts a new header), signs people in with them and prints them on every
page. Microsoft Entra ID never sends any (an RFC 5322 address cannot hold
them). Every other attribute keeps whatever printable Unicode the identity
provider sent, and is returned as sent.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# Unicode's "Cc" category: C0 (U+0000-U+001F: NUL, tab, LF, CR...), DEL and C1 (U+0080-U+009F, whose
# NEL, U+0085, Python's str.splitlines() also breaks on).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

CONTROL_CHARACTERS_REFUSED = "must not contain control characters such as line breaks"


def control_character_in(value: str) -> str | None:
    """The first control character of ``value`` as ``"U+000A"``, or None."""
    found = _CONTROL.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def control_characters_message(value: str) -> str | None:
    """Why ``value`` cannot be a user name or an email address, or None when it can."""
    found = control_character_in(value)
    return f"{CONTROL_CHARACTERS_REFUSED} (found {found})" if found else None


def no_control_characters(value: str) -> None:
    """A form field validator (user names, email addresses)."""
    message = control_characters_message(value or "")
    if message:
        raise ValidationError(f"This value {message}.", code="control")
