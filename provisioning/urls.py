from django.urls import path

from provisioning.views import settings as settings_views

app_name = "provisioning"

urlpatterns = [
    path("settings/", settings_views.settings_index, name="settings"),
]
