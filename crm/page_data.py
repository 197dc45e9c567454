"""Many data sets of one page in ONE SQL statement (issue 12).

A page that shows rows of several apps (the customer detail page) used to send one statement per
app and list, each a network round trip plus ORM compilation. Instead each app describes its data
sets as :class:`PageQuery` fragments, each a sub-select returning ONE json value (an array of rows
or one row); :func:`read_json` sends them as the columns of one ``SELECT`` and returns the decoded
values by name. Row-level security applies to every fragment as to any statement (the tenant is
set for the transaction); fragments still name ``tenant_id`` so the tenant-leading indexes are used.

Values come back as JSON: timestamps as ISO strings (the connection's time zone is UTC) — parse
them with :func:`when` / :func:`day`; decimals as floats.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class PageQuery:
    """A parenthesised sub-select returning one json value, and its positional (``%s``) params."""

    sql: str
    params: Sequence[object] = ()


def rows(sql: str, params: Sequence[object] = ()) -> PageQuery:
    """Every row of ``sql`` (in its ORDER BY) as a list of dicts keyed by column name."""
    return PageQuery(f"(SELECT coalesce(json_agg(x), '[]'::json) FROM ({sql}) x)", tuple(params))


def row(sql: str, params: Sequence[object] = ()) -> PageQuery:
    """The first row of ``sql`` as a dict, or ``None``."""
    return PageQuery(f"(SELECT row_to_json(x) FROM ({sql}) x LIMIT 1)", tuple(params))


def queryset_rows(queryset) -> PageQuery:
    """A ``.values(...)`` queryset as :func:`rows` (name computed columns with keyword arguments of
    ``values()`` so the JSON keys are those names)."""
    sql, params = queryset.query.sql_with_params()
    return rows(sql, params)


def read_json(queries: dict[str, PageQuery]) -> dict[str, Any]:
    """Run every query as one statement; ``{name: decoded value}``."""
    if not queries:
        return {}
    names = list(queries)
    params: list[Any] = []
    for name in names:
        params.extend(queries[name].params)
    sql = "SELECT " + ", ".join(queries[name].sql for name in names)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    return dict(zip(names, values, strict=True))


def when(value: str | None) -> datetime.datetime | None:
    """A timestamp of a json row (ISO 8601 with offset) as an aware datetime."""
    return datetime.datetime.fromisoformat(value) if value else None


def at(value: str) -> datetime.datetime:
    """:func:`when` of a column that is never NULL (a timeline entry's time)."""
    return datetime.datetime.fromisoformat(value)


def day(value: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if value else None


def person(alias: str) -> str:
    """SQL for a user's display name as ``str(user)`` gives it (display name, else username)."""
    return f"coalesce(nullif({alias}.display_name, ''), {alias}.username)"


def label(choices, value) -> str:
    """What ``get_<field>_display()`` shows for ``value`` of a ``TextChoices``/``IntegerChoices``."""
    return str(_labels(choices).get(value, value))


_LABELS: dict[object, dict] = {}


def _labels(choices) -> dict:
    labels = _LABELS.get(choices)
    if labels is None:
        labels = _LABELS[choices] = dict(choices.choices)
    return labels


def person_of(path: str):
    """ORM expression for ``str(user)`` of the user at ``path`` (for ``values(name=person_of("staff"))``)."""
    from django.db.models import F, Value
    from django.db.models.functions import Coalesce, NullIf

    return Coalesce(NullIf(F(f"{path}__display_name"), Value("")), F(f"{path}__username"))
