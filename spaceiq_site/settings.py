"""Settings for the SpaceIQ console, driven only by the environment.

With no environment at all the app runs in demo mode: SQLite in ``var/``,
Celery tasks executed in-process and emails printed to the console. Production
sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``EMAIL_HOST`` and friends; see
the README for the full list.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from spaceiq_site.env import env_bool, env_email, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DJANGO_DEBUG", default=False)
DEMO_MODE = env_bool("SPACEIQ_DEMO", default=False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if DEBUG or DEMO_MODE:
        # A fixed development key: demo mode never faces the internet.
        SECRET_KEY = "spaceiq-insecure-development-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")

# A separate secret keys the SCIM token hashes, so rotating the session secret
# does not invalidate every identity provider's token (docs/security.md).
SCIM_TOKEN_HASH_KEY = env_str("SCIM_TOKEN_HASH_KEY", SECRET_KEY + ":scim-token-hash")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_scim",
    "directory",
    "provisioning",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "spaceiq_site.urls"
WSGI_APPLICATION = "spaceiq_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "directory.context_processors.console",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
_default_sqlite = f"sqlite:///{VAR_DIR / 'spaceiq.sqlite3'}"
_database_url = env_url("DATABASE_URL", _default_sqlite, schemes=("postgres", "postgresql", "sqlite"))
try:
    DATABASES = {"default": dj_database_url.parse(_database_url)}
except ValueError as exc:  # dj-database-url names no variable; we do.
    raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections: a SCIM burst must not pay a TCP + auth handshake
    # per request. Behind PgBouncer set DATABASE_CONN_MAX_AGE=0.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
else:
    VAR_DIR.mkdir(exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------
AUTH_USER_MODEL = "directory.Person"
AUTHENTICATION_BACKENDS = ["directory.auth_backend.TenantEmailBackend"]
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "directory:home"
LOGOUT_REDIRECT_URL = "accounts:sign-in"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# auth.W004: user_name is unique per tenant, not globally; our backend resolves sign-in.
# urls.W002: SCIM routes start with "/*" on purpose, to accept Entra's "/scim//Users".
SILENCED_SYSTEM_CHECKS = ["auth.W004", "urls.W002"]

# --- Sessions, cookies, browser security -----------------------------------
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 8 * 3600, minimum=300)
SESSION_SAVE_EVERY_REQUEST = True  # idle expiry: every request pushes the deadline
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
_https = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
CSRF_TRUSTED_ORIGINS = [SITE_URL]
if env_bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Largest request body read into memory: the SCIM limit (provisioning.scim.constants.MAX_BODY_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1_048_576

# --- Static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True  # serve from static/ without collectstatic in demo and tests

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Caches (rate limits and throttles must be shared between processes) -----
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "spaceiq_cache"}}

# --- Email ------------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "provisioning.console_email.StderrEmailBackend"
DEFAULT_FROM_EMAIL = env_email("DEFAULT_FROM_EMAIL", "SpaceIQ <no-reply@spaceiq.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery -----------------------------------------------------------------
_broker_url = env_url("CELERY_BROKER_URL", "", schemes=("redis", "rediss", "amqp", "memory"))
CELERY_TASK_ALWAYS_EAGER = not _broker_url  # demo mode: run tasks in-process
CELERY_BROKER_URL = _broker_url or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task gets its task redelivered
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "spaceiq")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Redis visibility timeout must exceed the longest task so unacked tasks are
# redelivered only when a worker really died.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}

# --- SCIM (django-scim2) -----------------------------------------------------
SCIM_SERVICE_PROVIDER = {
    "NETLOC": SITE_URL.split("://", 1)[1],
    "SCHEME": SITE_URL.split("://", 1)[0],
    "AUTHENTICATION_SCHEMES": [
        {
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with the SCIM bearer token issued in the SpaceIQ console.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": True,
        }
    ],
    "WWW_AUTHENTICATE_HEADER": 'Bearer realm="SpaceIQ SCIM"',
    "USER_ADAPTER": "provisioning.scim.adapters.ScimUser",
    "GROUP_ADAPTER": "provisioning.scim.adapters.ScimGroup",
    "GROUP_MODEL": "directory.models.Group",
    "AUTH_CHECK_MIDDLEWARE": "provisioning.scim.auth.ScimAuth",
    "BASE_LOCATION_GETTER": "provisioning.scim.adapters.base_location",
    "SCHEMAS_GETTER": "provisioning.scim.discovery.schemas_getter",
}

# --- REST framework (our own JSON APIs) --------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-scim2 logs full request bodies at DEBUG; never let them out.
    "loggers": {"django_scim": {"level": "WARNING"}},
}

CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "provisioning.tasks.outbox_drain", "schedule": 60.0},
}

# --- Alerts and retention (provisioning.alerts, provisioning.retention) ---------
# One failure summary per integration, then quiet for this long.
SCIM_FAILURE_QUIET_MINUTES = env_int("SCIM_FAILURE_QUIET_MINUTES", 60, minimum=1)
# Wait this long after the first failure so the summary covers the burst.
SCIM_FAILURE_SUMMARY_DELAY_SECONDS = env_int("SCIM_FAILURE_SUMMARY_DELAY_SECONDS", 60, minimum=0)
# Successes with no failure for this long count as a recovery (and get an email).
SCIM_RECOVERY_MINUTES = env_int("SCIM_RECOVERY_MINUTES", 10, minimum=0)
# Several Entra cycles (~40 minutes each) without a request means provisioning stopped.
SCIM_SILENCE_HOURS = env_int("SCIM_SILENCE_HOURS", 3, minimum=1)
# 401s with one old token of a tenant within an hour before its admins are told.
SCIM_INVALID_TOKEN_ALERT_THRESHOLD = env_int("SCIM_INVALID_TOKEN_ALERT_THRESHOLD", 5, minimum=1)
SCIM_REQUEST_LOG_RETENTION_DAYS = env_int("SCIM_REQUEST_LOG_RETENTION_DAYS", 30, minimum=1)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "alerts-sweep": {"task": "provisioning.tasks.alerts_sweep", "schedule": 60.0},
        "silence-check": {"task": "provisioning.tasks.silence_check", "schedule": 15 * 60.0},
        "retention-purge": {"task": "provisioning.tasks.retention_purge", "schedule": 3600.0},
    }
)
