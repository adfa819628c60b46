"""Settings → API keys in the console (issue 15): a key is created by an admin who confirmed their
password, shown once, announced to the admins without its value, revoked at once; auditors read the
list and nothing more; another tenant's admin reaches none of it."""

from __future__ import annotations

import logging
import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from directory import services
from directory.api_keys import api_key_verify
from directory.audit import Actor
from directory.models import ApiKey, AuditEvent
from provisioning.models import Notification
from tests.conftest import PASSWORD
from tests.console_helpers import api_keys_in, enter_sudo, leave_sudo
from tests.mail import notification_sent

pytestmark = pytest.mark.django_db

PAGE = reverse("directory:api-keys")
CREATE = reverse("directory:api-key-create")
ADA = Actor(label="Ada Admin (ada.admin@acme.example)", source_ip="198.51.100.4")
SIEM = {"label": "SIEM export", "scope": "all"}


def revoke_url(key: ApiKey) -> str:
    return reverse("directory:api-key-revoke", args=[key.pk])


def shown_key(response) -> str:
    """The key of the page that created it: exactly one, in the read-only field labelled "API key"."""
    html = response.content.decode()
    [raw] = set(api_keys_in(html))
    assert '<label for="new-api-key">API key</label>' in html
    field = re.search(r'<input type="text" id="new-api-key" value="([^"]+)" readonly', html)
    assert field and field.group(1) == raw
    assert 'data-copy="new-api-key"' in html and ">Copy</button>" in html
    return raw


def create(client, **data) -> str:
    response = client.post(CREATE, {**SIEM, **data})
    assert response.status_code == 200, response.content.decode()[:2000]
    return shown_key(response)


def key_of(tenant, label: str = "Existing") -> tuple[ApiKey, str]:
    return services.api_key_create(tenant=tenant, label=label, scope=ApiKey.Scope.DIRECTORY, actor=ADA)


def notices(kind: str) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("id"))


# --- Settings ------------------------------------------------------------------------------------


def test_settings_has_an_api_keys_card(admin_client):
    html = admin_client.get(reverse("provisioning:settings")).content.decode()
    assert f'<a href="{PAGE}"><h2>API keys</h2></a>' in html


def test_the_page_says_how_to_use_a_key_and_links_to_the_api_docs(admin_client):
    response = admin_client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>API keys</h1>" in html
    assert 'href="/api/v1/docs/"' in html
    assert "Authorization: Bearer &lt;key&gt;" in html
    assert "read-only" in html and "Acme Corp" in html
    assert ">Label</label>" in html and ">Scope</label>" in html and ">Create API key</button>" in html
    for scope in ApiKey.Scope:
        assert f'<option value="{scope.value}"' in html and f">{scope.label}</option>" in html


# --- Creating --------------------------------------------------------------------------------------


def test_a_created_key_is_shown_once_with_no_store_and_works(admin_client, admin, admins):
    enter_sudo(admin_client)
    response = admin_client.post(CREATE, SIEM)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = shown_key(response)
    assert raw.startswith("siq_api_")

    key = api_key_verify(raw)
    assert key is not None and key.tenant == admin.tenant
    assert (key.label, key.scope, key.created_by) == ("SIEM export", ApiKey.Scope.ALL, admin)
    [event] = AuditEvent.objects.filter(action="api_key.created")
    assert event.target_id == str(key.pk) and event.target_label == key.display
    assert event.actor_person_id == admin.pk and event.details == {"scope": "Read the directory, logs and audit events"}

    # The security notice: to every admin (not to the non-admin beside them), the key's display only.
    [notice] = notices("api_key_created")
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]
    assert notice.subject == "Security notice: a new API key was created for Acme Corp"
    assert "Ada Admin (ada.admin@acme.example) created a new API key for Acme Corp." in notice.body_text
    assert f"Key: {key.display}" in notice.body_text
    assert "Scope: Read the directory, logs and audit events" in notice.body_text
    assert "From: 127.0.0.1" in notice.body_text
    assert "http://127.0.0.1:8000/settings/api-keys/" in notice.body_text
    assert raw not in notice.body_text + notice.body_html + notice.subject

    # Shown once: the list has the key's row, never its value.
    html = admin_client.get(PAGE).content.decode()
    assert not api_keys_in(html)
    assert "SIEM export" in html and f"siq_api_{key.prefix}…" in html


def test_the_key_never_appears_in_any_other_response_or_stored_row(admin_client, admin, caplog):
    caplog.set_level(logging.DEBUG)
    enter_sudo(admin_client)
    raw = create(admin_client)
    key = api_key_verify(raw)
    admin_client.post(revoke_url(key))
    for url in (PAGE, reverse("provisioning:settings"), reverse("directory:home"), reverse("provisioning:audit-log"),
                reverse("provisioning:audit-log-export")):
        response = admin_client.get(url, follow=True)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert not api_keys_in(body), url
    stored = " ".join(str(value) for value in admin_client.session.values())
    stored += " ".join(f"{e.target_label} {e.details}" for e in AuditEvent.objects.all())
    stored += " ".join(n.subject + n.body_text + n.body_html for n in Notification.objects.all())
    stored += " ".join(str(row) for row in ApiKey.objects.values())
    stored += caplog.text
    assert raw not in stored and raw[len("siq_api_"):] not in stored


@pytest.mark.parametrize("data,field,error", [
    ({"label": "", "scope": "all"}, "label", "This field is required."),
    ({"label": "   ", "scope": "all"}, "label", "This field is required."),
    ({"label": "x" * 101, "scope": "all"}, "label", "Ensure this value has at most 100 characters (it has 101)."),
    ({"label": "SIEM", "scope": "admin"}, "scope", "Select a valid choice. admin is not one of the available choices."),
    ({"label": "SIEM"}, "scope", "This field is required."),
])
def test_form_errors_are_shown_on_the_form_and_nothing_is_created(admin_client, data, field, error):
    enter_sudo(admin_client)
    response = admin_client.post(CREATE, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'<p class="field-error" id="api-key-{field}-error">{error}</p>' in html
    assert ">Create API key</button>" in html
    assert not api_keys_in(html) and "Copy your new API key now" not in html
    assert not ApiKey.objects.exists() and not AuditEvent.objects.filter(action__startswith="api_key.").exists()
    assert not notices("api_key_created")


def test_the_form_keeps_what_was_typed_after_an_error(admin_client):
    enter_sudo(admin_client)
    html = admin_client.post(CREATE, {"label": "SIEM", "scope": "bogus"}).content.decode()
    assert 'name="label" id="id_label" maxlength="100" value="SIEM"' in html


def test_creating_and_revoking_need_a_recent_password(admin_client, tenant):
    leave_sudo(admin_client)
    response = admin_client.post(CREATE, SIEM)
    assert response.status_code == 200 and b"Confirm your password" in response.content
    # The request is carried through the prompt.
    assert b'name="label" value="SIEM export"' in response.content
    assert b'name="scope" value="all"' in response.content
    assert not ApiKey.objects.exists()
    response = admin_client.post(CREATE, {**SIEM, "sudo_password": "wrong"})
    assert response.status_code == 400 and b"That is not your password" in response.content
    assert not ApiKey.objects.exists()
    response = admin_client.post(CREATE, {**SIEM, "sudo_password": PASSWORD})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert api_key_verify(shown_key(response)).label == "SIEM export"

    key, raw = key_of(tenant)
    leave_sudo(admin_client)
    response = admin_client.post(revoke_url(key))
    assert response.status_code == 200 and b"Confirm your password" in response.content
    assert api_key_verify(raw) is not None
    response = admin_client.post(revoke_url(key), {"sudo_password": PASSWORD})
    assert response.status_code == 302
    assert api_key_verify(raw) is None


def test_a_rolled_back_creation_queues_no_notice(tenant, admin):
    with pytest.raises(RuntimeError), transaction.atomic():
        key_of(tenant)
        raise RuntimeError("the caller's transaction fails after the key was made")
    assert not ApiKey.objects.exists() and not Notification.objects.exists()


# --- The list and revoking ---------------------------------------------------------------------------


def test_the_list_shows_each_keys_details(admin_client, admin, tenant):
    key, _ = services.api_key_create(tenant=tenant, label="Splunk", scope=ApiKey.Scope.LOGS, actor=ADA,
                                     created_by=admin)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now(), last_used_ip="203.0.113.7")
    key_of(tenant, "Never used")
    html = admin_client.get(PAGE).content.decode()
    row = html.split(f'id="api-key-{key.pk}"')[1].split("</tr>")[0]
    assert "Splunk" in row and f"siq_api_{key.prefix}…" in row and "Read logs and audit events" in row
    assert "by <bdi>Ada Admin</bdi>" in row and "from 203.0.113.7" in row
    assert f'aria-label="Revoke {key.display}"' in row and ">Revoke</button>" in row
    assert "Never used" in html and ">Never<" in html


def test_revoking_stops_the_key_and_is_audited_and_announced(admin_client, admin, admins, tenant):
    key, raw = key_of(tenant, "Old SIEM")
    enter_sudo(admin_client)
    response = admin_client.post(revoke_url(key))
    assert response.status_code == 302 and response["Location"] == PAGE
    assert api_key_verify(raw) is None
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == admin
    [event] = AuditEvent.objects.filter(action="api_key.revoked")
    assert event.target_id == str(key.pk) and event.actor_person_id == admin.pk

    [notice] = notices("api_key_revoked")
    assert notice.to == ["ada.admin@acme.example", "sam.second@acme.example"]
    assert notice.subject == "Security notice: an API key of Acme Corp was revoked"
    assert f"revoked the API key {key.display} of Acme Corp. It stopped working immediately." in notice.body_text
    assert raw not in notice.body_text + notice.body_html

    page = admin_client.get(PAGE)
    html = page.content.decode()
    assert "is revoked. Requests using it are refused from now on." in html
    revoked = html.split('id="revoked-title"')[1]
    assert "Old SIEM" in revoked and ">Revoked</span>" in revoked and "by <bdi>Ada Admin</bdi>" in revoked
    assert f"Revoke {key.display}" not in html and ">Revoke</button>" not in html

    # Posting again (an old tab) changes nothing.
    response = admin_client.post(revoke_url(key), follow=True)
    assert b"was already revoked" in response.content
    assert AuditEvent.objects.filter(action="api_key.revoked").count() == 1
    assert len(notices("api_key_revoked")) == 1


# --- Roles ----------------------------------------------------------------------------------------


def test_an_auditor_reads_the_list_and_can_neither_create_nor_revoke(auditor_client, tenant):
    key, raw = key_of(tenant, "SIEM")
    enter_sudo(auditor_client)
    html = auditor_client.get(PAGE).content.decode()
    assert "SIEM" in html and f"siq_api_{key.prefix}…" in html and 'href="/api/v1/docs/"' in html
    assert ">Revoke</button>" not in html and "Create API key" not in html and 'name="label"' not in html
    assert not api_keys_in(html)
    assert f'href="{PAGE}"' in auditor_client.get(reverse("provisioning:settings")).content.decode()

    for url, data in ((CREATE, SIEM), (revoke_url(key), {})):
        response = auditor_client.post(url, data)
        assert response.status_code == 403, url
        assert not api_keys_in(response.content)
    assert ApiKey.objects.count() == 1 and api_key_verify(raw) is not None


def test_a_member_gets_403(client, member, tenant):
    key, raw = key_of(tenant)
    client.force_login(member)
    enter_sudo(client)
    assert client.get(PAGE).status_code == 403
    assert client.post(CREATE, SIEM).status_code == 403
    assert client.post(revoke_url(key)).status_code == 403
    assert ApiKey.objects.count() == 1 and api_key_verify(raw) is not None
    assert b"API keys" not in client.get(reverse("directory:my-profile")).content


# --- Tenant walls -----------------------------------------------------------------------------------


def test_an_admin_of_another_tenant_cannot_see_or_revoke_our_keys(client, tenant, admin, outsider, other_tenant):
    ours, raw = key_of(tenant, "Acme SIEM")
    client.force_login(outsider)
    enter_sudo(client)
    response = client.post(revoke_url(ours))
    assert response.status_code == 404
    assert api_key_verify(raw) is not None
    assert not AuditEvent.objects.filter(action="api_key.revoked").exists()
    html = client.get(PAGE).content.decode()
    assert "Acme SIEM" not in html and ours.prefix not in html and "No active keys." in html

    # The outsider's own key is theirs alone.
    theirs = api_key_verify(create(client, label="Globex SIEM"))
    assert theirs.tenant == other_tenant
    assert list(ApiKey.objects.filter(tenant=tenant)) == [ours]
    client.force_login(admin)
    html = client.get(PAGE).content.decode()
    assert "Acme SIEM" in html and "Globex SIEM" not in html and theirs.prefix not in html


# --- The notices on the real path ------------------------------------------------------------------


def _text_of(message) -> str:
    return next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_creating_and_revoking_email_the_admins_without_the_key(celery_worker, smtp_server, admin_client, admins):
    """Page → service → outbox row in the same transaction → Redis → Celery worker → SMTP."""
    enter_sudo(admin_client)
    raw = create(admin_client)
    key = api_key_verify(raw)
    [created] = smtp_server.wait_for(1)
    assert created["Subject"] == "Security notice: a new API key was created for Acme Corp"
    assert created["To"] == "ada.admin@acme.example, sam.second@acme.example"
    assert f"Key: {key.display}" in _text_of(created)

    assert admin_client.post(revoke_url(key)).status_code == 302
    revoked = smtp_server.wait_for(2)[1]
    assert revoked["Subject"] == "Security notice: an API key of Acme Corp was revoked"
    assert "It stopped working immediately." in _text_of(revoked)
    for message in (created, revoked):
        assert raw not in message.as_string()
    for notice in Notification.objects.filter(kind__startswith="api_key_"):
        assert notification_sent(notice.pk).sent_at is not None, notice.kind


def test_a_key_outlives_the_person_who_made_it(admin_client, admins, tenant):
    """Deleting a person (Entra's SCIM DELETE) spends no statement on API keys; the list says who is gone."""
    second = admins[1]
    services.api_key_create(tenant=tenant, label="Made by Sam", scope="logs", actor=Actor.system("test"),
                            created_by=second)
    services.person_delete(person=second, actor=Actor.system("test"))
    row = admin_client.get(PAGE).content.decode()
    assert "Made by Sam" in row and "by a removed person" in row
