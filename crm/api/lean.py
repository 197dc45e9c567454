"""A lean read path for hot lists: ``.values()`` rows to plain dicts, same JSON as the serializer.

``ModelSerializer`` costs 25–30 µs a row in field machinery (``get_attribute``, per-field
``to_representation``) for columns that are already JSON-ready. :class:`LeanRows` reads the
serializer's declared fields once, selects exactly their columns with ``.values()``, and copies
values through, converting only the types whose JSON form differs from the Python value
(datetimes, dates, decimals). Method fields are computed by callables given per row.
Datetimes (a quarter of a list's rows' cost through DRF's field: time zone looked up per value)
are converted with the request's time zone looked up once per page, exactly as
``DateTimeField.to_representation`` does for the UTC values the database returns; anything else
(naive, another offset, overflow) goes through the field itself.
Tests compare it with the serializer's own output, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

# Serializer fields whose representation of a non-None database value is that value itself.
_PASS_THROUGH = (
    serializers.BooleanField,
    serializers.IntegerField,
    serializers.CharField,
    serializers.ChoiceField,
    serializers.JSONField,
)


class LeanRows:
    """Plain-dict rows in the shape of ``serializer_class``'s readable fields.

    ``computed`` maps each ``SerializerMethodField`` name to ``(columns, fn(record, context))``;
    ``fn`` gets the ``.values()`` record (with ``columns`` selected) and the ``context`` given to
    :meth:`rows` (e.g. what the request's user may see). Relations are written as their primary
    key (``PrimaryKeyRelatedField``), as the serializer does.
    """

    def __init__(
        self,
        serializer_class: type[serializers.Serializer],
        *,
        computed: dict[str, tuple[Iterable[str], Callable[[dict, Any], Any]]] | None = None,
    ) -> None:
        self.serializer_class = serializer_class
        self.computed = computed or {}

    @cached_property
    def _plan(self) -> tuple[list[str], list[tuple[str, str, Callable | None, bool]]]:
        fields = self.serializer_class().fields
        columns: list[str] = []
        plan: list[tuple[str, str, Callable | None, bool]] = []
        for name, field in fields.items():
            if field.write_only:
                continue
            if name in self.computed:
                needed, fn = self.computed[name]
                columns.extend(c for c in needed if c not in columns)
                plan.append((name, "", fn, False))
                continue
            if isinstance(field, serializers.SerializerMethodField):
                raise TypeError(f"LeanRows needs a 'computed' entry for method field {name!r}")
            source = field.source
            assert source is not None  # bound fields have one
            if "." in source or source == "*":
                raise TypeError(f"LeanRows cannot follow source {source!r} of field {name!r}")
            if source not in columns:
                columns.append(source)
            convert = _converter(field)
            plan.append((name, source, convert, _is_plain_iso_datetime(field)))
        return columns, plan

    @property
    def columns(self) -> list[str]:
        return self._plan[0]

    def values(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` selecting only the columns the rows need (no model instances, no joins)."""
        return queryset.values(*self.columns)

    def rows(self, records: Iterable[dict], context: dict | None = None) -> list[dict]:
        plan = self._plan[1]
        zone = timezone.get_current_timezone()
        utc = datetime.UTC
        out = []
        for record in records:
            row = {}
            for name, source, convert, iso_datetime in plan:
                if not source:
                    row[name] = convert(record, context)  # type: ignore[misc]  # computed entries are callables
                    continue
                value = record[source]
                if value is None or convert is None:
                    row[name] = value
                elif iso_datetime and type(value) is datetime.datetime and value.tzinfo is utc:
                    row[name] = _iso(value, zone, convert)
                else:
                    row[name] = convert(value)
            out.append(row)
        return out


def _iso(value: datetime.datetime, zone: datetime.tzinfo, convert: Callable) -> Any:
    """``DateTimeField.to_representation`` of an aware UTC value (the field's own path on overflow)."""
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:
        return convert(value)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _is_plain_iso_datetime(field: serializers.Field) -> bool:
    """A DRF datetime field that writes ISO 8601 in the current time zone (no per-field zone)."""
    if not isinstance(field, serializers.DateTimeField) or hasattr(field, "timezone"):
        return False
    output_format = getattr(field, "format", api_settings.DATETIME_FORMAT)
    return bool(settings.USE_TZ) and isinstance(output_format, str) and output_format.lower() == ISO_8601


def _converter(field: serializers.Field) -> Callable | None:
    if isinstance(field, serializers.PrimaryKeyRelatedField):
        return None  # ``.values()`` gives the related pk already
    if isinstance(field, serializers.ListField):
        child = field.child
        if isinstance(child, _PASS_THROUGH) and not isinstance(child, serializers.DateTimeField):
            return None
        return field.to_representation
    if isinstance(field, _PASS_THROUGH):
        return None
    return field.to_representation  # datetimes (time zone, "Z"), dates, decimals, ...
