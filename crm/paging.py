"""Keyset pages for browser lists: the API's one mechanism (:mod:`crm.api.pagination`).

A page is found by the position of the row it continues from (``?cursor=``), never by OFFSET,
and the total is counted in the page's own statement, exactly up to ``count_cap`` rows (then the
page says "1,000+"). Links are relative and keep every other parameter of the request (filters,
search, ``page_size``); ``?page=`` only numbers the page for the reader (the cursor decides what
is shown, so an old or edited ``?page=`` never shifts the rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.encoding import escape_uri_path
from rest_framework.exceptions import ValidationError
from rest_framework.utils.urls import remove_query_param, replace_query_param

from crm.api.pagination import TOTAL_ALIAS, KeysetPagination

PAGE_SIZES = (25, 50, 100)


class InvalidCursor(ValueError):
    """``?cursor=`` was tampered with or belongs to another ordering."""


@dataclass(frozen=True)
class BrowserPage:
    rows: list[Any]
    count: int  # exact up to count_cap, else count_cap
    count_capped: bool  # more than count_cap rows match
    number: int
    page_size: int
    next_url: str | None
    previous_url: str | None

    @property
    def count_display(self) -> str:
        """``1,000`` (digits grouped by thousands, the same in every language)."""
        return f"{self.count:,}"

    @property
    def num_pages(self) -> int | None:
        """Known only while the count is exact."""
        if self.count_capped:
            return None
        return max(1, -(-self.count // self.page_size))


class _QueryView:
    """What :class:`KeysetPagination` reads of a DRF request, over a plain Django request."""

    def __init__(self, request: HttpRequest, *, from_start: bool) -> None:
        params: QueryDict = request.GET.copy()
        if from_start:
            for key in ("cursor", "page"):
                params.pop(key, None)
        self.query_params = params
        # Rebuilt from the decoded parameters (a raw query string may carry unencoded UTF-8).
        query = self.query_params.urlencode()
        self._path = escape_uri_path(request.path) + (f"?{query}" if query else "")

    def build_absolute_uri(self) -> str:
        return self._path


class _BrowserKeyset(KeysetPagination):
    def __init__(self, page_size: int, count_cap: int) -> None:
        self.page_size = page_size
        self.count_cap = count_cap

    def get_page_size(self, request) -> int:
        return self.page_size

    def link(self, position: list | None, *, reverse: bool, number: int) -> str | None:
        if position is None:
            return None
        base = self.base_url
        self.base_url = replace_query_param(base, "page", number)
        try:
            return self._link(position, reverse=reverse)
        finally:
            self.base_url = base


def requested_page_size(request: HttpRequest, sizes: Sequence[int] = PAGE_SIZES) -> int:
    try:
        size = int(request.GET.get("page_size", sizes[0]))
    except ValueError:
        return sizes[0]
    return size if size in sizes else sizes[0]


def browser_page(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    sizes: Sequence[int] = PAGE_SIZES,
    count_cap: int = 1000,
    from_start: bool = False,
) -> BrowserPage:
    """One keyset page of ``queryset`` (ordered; the primary key is appended as tiebreak).

    ``from_start``: the first page whatever ``?cursor=`` says (after :class:`InvalidCursor`).
    """
    size = requested_page_size(request, sizes)
    pager = _BrowserKeyset(size, count_cap)
    view = _QueryView(request, from_start=from_start)
    try:
        if queryset.query.is_empty():  # an invalid filter: ``none()`` has no SQL to page
            rows, pager.count, pager.base_url = [], 0, view.build_absolute_uri()
            pager.next_position = pager.previous_position = None
        else:
            rows = pager.paginate_queryset(queryset, view)
    except ValidationError as error:
        raise InvalidCursor(str(error.detail)) from error
    has_cursor = bool(view.query_params.get(pager.cursor_query_param))
    number = 1
    if has_cursor:
        try:
            number = max(1, int(view.query_params.get("page", "1")))
        except ValueError:
            number = 1
    raw_total = 0
    if rows:
        first = rows[0]
        raw_total = first.get(TOTAL_ALIAS, 0) if isinstance(first, dict) else getattr(first, TOTAL_ALIAS, 0)
    if not has_cursor:  # the first page: "previous" would only lead back here
        pager.previous_position = None
    first_url = remove_query_param(remove_query_param(pager.base_url, pager.cursor_query_param), "page")
    previous_url = pager.link(pager.previous_position, reverse=True, number=number - 1)
    return BrowserPage(
        rows=rows,
        count=pager.count or 0,
        count_capped=raw_total > count_cap,
        number=number,
        page_size=size,
        next_url=pager.link(pager.next_position, reverse=False, number=number + 1),
        previous_url=first_url if previous_url is not None and number <= 2 else previous_url,
    )
