"""The SQL the hot path builds from model metadata, and the PostgreSQL connection settings.

An INSERT or UPDATE built once from a model must store exactly what
``save()`` would; the connection binds parameters on the server and
prepares what it runs again; the backend still notices a connection the
server has dropped.
"""

import datetime
import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

from directory.models import Person
from provisioning.models import ScimToken
from tests.conftest import make_person
from tests.scim_client import issue_token

pytestmark = pytest.mark.django_db


def test_token_verification_runs_one_query_and_honours_revocation(tenant, django_assert_num_queries):
    from provisioning.tokens import token_verify

    raw = issue_token(tenant)
    with django_assert_num_queries(1):
        token = token_verify(raw)
    assert token is not None and token.integration.tenant.pk == tenant.pk
    ScimToken.objects.filter(pk=token.pk).update(revoked_at=datetime.datetime.now(datetime.UTC))
    assert token_verify(raw) is None


@pytest.mark.django_db(transaction=True)
def test_the_health_check_asks_the_server_only_when_the_connection_has_something_to_say(monkeypatch):
    asked = []
    real = django_postgresql.DatabaseWrapper.is_usable
    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable",
                        lambda self: asked.append(1) or real(self))
    connection.ensure_connection()
    assert connection.is_usable() and asked == []  # idle and quiet: no SELECT 1

    # The server ends this backend (as a restart would): the socket turns readable.
    pid = connection.connection.info.backend_pid
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not connection.is_usable() and asked  # asked, and found dead
    connection.close()
    with connection.cursor() as cursor:  # a new connection works
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def _admin_dsn() -> str:
    params = connection.get_connection_params()
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in params.items()
                                             if k in ("dbname", "user", "host", "port", "password")})



@pytest.mark.django_db(transaction=True)
def test_tables_never_analyzed_get_statistics_after_migrate():
    from spaceiq_site.postgresql.statistics import never_analyzed_tables_analyze

    # The test database was just migrated: every table already has statistics.
    assert never_analyzed_tables_analyze() == []
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE stats_probe (id int PRIMARY KEY)")
        try:
            assert never_analyzed_tables_analyze() == ["stats_probe"]
            cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'stats_probe'")
            assert cursor.fetchone()[0] >= 0
            assert never_analyzed_tables_analyze() == []  # once only: the rest is autovacuum's
        finally:
            cursor.execute("DROP TABLE stats_probe")



@pytest.mark.django_db
def test_a_compiled_insert_stores_what_create_would(tenant):
    from directory.models import AuditEvent
    from spaceiq_site.postgresql.writes import instance_insert

    fields = dict(tenant_id=tenant.pk, actor_label="Entra (token siq_scim_ab…)", action="person.updated",
                  target_type="person", target_id="42", target_label="ann@contoso.com",
                  details={"changes": {"title": {"old": "A", "new": "Ä"}}}, source_ip="2001:db8::1", request_id="r1")
    mine = instance_insert(AuditEvent(**fields))
    theirs = AuditEvent.objects.create(**fields)
    assert mine.pk and not mine._state.adding
    stored, expected = AuditEvent.objects.get(pk=mine.pk), AuditEvent.objects.get(pk=theirs.pk)
    skip = {"id", "occurred_at"}
    assert {f.attname: getattr(stored, f.attname) for f in AuditEvent._meta.concrete_fields if f.attname not in skip} \
        == {f.attname: getattr(expected, f.attname) for f in AuditEvent._meta.concrete_fields if f.attname not in skip}
    assert stored.occurred_at is not None and stored.occurred_at <= expected.occurred_at  # auto_now_add applied



def test_a_person_and_its_event_are_inserted_naming_only_the_columns_with_values(tenant):
    """NULLs the database stores anyway are left out: an Entra user's INSERT stays within psycopg's
    parse cache (50 parameters); what is stored is what ``save()`` stores."""
    from directory.audit import Actor, audit_event_build
    from directory.models import Person
    from spaceiq_site.postgresql.writes import insert_with_event

    values = dict(tenant=tenant, user_name="ann@contoso.com", external_id="e-1", given_name="Ann",
                  family_name="Lee", display_name="Ann Lee", title="Engineer", department="Retail",
                  emails=[{"value": "ann@contoso.com", "primary": True}], custom_attributes={"x:building": "HQ"})
    mine = Person(**values)
    event = audit_event_build(tenant=tenant, actor=Actor.system("test"), action="person.created", target_type="person",
                              target_id=str(mine.pk), target_label=mine.user_name)
    sent: list[int] = []

    def count(execute, sql, params, many, context):
        sent.append(len(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        insert_with_event(mine, event)
    assert sent and sent[0] <= 50
    theirs = Person.objects.create(**{**values, "user_name": "bob@contoso.com"})
    skip = {"id", "user_name", "created", "last_modified", "password"}
    stored, expected = Person.objects.get(pk=mine.pk), Person.objects.get(pk=theirs.pk)
    assert {f.attname: getattr(stored, f.attname) for f in Person._meta.concrete_fields if f.attname not in skip} \
        == {f.attname: getattr(expected, f.attname) for f in Person._meta.concrete_fields if f.attname not in skip}
    assert stored.manager_id is None and stored.middle_name is None  # left out, stored NULL


def test_no_column_a_person_insert_may_leave_out_has_a_default_in_the_database():
    """What ``rows.without_nulls`` rests on: a column left out is NULL only if the database has no
    default for it, and a migration's RunSQL could add one behind the model's back."""
    from directory.models import Person
    from spaceiq_site.postgresql.rows import insert_columns, null_by_default

    omittable = {f.column for f, implicit in zip(insert_columns(Person), null_by_default(Person), strict=True)
                 if implicit}
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                       "AND (column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER')",
                       [Person._meta.db_table])
        defaulted = {row[0] for row in cursor.fetchall()}
    assert omittable and not omittable & defaulted


def _prepared_statements_like(prefix: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [prefix + "%"])
        return cursor.fetchone()[0]


def test_a_statement_run_again_and_again_is_prepared_once_per_connection(tenant):
    person = make_person(tenant, "prep@contoso.com")
    # A query text of its own, so the count below is about this statement alone.
    query = Person.objects.filter(pk=person.pk).order_by().values_list("user_name", "work_email")
    start = 'SELECT "directory_person"."user_name" AS "user_name", "directory_person"."work_email" AS "work_email"'
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True
    for _ in range(4):
        assert list(query.all()) == [(person.user_name, person.work_email)]
    assert _prepared_statements_like(start) == 0  # psycopg prepares from the fifth run
    for _ in range(3):
        assert list(query.all()) == [(person.user_name, person.work_email)]
    assert _prepared_statements_like(start) == 1


def test_prepared_statements_can_be_turned_off_for_pgbouncer():
    from tests.operations.test_configuration import start

    shown = 'settings.DATABASES["default"]["OPTIONS"]'
    url = "postgres://postgres@127.0.0.1:5432/spaceiq"
    on = start(shown, DATABASE_URL=url)
    off = start(shown, DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="false")
    assert on.returncode == 0 and off.returncode == 0, on.stderr + off.stderr
    assert "'prepare_threshold': 5" in on.stdout and "prepare_threshold" not in off.stdout
    assert "'server_side_binding': True" in off.stdout


def test_instance_update_writes_only_its_fields_with_auto_now_and_fails_on_a_missing_row(tenant):
    from django.db import DatabaseError

    from spaceiq_site.postgresql.writes import instance_update

    person = make_person(tenant, "upd@acme.example", title="Engineer", display_name="Up Date")
    before = person.last_modified
    Person.objects.filter(pk=person.pk).update(display_name="Changed elsewhere")
    person.title = "Senior Engineer"
    person.display_name = "stale value, not to be written"
    instance_update(person, ["title", "last_modified"])
    stored = Person.objects.get(pk=person.pk)
    assert stored.title == "Senior Engineer"
    assert stored.display_name == "Changed elsewhere"  # not in update_fields
    assert stored.last_modified > before
    ghost = Person(pk=uuid.uuid4(), tenant=tenant, user_name="ghost@acme.example")
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        instance_update(ghost, ["title"])


@pytest.mark.django_db(transaction=True)  # copy_insert commits on its own, as the request-log writer runs it
def test_copy_insert_writes_every_row_and_its_asynchronous_commit_stays_in_its_transaction(tenant):
    from django.utils import timezone

    from provisioning.models import ScimRequest
    from spaceiq_site.postgresql.writes import copy_insert

    rows = [ScimRequest(tenant=tenant, received_at=timezone.now(), method="GET", path=f"/scim/Users?n={i}",
                        status=200, source_ip="2001:db8::1", request_body='{"a": "\\\\ tab\\t"}')
            for i in range(3)]
    copy_insert(ScimRequest, rows, asynchronous_commit=True)
    stored = list(ScimRequest.objects.order_by("path").values_list("path", "source_ip", "request_body"))
    assert stored == [(f"/scim/Users?n={i}", "2001:db8::1", '{"a": "\\\\ tab\\t"}') for i in range(3)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone() == ("on",)  # the session is untouched
    from django.db import transaction

    with transaction.atomic(), pytest.raises(RuntimeError, match="not inside a transaction"):
        copy_insert(ScimRequest, rows)


def _prepared_by_the_fields(entry):
    import warnings

    from spaceiq_site.postgresql.rows import insert_columns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the naive datetime's warning: asserted on our side
        return [f.get_db_prep_save(f.pre_save(entry, add=True), connection) for f in insert_columns(type(entry))]


def test_row_values_are_what_each_field_would_prepare_whatever_their_types(tenant, monkeypatch):
    from django.utils import timezone

    from directory.models import AuditEvent
    from provisioning.models import ScimRequest
    from spaceiq_site.postgresql.rows import row_values

    frozen = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: frozen)  # auto_now fields: the same instant both ways
    naive = datetime.datetime(2026, 1, 2, 3, 4, 5)
    rows = [
        Person(tenant=tenant, user_name="ann@contoso.com", emails=[{"value": "ann@contoso.com"}], version=3),
        # Values of types the fields convert: an int for a text, a str for a UUID and an integer, a naive datetime.
        Person(id=str(uuid.uuid4()), tenant_id=tenant.pk, user_name=42, title=None, is_active=1, version="7",
               last_login=naive, manager_id=str(uuid.uuid4())),
        AuditEvent(tenant_id=tenant.pk, actor_label="Entra", action="person.updated", details={"a": [1, "ä"]},
                   source_ip="2001:db8::1", actor_person_id=uuid.uuid4()),
        ScimRequest(tenant=tenant, received_at=naive, method="GET", path="/scim/Users", status="200",
                    duration_ms=True, source_ip=None),
        ScimRequest(tenant=None, received_at=frozen, method="POST", path="/scim/Users", status=201, duration_ms=3),
        # None in every kind of column, nullable or not (refused by the database, not here, as by save()).
        ScimRequest(tenant=None, integration=None, received_at=None, method=None, path=None, status=None,
                    duration_ms=None, source_ip=None, request_body=None),
        Person(tenant_id=tenant.pk, user_name="n@contoso.com", id=None, is_active=None, title=None, emails=None,
               last_login=None, manager_id=None, version=None),
    ]
    for entry in rows:
        with pytest.warns(RuntimeWarning) if any(v is naive for v in vars(entry).values()) else _no_warning():
            mine = row_values(entry)
        expected = _prepared_by_the_fields(entry)
        assert [type(v) for v in mine] == [type(v) for v in expected]
        assert [getattr(v, "adapted", getattr(v, "obj", v)) for v in mine] \
            == [getattr(v, "adapted", getattr(v, "obj", v)) for v in expected]


def _no_warning():
    import contextlib
    import warnings

    @contextlib.contextmanager
    def strict():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield

    return strict()
