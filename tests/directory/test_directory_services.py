"""Directory services write the change and its audit event together, or neither."""

import pytest

from directory import services
from directory.audit import Actor
from directory.errors import InvalidValue, LastAdminError, StaleWrite, UniquenessConflict
from directory.models import AuditEvent, Group, Membership
from tests.conftest import make_person

ACTOR = Actor(label="Test actor", source_ip="203.0.113.9", request_id="req-1")


@pytest.mark.django_db
def test_person_update_records_old_and_new_values(tenant):
    person = make_person(tenant, "bob@acme.example", title="Engineer")
    services.person_update(person=person, actor=ACTOR, changes={"title": "Manager", "department": "Ops"})
    person.refresh_from_db()
    assert person.title == "Manager" and person.version == 2
    event = AuditEvent.objects.get(action="person.updated", target_id=str(person.pk))
    assert event.details == {"changes": {"title": {"old": "Engineer", "new": "Manager"},
                                         "department": {"old": None, "new": "Ops"}}}
    assert event.source_ip == "203.0.113.9" and event.request_id == "req-1"


@pytest.mark.django_db
def test_an_update_that_changes_nothing_writes_nothing(tenant):
    person = make_person(tenant, "bob@acme.example", title="Engineer")
    count = AuditEvent.objects.count()
    services.person_update(person=person, actor=ACTOR, changes={"title": "Engineer"})
    assert AuditEvent.objects.count() == count
    person.refresh_from_db()
    assert person.version == 1


@pytest.mark.django_db
def test_deactivate_and_reactivate_are_audited(tenant):
    person = make_person(tenant, "bob@acme.example")
    services.person_deactivate(person=person, actor=ACTOR)
    services.person_reactivate(person=person, actor=ACTOR)
    actions = list(AuditEvent.objects.filter(target_id=str(person.pk)).order_by("id").values_list("action", flat=True))
    assert actions == ["person.created", "person.deactivated", "person.reactivated"]


@pytest.mark.django_db
def test_invalid_value_changes_nothing(tenant):
    person = make_person(tenant, "bob@acme.example", title="Engineer")
    count = AuditEvent.objects.count()
    with pytest.raises(InvalidValue):
        services.person_update(person=person, actor=ACTOR, changes={"title": "x" * 300})
    person.refresh_from_db()
    assert person.title == "Engineer" and AuditEvent.objects.count() == count


@pytest.mark.django_db
def test_manager_must_belong_to_the_same_tenant(tenant, other_tenant):
    boss = make_person(other_tenant, "boss@globex.example")
    with pytest.raises(InvalidValue):
        make_person(tenant, "bob@acme.example", manager_id=boss.pk)


@pytest.mark.django_db
def test_work_email_is_derived_for_indexed_lookups(tenant):
    person = make_person(tenant, "bob@acme.example", emails=[
        {"value": "bob@home.example", "type": "home"}, {"value": "Bob@Acme.example", "type": "work"}])
    assert person.work_email == "Bob@Acme.example"


@pytest.mark.django_db
def test_members_add_is_idempotent_and_scoped_to_the_tenant(tenant, other_tenant):
    a, b = make_person(tenant, "a@acme.example"), make_person(tenant, "b@acme.example")
    stranger = make_person(other_tenant, "s@globex.example")
    group = services.group_create(tenant=tenant, actor=ACTOR, display_name="Eng", member_ids=[a.pk])
    assert services.group_members_add(group=group, actor=ACTOR, person_ids=[a.pk, b.pk]) == [b.pk]
    with pytest.raises(InvalidValue):
        services.group_members_add(group=group, actor=ACTOR, person_ids=[stranger.pk])
    assert set(Membership.objects.filter(group=group).values_list("person_id", flat=True)) == {a.pk, b.pk}
    services.group_members_remove(group=group, actor=ACTOR, person_ids=[a.pk])
    assert list(Membership.objects.filter(group=group).values_list("person_id", flat=True)) == [b.pk]


@pytest.mark.django_db
def test_deleting_a_person_removes_memberships_not_groups(tenant):
    a = make_person(tenant, "a@acme.example")
    group = services.group_create(tenant=tenant, actor=ACTOR, display_name="Eng", member_ids=[a.pk])
    services.person_delete(person=a, actor=ACTOR)
    assert Group.objects.filter(pk=group.pk).exists()
    assert not Membership.objects.filter(group=group).exists()


@pytest.mark.django_db
def test_the_last_admin_keeps_the_role(tenant, admin):
    with pytest.raises(LastAdminError):
        services.console_role_set(person=admin, role=None, actor=ACTOR)
    admin.refresh_from_db()
    assert admin.is_tenant_admin and admin.console_role == "admin"
    second = make_person(tenant, "second@acme.example")
    services.console_role_set(person=second, role="admin", actor=ACTOR)
    services.console_role_set(person=admin, role=None, actor=ACTOR)
    admin.refresh_from_db()
    assert not admin.is_tenant_admin


@pytest.mark.django_db(transaction=True)  # no test transaction around: the block is the outermost
def test_inside_single_transaction_services_join_without_savepoints_and_roll_back_together(tenant):
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    person = make_person(tenant, "sam@acme.example", title="Engineer")
    events = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries, services.single_transaction():
        services.person_update(person=person, actor=ACTOR, changes={"title": "Lead"})
    assert not [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    assert AuditEvent.objects.count() == events + 1

    # An error inside ends the whole transaction: the first service's write is gone too.
    with pytest.raises(InvalidValue), services.single_transaction():
        services.person_update(person=person, actor=ACTOR, changes={"title": "Director"})
        services.person_update(person=person, actor=ACTOR, changes={"title": "x" * 300})
    person.refresh_from_db()
    assert person.title == "Lead" and AuditEvent.objects.count() == events + 1

    # Outside it, a service called in a caller's transaction keeps its savepoint,
    # so the caller can catch its error and carry on.
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        with pytest.raises(InvalidValue):
            services.person_update(person=person, actor=ACTOR, changes={"title": "x" * 300})
        services.person_update(person=person, actor=ACTOR, changes={"title": "Staff"})
    assert [q for q in queries.captured_queries if "SAVEPOINT" in q["sql"]]
    person.refresh_from_db()
    assert person.title == "Staff"


def test_people_created_without_a_password_cannot_sign_in_and_never_share_a_stored_value(tenant):
    people = [
        services.person_create(tenant=tenant, actor=Actor.system("test"), user_name=f"scim{i}@acme.example")
        for i in range(3)
    ]
    for person in people:
        person.refresh_from_db()
        assert not person.has_usable_password()
        assert not person.check_password("") and not person.check_password(person.password)
        assert person.password.startswith("!") and len(person.password) == 41
    assert len({p.password for p in people}) == 3


@pytest.mark.django_db
def test_an_optimistic_update_writes_only_over_the_version_it_read(tenant):
    person = make_person(tenant, "bob@acme.example", title="Engineer")
    services.person_update(person=person, actor=ACTOR, changes={"title": "Manager", "is_active": False},
                           expected_version=1)
    stored = type(person).objects.get(pk=person.pk)
    assert (stored.title, stored.is_active, stored.version) == ("Manager", False, 2)
    actions = list(AuditEvent.objects.filter(target_id=str(person.pk)).order_by("id").values_list("action", "details"))
    assert actions[1:] == [("person.updated", {"changes": {"title": {"old": "Engineer", "new": "Manager"}}}),
                           ("person.deactivated", {"sessions_ended": 0})]
    # A caller still holding version 1 (somebody wrote in between): refused, nothing written.
    stale = type(person).objects.get(pk=person.pk)
    stale.version = 1
    count = AuditEvent.objects.count()
    with pytest.raises(StaleWrite):
        services.person_update(person=stale, actor=ACTOR, changes={"title": "Director"}, expected_version=1)
    stored = type(person).objects.get(pk=person.pk)
    assert (stored.title, stored.version) == ("Manager", 2) and AuditEvent.objects.count() == count
    # A deleted person: refused the same way.
    type(person).objects.filter(pk=person.pk).delete()
    with pytest.raises(StaleWrite):
        services.person_update(person=stored, actor=ACTOR, changes={"title": "Ghost"}, expected_version=2)


@pytest.mark.django_db
def test_an_optimistic_update_refused_by_the_database_leaves_the_callers_transaction_usable(tenant):
    make_person(tenant, "taken@acme.example")
    person = make_person(tenant, "bob@acme.example")
    count = AuditEvent.objects.count()
    with pytest.raises(UniquenessConflict):
        services.person_update(person=person, actor=ACTOR, changes={"user_name": "TAKEN@acme.example"},
                               expected_version=1)
    # Still inside the test's transaction: it must not have been aborted.
    assert type(person).objects.get(pk=person.pk).user_name == "bob@acme.example"
    assert AuditEvent.objects.count() == count


@pytest.mark.django_db
def test_an_unlocked_update_from_a_stale_read_never_moves_the_version_back(tenant):
    """A console form reads without a lock; its write must not set the version it computed from
    that read, or an optimistic PATCH that read an in-between version would pass over a change."""
    Person = type(make_person(tenant, "bob@acme.example"))
    pk = Person.objects.get(user_name="bob@acme.example").pk
    console_copy = Person.objects.get(pk=pk)  # read at version 1
    services.person_update(person=Person.objects.get(pk=pk), actor=ACTOR, changes={"title": "A"}, expected_version=1)
    scim_read = Person.objects.get(pk=pk)  # read at version 2
    services.person_update(person=Person.objects.get(pk=pk), actor=ACTOR, changes={"title": "B"}, expected_version=2)
    services.person_update(person=console_copy, actor=ACTOR, changes={"department": "Ops"})
    assert Person.objects.get(pk=pk).version == 4 and console_copy.version == 4
    with pytest.raises(StaleWrite):  # version 2 is long gone
        services.person_update(person=scim_read, actor=ACTOR, changes={"title": "C"}, expected_version=2)
    assert Person.objects.get(pk=pk).title == "B"


@pytest.mark.django_db
def test_a_group_renamed_from_a_stale_read_still_moves_its_version_on(tenant):
    group = services.group_create(tenant=tenant, actor=ACTOR, display_name="Ops")
    stale = Group.objects.get(pk=group.pk)
    services.group_update(group=Group.objects.get(pk=group.pk), actor=ACTOR, display_name="Operations")
    services.group_update(group=stale, actor=ACTOR, external_id="ops-1")
    assert Group.objects.get(pk=group.pk).version == 3 == stale.version
