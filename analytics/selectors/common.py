"""Shapes shared by every panel: one plain dict feeds the page, the Excel export and the API.

A panel is ``{"key", "title", "period", "previous_period", "filters", "restricted", "kpis",
"tables", "charts", "notes"}``. A table has ``columns`` (``key``, ``label``, ``kind``) and ``rows``
(``key``, ``label``, ``values``, ``links``); a link is the URL of the list that shows the same count.
Values of kind ``money`` are integer fen (分), as everywhere; the page shows them in 元 and the Excel
export writes yuan with two decimals.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.http import urlencode

from analytics.scope import Scope

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

    from analytics.periods import Period

KINDS = ("int", "money", "percent", "days", "minutes", "text", "score")


def column(key: str, label: StrOrPromise, kind: str = "int") -> dict:
    """The label stays lazy (columns are module constants); :func:`table` renders it per request."""
    assert kind in KINDS, kind
    return {"key": key, "label": label, "kind": kind}


def row(key: Any, label: StrOrPromise, values: dict, links: dict | None = None) -> dict:
    return {"key": str(key), "label": str(label), "values": values, "links": links or {}}


def table(key: str, title: StrOrPromise, columns: list[dict], rows: list[dict]) -> dict:
    columns = [{**col, "label": str(col["label"])} for col in columns]
    return {"key": key, "title": str(title), "columns": columns, "rows": rows}


def kpi(
    key: str, label: StrOrPromise, value: Any, previous: Any = None, kind: str = "int", link: str = ""
) -> dict:
    change = None
    if isinstance(value, int | float) and isinstance(previous, int | float) and previous:
        change = round((value - previous) / abs(previous), 4)
    return {
        "key": key,
        "label": str(label),
        "value": value,
        "previous": previous,
        "change": change,
        "kind": kind,
        "link": link,
    }


def chart(
    key: str, kind: str, table_key: str, series: list[str], title: StrOrPromise = "", label_column: str = ""
) -> dict:
    """A chart drawn from one of the panel's tables (the table is the chart's accessible twin)."""
    return {
        "key": key,
        "type": kind,
        "table": table_key,
        "series": series,
        "title": str(title),
        "label_column": label_column,
    }


def panel(
    key: str,
    title: StrOrPromise,
    scope: Scope,
    *,
    kpis: list[dict],
    tables: list[dict],
    charts: list[dict],
    notes: list,
    ignored_filters: Iterable[str] = (),
) -> dict:
    return {
        "key": key,
        "title": str(title),
        "period": scope.period.as_dict(),
        "previous_period": scope.previous.as_dict(),
        "filters": scope.filters_dict(),
        "ignored_filters": list(ignored_filters),
        "restricted": scope.restricted,
        "kpis": kpis,
        "tables": tables,
        "charts": charts,
        "notes": [str(note) for note in notes],
    }


def ratio(part: float, whole: float | None, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def customers_url(**params: Any) -> str:
    clean = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{reverse('customers:list')}?{urlencode(clean)}"


def projects_url(**params: Any) -> str:
    clean = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{reverse('projects:list')}?{urlencode(clean)}"


def customer_filter_params(scope: Scope) -> dict:
    """The customer list's own parameters for this scope's filters."""
    return {"source_channel": scope.channel, "owner": scope.sales_id, "designer": scope.designer_id}


def project_filter_params(scope: Scope) -> dict:
    return {
        "channel": scope.channel,
        "owner": scope.sales_id,
        "designer": scope.designer_id,
        "pm": scope.pm_id,
    }


def related_filters(scope: Scope, *, customer: str = "customer__", project: str | None = "project__") -> dict:
    """ORM conditions for the scope's filters on a row that points at a customer (and a project):
    channel and sales apply to the customer, designer and pm to the project (or, without one, the
    customer's designer)."""
    conditions: dict = {}
    if scope.channel:
        conditions[f"{customer}source_channel"] = scope.channel
    if scope.sales_id:
        conditions[f"{customer}owner_id"] = scope.sales_id
    if scope.designer_id:
        key = f"{project}designer_id" if project is not None else f"{customer}designer_id"
        conditions[key] = scope.designer_id
    if scope.pm_id and project is not None:
        conditions[f"{project}project_manager_id"] = scope.pm_id
    return conditions


def month_starts(period: Period, count: int = 12) -> list:
    """First days of the ``count`` calendar months ending with the period's last month (oldest first)."""
    first = period.last_day.replace(day=1)
    months = []
    for _index in range(count):
        months.append(first)
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return months[::-1]


def local_start(day: datetime.date, tz: datetime.tzinfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
