"""Dates as the tenant sees them (plans are due on calendar days in the tenant's zone)."""

from __future__ import annotations

import calendar
import datetime

from crm.tenancy import tenant_today  # noqa: F401 - the one helper, kept importable here


def add_months(start: datetime.date, months: int) -> datetime.date:
    """Calendar months later; a day that doesn't exist clamps to month end (29 Feb + 1 year → 28 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day)
