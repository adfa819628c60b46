"""Console sign-in by email and password across tenants.

``user_name`` is unique per tenant only, so the same email may exist in two
tenants; the password decides which account signs in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from directory.models import Person


class TenantEmailBackend(BaseBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Person | None:
        email = (username or kwargs.get("email") or "").strip()
        if not email or not password:
            return None
        candidates = list(
            Person.objects.select_related("tenant")
            .filter(user_name__iexact=email, is_active=True)
            .order_by("created")[:10]
        )
        for person in candidates:
            if person.has_usable_password() and person.check_password(password):
                return person
        if not candidates:
            # Spend the time a password check costs, so response time does not
            # reveal whether the email exists (same defence as ModelBackend).
            Person().set_password(password)
        return None

    def get_user(self, user_id: Any) -> Person | None:
        return Person.objects.select_related("tenant").filter(pk=user_id, is_active=True).first()
