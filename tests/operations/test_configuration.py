"""A bad environment value stops start-up with a message naming the variable."""

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# Only what each test sets: none of the test run's own settings leak into the process.
_OWN = ("DJANGO_", "EMAIL_", "SITE_URL", "DATABASE_", "REDIS_URL", "SPACEIQ_DEMO")


def start(show: str = "settings.DEBUG", **env: str) -> subprocess.CompletedProcess[str]:
    """Start-up with the production variables each test needs (a secret key, REDIS_URL) plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    base.update({"DJANGO_SECRET_KEY": "k", "REDIS_URL": "redis://127.0.0.1:6379/0", **env})
    return subprocess.run(
        [sys.executable, "-c",
         f"import django; django.setup(); from django.conf import settings; print({show})"],
        cwd=ROOT, env={**base, "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings"}, capture_output=True, text=True,
    )


@pytest.mark.parametrize("name, value", [
    ("DJANGO_DEBUG", "maybe"),
    ("DATABASE_URL", "mysql://nope"),
    ("EMAIL_PORT", "twenty-five"),
    ("SITE_URL", "spaceiq.example.com"),
    ("CELERY_BROKER_URL", "kafka://x"),
    ("DEFAULT_FROM_EMAIL", "not an address"),
    ("DATABASE_PREPARED_STATEMENTS", "sometimes"),
])
def test_bad_values_stop_start_up_naming_the_variable(name, value):
    extra = {"EMAIL_HOST": "smtp.example.com"} if name == "EMAIL_PORT" else {}
    result = start(**{name: value}, **extra)
    assert result.returncode != 0
    assert name in result.stderr


def test_secret_key_is_required_when_debug_is_off():
    result = start(DJANGO_SECRET_KEY="", DJANGO_DEBUG="false")
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr


def test_good_values_start():
    result = start(DJANGO_DEBUG="true", SITE_URL="https://spaceiq.example.com", EMAIL_HOST="smtp.example.com",
                   EMAIL_PORT="587", DATABASE_URL="postgres://postgres@127.0.0.1:5432/spaceiq")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_manage_py_names_the_missing_variable():
    """Django's command runner would hide the settings error behind "Models aren't loaded yet"."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SPACEIQ_"))}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env={**base, "DJANGO_DEBUG": "false"},
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr
    assert "Models aren't loaded" not in result.stderr


def test_redis_url_is_required_outside_demo_mode():
    """The database cache's table is not made by migrate: without Redis the SCIM brute-force limit failed open."""
    result = start(REDIS_URL="", DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "REDIS_URL must be set when neither DJANGO_DEBUG nor SPACEIQ_DEMO is on" in result.stderr


@pytest.mark.parametrize("demo", [{"SPACEIQ_DEMO": "1"}, {"DJANGO_DEBUG": "true"}])
def test_demo_mode_keeps_the_database_cache_without_redis(demo):
    result = start(show="settings.CACHES['default']['BACKEND']", REDIS_URL="", **demo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.db.DatabaseCache"  # make run creates its table


def test_redis_url_is_the_cache_when_set():
    result = start(show="settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION']")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "django.core.cache.backends.redis.RedisCache redis://127.0.0.1:6379/0"


def test_manage_py_names_a_missing_redis_url():
    base = {k: v for k, v in os.environ.items() if not k.startswith(_OWN)}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT,
                            env={**base, "DJANGO_SECRET_KEY": "k"}, capture_output=True, text=True)
    assert result.returncode != 0
    assert "REDIS_URL must be set" in result.stderr
