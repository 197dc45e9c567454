"""Bounded django-filter filters: every app's filter sets (list pages and API) use these.

django-filter's own ``NumberFilter`` takes any decimal and ``IsoDateTimeFilter`` any offset below
24 hours, which reached PostgreSQL or ``timedelta`` as out-of-range values (a 500 instead of 400).
"""

from __future__ import annotations

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.drainage import set_override

from crm.validators import (
    BIGINT_MAX,
    MONEY_MAX,
    validate_date_range,
    validate_datetime,
    validate_no_control_characters,
)


class BoundedIsoDateTimeField(IsoDateTimeField):
    default_validators = [validate_datetime]


class BoundedDateField(forms.DateField):
    default_validators = [validate_date_range]


class CharFilter(django_filters.CharFilter):
    """Free text (search, ``icontains``) without control characters."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validators", []).append(validate_no_control_characters)
        super().__init__(*args, **kwargs)


def _document_bounds(filter_, schema_type: str, min_value, max_value) -> None:
    """Tell the OpenAPI schema the bounds, so clients (and the fuzzer) see them."""
    schema = {"type": schema_type, "minimum": min_value, "maximum": max_value}
    if filter_.label:
        schema["description"] = filter_.label
    set_override(filter_, "field", schema)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number within ``min_value``…``max_value`` (default: what a bigint column holds)."""

    field_class = forms.IntegerField

    def __init__(self, *args, min_value: int = 0, max_value: int = BIGINT_MAX, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        _document_bounds(self, "integer", min_value, max_value)


class IdFilter(IntegerFilter):
    """A primary-key or foreign-key id: ``?customer=12``."""


class MoneyFilter(IntegerFilter):
    """An amount bound such as ``?budget_min=300000`` (whole yuan or fen, as the field stores)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_value", MONEY_MAX)
        super().__init__(*args, **kwargs)


class DecimalFilter(django_filters.NumberFilter):
    """A decimal within bounds that fit the column (e.g. ``area_sqm``)."""

    def __init__(self, *args, min_value: int = 0, max_value: int = 10**6, **kwargs):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        _document_bounds(self, "number", min_value, max_value)


class DateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with a real UTC offset (±14:00) and a year PostgreSQL and Python both handle."""

    field_class = BoundedIsoDateTimeField
