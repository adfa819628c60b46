"""Password sign-in under "Require single sign-on" (settings.PASSWORD_SIGNIN_POLICY).

The directory's sign-in form asks this before it signs anyone in with a
password; the answer is the message to show, or None to let them in.
"""

from __future__ import annotations

from directory.models import Person
from provisioning.sso.selectors import tenant_requires_sso


def password_signin_refusal(person: Person) -> str | None:
    # Admins keep their password as the way back in when the identity provider is
    # misconfigured or down: requiring SSO never locks a tenant out.
    if person.is_tenant_admin or not tenant_requires_sso(tenant_id=person.tenant_id):
        return None
    return (f"{person.tenant.name} signs in with single sign-on. Choose \u201cSign in with SSO\u201d below, "
            "or open SpaceIQ from your company's app portal.")
