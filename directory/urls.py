from django.urls import path

from directory.views import home

app_name = "directory"

urlpatterns = [
    path("", home.home, name="home"),
]
