"""Bounded django-filter filters, one base FilterSet and one rule for bad values.

Every app's filter sets (list pages and API) use these. django-filter's own ``NumberFilter`` takes
any decimal and ``IsoDateTimeFilter`` any offset below 24 hours, which reached PostgreSQL or
``timedelta`` as out-of-range values (a 500 instead of 400).

The rule for API lists: a query parameter that does not parse (``?project=abc``,
``?status=nonsense``, an id beyond bigint) is a 400 naming the parameter, with the form field's
stable code (``invalid``, ``invalid_choice``, ``min_value``, ``max_value``) in ``codes`` — never a
silently dropped filter (which answers "everything"). DRF's ``DjangoFilterBackend`` applies it to
every ``filterset_class``; lists whose selector takes the values use :func:`query_filters`.

Foreign keys filter by id (:class:`IdFilter`), not ``ModelChoiceFilter``: that one builds its
queryset without a tenant (class definition, schema generation), a known leak.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import FilterSet as RestFilterSet
from django_filters.utils import translate_validation
from drf_spectacular.drainage import set_override
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

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
    """An amount bound in integer fen, such as ``?budget_min_fen=30000000`` (¥300,000)."""

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


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is invalid rather than "no filter"."""

    default_error_messages = {"invalid": _("请填写 true 或 false。")}
    TRUE = frozenset({"true", "True", "1"})
    FALSE = frozenset({"false", "False", "0"})

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value is True or value in self.TRUE:
            return True
        if value is False or value in self.FALSE:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class FlagFilter(django_filters.Filter):
    """A yes/no parameter (``?overdue=true``) parsed strictly."""

    field_class = StrictBooleanField


class FilterSet(RestFilterSet):
    """Base of every app's API list filters."""

    def validated(self) -> dict[str, Any]:
        """The parsed values, or a DRF ``ValidationError`` (400) naming each bad parameter."""
        if not self.is_valid():
            raise translate_validation(self.errors)
        return self.form.cleaned_data


def filter_or_400(filterset_class: type[FilterSet], request, queryset: QuerySet) -> QuerySet:
    """``queryset`` narrowed by the request's parameters (400 on a bad one)."""
    filterset = filterset_class(request.query_params, queryset=queryset, request=request)
    filterset.validated()
    return filterset.qs


def query_filters(filterset_class: type[FilterSet], request) -> dict[str, Any]:
    """The request's parameters parsed by ``filterset_class`` (400 on a bad one), for a selector
    that takes them as arguments. Absent parameters are ``None``."""
    queryset = filterset_class._meta.model._default_manager.none()
    return filterset_class(request.query_params, queryset=queryset, request=request).validated()
