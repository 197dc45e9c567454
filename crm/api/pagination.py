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
from django.db import connections, models
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from crm.api.compiled import CompiledCursor, CompiledPage, CompiledStatement, compile_values

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
        statement for :meth:`paginate_compiled` (``None`` when it cannot be reused: a query without
        SQL, or a cursor page whose position values could not be located in the parameters)."""
        statement, base, cursor_given, reverse, size = self._prepare(queryset, request)
        compiled = compile_values(statement)
        rows = list(statement) if compiled is None else compiled.rows()
        page = self._finish(rows, size=size, cursor_given=cursor_given, reverse=reverse, base=base)
        if compiled is None:
            return page, None
        cursor = None
        if cursor_given:
            assert self._typed_position is not None  # set by _prepare for a cursor
            cursor = self._compile_cursor(base, compiled, self._typed_position, reverse=reverse, size=size)
            if cursor is None:
                return page, None
        return page, CompiledPage(statement=compiled, order=tuple(self.order), size=size, cursor=cursor)

    def paginate_compiled(self, compiled: CompiledPage, request) -> list | None:
        """A page of a request of the same shape as the one ``compiled`` was built for: the same
        statement (a cursor page's position values substituted as the ORM would bind them), the
        same rows, without building or compiling the queryset again. ``None``: this cursor does
        not fit the statement (another direction or NULL pattern, a value the ORM would not bind
        as is); build the page instead."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.order = list(compiled.order)
        cursor = compiled.cursor
        if cursor is None:
            rows = compiled.statement.rows()
            return self._finish(rows, size=compiled.size, cursor_given=False, reverse=False, base=None)
        decoded = self._decode(request.query_params.get(self.cursor_query_param))
        if decoded is None:
            return None
        values, reverse = decoded
        typed = [_to_python(field, value) for field, value in zip(cursor.fields, values, strict=True)]
        if reverse != cursor.reverse or tuple(type(value) for value in typed) != cursor.types:
            return None
        connection = connections[compiled.statement.compiler.using]
        bound = [_bound(field, value, connection) for field, value in zip(cursor.fields, typed, strict=True)]
        if any(value is _UNBOUND for value in bound):
            return None
        params = list(compiled.statement.params)
        for index, position in cursor.slots:
            params[index] = bound[position]
        rows = compiled.statement.rows(tuple(params))
        if not rows and cursor.count is not None:  # past the end: the capped count, as _finish's
            with connection.cursor() as db_cursor:
                db_cursor.execute(*cursor.count)
                total = db_cursor.fetchone()[0]
            self.count_past_end = total
        return self._finish(rows, size=compiled.size, cursor_given=True, reverse=reverse, base=None)

    def cursor_shape(self, request) -> tuple | None:
        """What of the request's cursor decides its statement's SQL (ordering, direction, which
        values are NULL and their JSON types), for a view's statement key; ``None``: no single,
        well-formed cursor (the page is built, and a bad cursor answered 400, as always)."""
        given = request.query_params.getlist(self.cursor_query_param)
        if len(given) != 1 or not given[0]:
            return None
        encoded = given[0]
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            order, values, reverse = payload["o"], payload["p"], payload["r"]
        except (ValueError, TypeError, KeyError, binascii.Error):
            return None
        if not isinstance(order, list) or not isinstance(values, list) or not isinstance(reverse, int):
            return None
        if not all(isinstance(path, str) for path in order):
            return None
        return (tuple(order), bool(reverse), tuple(type(value).__name__ for value in values))

    def _prepare(self, queryset: QuerySet, request) -> tuple[QuerySet, QuerySet, bool, bool, int]:
        """The page's statement (one more row than the page, keyset keys and capped count
        annotated), the ordered base queryset, whether a cursor was given, its direction, the size."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        size = self.get_page_size(request)
        self.order = self._ordering(queryset)
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        base = queryset.order_by(*self.order)
        typed = None
        reverse = False
        if cursor is not None:
            values, reverse = cursor
            typed = self._typed(queryset.model, values)
        self._typed_position = typed
        return self._page(base, typed, reverse=reverse, size=size), base, cursor is not None, reverse, size

    def _page(self, base: QuerySet, typed: list | None, *, reverse: bool, size: int) -> QuerySet:
        page = base
        if typed is not None:
            page = page.filter(self._after_typed(base.model, typed, reverse=reverse))
            if reverse:
                page = page.reverse()
        keys = {KEY_ALIAS.format(i): F(path.lstrip("-")) for i, path in enumerate(self.order)}
        page = page.annotate(**keys)
        if self.count_cap is not None:
            page = page.annotate(**{TOTAL_ALIAS: self._capped_count_sql(base)})
        return page[: size + 1]

    def _compile_cursor(
        self, base: QuerySet, compiled: CompiledStatement, typed: list, *, reverse: bool, size: int
    ) -> CompiledCursor | None:
        """Where the position values sit in ``compiled``'s parameters: the page compiled again for
        other values of the same types (each shifted by a different amount) must give the same SQL,
        and every parameter that changed must be exactly one position's bound value in both.
        ``None`` when that cannot be shown (the page is then never reused)."""
        fields = tuple(_field(base.model, path.lstrip("-")) for path in self.order)
        shifted = [_shifted(value, k + 1) for k, value in enumerate(typed)]
        if any(value is _UNBOUND for value in shifted):
            return None
        try:
            other = compile_values(self._page(base, shifted, reverse=reverse, size=size))
        except (ValueError, TypeError, OverflowError, ValidationError):
            return None
        if other is None or other.sql != compiled.sql or len(other.params) != len(compiled.params):
            return None
        connection = connections[base.db]
        first = [_bound(field, value, connection) for field, value in zip(fields, typed, strict=True)]
        second = [_bound(field, value, connection) for field, value in zip(fields, shifted, strict=True)]
        pairs = zip(first, second, strict=True)
        if any(a is _UNBOUND or b is _UNBOUND or (a is not None and a == b) for a, b in pairs):
            return None
        slots = []
        for index, (a, b) in enumerate(zip(compiled.params, other.params, strict=True)):
            if type(a) is type(b) and a == b:
                continue
            found = [
                k
                for k in range(len(typed))
                if first[k] is not None and type(a) is type(first[k]) and a == first[k] and b == second[k]
            ]
            if len(found) != 1:
                return None
            slots.append((index, found[0]))
        count = None
        if self.count_cap is not None:
            raw = self._capped_count_sql(base)
            count = (raw.sql, tuple(raw.params))
        return CompiledCursor(
            reverse=reverse,
            types=tuple(type(value) for value in typed),
            fields=fields,
            slots=tuple(slots),
            count=count,
        )

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
                # (a compiled cursor page ran its count statement already)
                total = self.count_past_end if base is None else base.order_by()[: self.count_cap + 1].count()
                self.count = min(total, self.count_cap)
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

    def _typed(self, model: type[models.Model], values: list) -> list:
        """The cursor's JSON position values as the ordering's fields' Python values (400 if not)."""
        fields = [_field(model, path.lstrip("-")) for path in self.order]
        return [_to_python(field, value) for field, value in zip(fields, values, strict=True)]

    def _after(self, model: type[models.Model], values: list, *, reverse: bool) -> Q:
        return self._after_typed(model, self._typed(model, values), reverse=reverse)

    def _after_typed(self, model: type[models.Model], typed: list, *, reverse: bool) -> Q:
        """Rows strictly after ``typed`` in the (possibly reversed) order, NULLs placed as
        PostgreSQL places them (last ascending, first descending)."""
        fields = [_field(model, path.lstrip("-")) for path in self.order]
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


_UNBOUND = object()


def _bound(field: models.Field | None, value, connection):
    """``value`` as the ORM binds it in a lookup on ``field`` (``None`` for NULL: no parameter);
    ``_UNBOUND`` for an integer the ORM would turn into an always-false condition (out of range)."""
    if value is None or field is None:
        return value
    if isinstance(value, int) and isinstance(field, models.IntegerField | models.AutoField):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            return _UNBOUND
    return field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)


def _shifted(value, step: int):
    """Another value of ``value``'s type, different for every ``step`` (``_UNBOUND``: no such)."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return value + step
    if kind is decimal.Decimal:
        return value + step
    if kind is str:
        return value + chr(0x4E00 + step)
    if kind is datetime.datetime or kind is datetime.date:
        try:
            return value + datetime.timedelta(days=step)
        except OverflowError:
            return _UNBOUND
    return _UNBOUND


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
