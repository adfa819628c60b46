"""Django's session, authentication and messages middleware, for the console only.

A SCIM request is authenticated by its bearer token alone (provisioning/scim/auth.py):
it has no use for a console session, a signed-in user or flash messages, and
should it carry a console session cookie, it must neither read that session,
extend it nor write it back. These subclasses therefore pass a request to
``/scim`` straight through. Skipping them there is also most of what the
console's middleware would cost every SCIM request: the messages middleware
alone builds a cookie signer for each one (``make bench`` measures the SCIM
path; docs/benchmark.md).

CSRF, clickjacking and security headers still run everywhere: the SCIM views
are CSRF-exempt, and the headers cost next to nothing.

A 503 leaves the session alone too: it answers a request that could not
reach the database (directory/unavailable.py), and Django's middleware would
read the session again to work out the cookie's expiry before skipping the
save, meeting the same unreachable database and turning the 503 into a 500.
"""

from __future__ import annotations

import re

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

# The paths spaceiq_site/urls.py mounts the SCIM service at: /scim and everything under /scim/.
SCIM_PATH = re.compile(r"^/scim(?:/|$)")


class ConsoleOnly:
    """Mixed into one of Django's middleware classes: a SCIM request skips it (see above)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if SCIM_PATH.match(request.path_info):
            return self.get_response(request)
        return super().__call__(request)


class ConsoleSessionMiddleware(ConsoleOnly, SessionMiddleware):
    """Sessions are saved on every request (``SESSION_SAVE_EVERY_REQUEST``: each request pushes the
    idle deadline), except behind a 503 (see above)."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if response.status_code == 503:
            return response
        return super().process_response(request, response)


class ConsoleAuthenticationMiddleware(ConsoleOnly, AuthenticationMiddleware):
    pass


class ConsoleMessageMiddleware(ConsoleOnly, MessageMiddleware):
    pass
