"""Date ranges of the analytics pages, in the tenant's time zone.

A period is a half-open range of local calendar days ``[start, end)``: a lead received at 23:59 on
the 31st (tenant time) belongs to that month, one at 00:00 on the 1st to the next. Each preset has
a *previous* period of the same kind (the month before, the quarter before …) to compare with.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PRESETS: dict[str, StrOrPromise] = {
    "today": _("今天"),
    "this_week": _("本周"),
    "this_month": _("本月"),
    "last_month": _("上月"),
    "this_quarter": _("本季度"),
    "this_year": _("今年"),
    "custom": _("自定义"),
}
DEFAULT_PRESET = "this_month"
MAX_CUSTOM_DAYS = 3 * 366


@dataclass(frozen=True)
class Period:
    """Local days ``[start, end)`` of one tenant's time zone."""

    start: datetime.date
    end: datetime.date  # exclusive
    tz: zoneinfo.ZoneInfo
    preset: str = "custom"

    @property
    def start_at(self) -> datetime.datetime:
        return datetime.datetime.combine(self.start, datetime.time.min, tzinfo=self.tz)

    @property
    def end_at(self) -> datetime.datetime:
        return datetime.datetime.combine(self.end, datetime.time.min, tzinfo=self.tz)

    @property
    def last_day(self) -> datetime.date:
        """Inclusive end, as list filters (``created_before``) take it."""
        return self.end - datetime.timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def as_dict(self) -> dict:
        return {"preset": self.preset, "start": self.start.isoformat(), "end": self.last_day.isoformat()}


def _month_start(day: datetime.date, shift: int = 0) -> datetime.date:
    index = day.year * 12 + day.month - 1 + shift
    return datetime.date(index // 12, index % 12 + 1, 1)


def _quarter_start(day: datetime.date, shift: int = 0) -> datetime.date:
    first = datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return _month_start(first, 3 * shift)


def preset_period(preset: str, *, today: datetime.date, tz: zoneinfo.ZoneInfo) -> Period:
    if preset == "today":
        return Period(today, today + datetime.timedelta(days=1), tz, preset)
    if preset == "this_week":
        monday = today - datetime.timedelta(days=today.weekday())
        return Period(monday, monday + datetime.timedelta(days=7), tz, preset)
    if preset == "this_month":
        return Period(_month_start(today), _month_start(today, 1), tz, preset)
    if preset == "last_month":
        return Period(_month_start(today, -1), _month_start(today), tz, preset)
    if preset == "this_quarter":
        return Period(_quarter_start(today), _quarter_start(today, 1), tz, preset)
    if preset == "this_year":
        return Period(datetime.date(today.year, 1, 1), datetime.date(today.year + 1, 1, 1), tz, preset)
    raise ValidationError({"range": ValidationError(_("未知的时间范围。"), code="invalid_range")})


def previous_period(period: Period) -> Period:
    """The period just before, of the same kind (calendar months/quarters/years stay calendar ones)."""
    if period.preset in ("this_month", "last_month"):
        return Period(_month_start(period.start, -1), period.start, period.tz, period.preset)
    if period.preset == "this_quarter":
        return Period(_quarter_start(period.start, -1), period.start, period.tz, period.preset)
    if period.preset == "this_year":
        return Period(datetime.date(period.start.year - 1, 1, 1), period.start, period.tz, period.preset)
    return Period(period.start - datetime.timedelta(days=period.days), period.start, period.tz, period.preset)


def _parse_date(value: str, field: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValidationError({field: ValidationError(_("日期格式应为 YYYY-MM-DD。"), code="invalid_date")})


def parse_period(params, *, tz: zoneinfo.ZoneInfo, today: datetime.date | None = None) -> Period:
    """``?range=this_month`` or ``?range=custom&start=2025-01-01&end=2025-01-31`` (end inclusive)."""
    today = today or timezone.localdate(timezone=tz)
    preset = (params.get("range") or DEFAULT_PRESET).strip()
    if preset not in PRESETS:
        raise ValidationError({"range": ValidationError(_("未知的时间范围。"), code="invalid_range")})
    if preset != "custom":
        return preset_period(preset, today=today, tz=tz)
    start = _parse_date(params.get("start") or "", "start")
    end = _parse_date(params.get("end") or "", "end")
    if end < start:
        raise ValidationError({"end": ValidationError(_("结束日期不能早于开始日期。"), code="invalid_range")})
    if (end - start).days >= MAX_CUSTOM_DAYS:
        raise ValidationError({"end": ValidationError(_("时间范围最长三年。"), code="range_too_long")})
    return Period(start, end + datetime.timedelta(days=1), tz, "custom")
