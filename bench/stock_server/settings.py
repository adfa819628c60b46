"""The baseline: a Django project built only from django-scim2's documented defaults.

What a Django team gets without us: the library's default adapters, views,
URLs and filter parser on Django's auth ``User``/``Group`` pattern with the
library's model mixins (``stockapp.models``), a bearer-token check
(``stockapp.middleware``), PostgreSQL in a database of its own, and the same
persistent-connection settings as the app (``CONN_MAX_AGE`` with health
checks), so a comparison measures the code, not the configuration.

Run by bench/run.py under the same gunicorn settings as the app. Environment:
``STOCK_DATABASE_URL`` (required), ``STOCK_SCIM_TOKEN`` (required),
``DATABASE_CONN_MAX_AGE`` (default 600, as the app).
"""

import os

import dj_database_url

SECRET_KEY = os.environ.get("STOCK_SECRET_KEY", "stock-baseline-not-a-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_scim",
    "bench.stock_server.stockapp",
]

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "bench.stock_server.stockapp.middleware.BearerTokenMiddleware",
]

ROOT_URLCONF = "bench.stock_server.urls"
WSGI_APPLICATION = "bench.stock_server.wsgi.application"

DATABASES = {"default": dj_database_url.parse(os.environ["STOCK_DATABASE_URL"])}
# Exactly the app's connection settings (spaceiq_site/settings.py).
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "600"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5

AUTH_USER_MODEL = "stockapp.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

STOCK_SCIM_TOKEN = os.environ.get("STOCK_SCIM_TOKEN", "")

# django-scim2's required settings (its README), plus the group model the
# library's own test project uses with AbstractSCIMGroupMixin.
SCIM_SERVICE_PROVIDER = {
    "NETLOC": "127.0.0.1",
    "AUTHENTICATION_SCHEMES": [
        {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Bearer token"},
    ],
    "GROUP_MODEL": "bench.stock_server.stockapp.models.Group",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
