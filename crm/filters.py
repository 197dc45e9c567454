"""List filters: one base FilterSet, bounded filters and one rule for bad values.

The rule: a query parameter that does not parse (``?project=abc``, ``?status=nonsense``, an id
beyond bigint) is a 400 naming the parameter, with the form field's stable code (``invalid``,
``invalid_choice``, ``min_value``, ``max_value``) in ``codes`` — never a silently dropped filter
(which answers "everything") and never a database error. DRF's ``DjangoFilterBackend`` applies it
to every ``filterset_class``; lists whose selector takes the values use :func:`query_filters`.

Foreign keys filter by id (:class:`IdFilter`), not ``ModelChoiceFilter``: that one builds its
queryset without a tenant (class definition, schema generation), a known leak.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import FilterSet as RestFilterSet
from django_filters.utils import translate_validation

MAX_ID = 2**63 - 1  # bigint: a larger id is "invalid", not a database error


class IdFilter(django_filters.NumberFilter):
    """A primary key: an integer from 1 to the bigint maximum."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictBooleanField(forms.Field):
    """``true``/``false`` (or ``1``/``0``); anything else is invalid rather than "no filter"."""

    default_error_messages = {"invalid": _("请填写 true 或 false。")}
    TRUE = frozenset({"true", "True", "1"})
    FALSE = frozenset({"false", "False", "0"})

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in self.TRUE or value is True:
            return True
        if value in self.FALSE or value is False:
            return False
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class FlagFilter(django_filters.Filter):
    """A yes/no parameter (``?overdue=true``) parsed strictly."""

    field_class = StrictBooleanField


class BoundedCharFilter(django_filters.CharFilter):
    """Free text with a length limit (a search box, not a payload)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("max_length", 100)
        super().__init__(*args, **kwargs)


class FilterSet(RestFilterSet):
    """Base of every app's list filters."""

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
