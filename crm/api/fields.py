"""Bounded DRF fields: every app's serializers take text, integers, money and dates through these.

Plain DRF fields accept what PostgreSQL or Python later refuses (control characters, integers past
bigint, years that overflow date arithmetic, UTC offsets like +20:20), which surfaced as 500s.
``crm.api.serializers.ModelSerializer`` maps model fields onto these classes; declared fields use
them directly (``tests/crm/test_input_bounds.py`` checks that every writable field does).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.validators import (
    BIGINT_MAX,
    MONEY_MAX,
    validate_date_range,
    validate_no_control_characters,
    validate_utc_offset,
)


class CharField(serializers.CharField):
    """Text without control characters (they break Excel exports and terminals downstream)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_no_control_characters)


class EmailField(serializers.EmailField, CharField):
    pass


class URLField(serializers.URLField, CharField):
    pass


class SlugField(serializers.SlugField, CharField):
    pass


class RegexField(serializers.RegexField, CharField):
    pass


class IntegerField(serializers.IntegerField):
    """An integer that fits a bigint column unless narrower bounds are given."""

    def __init__(self, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("min_value", -BIGINT_MAX - 1)
            kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(**kwargs)


MONEY_UNIT_HELP = gettext_lazy("单位：分（整数，1 元 = 100 分）")


class MoneyField(IntegerField):
    """An amount in integer fen (分): 0 … ``MONEY_MAX``, or ±``MONEY_MAX`` when ``signed``.

    Every amount of the API is fen in a field named ``*_fen``; the schema's help text says so.
    """

    def __init__(self, *, signed: bool = False, **kwargs):
        if not kwargs.get("read_only"):
            kwargs.setdefault("min_value", -MONEY_MAX if signed else 0)
            kwargs.setdefault("max_value", MONEY_MAX)
        help_text = kwargs.get("help_text")
        if not help_text:
            kwargs["help_text"] = gettext_lazy("金额，单位：分（整数，1 元 = 100 分）")
        elif "分" not in str(help_text):
            kwargs["help_text"] = format_lazy("{}（{}）", help_text, MONEY_UNIT_HELP)
        super().__init__(**kwargs)


class DateField(serializers.DateField):
    """A date between MIN_YEAR and MAX_YEAR, so services can add years to it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_date_range)


class DateTimeField(serializers.DateTimeField):
    """A datetime with a real UTC offset (±14:00) and a year between MIN_YEAR and MAX_YEAR."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_date_range)

    def enforce_timezone(self, value: datetime.datetime) -> datetime.datetime:
        try:
            validate_utc_offset(value)
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages, code=error.code)
        return super().enforce_timezone(value)


# What ``crm.api.serializers.ModelSerializer`` builds for each DRF field class it would otherwise use.
@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$",
        "example": "09:00:00",
        "description": "local wall-clock time HH:MM[:SS] in the tenant's time zone",
    }
)
class TimeField(serializers.TimeField):
    """A local time of day (``09:00:00``). Documented as a pattern: JSON Schema's ``time`` format
    demands a UTC offset, which a shop's opening hour does not have."""


BOUNDED_FIELD_CLASSES: dict[type[serializers.Field], type[serializers.Field]] = {
    serializers.CharField: CharField,
    serializers.EmailField: EmailField,
    serializers.URLField: URLField,
    serializers.SlugField: SlugField,
    serializers.RegexField: RegexField,
    serializers.IntegerField: IntegerField,
    serializers.DateField: DateField,
    serializers.DateTimeField: DateTimeField,
    serializers.TimeField: TimeField,
}
