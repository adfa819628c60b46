"""The bearer-token check in front of django-scim2's views.

django-scim2 lets a request through when ``request.user`` is authenticated
(its default AUTH_CHECK_MIDDLEWARE). This sets that user when the request
carries the configured token (compared in constant time) and no user
otherwise, so the library answers 401. It costs no database query, which
favours the baseline: our app looks its tokens up in PostgreSQL.
"""

import hmac

from django.conf import settings
from django.contrib.auth.models import AnonymousUser


class _ScimClient(AnonymousUser):
    """The provisioning client: authenticated, but not a row in the user table."""

    @property
    def is_anonymous(self) -> bool:
        return False

    @property
    def is_authenticated(self) -> bool:
        return True


_CLIENT = _ScimClient()
_ANONYMOUS = AnonymousUser()


class BearerTokenMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.expected = f"Bearer {settings.STOCK_SCIM_TOKEN}".encode()

    def __call__(self, request):
        supplied = request.headers.get("Authorization", "").encode()
        ok = bool(settings.STOCK_SCIM_TOKEN) and hmac.compare_digest(supplied, self.expected)
        request.user = _CLIENT if ok else _ANONYMOUS
        return self.get_response(request)
