"""Root URLs: the console, the SCIM service mounted at /scim/ and /scim/v2/, SAML sign-in at /sso/, the
admin REST API at /api/v1/.

/healthz and /readyz are not here: provisioning.health.HealthCheckMiddleware,
first in MIDDLEWARE, answers them before the host check and the console's
middleware (provisioning/health.py says why).
"""

from django.urls import include, path, re_path

urlpatterns = [
    # /scim/v2 first: the /scim/ catch-all would otherwise answer for it.
    re_path(r"^scim/v2(?=/|$)", include("provisioning.scim.urls", namespace="scim-v2")),
    re_path(r"^scim(?=/|$)", include("provisioning.scim.urls", namespace="scim")),
    path("sso/", include("provisioning.sso.urls")),
    path("api/", include("spaceiq_site.api_urls")),
    path("accounts/", include("directory.urls_accounts")),
    path("", include("provisioning.urls")),
    path("", include("directory.urls")),
]
