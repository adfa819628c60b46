"""A bad environment value stops start-up with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def start(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "EMAIL_", "SITE_URL", "DATABASE_"))}
    base.update({"DJANGO_SECRET_KEY": "k", **env})
    return subprocess.run(
        [sys.executable, "-c",
         "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"],
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
