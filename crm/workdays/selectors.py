"""Reads of the working calendar."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from crm.models import Tenant
from crm.workdays.business import MAX_DAYS_SCANNED, BusinessCalendar
from crm.workdays.models import CalendarDay, DayKind


def calendar_days_for_year(*, year: int) -> QuerySet[CalendarDay]:
    """The tenant's exceptions in ``year`` (the tenant is the request's: RLS and the manager scope it)."""
    return CalendarDay.objects.filter(date__year=year).order_by("date")


def calendar_exceptions(*, around: datetime.date) -> dict[datetime.date, bool]:
    """Exceptions from a month before ``around`` to as far as a clock may look ahead: one query."""
    rows = CalendarDay.objects.filter(
        date__gte=around - datetime.timedelta(days=62),
        date__lte=around + datetime.timedelta(days=MAX_DAYS_SCANNED),
    ).values_list("date", "kind")
    return {day: kind == DayKind.OPEN for day, kind in rows}


def business_calendar(
    *,
    tenant: Tenant,
    opens: datetime.time,
    closes: datetime.time,
    weekdays: list[int] | None,
    around: datetime.datetime,
) -> BusinessCalendar:
    """The tenant's weekly hours (owned by whichever module configures them) plus its dated exceptions."""
    tz = tenant.zoneinfo
    return BusinessCalendar(
        tz=tz,
        opens=opens,
        closes=closes,
        weekdays=frozenset(weekdays or ()),
        exceptions=calendar_exceptions(around=around.astimezone(tz).date()),
    )
