"""The SCIM views, on django-scim2's ``SCIMView`` base class (a Django view with the ``uuid`` URL argument).

Listing, filtering, paging, projection, writes and error documents are ours:
the library's own views count pages by iterating the whole result, re-filter
raw SQL in Python, ignore ``attributes``, answer 404s without a body and
render ``status`` as a number. What we keep of it is the base class, its
exception (``SCIMException``, which ``errors.ScimError`` extends) and the
adapter mixin (adapters.py).
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from abc import ABC, abstractmethod
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django_scim import exceptions as scim_exceptions
from django_scim import views as scim_views

from directory.errors import StaleWrite
from directory.models import Group, Membership, Person
from directory.selectors import as_uuid
from directory.services import single_transaction
from provisioning.scim import custom, errors
from provisioning.scim.adapters import ScimGroup, ScimUser, base_location
from provisioning.scim.auth import ScimAuth
from provisioning.scim.constants import (
    LIST_RESPONSE,
    MAX_JSON_DEPTH,
    MAX_RESULTS,
    SCIM_CONTENT_TYPE,
    SEARCH_REQUEST,
    ScimType,
)
from provisioning.scim.discovery import schema_docs, service_provider_config
from provisioning.scim.filter_parser import Compare, Path
from provisioning.scim.filters import GROUPS, USERS, Equality, filter_parse
from provisioning.scim.projection import Projection
from spaceiq_site import postgresql
from spaceiq_site.postgresql import reads
from spaceiq_site.postgresql.writes import fetch_all

logger = logging.getLogger(__name__)


def scim_response(doc: Any, status: int = 200, location: str | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(doc, ensure_ascii=False), status=status, content_type=SCIM_CONTENT_TYPE)
    if location:
        response["Location"] = location
    return response


def _depth(value: Any, limit: int) -> int:
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is out of range")
    return number


def _has_lone_surrogate(doc: Any) -> bool:
    try:
        json.dumps(doc, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _nul_attribute(doc: Any) -> str | None:
    """The attribute whose value holds a NUL character, named as the client named it: ``userName``,
    ``name.givenName``, or a PATCH operation's path (``emails[type eq "work"].value``). None when no
    string holds one (``"\\u0000"`` escaped in a string is six characters, no NUL)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(doc, ())]
    while stack:
        item, keys = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return ".".join(keys) or "a value"
        elif isinstance(item, list):
            stack.extend((element, keys) for element in reversed(item))
        elif isinstance(item, dict):
            names = {key.lower(): key for key in item if isinstance(key, str)}
            path = item.get(names.get("path", ""))
            for key, value in reversed(item.items()):
                if "\x00" in key:
                    return ".".join((*keys, key.replace("\x00", "\\u0000")))
                if key.lower() == "operations":
                    stack.append((value, ()))
                elif "op" in names and key.lower() == "value":
                    # A PATCH operation's value belongs to its path (path-less: to its own keys).
                    stack.append((value, (path,) if isinstance(path, str) else ()))
                else:
                    stack.append((value, (*keys, key)))
    return None


class ScimViewMixin:
    """Error handling, body parsing and tenant scoping shared by every SCIM view."""

    request: HttpRequest

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        """The view function, behind the bearer token (ScimAuth) and exempt from CSRF (no cookie is used).

        Wrapped once, when the URLconf is loaded: as method decorators of
        ``dispatch`` these wrappers were built again for every request.
        """
        return csrf_exempt(ScimAuth(super().as_view(**initkwargs)))  # type: ignore[misc]

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Every failure becomes a SCIM error document (never HTML, never a bare 500)."""
        try:
            return super(scim_views.SCIMView, self).dispatch(request, *args, **kwargs)  # type: ignore[misc]
        except scim_exceptions.SCIMException as exc:
            return errors.error_response(exc)
        except RequestDataTooBig:
            # A body without Content-Length that grows past the limit while read.
            return errors.error_response(errors.ScimError(413, "The request body is too large."))
        except (OperationalError, InterfaceError):
            # The database is unreachable: tell the client to come back (Entra retries 5xx).
            return errors.error_response(errors.unavailable())
        except DatabaseError:
            return errors.error_response(errors.ScimError(500, "The request could not be completed."))
        except Exception:
            # A bug of ours: logged with its traceback, answered as SCIM (never Django's HTML 500).
            # Raised inside the request's transaction, it has been rolled back already.
            logger.exception("SCIM %s %s failed", request.method, request.path)
            return errors.error_response(errors.ScimError(500, "The request could not be completed."))

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return errors.error_response(errors.ScimError(405, f"{request.method} is not supported here."))

    def load_body(self, body: bytes) -> Any:
        """Parse JSON strictly: invalid UTF-8, bad JSON and absurd nesting are 400 invalidSyntax."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise errors.bad_request("The request body is not valid UTF-8.", ScimType.INVALID_SYNTAX) from None
        if not text.strip():
            raise errors.bad_request("The request body is empty.", ScimType.INVALID_SYNTAX)
        try:
            doc = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise errors.bad_request(f"The request body is not valid JSON: {exc}", ScimType.INVALID_SYNTAX) from None
        if "\\u" in text.lower() and _has_lone_surrogate(doc):
            # "\ud800" is valid JSON but no valid Unicode: it cannot be stored or returned.
            raise errors.bad_request("The request body contains an unpaired surrogate.", ScimType.INVALID_VALUE)
        # A value sits under at most as many objects and arrays as the text opens, so only a text that
        # opens MAX_JSON_DEPTH of them (Entra's documents open about ten) is walked.
        if text.count("{") + text.count("[") >= MAX_JSON_DEPTH and _depth(doc, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise errors.bad_request("The request body is nested too deeply.", ScimType.INVALID_SYNTAX)
        if "\x00" in text.replace("\\u0000", "\x00") and (where := _nul_attribute(doc)):
            # PostgreSQL stores no NUL in text, in any attribute.
            raise errors.bad_request(f"{where}: must not contain NUL characters (U+0000).", ScimType.INVALID_VALUE)
        if not isinstance(doc, dict):
            raise errors.bad_request("The request body must be a JSON object.", ScimType.INVALID_SYNTAX)
        return doc


@functools.cache
def _group_refs_sql() -> str:
    """A user's groups as one JSON column: ``[{"value": group id, "display": name}, ...]`` in membership order."""
    quote = connection.ops.quote_name
    membership, group = quote(Membership._meta.db_table), quote(Group._meta.db_table)
    return (f"SELECT COALESCE(JSONB_AGG(JSONB_BUILD_OBJECT('value', m.group_id, 'display', g.display_name) "  # noqa: S608
            f"ORDER BY m.id), '[]') FROM {membership} m JOIN {group} g ON g.id = m.group_id "
            f"WHERE m.person_id = {reads.ALIAS}.id")


def _by_id(model: type[Person] | type[Group], pk: uuid.UUID, *, for_update: bool) -> Any:
    """One resource by primary key, or None (every GET, PATCH and DELETE runs it).

    The primary key is the only condition, so the one plan is the primary-key
    index whatever the statistics say. The caller checks the tenant
    (``object_by_id``). On PostgreSQL a user's groups come in the same
    statement (UsersView.render): a GET by id, and the answer to a PATCH, are
    one round trip, not two.
    """
    if postgresql.in_use():
        extra = {"scim_group_refs": _group_refs_sql()} if model is Person else None
        return reads.by_pk(model, pk, for_update=for_update, extra=extra)
    qs = model.objects.filter(pk=pk)
    return (qs.select_for_update() if for_update else qs).first()


def _equality_page(model: type[Person] | type[Group], resource: Any, path: Path, equality: Equality, *,
                   tenant: int, count: int) -> list[Any]:
    """The first page of ``path eq value`` for one tenant: Entra's matching lookup.

    On PostgreSQL one statement built once per attribute
    (spaceiq_site.postgresql.reads), comparing as ``resource.to_q`` does;
    elsewhere that translation itself. An attribute unique per tenant
    (userName, a group's displayName) matches at most one row: no ORDER BY
    and no LIMIT. The unique index is then the best plan, but PostgreSQL only
    sees so once its statistics describe the tenant's rows; on a fresh
    database spaceiq_site.postgresql.statistics sees to that.
    """
    limit = None if equality.unique else count
    if postgresql.in_use():
        return reads.tenant_rows_equal(model, tenant_id=tenant, field=equality.field, value=equality.value,
                                       case_exact=equality.case_exact, limit=limit)
    qs = model.objects.filter(tenant_id=tenant).filter(resource.to_q(Compare(path, "eq", equality.value)))
    return list(qs.order_by() if limit is None else qs.order_by("created", "id")[:limit])


class ResourceView(ScimViewMixin, ABC):
    """Users and Groups: listing, filtering, paging and projection done in the database."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    model: type[Person] | type[Group]
    adapter: type[ScimUser] | type[ScimGroup]
    resource: Any
    kind: str
    lookup_url_kwarg = "uuid"

    # -- reading -------------------------------------------------------------

    def base_queryset(self) -> QuerySet:
        return self.model.objects.filter(tenant_id=self.request.tenant.pk)

    def get_object(self) -> Any:
        """Scoped to the token's tenant; anything that is not one of its ids is a SCIM 404."""
        return self.object_by_id(for_update=False)

    def object_by_id(self, *, for_update: bool) -> Any:
        raw = self.kwargs[self.lookup_url_kwarg]
        pk = as_uuid(raw)
        obj = _by_id(self.model, pk, for_update=for_update) if pk else None
        # The tenant wall: another tenant's id is as unknown as an id that does not exist.
        if obj is None or obj.tenant_id != self.request.tenant.pk:
            raise errors.not_found(self.kind, raw)
        return obj

    def projection(self, source: Any) -> Projection:
        return Projection.from_params(self.kind, source.get("attributes"), source.get("excludedAttributes"))

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if kwargs.get(self.lookup_url_kwarg):
            return self.get_single(request)
        return self.list_response(request.GET, request.GET.get("filter"))

    def get_single(self, request: HttpRequest) -> HttpResponse:
        obj = self.get_object()
        projection = self.projection(request.GET)
        doc = projection.apply(self.render([obj], projection)[0])
        return scim_response(doc, location=self.adapter(obj, request=request).location)

    def page(self, source: Any) -> tuple[int, int]:
        def number(name: str, default: int) -> int:
            raw = source.get(name)
            if raw in (None, ""):
                return default
            try:
                return int(raw)
            except (TypeError, ValueError):
                raise errors.bad_request(f"{name} must be a whole number.") from None

        start = max(number("startIndex", 1), 1)  # RFC 7644 §3.4.2.4: < 1 means 1
        start = min(start, 2**62)  # past every result anyway; larger is no OFFSET PostgreSQL accepts
        count = min(max(number("count", MAX_RESULTS), 0), MAX_RESULTS)
        return start, count

    def list_response(self, source: Any, filter_text: str | None) -> HttpResponse:
        start, count = self.page(source)
        projection = self.projection(source)
        expr = filter_parse(filter_text) if filter_text else None  # "filter=" with nothing after it: no filter
        resource = self.filter_resource()
        equality = resource.equality(expr) if expr is not None and start == 1 and count else None

        def filtered() -> QuerySet:
            qs = self.base_queryset()
            return qs.filter(resource.to_q(expr)) if expr is not None else qs

        if not count:
            objects = []
        elif equality is not None:
            objects = _equality_page(self.model, resource, expr.path, equality, tenant=self.request.tenant.pk,
                                     count=count)
        elif start == 1:
            objects = list(filtered().order_by("created", "id")[:count])
        else:
            # Deep pages: skip rows in the (tenant, created, id) index alone, then
            # fetch only the page's rows (a plain OFFSET reads every skipped row).
            page_ids = filtered().order_by("created", "id").values("pk")[start - 1:start - 1 + count]
            objects = list(self.base_queryset().filter(pk__in=page_ids).order_by("created", "id"))
        if count and (0 < len(objects) < count or (start == 1 and not objects)):
            # A short page holds the last result: no COUNT query (Entra's lookups match 0 or 1).
            total = start - 1 + len(objects)
        else:
            total = filtered().count()
        resources = [projection.apply(doc) for doc in self.render(objects, projection)]
        return scim_response({
            "schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start,
            "itemsPerPage": len(resources), "Resources": resources,
        })

    def filter_resource(self) -> Any:
        """What filters are translated with (scoped to the tenant asking, for users' custom attributes)."""
        return self.resource

    @abstractmethod
    def render(self, objects: list[Any], projection: Projection, created: bool = False) -> list[dict]:
        """SCIM documents for a page of objects, in as few queries as possible."""

    # -- writing -------------------------------------------------------------

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if kwargs.get(self.lookup_url_kwarg):
            raise errors.ScimError(405, "POST is not supported on a single resource.")
        body = self.load_body(request.body)
        adapter = self.adapter(None, request=request)  # a new resource: save() creates it
        adapter.from_dict(body)  # records the document; no query
        adapter.save()  # one service call, itself atomic: no outer transaction, no savepoint round trips
        request.scim_resource_id = adapter.id
        return self.written(adapter, status=201)

    def put(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.require_id(kwargs)
        body = self.load_body(request.body)
        with single_transaction():
            adapter = self.adapter(self.locked_object(), request=request)
            adapter.from_dict(body)
            adapter.save()
        return self.written(adapter)

    def patch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.require_id(kwargs)
        body = self.load_body(request.body)
        schemas = body.get("schemas")
        operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
        if schemas is not None and not isinstance(schemas, list):
            raise errors.bad_request("schemas must be a list.", ScimType.INVALID_SYNTAX)
        adapter = self.optimistic_patch(operations)
        if adapter is None:
            with single_transaction():
                adapter = self.adapter(self.locked_object(), request=request)
                adapter.handle_operations(operations)
                adapter.save()
        return self.patched(adapter)

    def optimistic_patch(self, operations: Any) -> Any:
        """The PATCH written without a transaction or a lock, or None: take the locked path.
        Groups (whose member changes span many rows) always take the locked path."""
        return None

    def delete(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.require_id(kwargs)
        with single_transaction():
            self.adapter(self.locked_object(), request=request).delete()
        return HttpResponse(status=204, content_type=SCIM_CONTENT_TYPE)

    def require_id(self, kwargs: dict) -> None:
        if not kwargs.get(self.lookup_url_kwarg):
            raise errors.ScimError(405, f"{self.request.method} needs a resource id in the URL.")
        self.request.scim_resource_id = kwargs[self.lookup_url_kwarg]

    def locked_object(self) -> Any:
        """The resource, locked for this transaction so concurrent PATCHes serialise."""
        return self.object_by_id(for_update=True)

    def written(self, adapter: Any, status: int = 200) -> HttpResponse:
        obj = adapter.obj
        projection = self.projection(self.request.GET)
        doc = projection.apply(self.render([obj], projection, created=status == 201)[0])
        return scim_response(doc, status=status, location=adapter.location)

    def patched(self, adapter: Any) -> HttpResponse:
        return self.written(adapter)


@functools.cache
def _memberships_sql(owner: str, other: str) -> str:
    """One owner's (other id, other's display name) pairs in membership order, built once."""
    quote = connection.ops.quote_name
    other_table = quote((Group if other == "group_id" else Person)._meta.db_table)
    # Names from the models' metadata; the owner's id is a parameter.
    return (f"SELECT m.{other}, o.display_name FROM {quote(Membership._meta.db_table)} m "  # noqa: S608
            f"JOIN {other_table} o ON o.id = m.{other} WHERE m.{owner} = %s ORDER BY m.id")


def _memberships_of(owner_ids: list[Any], owner: str, other: str, other_name: str) -> dict[Any, list[tuple]]:
    """(other id, name) pairs per owner id, in one query for a whole page."""
    grouped: dict[Any, list[tuple]] = {pk: [] for pk in owner_ids}
    if len(owner_ids) == 1 and postgresql.in_use():
        # One resource (a lookup's match, a group read by id): a statement built once, not a QuerySet.
        grouped[owner_ids[0]] = fetch_all(_memberships_sql(owner, other), [owner_ids[0]])
    elif owner_ids:
        rows = Membership.objects.filter(**{f"{owner}__in": owner_ids}).order_by("id")
        for owner_id, other_id, name in rows.values_list(owner, other, other_name):
            grouped[owner_id].append((other_id, name))
    return grouped


def _group_refs(person: Person) -> list[tuple[Any, str]]:
    refs = getattr(person, "scim_group_refs", None) or []
    if isinstance(refs, str):  # jsonb arrives as text, as Django's JSONField reads it
        refs = json.loads(refs)
    return [(uuid.UUID(ref["value"]), ref["display"]) for ref in refs]


class UsersView(ResourceView, scim_views.SCIMView):
    model = Person
    adapter = ScimUser
    resource = USERS
    kind = "User"

    def filter_resource(self) -> Any:
        request = self.request
        return USERS.with_custom_attributes(lambda: custom.catalog(request))

    def optimistic_patch(self, operations: Any) -> Any:
        """A user's PATCH (Entra's incremental cycle) reads the user, applies the
        operations and writes the change with its audit events in one
        statement that succeeds only if nobody wrote the user in between.
        When somebody did, nothing was written and None sends the PATCH again
        down the locked path, so it is applied once, to the current user."""
        adapter = self.adapter(self.get_object(), request=self.request)
        adapter.handle_operations(operations)
        if adapter.changes_app_roles():
            return None  # a change of role sources recomputes the role, several rows: under the lock
        adapter.expected_version = adapter.obj.version
        try:
            adapter.save()
        except StaleWrite:
            return None
        return adapter

    def render(self, objects: list[Person], projection: Projection, created: bool = False) -> list[dict]:
        """One query for all groups and one for all managers of the page, never one per user.

        A user just created belongs to no group yet: no query at all."""
        include_groups = projection.wants("groups")
        # Read with the person by id (_by_id), or a user just created (no group yet): no query.
        groups = {p.pk: _group_refs(p) for p in objects if created or hasattr(p, "scim_group_refs")}
        ids = [p.pk for p in objects if p.pk not in groups] if include_groups else []
        groups.update(_memberships_of(ids, "person_id", "group_id", "group__display_name"))
        managers: dict[Any, str] = {}
        manager_ids = {p.manager_id for p in objects if p.manager_id}
        if manager_ids and projection.wants("manager"):
            managers = dict(Person.objects.filter(pk__in=manager_ids).values_list("pk", "display_name"))
        return [
            ScimUser(p, request=self.request, groups=groups.get(p.pk)).to_dict(
                include_groups=include_groups, manager_name=managers.get(p.manager_id) or ""
            )
            for p in objects
        ]


class GroupsView(ResourceView, scim_views.SCIMView):
    model = Group
    adapter = ScimGroup
    resource = GROUPS
    kind = "Group"

    def render(self, objects: list[Group], projection: Projection, created: bool = False) -> list[dict]:
        """Members only when asked for (Entra reads with excludedAttributes=members)."""
        include_members = projection.wants("members")
        ids = [g.pk for g in objects] if include_members else []
        members = _memberships_of(ids, "group_id", "person_id", "person__display_name")
        return [
            ScimGroup(g, request=self.request, members=members.get(g.pk)).to_dict(include_members=include_members)
            for g in objects
        ]

    def patched(self, adapter: Any) -> HttpResponse:
        # Entra expects 204 for group PATCH (rule 11); a client that asks for
        # attributes gets the resource back (RFC 7644 §3.5.2).
        if "attributes" in self.request.GET or "excludedAttributes" in self.request.GET:
            return self.written(adapter)
        return HttpResponse(status=204, content_type=SCIM_CONTENT_TYPE)


class SearchView(ScimViewMixin, scim_views.SCIMView):
    """POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)."""

    http_method_names = ["post"]
    target: type[ResourceView]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        body = self.load_body(request.body)
        schemas = body.get("schemas")
        if not isinstance(schemas, list) or SEARCH_REQUEST not in schemas:
            raise errors.bad_request(f"schemas must contain {SEARCH_REQUEST}.", ScimType.INVALID_SYNTAX)
        source = {k: (",".join(v) if isinstance(v, list) else v) for k, v in body.items()}
        view = self.target()
        view.request, view.kwargs = request, {}
        filter_text = body.get("filter")
        if filter_text is not None and not isinstance(filter_text, str):
            raise errors.invalid_filter("filter must be a string.")
        return view.list_response(source, filter_text)


class UserSearchView(SearchView):
    target = UsersView


class GroupSearchView(SearchView):
    target = GroupsView


def _one_or_list(kind: str, documents: Any, wanted: str | None) -> HttpResponse:
    """A discovery document by id, or all of them as a ListResponse."""
    docs = {d["id"]: d for d in documents}
    if wanted:
        if wanted not in docs:
            raise errors.not_found(kind, wanted)
        return scim_response(docs[wanted])
    return scim_response({"schemas": [LIST_RESPONSE], "totalResults": len(docs), "startIndex": 1,
                          "itemsPerPage": len(docs), "Resources": list(docs.values())})


class ServiceProviderConfigView(ScimViewMixin, scim_views.SCIMView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return scim_response(service_provider_config(request))


class ResourceTypesView(ScimViewMixin, scim_views.SCIMView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, uuid: str | None = None, *args: Any, **kwargs: Any) -> HttpResponse:
        docs = (ScimUser.resource_type_dict(request), ScimGroup.resource_type_dict(request))
        return _one_or_list("ResourceType", docs, uuid)


class SchemasView(ScimViewMixin, scim_views.SCIMView):
    http_method_names = ["get"]

    def get(self, request: HttpRequest, uuid: str | None = None, *args: Any, **kwargs: Any) -> HttpResponse:
        base = base_location(request)
        # The tenant's declared custom extensions, after ours: each tenant sees only its own.
        docs = schema_docs(base) + custom.schema_docs(custom.catalog(request), base)
        return _one_or_list("Schema", docs, uuid)


class NotFoundView(ScimViewMixin, scim_views.SCIMView):
    """Any other path under /scim: a SCIM 404 (authenticated first, so it reveals nothing)."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch_any(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise errors.ScimError(404, f"There is no SCIM endpoint at {request.path}.")

    get = post = put = patch = delete = dispatch_any


class NotImplementedView(ScimViewMixin, scim_views.SCIMView):
    """/Bulk and /Me are not supported (advertised as such in ServiceProviderConfig)."""

    http_method_names = ["get", "post", "put", "patch", "delete"]

    def dispatch_any(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise errors.ScimError(501, "This SCIM feature is not supported.")

    get = post = put = patch = delete = dispatch_any
