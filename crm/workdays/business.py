"""Business-time arithmetic over a weekly pattern plus dated exceptions (holidays, 调休, closures).

Pure and tenant-agnostic: the caller supplies the hours, the weekdays and the exceptions (one query,
:func:`crm.workdays.selectors.calendar_exceptions`). Opening time equal to closing time means open
all day on business days.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

MAX_DAYS_SCANNED = 800  # a clock never looks further: a misconfigured calendar must not loop forever


@dataclass(frozen=True)
class BusinessCalendar:
    tz: datetime.tzinfo
    opens: datetime.time
    closes: datetime.time
    weekdays: frozenset[int]  # 0 = Monday … 6 = Sunday; empty means every day
    exceptions: Mapping[datetime.date, bool] = field(default_factory=dict)  # date -> open?

    def is_business_day(self, day: datetime.date) -> bool:
        if day in self.exceptions:
            return self.exceptions[day]
        return not self.weekdays or day.weekday() in self.weekdays

    @property
    def always_open(self) -> bool:
        """Open around the clock every day with no closed exception: plain wall-clock arithmetic."""
        return self.opens == self.closes and len(self.weekdays) in (0, 7) and all(self.exceptions.values())

    def window(self, day: datetime.date) -> tuple[datetime.datetime, datetime.datetime] | None:
        """The day's open interval in the calendar's zone, or ``None`` on a closed day."""
        if not self.is_business_day(day):
            return None
        opening = datetime.datetime.combine(day, self.opens, tzinfo=self.tz)
        if self.opens == self.closes:
            return opening.replace(hour=0, minute=0, second=0, microsecond=0), datetime.datetime.combine(
                day + datetime.timedelta(days=1), datetime.time(0, 0), tzinfo=self.tz
            )
        return opening, datetime.datetime.combine(day, self.closes, tzinfo=self.tz)

    def clock_start(self, moment: datetime.datetime) -> tuple[datetime.datetime, bool]:
        """When a business-hours clock started at ``moment`` begins to run, and whether it was deferred."""
        if self.always_open:
            return moment, False
        local = moment.astimezone(self.tz)
        for offset in range(MAX_DAYS_SCANNED):
            window = self.window(local.date() + datetime.timedelta(days=offset))
            if window is None:
                continue
            opening, closing = window
            if local < opening:
                return opening, True
            if local < closing:
                return moment, False
        return moment, False  # no business day ahead at all: never block the clock

    def add_minutes(self, start: datetime.datetime, minutes: int) -> datetime.datetime:
        """``start`` plus ``minutes`` counted only while open (``start`` may lie outside business hours)."""
        if self.always_open:
            return start + datetime.timedelta(minutes=minutes)
        remaining = datetime.timedelta(minutes=minutes)
        current = start.astimezone(self.tz)
        day = current.date()
        for _ in range(MAX_DAYS_SCANNED):
            window = self.window(day)
            if window is not None and current < window[1]:
                current = max(current, window[0])
                if current + remaining <= window[1]:
                    return current + remaining
                remaining -= window[1] - current
            day += datetime.timedelta(days=1)
        return start + datetime.timedelta(minutes=minutes)

    def subtract_minutes(self, end: datetime.datetime, minutes: int) -> datetime.datetime:
        """The moment ``minutes`` of open time before ``end`` (a reminder's lead time skips closed time)."""
        if self.always_open:
            return end - datetime.timedelta(minutes=minutes)
        remaining = datetime.timedelta(minutes=minutes)
        current = end.astimezone(self.tz)
        day = current.date()
        for _ in range(MAX_DAYS_SCANNED):
            window = self.window(day)
            if window is not None and current > window[0]:
                current = min(current, window[1])
                if current - remaining >= window[0]:
                    return current - remaining
                remaining -= current - window[0]
            day -= datetime.timedelta(days=1)
        return end - datetime.timedelta(minutes=minutes)

    def whole_days(self) -> BusinessCalendar:
        """The same days, open around the clock: for clocks that run day and night on working days
        but stop on closed days (ticket SLAs, reminder lead times)."""
        return replace(self, opens=datetime.time(0, 0), closes=datetime.time(0, 0))

    def latest_open_at_or_before(self, moment: datetime.datetime) -> datetime.datetime:
        """``moment`` if the shop is open then, else the last open minute before it (reminders go out
        while staff are at work, never on a holiday); ``moment`` itself if nothing is open in 60 days."""
        if self.always_open:
            return moment
        local = moment.astimezone(self.tz)
        for offset in range(60):
            window = self.window(local.date() - datetime.timedelta(days=offset))
            if window is None:
                continue
            opening, closing = window
            if opening <= local < closing:
                return moment
            if closing <= local:
                return closing - datetime.timedelta(minutes=1)
        return moment
