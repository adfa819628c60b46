"""The change paths end to end: SCIM requests and console forms write their audit event
with the change, name who made it, and leave nothing behind when the change fails."""

import pytest
from django.urls import reverse

from directory import audit, services
from directory.models import AuditEvent, Person
from tests.conftest import make_person

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@acme.example", "active": True}
DEACTIVATE = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
              "Operations": [{"op": "replace", "path": "active", "value": False}]}


@pytest.fixture
def fail_audit(monkeypatch):
    """Call to make recording an event insert its row, then fail: the change must roll back with it."""
    real = audit.audit_event_record

    def write_then_fail(**kwargs):
        real(**kwargs)
        raise RuntimeError("simulated failure after the write")

    return lambda: monkeypatch.setattr(services.people, "audit_event_record", write_then_fail)


@pytest.mark.django_db
def test_a_scim_create_is_audited_as_the_identity_provider_with_the_request_id(scim, tenant):
    response = scim.post("/v2/Users", USER)
    assert response.status_code == 201
    event = AuditEvent.objects.get(tenant=tenant, action="person.created", target_label="bob@acme.example")
    assert event.actor_label.startswith("Microsoft Entra ID (token siq_scim_")
    assert event.request_id == response["X-Request-ID"] and event.source_ip == "127.0.0.1"


@pytest.mark.django_db
def test_a_failed_scim_create_leaves_no_person_and_no_event(scim, tenant, fail_audit):
    fail_audit()
    scim.client.raise_request_exception = False
    events = AuditEvent.objects.count()
    response = scim.post("/v2/Users", USER)
    assert response.status_code >= 500
    assert not Person.objects.filter(tenant=tenant, user_name="bob@acme.example").exists()
    assert AuditEvent.objects.count() == events


@pytest.fixture
def unwritable_events(monkeypatch):
    """Call to make the database refuse every update's audit event (a value too long for its column)."""
    real = services.people.audit_event_build

    def too_long(**kwargs):
        return real(**{**kwargs, "target_type": "x" * 500})

    return lambda: monkeypatch.setattr(services.people, "audit_event_build", too_long)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["optimistic", "locked"])
def test_a_failed_scim_deactivation_leaves_the_person_active(scim, tenant, unwritable_events, fail_audit,
                                                            monkeypatch, path):
    created = scim.post("/v2/Users", USER).json()
    if path == "locked":  # as if another write came first: the PATCH runs again under a row lock
        monkeypatch.setattr(services.people, "update_with_events", lambda *args, **kwargs: False)
        fail_audit()  # there the event is written after the change, in the same transaction
    else:
        unwritable_events()  # here both are one statement
    scim.client.raise_request_exception = False
    events = AuditEvent.objects.count()
    assert scim.patch(f"/v2/Users/{created['id']}", DEACTIVATE).status_code >= 500
    person = Person.objects.get(pk=created["id"])
    assert person.is_active and person.version == 1
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_a_console_edit_is_audited_as_the_admin(admin_client, admin, tenant):
    bob = make_person(tenant, "bob@acme.example", title="Engineer")
    url = reverse("directory:person-edit", args=[bob.pk])
    response = admin_client.post(url, {"user_name": "bob@acme.example", "title": "Manager", "is_active": "on"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="person.updated", target_id=str(bob.pk))
    assert event.actor_label == "Ada Admin (ada.admin@acme.example)" and event.actor_person_id == admin.pk
    assert event.details["changes"]["title"] == {"old": "Engineer", "new": "Manager"}


@pytest.mark.django_db
def test_a_failed_console_edit_changes_nothing(client, admin, tenant, fail_audit):
    client.force_login(admin)
    client.raise_request_exception = False
    bob = make_person(tenant, "bob@acme.example", title="Engineer")
    fail_audit()
    events = AuditEvent.objects.count()
    url = reverse("directory:person-edit", args=[bob.pk])
    response = client.post(url, {"user_name": "bob@acme.example", "title": "Manager", "is_active": "on"})
    assert response.status_code == 500
    bob.refresh_from_db()
    assert bob.title == "Engineer" and AuditEvent.objects.count() == events
