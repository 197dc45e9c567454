"""Periods in the tenant's time zone: presets, previous periods, boundaries, error codes."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from analytics.periods import parse_period, preset_period, previous_period

SH = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("preset", "start", "end", "prev_start", "prev_end"),
    [
        ("today", "2025-05-14", "2025-05-15", "2025-05-13", "2025-05-14"),
        ("this_week", "2025-05-12", "2025-05-19", "2025-05-05", "2025-05-12"),
        ("this_month", "2025-05-01", "2025-06-01", "2025-04-01", "2025-05-01"),
        ("last_month", "2025-04-01", "2025-05-01", "2025-03-01", "2025-04-01"),
        ("this_quarter", "2025-04-01", "2025-07-01", "2025-01-01", "2025-04-01"),
        ("this_year", "2025-01-01", "2026-01-01", "2024-01-01", "2025-01-01"),
    ],
)
def test_presets_and_their_previous_period(preset, start, end, prev_start, prev_end):
    period = preset_period(preset, today=datetime.date(2025, 5, 14), tz=SH)
    previous = previous_period(period)
    assert (period.start.isoformat(), period.end.isoformat()) == (start, end)
    assert (previous.start.isoformat(), previous.end.isoformat()) == (prev_start, prev_end)


def test_month_boundaries_are_shanghai_midnights():
    period = parse_period({"range": "last_month"}, tz=SH, today=datetime.date(2025, 4, 10))
    last_minute = datetime.datetime(2025, 3, 31, 23, 59, tzinfo=SH)
    first_minute_next = datetime.datetime(2025, 4, 1, 0, 0, tzinfo=SH)
    assert period.start_at <= last_minute < period.end_at
    assert not period.start_at <= first_minute_next < period.end_at
    # In UTC the month starts at 16:00 on the last day of February.
    assert period.start_at.astimezone(datetime.UTC) == datetime.datetime(
        2025, 2, 28, 16, 0, tzinfo=datetime.UTC
    )


def test_default_is_this_month_and_custom_end_is_inclusive():
    assert parse_period({}, tz=SH, today=datetime.date(2025, 2, 10)).preset == "this_month"
    custom = parse_period({"range": "custom", "start": "2025-03-01", "end": "2025-03-31"}, tz=SH)
    assert custom.end == datetime.date(2025, 4, 1) and custom.last_day == datetime.date(2025, 3, 31)


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"range": "forever"}, "range", "invalid_range"),
        ({"range": "custom", "start": "x", "end": "2025-01-01"}, "start", "invalid_date"),
        ({"range": "custom", "start": "2025-03-02", "end": "2025-03-01"}, "end", "invalid_range"),
        ({"range": "custom", "start": "2020-01-01", "end": "2025-01-01"}, "end", "range_too_long"),
    ],
)
def test_bad_ranges_have_field_messages_and_stable_codes(params, field, code):
    with pytest.raises(ValidationError) as caught:
        parse_period(params, tz=SH)
    assert field in caught.value.error_dict
    assert caught.value.error_dict[field][0].code == code
