"""A lean read path for hot lists: ``.values()`` rows to plain dicts, same JSON as the serializer.

``ModelSerializer`` costs 25–30 µs a row in field machinery (``get_attribute``, per-field
``to_representation``) for columns that are already JSON-ready. :class:`LeanRows` reads the
serializer's declared fields once, selects exactly their columns with ``.values()``, and copies
values through, converting only the types whose JSON form differs from the Python value
(datetimes, dates, decimals). Method fields are computed by callables given per row.
Tests compare it with the serializer's own output, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework import serializers

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
    def _plan(self) -> tuple[list[str], list[tuple[str, str, Callable | None]]]:
        fields = self.serializer_class().fields
        columns: list[str] = []
        plan: list[tuple[str, str, Callable | None]] = []
        for name, field in fields.items():
            if field.write_only:
                continue
            if name in self.computed:
                needed, fn = self.computed[name]
                columns.extend(c for c in needed if c not in columns)
                plan.append((name, "", fn))
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
            plan.append((name, source, convert))
        return columns, plan

    @property
    def columns(self) -> list[str]:
        return self._plan[0]

    def values(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` selecting only the columns the rows need (no model instances, no joins)."""
        return queryset.values(*self.columns)

    def rows(self, records: Iterable[dict], context: dict | None = None) -> list[dict]:
        plan = self._plan[1]
        out = []
        for record in records:
            row = {}
            for name, source, convert in plan:
                if not source:
                    row[name] = convert(record, context)  # type: ignore[misc]  # computed entries are callables
                    continue
                value = record[source]
                row[name] = value if value is None or convert is None else convert(value)
            out.append(row)
        return out


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
