"""Compiled list statements, reused for later requests of the same shape (per thread, bounded).

Building a hot list's queryset (visibility narrowing, FilterSet, ordering, keyset annotations, the
capped count) and compiling it to SQL costs more Python than the rest of the request together
(cProfile of the API customer list: ~40 % of its CPU). For a request whose SQL is a pure function
of things the view can name cheaply (tenant, user and roles, the query parameters), the view keeps
the compiled statement under that *shape key* and later requests run it directly: the same SQL,
the same parameters, the same rows converted by the same compiler — so the JSON is identical.

Only the view decides what is pure: it must leave out anything whose SQL depends on the database
or the clock at build time (a FilterSet validating a staff id, a saved segment, a tenant setting
that narrows visibility, "days ago" filters). Permissions are still checked on every request; only
the queryset is not rebuilt. Entries live in a per-thread LRU, so a compiler is only ever used with
its own thread's connection.
"""

from __future__ import annotations

import datetime
import decimal
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import ValuesIterable

MAX_ENTRIES = 256


@dataclass(frozen=True)
class CompiledStatement:
    """A ``.values()`` queryset compiled once: run it again for the same rows as dicts."""

    sql: str
    params: tuple
    names: tuple[str, ...]
    compiler: Any  # SQLCompiler: converts rows exactly as the queryset would (JSON, time zones …)
    converters: dict  # the compiler's converters for the selected columns, looked up once
    preparable: bool  # see _cursor()

    def rows(self, params: tuple | None = None) -> list[dict]:
        """The rows, run with ``params`` instead of the compiled ones when given (a cursor page's
        position values substituted into their slots, same types: see :class:`CompiledPage`)."""
        compiler = self.compiler
        connection = connections[compiler.using]
        with _cursor(connection, prepare=self.preparable) as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            fetched = cursor.fetchall()
        if self.converters:
            fetched = compiler.apply_converters(fetched, self.converters)
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in fetched]


@dataclass(frozen=True)
class CompiledPage:
    """A page of a keyset list: its statement, ordering and size.

    A first page has no ``cursor``. A cursor page's statement was compiled for one direction and
    one pattern of position types (which values are NULL changes the keyset condition's SQL);
    ``cursor`` records it: ``slots`` are (parameter index, position index) pairs whose parameter
    is the position value as the ORM binds it, and ``count`` is the capped count statement run
    when the cursor is past the end (``_finish``)."""

    statement: CompiledStatement
    order: tuple[str, ...]
    size: int
    cursor: CompiledCursor | None = None


@dataclass(frozen=True)
class CompiledCursor:
    reverse: bool
    types: tuple[type, ...]  # of the typed position values the statement was compiled for
    fields: tuple[Any, ...]  # model field per ordering path (None: an annotation)
    slots: tuple[tuple[int, int], ...]
    count: tuple[str, tuple] | None


def compile_values(queryset: QuerySet) -> CompiledStatement | None:
    """``queryset`` (a ``.values()`` queryset) compiled; ``None`` when it has no SQL (``none()``)."""
    if queryset._iterable_class is not ValuesIterable:
        raise TypeError("compile_values() takes a .values() queryset")
    query = queryset.query
    compiler = query.get_compiler(queryset.db)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:
        return None
    if not sql or compiler.has_extra_select:
        return None
    names = tuple(query.selected or (*query.extra_select, *query.values_select, *query.annotation_select))
    fields = [selected[0] for selected in compiler.select[0 : compiler.col_count]]
    if compiler.has_composite_fields(fields):
        return None
    converters = compiler.get_converters(fields)
    return CompiledStatement(
        sql=sql,
        params=tuple(params),
        names=names,
        compiler=compiler,
        converters=converters,
        preparable=all(type(value) in _PREPARABLE_TYPES for value in params),
    )


# Parameters whose server-side type PostgreSQL infers as the ORM's client-side binding would; a
# None (untyped NULL), a list or a JSON value keeps the ORM's own cursor.
_PREPARABLE_TYPES = frozenset({int, str, bool, decimal.Decimal, datetime.date, datetime.datetime})


def _cursor(connection, *, prepare: bool):
    """Django's cursor (logged, wrapped as any ORM statement), server-side bound and prepared when
    ``prepare`` and ``API_PREPARED_STATEMENTS`` allow it.

    The ORM binds parameters client-side and PostgreSQL plans every statement anew; for a list
    statement that costs more server time (planning ~1 ms) than running it. A statement run again
    and again by :class:`StatementCache` is worth preparing: psycopg prepares it on the
    connection (from its second use) and later executions skip parsing and planning. Behind a
    transaction-pooling PgBouncer older than 1.21 set ``API_PREPARED_STATEMENTS=false``.
    """
    if not prepare or connection.vendor != "postgresql" or not settings.API_PREPARED_STATEMENTS:
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # Django turns automatic preparing off; the ORM's client-side
        raw.prepare_threshold = 2  # bound cursors never prepare, so this only concerns ours
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(raw))  # type: ignore[call-arg]  # Django wraps (logging) as any cursor


class StatementCache:
    """A bounded LRU of compiled pages per thread, keyed by the view's shape key."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._local = threading.local()

    def _entries(self) -> OrderedDict[Hashable, CompiledPage]:
        entries = getattr(self._local, "entries", None)
        if entries is None:
            entries = self._local.entries = OrderedDict()
        return entries

    def get(self, key: Hashable) -> CompiledPage | None:
        entries = self._entries()
        page = entries.get(key)
        if page is not None:
            entries.move_to_end(key)
        return page

    def put(self, key: Hashable, page: CompiledPage) -> None:
        entries = self._entries()
        entries[key] = page
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)

    def clear(self) -> None:
        self._entries().clear()
