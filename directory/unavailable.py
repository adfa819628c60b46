"""503 Service Unavailable, and when to try again.

Every 503 the app sends says when to retry (``Retry-After``, RFC 9110
§10.2.3): the SCIM endpoint's (provisioning/scim/errors.py), ``/readyz``'s
(provisioning/health.py), SSO's (provisioning/sso/views.py) and the console's
and API's, answered here while PostgreSQL is unreachable. A restart of
PostgreSQL takes seconds, and a persistent connection recovers on the next
request (tests/faults/test_faults_postgres.py), so a few seconds it is.

Without this middleware a view that meets a lost connection ends in Django's
500 page: "a bug", where the truth is "come back shortly". The 503 page is
rendered without the request's context (no session, user or tenant: each
would ask the database again) and the session is not saved behind it
(Django's session middleware saves none for a 5xx).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def with_retry_after(response: HttpResponse) -> HttpResponse:
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """The 503 for a request that met an unreachable database: JSON on the API, a page elsewhere."""
    if request.path_info.startswith("/api/"):
        response = HttpResponse(json.dumps({"detail": "The service is temporarily unavailable; try again shortly."}),
                                status=503, content_type="application/json")
    else:
        response = HttpResponse(render_to_string("503.html", {"retry_after": RETRY_AFTER_SECONDS}), status=503)
    response["Cache-Control"] = "no-store"
    return with_retry_after(response)


class DatabaseUnavailableMiddleware:
    """Turns a lost or refused database connection in a view into a 503 with ``Retry-After``.

    SCIM answers its own (a SCIM error document, provisioning/scim/views.py)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Django's documented hook for an exception raised by a view: only the database's."""
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        # The class only: a connection error's text can quote the database URL.
        logger.warning("%s %s: database unavailable (%s)", request.method, request.path, type(exception).__name__)
        return unavailable_response(request)
