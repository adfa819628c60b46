"""The SCIM hot path's compiled queries and the PostgreSQL backend's cheaper health check and timestamps.

A compiled query must give exactly what iterating its QuerySet gives, for
every value it is run with; the backend must still notice a connection the
server has dropped.
"""

import datetime
import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql

from directory.compiled_query import CompiledQuery
from directory.models import Group, Membership, Person
from provisioning.models import ScimToken
from spaceiq_site.postgresql import base as our_postgresql
from tests.conftest import issue_token, make_person

pytestmark = pytest.mark.django_db


def _people_by_name():
    return CompiledQuery(
        lambda tenant, name: Person.objects.filter(tenant_id=tenant, user_name=name).select_related("tenant"),
        tenant=int, name=str,
    )


def test_a_compiled_query_returns_what_its_queryset_returns_for_each_set_of_values(tenant, other_tenant):
    alice = make_person(tenant, "alice@contoso.com", emails=[{"value": "alice@contoso.com", "primary": True}])
    make_person(other_tenant, "alice@contoso.com")
    query = _people_by_name()
    for t, name in [(tenant, "alice@contoso.com"), (other_tenant, "alice@contoso.com"), (tenant, "nobody")]:
        expected = list(Person.objects.filter(tenant_id=t.pk, user_name=name).select_related("tenant"))
        got = query(tenant=t.pk, name=name)
        assert [p.pk for p in got] == [p.pk for p in expected]
        for mine, theirs in zip(got, expected, strict=True):
            # Every field converted as the ORM converts it (JSON, timestamps, UUIDs), relations attached.
            assert {f.attname: getattr(mine, f.attname) for f in Person._meta.concrete_fields} == \
                   {f.attname: getattr(theirs, f.attname) for f in Person._meta.concrete_fields}
            assert mine.tenant.slug == t.slug and not mine._state.adding
    assert query(tenant=tenant.pk, name="alice@contoso.com")[0].emails == alice.emails


def test_a_compiled_values_list_returns_tuples_in_order(tenant):
    people = [make_person(tenant, f"p{i}@contoso.com", display_name=f"P {i}") for i in range(3)]
    group = Group.objects.create(tenant=tenant, display_name="Eng")
    for p in reversed(people):
        Membership.objects.create(group=group, person=p)
    query = CompiledQuery(
        lambda pk: Membership.objects.filter(group_id=pk).order_by("id")
        .values_list("person_id", "person__display_name"),
        pk=uuid.UUID,
    )
    assert query(pk=group.pk) == [(p.pk, p.display_name) for p in reversed(people)]
    assert query(pk=uuid.uuid4()) == []


def test_a_query_whose_marker_the_orm_transforms_is_refused_not_run_wrong(tenant):
    # icontains wraps the value in %...%: the marker is not a parameter as is.
    query = CompiledQuery(lambda name: Person.objects.filter(user_name__icontains=name), name=str)
    with pytest.raises(ValueError, match="transformed"):
        query(name="alice")
    with pytest.raises(TypeError):
        _people_by_name()(tenant=tenant.pk)


def test_token_verification_runs_one_compiled_query_and_honours_revocation(tenant, django_assert_num_queries):
    from provisioning.tokens import token_verify

    raw = issue_token(tenant)
    with django_assert_num_queries(1):
        token = token_verify(raw)
    assert token is not None and token.integration.tenant.pk == tenant.pk
    ScimToken.objects.filter(pk=token.pk).update(revoked_at=datetime.datetime.now(datetime.UTC))
    assert token_verify(raw) is None


def test_timestamps_are_read_by_the_c_loader_as_utc(tenant):
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT)
    assert loader is our_postgresql.UtcTimestamptzLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT TIMESTAMPTZ '2026-11-26 10:11:12.345678+02'")
        (value,) = cursor.fetchone()
    assert value == datetime.datetime(2026, 11, 26, 8, 11, 12, 345678, tzinfo=datetime.UTC)
    assert value.tzinfo is datetime.UTC
    fresh = Person.objects.get(pk=make_person(tenant, "t@contoso.com").pk)
    assert fresh.created.tzinfo is datetime.UTC


def test_a_session_not_in_utc_still_yields_utc_datetimes(tenant):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Tokyo'")
        cursor.execute("SELECT TIMESTAMPTZ '2026-11-26 10:00:00+00'")
        (value,) = cursor.fetchone()
    assert value == datetime.datetime(2026, 11, 26, 10, 0, tzinfo=datetime.UTC) and value.tzinfo is datetime.UTC


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
    from directory.table_statistics import never_analyzed_tables_analyze

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
    from directory.compiled_insert import instance_insert
    from directory.models import AuditEvent

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


@pytest.mark.parametrize("prepared", [True, False])
def test_compiled_queries_are_prepared_statements_unless_turned_off(settings, tenant, prepared):
    settings.DATABASE_PREPARED_STATEMENTS = prepared
    person = make_person(tenant, f"prep-{prepared}@contoso.com")
    # A query text of its own, so the count below is about this statement alone.
    query = CompiledQuery(lambda pk: Person.objects.filter(pk=pk).order_by().values_list("user_name"), pk=uuid.UUID)

    def prepared_statements() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                           ['SELECT "directory_person"."user_name" AS "user_name" FROM "directory_person" WHERE%'])
            return cursor.fetchone()[0]

    before = prepared_statements()
    assert query(pk=person.pk) == [(person.user_name,)] and query(pk=uuid.uuid4()) == []
    assert prepared_statements() == before + (1 if prepared else 0)


@pytest.mark.django_db(transaction=True)  # autocommit, as a SCIM request's log write runs
def test_the_request_log_preamble_applies_to_its_statement_alone():
    from directory.server_bound_sql import run_server_bound
    from provisioning.request_log import _ASYNC_COMMIT

    setting = "SELECT current_setting('synchronous_commit')"
    assert run_server_bound(setting, [], prepare=False, preamble=_ASYNC_COMMIT) == [("off",)]
    assert run_server_bound(setting, [], prepare=False) == [("on",)]  # the session is untouched


@pytest.mark.django_db
def test_server_bound_statements_are_counted_and_fail_as_django_errors(django_assert_num_queries):
    from django.db import ProgrammingError

    from directory.server_bound_sql import run_server_bound

    with django_assert_num_queries(1):
        assert run_server_bound("SELECT %s::int + 1", [41], prepare=True) == [(42,)]
    with pytest.raises(ProgrammingError):
        run_server_bound("SELECT no_such_column FROM directory_person", [], prepare=False)


def test_instance_update_writes_only_its_fields_with_auto_now_and_fails_on_a_missing_row(tenant):
    from django.db import DatabaseError

    from directory.compiled_update import instance_update

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

    from directory.compiled_insert import copy_insert
    from provisioning.models import ScimRequest

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


def test_server_bound_statements_keep_one_cursor_each_per_connection(tenant):
    from directory.server_bound_sql import run_server_bound

    first, second = "SELECT %s::int + 1", "SELECT %s::text || 'x'"
    assert run_server_bound(first, [1], prepare=False) == [(2,)]
    cursor = connection._server_bound_cursors[1][first]
    assert run_server_bound(second, ["a"], prepare=False) == [("ax",)]
    assert run_server_bound(first, [41], prepare=False) == [(42,)]
    assert connection._server_bound_cursors[1][first] is cursor  # kept: its adapters stay resolved
    assert connection._server_bound_cursors[1][second] is not cursor


def _prepared_by_the_fields(entry):
    import warnings

    from directory.compiled_insert import insert_columns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the naive datetime's warning: asserted on our side
        return [f.get_db_prep_save(f.pre_save(entry, add=True), connection) for f in insert_columns(type(entry))]


def test_row_values_are_what_each_field_would_prepare_whatever_their_types(tenant, monkeypatch):
    from django.utils import timezone

    from directory.compiled_insert import row_values
    from directory.models import AuditEvent
    from provisioning.models import ScimRequest

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


def test_placeholders_are_numbered_for_the_raw_cursor_and_literal_percent_signs_kept():
    from directory.server_bound_sql import _numbered, run_server_bound

    assert _numbered("SELECT %s, '100%%', %s || '%%x'") == "SELECT $1, '100%', $2 || '%x'"
    with pytest.raises(ValueError, match="unsupported placeholder"):
        _numbered("SELECT %(name)s")
    assert run_server_bound("SELECT %s::text || '%%', %s::int", ["50", 7], prepare=True) == [("50%", 7)]
