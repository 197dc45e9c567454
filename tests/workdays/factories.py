"""Working-calendar factories (registered for the cross-tenant probe)."""

from __future__ import annotations

import datetime
import itertools

from crm.workdays.models import CalendarDay, DayKind
from tests.factories import probe_factory

_DAYS = itertools.count()


@probe_factory(CalendarDay)
def make_calendar_day(tenant, **extra) -> CalendarDay:
    date = datetime.date(2027, 1, 1) + datetime.timedelta(days=next(_DAYS))
    fields = {"date": date, "kind": DayKind.CLOSED, "name": "放假"}
    fields.update(extra)
    return CalendarDay.objects.create(tenant=tenant, **fields)
