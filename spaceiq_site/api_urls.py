"""/api/v1/: the admin REST API (directory/api.py, provisioning/api.py), its OpenAPI schema and docs page."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from directory import api as directory_api
from provisioning import api as provisioning_api


def not_found(request: HttpRequest) -> JsonResponse:
    # An unknown path under /api/ answers JSON like every other API error, not the console's HTML page.
    return JsonResponse({"detail": "Not found: see /api/v1/docs/ for the endpoints."}, status=404)


urlpatterns = [
    path("v1/people/", directory_api.PeopleList.as_view(), name="api-people"),
    path("v1/people/<str:person_id>/", directory_api.PersonDetail.as_view(), name="api-person"),
    path("v1/groups/", directory_api.GroupsList.as_view(), name="api-groups"),
    path("v1/groups/<str:group_id>/", directory_api.GroupDetail.as_view(), name="api-group"),
    path("v1/groups/<str:group_id>/members/", directory_api.GroupMembers.as_view(), name="api-group-members"),
    path("v1/audit-events/", provisioning_api.AuditEvents.as_view(), name="api-audit-events"),
    path("v1/provisioning-requests/", provisioning_api.ProvisioningRequests.as_view(),
         name="api-provisioning-requests"),
    path("v1/sso-sign-ins/", provisioning_api.SsoSignIns.as_view(), name="api-sso-sign-ins"),
    path("v1/integrations/", provisioning_api.Integrations.as_view(), name="api-integrations"),
    path("v1/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]),
         name="api-schema"),
    path("v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="directory/api_docs.html",
                                                         authentication_classes=[], permission_classes=[]),
         name="api-docs"),
    re_path(r"^.*$", not_found),
]
