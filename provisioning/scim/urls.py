"""SCIM routes, mounted at /scim/ and /scim/v2/.

django-scim2's own URL patterns accept neither a trailing slash nor the double
slash Entra produces when the Tenant URL is pasted with one (``/scim//Users``);
these patterns accept both, keep the library's route names (its adapters
reverse names like ``scim:users``) and never redirect, so POST and PATCH bodies survive.
"""

from django.urls import re_path

from provisioning.scim import views

app_name = "scim"

_ID = r"(?:/+(?P<uuid>[^/]+))?/*$"

urlpatterns = [
    re_path(r"^/*Users/+\.search/*$", views.UserSearchView.as_view(), name="users-search"),
    re_path(r"^/*Users" + _ID, views.UsersView.as_view(), name="users"),
    re_path(r"^/*Groups/+\.search/*$", views.GroupSearchView.as_view(), name="groups-search"),
    re_path(r"^/*Groups" + _ID, views.GroupsView.as_view(), name="groups"),
    re_path(r"^/*ServiceProviderConfigs?/*$", views.ServiceProviderConfigView.as_view(),
            name="service-provider-config"),
    re_path(r"^/*ResourceTypes" + _ID, views.ResourceTypesView.as_view(), name="resource-types"),
    re_path(r"^/*Schemas" + _ID, views.SchemasView.as_view(), name="schemas"),
    re_path(r"^/*(?:Bulk|Me|\.search)/*$", views.NotImplementedView.as_view(), name="not-implemented"),
    re_path(r"^/*$", views.NotFoundView.as_view(), name="root"),
    # [\s\S], not ".": a path with a newline (%0A) must get a SCIM 404 too, not the console's HTML one.
    re_path(r"^[\s\S]*$", views.NotFoundView.as_view(), name="not-found"),
]
