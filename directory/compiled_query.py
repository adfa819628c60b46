"""ORM queries compiled to SQL once per process and run many times with new values.

The SCIM hot path runs the same few queries thousands of times per sync
(the token of a request, a person by id, a group's members), and turning a
QuerySet into SQL costs more CPU than PostgreSQL spends answering it: about
a third of a request's time went to the compiler (bench/RESULTS.md). A
``CompiledQuery`` builds its QuerySet once with marker values, finds where
the markers landed among the SQL parameters, and from then on only swaps the
real values in and turns rows into model instances with Django's own
converters and related-object populators, exactly as iterating the QuerySet
would. The ORM stays the single source of the SQL: a new column or a changed
filter needs no edit here.

Only values that reach the SQL unchanged can be markers (identifiers, plain
strings, datetimes compared as they are); building the query fails loudly if
a marker is transformed on the way, so a query that cannot be compiled this
way never silently runs with the wrong values.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators

from directory.server_bound_sql import run_server_bound

M = TypeVar("M", bound=Model)

_INT_MARKER_BASE = -7_314_159_265_358_979
_EPOCH = datetime(1901, 3, 7, 11, 13, 17, tzinfo=UTC)


def _marker(kind: type, index: int) -> Any:
    """A value of ``kind`` that no real parameter of these queries can equal."""
    if kind is uuid.UUID:
        return uuid.UUID(int=(0x5C1A << 112) + index)
    if kind is int:
        return _INT_MARKER_BASE - index
    if kind is str:
        return f"\x1fcompiled-query-marker-{index}\x1f"
    if kind is datetime:
        return _EPOCH + timedelta(microseconds=index + 1)
    raise TypeError(f"no marker for {kind.__name__} values")


class _Plan:
    """One connection's compiled SQL, parameter slots and row-to-object recipe."""

    def __init__(self, queryset: QuerySet, markers: dict[str, Any], alias: str) -> None:
        compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = compiler.as_sql()
        by_value = {(type(v), v): name for name, v in markers.items()}
        # Each parameter is either a named slot (a marker) or a constant of the query.
        self.slots: list[tuple[str | None, Any]] = [
            (by_value.get((type(p), p)), p) for p in params
        ]
        missing = set(markers) - {name for name, _ in self.slots if name}
        if missing:
            raise ValueError(f"markers {sorted(missing)} were transformed by the ORM: not a compilable query")
        self.compiler = compiler
        self.alias = alias
        klass_info = compiler.klass_info
        select = compiler.select
        self.converters = compiler.get_converters([col[0] for col in select])
        self.model = None
        if queryset._iterable_class is ValuesListIterable:  # rows are the result
            return
        if queryset._iterable_class is not ModelIterable:
            raise TypeError("only model instances and values_list() tuples can be compiled")
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.attnames = [col[0].target.attname for col in select[self.start:self.end]]
        self.populators = get_related_populators(klass_info, select, alias)
        self.annotations = list(compiler.annotation_col_map.items())  # set on each instance, as the ORM does

    def params(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name else constant for name, constant in self.slots]

    def objects(self, rows: list[tuple]) -> list[Any]:
        if self.converters:
            rows = [tuple(row) for row in self.compiler.apply_converters(rows, self.converters)]
        if self.model is None:
            return rows
        result = []
        for row in rows:
            obj = self.model.from_db(self.alias, self.attnames, row[self.start:self.end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            result.append(obj)
        return result


class CompiledQuery(Generic[M]):
    """``build(**markers)`` returns the QuerySet; calling with real values runs its SQL.

    The result is what iterating the QuerySet gives: model instances (with
    ``select_related`` objects and annotations attached) or, for
    ``values_list()``, tuples.

    ``params`` names each value and its type (``uuid.UUID``, ``int``, ``str``,
    ``datetime``). The SQL is compiled lazily, once per process and database
    alias (and again if the alias's backend changes, as between test settings).
    Off PostgreSQL the QuerySet is simply built with the values and run.

    On PostgreSQL it runs with server-side binding, as a prepared statement
    planned once per connection with a generic plan
    (directory.server_bound_sql): right for lookups whose best index does not
    depend on the values. ``prepare=False`` keeps PostgreSQL planning each
    run with the values in view.
    """

    def __init__(self, build: Callable[..., QuerySet], *, prepare: bool = True, **params: type) -> None:
        self.build = build
        self.prepare = prepare
        self.param_types = params
        self._plans: dict[tuple[str, str], _Plan] = {}
        self._lock = threading.Lock()

    def plan(self, alias: str = "default") -> _Plan:
        key = (alias, connections[alias].vendor)
        plan = self._plans.get(key)
        if plan is None:
            with self._lock:
                markers = {name: _marker(kind, i) for i, (name, kind) in enumerate(self.param_types.items())}
                plan = self._plans[key] = _Plan(self.build(**markers), markers, alias)
        return plan

    def __call__(self, alias: str = "default", **values: Any) -> list[Any]:
        if set(values) != set(self.param_types):
            raise TypeError(f"expected values for {sorted(self.param_types)}, got {sorted(values)}")
        if connections[alias].vendor != "postgresql":
            # Elsewhere (the demo's SQLite) values are converted on the way in (UUIDs become
            # hex text), so markers cannot be found: run the QuerySet itself.
            return list(self.build(**values).using(alias))
        plan = self.plan(alias)
        rows = run_server_bound(plan.sql, plan.params(values), prepare=self.prepare, alias=alias)
        return plan.objects(rows)
