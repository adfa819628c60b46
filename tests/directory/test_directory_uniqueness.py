"""user_name and group displayName are unique per tenant, case-insensitively, in the database."""

import pytest
from django.db import IntegrityError, transaction

from directory.errors import UniquenessConflict
from directory.models import Group, Person
from tests.conftest import make_person


@pytest.mark.django_db
def test_user_name_is_unique_per_tenant_case_insensitively_in_the_database(tenant):
    Person.objects.create(tenant=tenant, user_name="Alice@Contoso.com")
    # Straight to the ORM, bypassing the services: the constraint itself refuses it.
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(tenant=tenant, user_name="alice@contoso.COM")
    assert Person.objects.filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_service_turns_the_clash_into_a_uniqueness_conflict_and_writes_nothing(tenant):
    make_person(tenant, "alice@contoso.com")
    before = tenant.audit_events.count()
    with pytest.raises(UniquenessConflict):
        make_person(tenant, "ALICE@contoso.com")
    assert Person.objects.filter(tenant=tenant).count() == 1
    assert tenant.audit_events.count() == before


@pytest.mark.django_db
def test_the_same_user_name_can_exist_in_two_tenants(tenant, other_tenant):
    a = make_person(tenant, "alice@contoso.com")
    b = make_person(other_tenant, "alice@contoso.com")
    assert a.pk != b.pk
    assert Person.objects.filter(user_name="alice@contoso.com").count() == 2


@pytest.mark.django_db
def test_group_display_name_is_unique_per_tenant_case_insensitively(tenant, other_tenant):
    Group.objects.create(tenant=tenant, display_name="Engineering")
    Group.objects.create(tenant=other_tenant, display_name="Engineering")
    with pytest.raises(IntegrityError), transaction.atomic():
        Group.objects.create(tenant=tenant, display_name="ENGINEERING")
