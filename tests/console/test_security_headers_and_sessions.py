"""Browser security: headers on every response, HTTPS-only cookies and HSTS
behind a TLS proxy, idle session expiry, Argon2 and the password validators."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.conftest import PASSWORD, ROOT

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@pytest.mark.parametrize("path, who", [
    ("/accounts/sign-in/", None),
    ("/", "admin"),
    ("/people/", "admin"),
    ("/settings/integrations/", "admin"),
    ("/no-such-page/", "admin"),
    ("/settings/", "member"),  # 403
    ("/scim/ServiceProviderConfig", None),  # 401, SCIM JSON
])
def test_every_response_carries_the_security_headers(db, client, path, who, request):
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(path)
    assert response["Content-Security-Policy"] == POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


CONSOLE_TEMPLATES = [p for p in (ROOT / "templates").rglob("*.html") if "emails" not in p.parts]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on*= event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


@pytest.mark.parametrize("template", CONSOLE_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_console_templates_have_no_inline_script_style_or_handlers(template: Path):
    # Emails are exempt: mail clients need inline styles and never run our CSP.
    text = template.read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{what} in {template.name}; move it to static/ (the CSP forbids it)"


def _settings_under(**env: str) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'session_secure': s.SESSION_COOKIE_SECURE, 'csrf_secure': s.CSRF_COOKIE_SECURE, "
        "'session_httponly': s.SESSION_COOKIE_HTTPONLY, 'csrf_httponly': s.CSRF_COOKIE_HTTPONLY, "
        "'samesite': [s.SESSION_COOKIE_SAMESITE, s.CSRF_COOKIE_SAMESITE], 'hsts': s.SECURE_HSTS_SECONDS, "
        "'proxy_header': s.SECURE_PROXY_SSL_HEADER, 'idle': s.SESSION_COOKIE_AGE, "
        "'save_every_request': s.SESSION_SAVE_EVERY_REQUEST, 'hasher': s.PASSWORD_HASHERS[0]}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={
        **os.environ, "DJANGO_SETTINGS_MODULE": "spaceiq_site.settings",
        "DJANGO_SECRET_KEY": "k", **env,
    })
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_https_deployments_get_secure_cookies_hsts_and_trust_the_proxy_only_when_told():
    https = _settings_under(SITE_URL="https://spaceiq.example.com", DJANGO_BEHIND_TLS_PROXY="true",
                            SESSION_IDLE_SECONDS="1800")
    assert https == {
        "session_secure": True, "csrf_secure": True, "session_httponly": True, "csrf_httponly": True,
        "samesite": ["Lax", "Lax"], "hsts": 31536000, "proxy_header": ["HTTP_X_FORWARDED_PROTO", "https"],
        "idle": 1800, "save_every_request": True, "hasher": "django.contrib.auth.hashers.Argon2PasswordHasher",
    }
    no_proxy = _settings_under(SITE_URL="https://spaceiq.example.com", DJANGO_BEHIND_TLS_PROXY="false")
    assert no_proxy["proxy_header"] is None and no_proxy["session_secure"] is True
    plain = _settings_under(SITE_URL="http://127.0.0.1:8000")
    assert (plain["session_secure"], plain["csrf_secure"], plain["hsts"]) == (False, False, 0)


@pytest.fixture
def behind_tls_proxy(settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    return settings


def test_behind_the_proxy_sign_in_sets_a_secure_httponly_samesite_cookie_and_hsts(client, admin, behind_tls_proxy):
    response = client.post("/accounts/sign-in/", {"email": admin.user_name, "password": PASSWORD},
                           HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 302
    cookie = response.cookies["sessionid"]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == behind_tls_proxy.SESSION_COOKIE_AGE
    assert response["Strict-Transport-Security"] == "max-age=31536000"


def test_a_forged_x_forwarded_proto_is_ignored_unless_behind_the_proxy(db, client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = None
    response = client.get("/accounts/sign-in/", HTTP_X_FORWARDED_PROTO="https")
    assert "Strict-Transport-Security" not in response  # the request was not treated as HTTPS


def test_sessions_expire_after_inactivity_and_each_request_pushes_the_deadline(client, admin):
    assert client.post("/accounts/sign-in/", {"email": admin.user_name, "password": PASSWORD}).status_code == 302
    session = Session.objects.get()
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() + timedelta(minutes=5))
    assert client.get("/people/").status_code == 200
    pushed = Session.objects.get(pk=session.pk).expire_date
    assert pushed > timezone.now() + timedelta(hours=7)  # SESSION_IDLE_SECONDS (8 h) from now

    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/people/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/sign-in/")


def test_passwords_are_hashed_with_argon2id(admin):
    assert admin.password.startswith("argon2$argon2id$")


@pytest.mark.parametrize("password", ["short1!", "password1234", "31415926535897", "ada.admin@acme"])
def test_weak_passwords_are_refused_by_the_validators(admin, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=admin)


def test_a_strong_password_passes_the_validators(admin):
    validate_password(PASSWORD, user=admin)


def test_rotating_the_secret_key_with_a_fallback_keeps_admins_signed_in(client, admin, settings):
    settings.SECRET_KEY = "old-secret-key"
    assert client.post("/accounts/sign-in/", {"email": admin.user_name, "password": PASSWORD}).status_code == 302
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-secret-key", ["old-secret-key"]
    assert client.get("/people/").status_code == 200
    settings.SECRET_KEY_FALLBACKS = []  # re-signed with the new key on that request
    assert client.get("/people/").status_code == 200


def test_rotating_the_secret_key_without_a_fallback_ends_every_session(client, admin, settings):
    settings.SECRET_KEY = "old-secret-key"
    assert client.post("/accounts/sign-in/", {"email": admin.user_name, "password": PASSWORD}).status_code == 302
    settings.SECRET_KEY = "new-secret-key"
    assert client.get("/people/").status_code == 302


@pytest.mark.parametrize("hops, forwarded_for, seen", [
    (0, "198.51.100.1", "10.0.0.1"),  # not behind our proxies: the header is the client's word only
    (1, "198.51.100.1", "198.51.100.1"),
    (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # a forged entry on the left is ignored
    (2, "6.6.6.6, 198.51.100.1, 10.0.0.9", "198.51.100.1"),
    (2, "198.51.100.1", "10.0.0.1"),  # fewer entries than proxies: something is off, keep the peer
    (1, "not-an-address", "10.0.0.1"),
    (1, "2001:db8::1", "2001:db8::1"),
])
def test_the_client_address_is_taken_from_our_own_proxies_only(settings, rf, hops, forwarded_for, seen):
    from directory.security_headers import TrustedProxyClientAddressMiddleware

    settings.TRUSTED_PROXY_HOPS = hops
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded_for)
    TrustedProxyClientAddressMiddleware(lambda r: r)(request)
    assert request.META["REMOTE_ADDR"] == seen
