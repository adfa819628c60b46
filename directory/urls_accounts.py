from django.urls import path

from directory.views import accounts

app_name = "accounts"

urlpatterns = [
    path("sign-in/", accounts.sign_in, name="sign-in"),
    path("sign-out/", accounts.sign_out, name="sign-out"),
]
