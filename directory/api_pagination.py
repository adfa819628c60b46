"""Paging for the admin REST API: opaque cursors, the next page in a ``Link: <…>; rel="next"`` header.

Two kinds:

- ``StableCursorPagination`` (people, groups, members): DRF's cursor
  pagination on the primary key, so a page never repeats or skips a row that
  existed when paging started. The last page has no next link.
- ``EventCursorPagination`` (audit events, provisioning requests, sign-ins):
  rows in the order their transactions committed
  (spaceiq_site.postgresql.commit_order). The next link is always present: on
  the last page it points past the newest event, and polling it returns what
  arrives later, each event exactly once.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.pagination import BasePagination, Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from directory.selectors import as_uuid
from spaceiq_site.postgresql.commit_order import horizon, in_commit_order

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
LIMIT_PARAM = "limit"
CURSOR_PARAM = "cursor"


def _link_headers(next_url: str | None) -> dict[str, str]:
    return {"Link": f'<{next_url}>; rel="next"'} if next_url else {}


def _page_schema(schema: dict[str, Any], *, next_always: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["next", "results"],
        "properties": {
            "next": {"type": "string", "format": "uri", "nullable": not next_always,
                     "description": "The next page; also in the Link header (rel=\"next\")."},
            "results": schema,
        },
    }


class StableCursorPagination(CursorPagination):
    ordering = "id"
    page_size = PAGE_SIZE
    page_size_query_param = LIMIT_PARAM
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = CURSOR_PARAM

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF's cursor, refused like a malformed one (404) when its position is not an id (people and groups
        have UUIDs): the client writes the cursor, and such a position would fail in the query (a 500)."""
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and as_uuid(cursor.position) is None:
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def get_paginated_response(self, data: Any) -> Response:
        next_url = self.get_next_link()
        return Response({"next": next_url, "results": data}, headers=_link_headers(next_url))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _page_schema(schema, next_always=False)


LAST_ID = 2**63 - 1


def _encode(position: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"{position[0]}.{position[1]}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[int, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        order, _, row = text.partition(".")
        position = (int(order), int(row))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise NotFound("Invalid cursor.") from None
    if position[0] < 0 or position[1] < 0 or position[0] > LAST_ID or position[1] > LAST_ID:
        raise NotFound("Invalid cursor.")
    return position


class EventCursorPagination(BasePagination):
    """Event lists in commit order; the cursor is the position after the last event returned."""

    def paginate_queryset(self, queryset: QuerySet, request: Request, view: Any = None) -> list[Any]:
        raw = request.query_params.get(CURSOR_PARAM)
        after = _decode(raw) if raw else None
        size = self.page_size_of(request)
        below = horizon()
        page = list(in_commit_order(queryset, after=after, below=below)[:size])
        if below is not None and len(page) < size:
            # Every event below the line after the cursor was read (only those matched the filters):
            # the next read starts at the line, so a quiet or filtered poll never walks them again.
            after = max(after or (0, 0), (below - 1, LAST_ID))
        elif page:
            after = (page[-1].commit_order, page[-1].pk)
        # Nothing newer yet: the next link repeats the position (the start, on an empty list).
        self.next_url = replace_query_param(request.build_absolute_uri(), CURSOR_PARAM, _encode(after or (0, 0)))
        return page

    @staticmethod
    def page_size_of(request: Request) -> int:
        try:
            size = int(request.query_params.get(LIMIT_PARAM, PAGE_SIZE))
        except ValueError:
            return PAGE_SIZE
        return min(max(size, 1), MAX_PAGE_SIZE)

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_url, "results": data}, headers=_link_headers(self.next_url))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _page_schema(schema, next_always=True)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": CURSOR_PARAM, "required": False, "in": "query", "schema": {"type": "string"},
             "description": "The position to read from: copy it from the next link, never build it."},
            {"name": LIMIT_PARAM, "required": False, "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": PAGE_SIZE},
             "description": "Events per page."},
        ]
