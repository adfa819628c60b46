"""The Audit log page: filters, pagination, the streamed CSV export, and who may see it."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from directory import services
from directory.audit import Actor
from directory.models import AuditEvent
from tests.conftest import make_person

ADA = Actor(label="Ada Admin (ada.admin@acme.example)", source_ip="198.51.100.4", request_id="req-42")
ENTRA = Actor(label="Microsoft Entra ID (token siq_scim_abcd1234…)", source_ip="20.190.128.1")
AUDIT_URL = reverse("provisioning:audit-log")
EXPORT_URL = reverse("provisioning:audit-log-export")


@pytest.fixture
def history(tenant, admin):
    bob = make_person(tenant, "bob@acme.example", title="Engineer")
    services.person_update(person=bob, actor=ENTRA, changes={"title": "Manager"})
    services.person_deactivate(person=bob, actor=ADA)
    eng = services.group_create(tenant=tenant, actor=ENTRA, display_name="Engineering", member_ids=[bob.pk])
    return {"bob": bob, "eng": eng}


def rows(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_the_settings_page_lists_the_audit_log(admin_client):
    response = admin_client.get(reverse("provisioning:settings"))
    assert AUDIT_URL.encode() in response.content


@pytest.mark.django_db
def test_events_show_who_did_what_to_whom_and_from_where(admin_client, history):
    page = rows(admin_client.get(AUDIT_URL))
    assert "Person updated" in page and "<bdi>title</bdi>: <bdi>Engineer</bdi> → <bdi>Manager</bdi>" in page
    assert "Microsoft Entra ID (token siq_scim_abcd1234…)" in page
    assert "Person deactivated" in page and "198.51.100.4" in page and "request <bdi>req-42</bdi>" in page
    assert "Group members added" in page and "1 member" in page
    assert reverse("directory:person-detail", args=[history["bob"].pk]) in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "present", "absent"),
    [
        ({"actor": "entra"}, ["Person updated", "Group created"], ["Person deactivated"]),
        ({"action": "person.deactivated"}, ["Person deactivated"], ["Person updated", "Group created"]),
        ({"target": "engineering"}, ["Group created", "Group members added"], ["Person updated"]),
    ],
)
def test_filters(admin_client, history, params, present, absent):
    page = rows(admin_client.get(AUDIT_URL, params))
    table = page[page.index("<tbody>"):]
    for text in present:
        assert text in table
    for text in absent:
        assert text not in table


@pytest.mark.django_db
def test_target_filter_takes_an_id_from_a_person_page(admin_client, history, tenant):
    other_bob = make_person(tenant, "bobby@acme.example")
    page = rows(admin_client.get(AUDIT_URL, {"target": str(history["bob"].pk)}))
    assert "bob@acme.example" in page and "bobby@acme.example" not in page[page.index("<tbody>"):]
    assert other_bob


@pytest.mark.django_db
def test_date_range_filter(admin_client, history, tenant):
    AuditEvent.objects.filter(tenant=tenant, action="person.updated").update(
        occurred_at=timezone.now() - timedelta(days=10)
    )
    today = timezone.now().date()
    page = rows(admin_client.get(AUDIT_URL, {"date_from": str(today - timedelta(days=11)),
                                             "date_to": str(today - timedelta(days=9))}))
    table = page[page.index("<tbody>"):]
    assert "Person updated" in table and "Person deactivated" not in table
    bad = rows(admin_client.get(AUDIT_URL, {"date_from": str(today), "date_to": str(today - timedelta(days=1))}))
    assert "The end date must be on or after the start date." in bad


@pytest.mark.django_db
def test_pagination(admin_client, tenant):
    AuditEvent.objects.bulk_create(
        [AuditEvent(tenant=tenant, actor_label="seed", action="person.updated", target_label=f"p{i}")
         for i in range(120)]
    )
    first = rows(admin_client.get(AUDIT_URL))
    assert "Page 1 of 3" in first
    third = rows(admin_client.get(AUDIT_URL, {"page": 3, "actor": "seed"}))
    assert "Page 3 of 3" in third and "actor=seed" in third


@pytest.mark.django_db
def test_csv_export_streams_the_filtered_events(admin_client, history):
    response = admin_client.get(EXPORT_URL, {"actor": "entra"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-acme-')
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {line["action"] for line in lines} == {"person.updated", "group.created", "group.members_added"}
    updated = next(line for line in lines if line["action"] == "person.updated")
    assert updated["actor"] == ENTRA.label and updated["target"] == "bob@acme.example"
    assert '"title": {"new": "Manager", "old": "Engineer"}' in updated["details"]


@pytest.mark.django_db
def test_csv_export_neutralises_spreadsheet_formulas(admin_client, tenant):
    make_person(tenant, "=HYPERLINK(\"http://evil.example\")@acme.example")
    body = b"".join(admin_client.get(EXPORT_URL).streaming_content).decode()
    assert "'=HYPERLINK" in body


# --- Tenant walls ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", [AUDIT_URL, EXPORT_URL])
def test_non_admins_get_403(client, member, url):
    client.force_login(member)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", [AUDIT_URL, EXPORT_URL])
def test_signed_out_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:sign-in"))


@pytest.mark.django_db
def test_the_outsider_never_sees_the_admins_events(client, history, outsider):
    client.force_login(outsider)
    page = rows(client.get(AUDIT_URL, {"target": str(history["bob"].pk)}))
    assert "bob@acme.example" not in page
    page = rows(client.get(AUDIT_URL))
    assert "bob@acme.example" not in page and "Engineering" not in page
    export = b"".join(client.get(EXPORT_URL).streaming_content).decode()
    assert "bob@acme.example" not in export and "olga.outsider@globex.example" in export
