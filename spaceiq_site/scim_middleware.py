"""SCIM requests take a middleware chain of their own: ``settings.SCIM_MIDDLEWARE``.

The console's chain carries sessions, CSRF, authentication, messages, static
files and sign-in lockouts. A SCIM request uses none of them: it is
authenticated by its bearer token (provisioning.scim.auth), never reads a
cookie, and Entra sends thousands of them per sync. Walking the console's chain
cost a SCIM request about a tenth of its CPU.

``ScimLaneMiddleware`` sits first in ``MIDDLEWARE``. For a path under
``/scim/`` it hands the request to a chain built once from ``SCIM_MIDDLEWARE``
(the client address, the security headers, CommonMiddleware), which ends in
Django's own URL resolution and view call; every other path continues down
the console's chain. Django's handler still does everything around the chain
(URLconf, signals, response closing, logging), for both.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.base import BaseHandler
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

SCIM_PREFIX = "/scim/"


class _ScimHandler(BaseHandler):
    """Django's request handler with ``SCIM_MIDDLEWARE`` as its chain (synchronous only)."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for path in reversed(settings.SCIM_MIDDLEWARE):
            middleware = import_string(path)
            if not getattr(middleware, "sync_capable", True):
                raise ImproperlyConfigured(f"SCIM_MIDDLEWARE: {path} cannot run synchronously")
            instance = middleware(handler)
            # The hooks BaseHandler._get_response calls, in the order Django registers them.
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler


class ScimLaneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        handler = _ScimHandler()
        handler.load_middleware()
        self.scim_chain = handler._middleware_chain

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(SCIM_PREFIX) or path == "/scim":
            return self.scim_chain(request)
        return self.get_response(request)
