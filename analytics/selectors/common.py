"""Shapes shared by every panel: one plain dict feeds the page, the Excel export and the API.

A panel is ``{"key", "title", "period", "previous_period", "filters", "restricted", "kpis",
"tables", "charts", "notes"}``. A table has ``columns`` (``key``, ``label``, ``kind``) and ``rows``
(``key``, ``label``, ``values``, ``links``); a link is the URL of the list that shows the same count.
"""

from __future__ import annotations

from django.urls import reverse
from django.utils.http import urlencode

from analytics.scope import Scope

KINDS = ("int", "money", "percent", "days", "minutes", "text", "score")


def column(key: str, label, kind: str = "int") -> dict:
    """The label stays lazy (columns are module constants); :func:`table` renders it per request."""
    assert kind in KINDS, kind
    return {"key": key, "label": label, "kind": kind}


def row(key, label, values: dict, links: dict | None = None) -> dict:
    return {"key": str(key), "label": str(label), "values": values, "links": links or {}}


def table(key: str, title, columns: list[dict], rows: list[dict]) -> dict:
    columns = [{**col, "label": str(col["label"])} for col in columns]
    return {"key": key, "title": str(title), "columns": columns, "rows": rows}


def kpi(key: str, label, value, previous=None, kind: str = "int", link: str = "") -> dict:
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


def chart(key: str, kind: str, table_key: str, series: list[str], title="", label_column: str = "") -> dict:
    """A chart drawn from one of the panel's tables (the table is the chart's accessible twin)."""
    return {
        "key": key,
        "type": kind,
        "table": table_key,
        "series": series,
        "title": str(title),
        "label_column": label_column,
    }


def panel(key: str, title, scope: Scope, *, kpis, tables, charts, notes, ignored_filters=()) -> dict:
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


def ratio(part, whole, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def rounded(value, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def customers_url(**params) -> str:
    clean = {key: value for key, value in params.items() if value not in (None, "")}
    return f"{reverse('customers:list')}?{urlencode(clean)}"


def projects_url(**params) -> str:
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
