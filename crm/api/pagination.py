"""The API's one pagination mechanism: keyset (cursor) pages with a capped count.

Contract (every collection; docs/PERFORMANCE.md):

* The envelope is ``{"count", "next", "previous", "results"}``. ``next``/``previous`` are opaque
  links carrying ``?cursor=``; follow them, never build them. ``?page_size=`` (1–200) is kept.
* A page is found by the position of the row it continues from (``WHERE (created_at, id) < …``),
  never by OFFSET, so page 400 costs what page 1 costs and rows inserted meanwhile neither repeat
  nor vanish. The order is the view's (``?ordering=``) with the primary key appended as tiebreak.
* ``count`` is exact up to ``count_cap`` rows (default 1,000) and the cap itself beyond: counting a
  large tenant exactly on every page would cost more than the page. Paginations that need no
  count (append-only feeds) set ``count_cap = None`` and leave ``count`` out.
* The count is computed in the same SQL statement as the page (a scalar sub-select), so a list
  request is one statement besides transaction control.
* A cursor that was tampered with or belongs to another ordering is 400 with ``code`` ``invalid``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from crm.api.compiled import CompiledPage, compile_values

TOTAL_ALIAS = "_keyset_total"
KEY_ALIAS = "_keyset_{}"


class KeysetPagination(BasePagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 200
    cursor_query_param = "cursor"
    #: Used when neither the view (``?ordering=``) nor the queryset orders the rows.
    ordering: Sequence[str] = ("-pk",)
    #: Count exactly up to this many rows; ``None``: no ``count`` in the envelope.
    count_cap: int | None = 1000

    # ------------------------------------------------------------------ public API (DRF)

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:  # type: ignore[override]  # keyset needs a queryset
        statement, base, cursor_given, reverse, size = self._prepare(queryset, request)
        rows = list(statement)
        return self._finish(rows, size=size, cursor_given=cursor_given, reverse=reverse, base=base)

    def paginate_and_compile(self, queryset: QuerySet, request) -> tuple[list, CompiledPage | None]:
        """:meth:`paginate_queryset` of a ``.values()`` queryset, also returning the page's compiled
        statement for :meth:`paginate_compiled` (``None`` when it cannot be reused: a cursor page,
        or a query without SQL)."""
        statement, base, cursor_given, reverse, size = self._prepare(queryset, request)
        compiled = None if cursor_given else compile_values(statement)
        rows = list(statement) if compiled is None else compiled.rows()
        page = self._finish(rows, size=size, cursor_given=cursor_given, reverse=reverse, base=base)
        if compiled is None:
            return page, None
        return page, CompiledPage(statement=compiled, order=tuple(self.order), size=size)

    def paginate_compiled(self, compiled: CompiledPage, request) -> list:
        """The first page of a request of the same shape as the one ``compiled`` was built for:
        the same statement, the same rows, without building or compiling the queryset again."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.order = list(compiled.order)
        rows = compiled.statement.rows()
        return self._finish(rows, size=compiled.size, cursor_given=False, reverse=False, base=None)

    def _prepare(self, queryset: QuerySet, request) -> tuple[QuerySet, QuerySet, bool, bool, int]:
        """The page's statement (one more row than the page, keyset keys and capped count
        annotated), the ordered base queryset, whether a cursor was given, its direction, the size."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        size = self.get_page_size(request)
        self.order = self._ordering(queryset)
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        base = queryset.order_by(*self.order)
        page = base
        reverse = False
        if cursor is not None:
            values, reverse = cursor
            page = page.filter(self._after(queryset.model, values, reverse=reverse))
            if reverse:
                page = page.reverse()
        keys = {KEY_ALIAS.format(i): F(path.lstrip("-")) for i, path in enumerate(self.order)}
        page = page.annotate(**keys)
        if self.count_cap is not None:
            page = page.annotate(**{TOTAL_ALIAS: self._capped_count_sql(base)})
        return page[: size + 1], base, cursor is not None, reverse, size

    def _finish(
        self, rows: list, *, size: int, cursor_given: bool, reverse: bool, base: QuerySet | None
    ) -> list:
        """Trim the extra row, set ``count`` and the positions of the next and previous links."""
        more = len(rows) > size
        rows = rows[:size]
        if reverse:
            rows.reverse()
        self.count = None
        if self.count_cap is not None:
            if rows:
                self.count = min(_get(rows[0], TOTAL_ALIAS), self.count_cap)
            elif not cursor_given:
                self.count = 0
            else:  # a cursor past the end: the only case that costs a second statement
                assert base is not None  # compiled pages have no cursor
                self.count = min(base.order_by()[: self.count_cap + 1].count(), self.count_cap)
        # Going forward there is a next page when a row beyond this one was found, and a previous
        # one when we came from a cursor; going backward, the other way round.
        has_next = more if not reverse else True
        has_previous = cursor_given if not reverse else more
        self.next_position = self._position(rows[-1]) if rows and has_next else None
        self.previous_position = self._position(rows[0]) if rows and has_previous else None
        return rows

    def get_paginated_response(self, data) -> Response:
        envelope: dict[str, Any] = {}
        if self.count_cap is not None:
            envelope["count"] = self.count
        envelope["next"] = self._link(self.next_position, reverse=False)
        envelope["previous"] = self._link(self.previous_position, reverse=True)
        envelope["results"] = data
        return Response(envelope)

    def get_paginated_response_schema(self, schema: dict) -> dict:
        properties: dict[str, Any] = {}
        if self.count_cap is not None:
            properties["count"] = {
                "type": "integer",
                "description": f"exact up to {self.count_cap}, then {self.count_cap}",
                "example": 123,
            }
        properties["next"] = {"type": "string", "nullable": True, "format": "uri"}
        properties["previous"] = {"type": "string", "nullable": True, "format": "uri"}
        properties["results"] = schema
        return {"type": "object", "required": list(properties), "properties": properties}

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "翻页游标（取自 next / previous 链接）",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"每页条数（1–{self.max_page_size}）",
                "schema": {"type": "integer"},
            },
        ]

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw:
            try:
                value = int(raw)
            except ValueError:
                value = 0
            if value > 0:
                return min(value, self.max_page_size)
        return self.page_size

    # ------------------------------------------------------------------ ordering and positions

    def _ordering(self, queryset: QuerySet) -> list[str]:
        """The view's ordering as field paths, with ``pk`` appended so every position is unique."""
        chosen = [o for o in queryset.query.order_by if isinstance(o, str)]
        if not chosen or len(chosen) != len(queryset.query.order_by):
            chosen = [o for o in (queryset.model._meta.ordering or self.ordering) if isinstance(o, str)]
        chosen = [("-pk" if o == "-id" else "pk" if o == "id" else o) for o in chosen]
        if not any(o.lstrip("-") == "pk" for o in chosen):
            chosen.append("-pk" if chosen and chosen[-1].startswith("-") else "pk")
        return chosen[: chosen.index(next(o for o in chosen if o.lstrip("-") == "pk")) + 1]

    def _position(self, row) -> list:
        return [_get(row, KEY_ALIAS.format(i)) for i in range(len(self.order))]

    def _after(self, model: type[models.Model], values: list, *, reverse: bool) -> Q:
        """Rows strictly after ``values`` in the (possibly reversed) order, NULLs placed as
        PostgreSQL places them (last ascending, first descending)."""
        fields = [_field(model, path.lstrip("-")) for path in self.order]
        typed = [_to_python(field, value) for field, value in zip(fields, values, strict=True)]
        condition = Q(pk__in=[])
        equal = Q()
        for path, value in zip(self.order, typed, strict=True):
            name = path.lstrip("-")
            descending = path.startswith("-") != reverse
            if value is None:
                later = Q(**{f"{name}__isnull": False}) if descending else Q(pk__in=[])
            elif descending:
                later = Q(**{f"{name}__lt": value})
            else:
                later = Q(**{f"{name}__gt": value}) | Q(**{f"{name}__isnull": True})
            condition |= equal & later
            equal &= Q(**{f"{name}__isnull": True}) if value is None else Q(**{name: value})
        first_name, first_value = self.order[0].lstrip("-"), typed[0]
        first_descending = self.order[0].startswith("-") != reverse
        leading_nullable = fields[0] is None or fields[0].null
        if first_value is not None and (first_descending or not leading_nullable):
            # A plain range on the leading column lets the index start at the position.
            bound = "lte" if first_descending else "gte"
            condition &= Q(**{f"{first_name}__{bound}": first_value})
        return condition

    def _capped_count_sql(self, base: QuerySet) -> RawSQL:
        inner = base.order_by().values("pk")[: (self.count_cap or 0) + 1]  # only called with a cap
        sql, params = inner.query.get_compiler(using=base.db).as_sql()
        return RawSQL(f"SELECT COUNT(*) FROM ({sql}) AS capped", params, output_field=models.IntegerField())

    # ------------------------------------------------------------------ cursors

    def _link(self, position: list | None, *, reverse: bool) -> str | None:
        if position is None:
            return None
        payload = {"o": self.order, "p": [_jsonable(v) for v in position], "r": int(reverse)}
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, encoded)

    def _decode(self, encoded: str | None) -> tuple[list, bool] | None:
        if not encoded:
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            order, values, reverse = payload["o"], payload["p"], bool(payload["r"])
            valid = isinstance(values, list) and len(values) == len(self.order)
        except (ValueError, TypeError, KeyError, binascii.Error):
            valid = False
        if not valid or order != self.order:
            raise ValidationError(
                {self.cursor_query_param: [_("翻页游标无效或与当前排序不符，请从第一页重新开始。")]},
                code="invalid",
            )
        return values, reverse

    def remove_cursor(self, url: str) -> str:
        return remove_query_param(url, self.cursor_query_param)


def _get(row, name: str):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def _field(model: type[models.Model], path: str) -> models.Field | None:
    """The model field behind an ordering path; ``None`` for an annotation (values pass as JSON)."""
    if path == "pk":
        return model._meta.pk
    field: Any = None
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.is_relation and field.related_model is not None and part != path.split("__")[-1]:
            model = field.related_model
    if field.is_relation:
        field = field.target_field
    return field


def _jsonable(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _to_python(field: models.Field | None, value):
    if value is None or field is None:
        return value
    try:
        return field.to_python(value)
    except (DjangoValidationError, TypeError, ValueError) as error:
        raise ValidationError(
            {"cursor": [_("翻页游标无效或与当前排序不符，请从第一页重新开始。")]}, code="invalid"
        ) from error


class StandardPagination(KeysetPagination):
    """Every collection's default (REST_FRAMEWORK ``DEFAULT_PAGINATION_CLASS``)."""


class NewestFirstCursorPagination(KeysetPagination):
    """Deep, append-heavy feeds: newest first, 50 a page, no count."""

    page_size = 50
    ordering = ("-pk",)
    count_cap = None
