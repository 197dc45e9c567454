"""Browser pages of sales: the day / week calendar per person or per team."""

from __future__ import annotations

import datetime

from django.shortcuts import render
from django.utils import timezone
from django.views import View

from crm.models import User
from crm.permissions import RoleRequiredMixin
from crm.tenancy import require_tenant
from sales import selectors


def _parse_date(value: str | None) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return timezone.localdate()


class CalendarView(RoleRequiredMixin, View):
    """``?view=day|week&date=YYYY-MM-DD`` and ``?staff=<id>`` or ``?team=<name>`` (default: my week)."""

    required_permission = "sales.view"

    def get(self, request):
        tenant = require_tenant()
        mode = "day" if request.GET.get("view") == "day" else "week"
        day = _parse_date(request.GET.get("date"))
        start = day if mode == "day" else day - datetime.timedelta(days=day.weekday())
        days = 1 if mode == "day" else 7
        team = request.GET.get("team", "").strip()[:50]
        person = None
        if not team:
            person = (
                User.objects.filter(tenant=tenant, is_active=True, pk=request.GET.get("staff")).first()
                if (request.GET.get("staff") or "").isdigit()
                else None
            ) or request.user
        staff = list(selectors.calendar_staff(tenant=tenant, person=person, team=team))
        appointments = selectors.calendar_appointments(
            user=request.user, staff_ids=[user.pk for user in staff], start=start, days=days
        )
        columns = []
        for offset in range(days):
            date = start + datetime.timedelta(days=offset)
            columns.append(
                {
                    "date": date,
                    "is_today": date == timezone.localdate(),
                    "appointments": [
                        a for a in appointments if timezone.localtime(a.starts_at).date() == date
                    ],
                }
            )
        step = datetime.timedelta(days=days)
        teams = (
            User.objects.filter(tenant=tenant, is_active=True)
            .exclude(team="")
            .values_list("team", flat=True)
            .distinct()
            .order_by("team")
        )
        return render(
            request,
            "sales/calendar.html",
            {
                "mode": mode,
                "columns": columns,
                "person": person,
                "team": team,
                "teams": list(teams),
                "people": User.objects.filter(tenant=tenant, is_active=True).order_by(
                    "display_name", "username"
                ),
                "previous": start - step,
                "next": start + step,
                "today": timezone.localdate(),
            },
        )
