"""Django's session middleware, except that the SCIM endpoint never saves a console session.

Sessions are saved on every request (``SESSION_SAVE_EVERY_REQUEST``: each
request pushes the idle deadline). A SCIM request is authenticated by its
bearer token alone; should it carry a console session cookie, it must
neither extend that session nor write it back.
"""

from __future__ import annotations

import re

from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpRequest, HttpResponse

# The paths spaceiq_site/urls.py mounts the SCIM service at: /scim and everything under /scim/.
SCIM_PATH = re.compile(r"^/scim(?:/|$)")


class ConsoleSessionMiddleware(SessionMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if SCIM_PATH.match(request.path_info):
            return response
        return super().process_response(request, response)
