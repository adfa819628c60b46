"""Django's session middleware, except that the SCIM endpoint never saves a console session.

Sessions are saved on every request (``SESSION_SAVE_EVERY_REQUEST``: each
request pushes the idle deadline). A SCIM request is authenticated by its
bearer token alone; should it carry a console session cookie, it must
neither extend that session nor write it back.

A 503 leaves the session alone too: it answers a request that could not
reach the database (directory/unavailable.py), and Django's middleware would
read the session again to work out the cookie's expiry before skipping the
save, meeting the same unreachable database and turning the 503 into a 500.
"""

from __future__ import annotations

import re

from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

# The paths spaceiq_site/urls.py mounts the SCIM service at: /scim and everything under /scim/.
SCIM_PATH = re.compile(r"^/scim(?:/|$)")


class ConsoleSessionMiddleware(SessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        """Django's, except on /scim and for a 503 (see above)."""
        if SCIM_PATH.match(request.path_info) or response.status_code == 503:
            return response
        return super().process_response(request, response)
