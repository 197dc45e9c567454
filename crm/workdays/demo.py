"""Demo calendar: a company closure a few weeks ahead and the 调休 Saturday after it (relative dates)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Tenant, User
from crm.workdays.models import CalendarDay, DayKind
from crm.workdays.services import calendar_day_set


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:  # noqa: ARG001 - the demo hook's signature
    if CalendarDay.objects.exists():
        return
    today = timezone.localdate(timezone=tenant.zoneinfo)
    closure = today + datetime.timedelta(days=21 - today.weekday())  # a Monday three weeks ahead
    for offset in range(3):
        calendar_day_set(
            tenant=tenant,
            date=closure + datetime.timedelta(days=offset),
            kind=DayKind.CLOSED,
            name="公司团建放假",
        )
    calendar_day_set(
        tenant=tenant,
        date=closure + datetime.timedelta(days=5),
        kind=DayKind.OPEN,
        name="团建调休（周六上班）",
    )
