"""Root URLs: the console, and the SCIM service mounted at /scim/ and /scim/v2/."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("directory.urls_accounts")),
    path("", include("provisioning.urls")),
    path("", include("directory.urls")),
]
