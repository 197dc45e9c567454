"""``?updated_since=`` / ``?created_since=`` on every API collection (see :mod:`crm.sync`).

Applied once, by :class:`crm.api.viewsets.TenantViewSetMixin` to every list, after the view's own
filters: rows at or after the given instant, ordered by that column ascending then by id, so the
keyset pagination walks them oldest change first. ``updated_since`` wins when both are given (both
still filter). Values are ISO 8601; one without a UTC offset is read in the current time zone.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from crm.sync import CREATED_SINCE, UPDATED_SINCE, sync_fields

PARAMETERS = (UPDATED_SINCE, CREATED_SINCE)


def _parse(name: str, raw: str) -> datetime.datetime:
    field = serializers.DateTimeField()
    try:
        value = field.to_internal_value(raw)
    except ValidationError as error:
        raise ValidationError(
            {name: [_("请使用 ISO 8601 时间，例如 2026-01-31T08:00:00+08:00。")]}, code="invalid"
        ) from error
    if value.year < 1970:
        raise ValidationError({name: [_("时间不能早于 1970 年。")]}, code="invalid")
    return value


def apply_since(queryset: QuerySet, query_params: Any) -> QuerySet:
    """``queryset`` narrowed and re-ordered by the since parameters present in ``query_params``."""
    declared = sync_fields(queryset.model)
    given = {name: query_params.get(name) for name in PARAMETERS if query_params.get(name)}
    if declared is None or not given:
        return queryset
    created, updated = declared
    order = updated
    if CREATED_SINCE in given:
        queryset = queryset.filter(**{f"{created}__gte": _parse(CREATED_SINCE, given[CREATED_SINCE])})
        order = created
    if UPDATED_SINCE in given:
        queryset = queryset.filter(**{f"{updated}__gte": _parse(UPDATED_SINCE, given[UPDATED_SINCE])})
        order = updated
    return queryset.order_by(order, "pk")


def since_instant(query_params: Any) -> datetime.datetime | None:
    """The later of the since parameters, for feeds of append-only rows (one timestamp)."""
    values = [_parse(name, query_params[name]) for name in PARAMETERS if query_params.get(name)]
    return max(values) if values else None


def schema_parameters() -> list[dict[str, Any]]:
    description = {
        UPDATED_SINCE: "只返回此时间（含）之后创建或修改过的记录，按修改时间升序；增量同步用（ISO 8601）",
        CREATED_SINCE: "只返回此时间（含）之后创建的记录，按创建时间升序（ISO 8601）",
    }
    return [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": description[name],
            "schema": {"type": "string", "format": "date-time"},
        }
        for name in PARAMETERS
    ]
