from django.urls import path

from provisioning.sso import views

app_name = "sso"

urlpatterns = [
    path("", views.sso_signin, name="signin"),
    path("<slug:tenant>/<slug:kind>/", views.start, name="start"),
    path("<slug:tenant>/<slug:kind>/acs/", views.acs, name="acs"),
    path("<slug:tenant>/<slug:kind>/metadata/", views.metadata, name="metadata"),
]
