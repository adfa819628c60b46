"""Settings for the SpaceIQ console, driven only by the environment.

With no environment at all the app runs in demo mode: SQLite in ``var/``,
Celery tasks executed in-process and emails printed to the console. Production
sets ``DATABASE_URL``, ``REDIS_URL`` (required unless ``DJANGO_DEBUG`` or
``SPACEIQ_DEMO`` is on), ``CELERY_BROKER_URL``, ``EMAIL_HOST`` and friends; see
the README for the full list.
"""

from __future__ import annotations

from datetime import timedelta
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

# During a rotation of DJANGO_SECRET_KEY: the old key(s), still accepted for
# sessions, CSRF tokens and signatures until removed (docs/security.md).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])

# A separate secret keys the SCIM token hashes, so rotating the session secret
# does not invalidate every identity provider's token (docs/security.md).
SCIM_TOKEN_HASH_KEY = env_str("SCIM_TOKEN_HASH_KEY", SECRET_KEY + ":scim-token-hash")
# During a rotation of SCIM_TOKEN_HASH_KEY: the old key, still accepted; a token
# verified with it is re-hashed with the new key on use (provisioning.tokens).
SCIM_TOKEN_HASH_KEY_PREVIOUS = env_str("SCIM_TOKEN_HASH_KEY_PREVIOUS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_scim",
    "directory",
    "provisioning",
    "axes",
]

MIDDLEWARE = [
    # /healthz and /readyz, answered before anything else: no host check, session, CSRF or sign-in.
    "provisioning.health.HealthCheckMiddleware",
    # First, so every later reader of REMOTE_ADDR sees the client (docs/security.md).
    "directory.security_headers.TrustedProxyClientAddressMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Session, user and messages: the console's; a SCIM request skips them (directory/console_middleware.py).
    "directory.console_middleware.ConsoleSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "directory.console_middleware.ConsoleAuthenticationMiddleware",
    "directory.console_middleware.ConsoleMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "directory.security_headers.ContentSecurityPolicyMiddleware",
    # A view that meets an unreachable database answers 503 with Retry-After, not a 500.
    "directory.unavailable.DatabaseUnavailableMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
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
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The stock backend with a health check that needs no round trip (spaceiq_site/postgresql).
    DATABASES["default"]["ENGINE"] = "spaceiq_site.postgresql"
    # Persistent connections: a SCIM burst must not pay a TCP + auth handshake
    # per request. Behind PgBouncer set DATABASE_CONN_MAX_AGE=0.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
    # Parameters travel apart from the SQL (psycopg's server-side binding, as
    # Django's OPTIONS offer it), so a statement a connection runs again and
    # again (a SCIM sync runs a handful thousands of times) is parsed and
    # planned once: psycopg prepares it from its fifth run. PgBouncer in
    # transaction mode before 1.21 cannot carry prepared statements: set
    # DATABASE_PREPARED_STATEMENTS=false behind it.
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    if DATABASE_PREPARED_STATEMENTS:
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
else:
    VAR_DIR.mkdir(exist_ok=True)
# Each process keeps the SCIM tokens it verified and forgets them on a
# PostgreSQL notification (provisioning/token_cache.py). LISTEN needs a
# session of its own: set SCIM_TOKEN_CACHE=false behind PgBouncer in
# transaction pooling. Always off on SQLite.
SCIM_TOKEN_CACHE = env_bool("SCIM_TOKEN_CACHE", True)
# SCIM request-log rows are written behind the response, in batches, by a
# thread of each process, every this many milliseconds (0: each request
# writes its own row). See provisioning/request_log_writer.py for what a
# killed process can lose.
SCIM_REQUEST_LOG_BATCH_MS = env_int("SCIM_REQUEST_LOG_BATCH_MS", 200, minimum=0)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------
AUTH_USER_MODEL = "directory.Person"
# AxesStandaloneBackend first: it refuses a locked-out account or address
# before TenantEmailBackend checks any password.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "directory.auth_backend.TenantEmailBackend"]
# Asked before a password sign-in: "Require single sign-on" refuses it for non-admins.
PASSWORD_SIGNIN_POLICY = "provisioning.sso.policy.password_signin_refusal"
LOGIN_URL = "accounts:sign-in"
LOGIN_REDIRECT_URL = "directory:home"
LOGOUT_REDIRECT_URL = "accounts:sign-in"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    # Person has no "username"/"email" fields, the validator's defaults: name ours.
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
     "OPTIONS": {"user_attributes": ("user_name", "work_email", "display_name", "given_name", "family_name")}},
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
# How many proxies of ours append to X-Forwarded-For (0: trust none of it).
TRUSTED_PROXY_HOPS = env_int("DJANGO_TRUSTED_PROXY_HOPS", 0, minimum=0, maximum=5)
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True  # forms carry the token; no script needs the cookie
# No inline script or style anywhere (directory.security_headers).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

# --- Sign-in throttling (django-axes; directory.signin) ------------------------
# Failures are counted in the database (shared by every process, and still
# working when Redis is down) per account and, separately, per source address.
AXES_HANDLER = "directory.signin.SignInAttemptsHandler"  # axes' database handler (see its docstring)
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts during a lockout are refused without being counted, so a lockout
# ends one cool-off after the failure that caused it even if an attacker keeps trying.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Not reset on success: a reset deletes every failure of the signing-in address,
# so anyone with an account could sign in between guesses at someone else's.
AXES_RESET_ON_SUCCESS = False
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "directory.signin.signin_username"
AXES_CLIENT_IP_CALLABLE = "directory.signin.signin_client_ip"
AXES_LOCKOUT_CALLABLE = "directory.signin.lockout_response"
AXES_SENSITIVE_PARAMETERS = ["password", "sudo_password", "csrfmiddlewaretoken"]
AXES_VERBOSE = False
# Successful sign-ins are in the audit trail (signin.succeeded); no second, unpurged log.
AXES_DISABLE_ACCESS_LOG = True

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
    CACHES = {"default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
        # A stalled Redis must cost a request at most a second, never hang it.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }}
elif DEBUG or DEMO_MODE:
    # Demo mode only: `make run` creates the table (createcachetable); migrate does not.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "spaceiq_cache"}}
else:
    # The database cache's table is made by createcachetable, not migrate:
    # without it the SCIM brute-force limit fails open, unnoticed, and every
    # SSO sign-in is refused (the replay check cannot vouch for an assertion).
    raise ImproperlyConfigured(
        "REDIS_URL must be set when neither DJANGO_DEBUG nor SPACEIQ_DEMO is on: the SCIM brute-force limit "
        "and the SSO replay check need a cache every app process shares."
    )
# Several deployments (or test runs) sharing one Redis keep apart by prefix.
CACHES["default"]["KEY_PREFIX"] = env_str("CACHE_KEY_PREFIX")

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
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=5)}

# --- REST framework: the admin REST API under /api/v1/ (API keys, read-only) ------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["directory.api_access.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["directory.api_access.PerKeyThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
# Requests per API key (DRF's rate syntax: N/second|minute|hour|day), counted in the shared cache.
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "600/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "SpaceIQ admin API",
    "DESCRIPTION": (
        "Read-only access to one tenant's directory, audit trail and provisioning logs. "
        "Send an API key (Settings > API keys) as `Authorization: Bearer siq_api_…`. "
        "Lists page with an opaque cursor: follow the `next` link (also in the `Link` header). "
        "Event lists (audit events, provisioning requests, SSO sign-ins) always have a next link: "
        "polling it returns later events, each exactly once."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI from our own static files (drf-spectacular-sidecar), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No "valid" badge: Swagger UI would have swagger.io fetch our schema (it skips that only on localhost).
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- SCIM (django-scim2) -----------------------------------------------------
# django-scim2 gives us base classes (its SCIMView and adapter mixin), its
# exception and constants; our views, adapters, filter parser and token check
# do the rest (provisioning/scim/). Only the keys the library reads are set:
# both are read when django_scim.views is imported, for the library's own
# dispatch and schema view, which ours replace.
SCIM_SERVICE_PROVIDER = {
    # Should the library's dispatch ever run, it authenticates with our tokens.
    "AUTH_CHECK_MIDDLEWARE": "provisioning.scim.auth.ScimAuth",
    "SCHEMAS_GETTER": "provisioning.scim.discovery.schemas_getter",
}

# --- Logging ----------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # A SCIM token pasted into a URL or body never reaches a log line (docs/security.md).
    "filters": {
        "redact_tokens": {"()": "provisioning.logging_filters.RedactTokens"},
        "without_health_probes": {"()": "provisioning.logging_filters.WithoutHealthProbes"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_tokens"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # django-scim2 logs full request bodies at DEBUG; never let them out.
        "django_scim": {"level": "WARNING", "filters": ["redact_tokens"]},
        # Django logs the path of every 4xx/5xx: a token pasted into a URL would be in it.
        # ... and of every failing /readyz probe: provisioning.health logs what failed instead.
        "django.request": {"filters": ["redact_tokens", "without_health_probes"]},
    },
}

CELERY_BEAT_SCHEDULE = {
    "outbox-drain": {"task": "provisioning.tasks.outbox_drain", "schedule": 60.0},
    # /readyz wants one within provisioning.health.HEARTBEAT_MAX_AGE; one queued while no worker
    # ran expires instead of piling up.
    "worker-heartbeat": {"task": "provisioning.tasks.worker_heartbeat", "schedule": 60.0, "options": {"expires": 120}},
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
# Brute force on /scim (provisioning.scim.rate_limit): 401s allowed per source
# address and per token lookup prefix in each window, then 429 until it ends.
SCIM_AUTH_FAILURE_WINDOW_SECONDS = env_int("SCIM_AUTH_FAILURE_WINDOW_SECONDS", 60, minimum=1)
SCIM_AUTH_FAILURES_PER_IP = env_int("SCIM_AUTH_FAILURES_PER_IP", 20, minimum=1)
SCIM_AUTH_FAILURES_PER_PREFIX = env_int("SCIM_AUTH_FAILURES_PER_PREFIX", 50, minimum=1)
SCIM_REQUEST_LOG_RETENTION_DAYS = env_int("SCIM_REQUEST_LOG_RETENTION_DAYS", 30, minimum=1)
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 365, minimum=1)
# Single sign-on (provisioning.sso.alerts): the same debounce as SCIM failures,
# with settings of their own so SSO can be tuned without touching SCIM.
SSO_FAILURE_QUIET_MINUTES = env_int("SSO_FAILURE_QUIET_MINUTES", 60, minimum=1)
SSO_FAILURE_SUMMARY_DELAY_SECONDS = env_int("SSO_FAILURE_SUMMARY_DELAY_SECONDS", 60, minimum=0)
SSO_RECOVERY_MINUTES = env_int("SSO_RECOVERY_MINUTES", 10, minimum=0)
# The SSO log follows the SCIM request log unless set on its own.
SSO_LOG_RETENTION_DAYS = env_int("SSO_LOG_RETENTION_DAYS", SCIM_REQUEST_LOG_RETENTION_DAYS, minimum=1)
CELERY_BEAT_SCHEDULE.update(
    {
        "alerts-sweep": {"task": "provisioning.tasks.alerts_sweep", "schedule": 60.0},
        "silence-check": {"task": "provisioning.tasks.silence_check", "schedule": 15 * 60.0},
        "retention-purge": {"task": "provisioning.tasks.retention_purge", "schedule": 3600.0},
        # Hourly; each kept last admin is reminded once a day (dedupe key per day).
        "kept-admins-remind": {"task": "provisioning.tasks.kept_admins_remind", "schedule": 3600.0},
        "sso-alerts-sweep": {"task": "provisioning.tasks.sso_alerts_sweep", "schedule": 60.0},
        # Hourly although the thresholds are days: each notice is sent once
        # (dedupe key), and a missed run costs an hour, not a day.
        "sso-certificate-expiry-check": {
            "task": "provisioning.tasks.sso_certificate_expiry_check", "schedule": 3600.0,
        },
    }
)
