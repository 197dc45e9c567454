"""The working calendar moves every business-hours clock: lead SLA, ticket SLA, appointment reminders.

Plus its API and page: one day at a time, a whole year imported all-or-nothing, managers only write.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from aftercare.services import tickets
from crm.models import Role
from crm.tenancy import tenant_context
from crm.workdays import services
from crm.workdays.models import CalendarDay, DayKind
from customers.services import leads
from customers.services.settings import customer_settings_for
from sales import services as sales_services
from tests.aftercare.factories import HandedOverProjectFactory
from tests.customers.factories import CustomerFactory

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def _close(tenant, *days: datetime.date, name: str = "放假") -> None:
    with tenant_context(tenant):
        for day in days:
            services.calendar_day_set(tenant=tenant, date=day, kind=DayKind.CLOSED, name=name)


def test_lead_on_the_eve_of_a_holiday_is_due_after_it(tenant_a, make_staff):
    make_staff(tenant_a, Role.SALES)
    # Wednesday 2026-11-25 20:55 (shop open 09:00-21:00 every day); Thursday and Friday closed.
    _close(tenant_a, datetime.date(2026, 11, 26), datetime.date(2026, 11, 27))
    with tenant_context(tenant_a):
        lead = leads.lead_create(
            tenant=tenant_a,
            name="节前客户",
            phone="13800001111",
            source_channel="douyin",
            received_at=datetime.datetime(2026, 11, 25, 20, 55, tzinfo=SH),
        )
    # 5 minutes before closing, 10 after the Saturday opening
    assert lead.first_response_due_at == datetime.datetime(2026, 11, 28, 9, 10, tzinfo=SH)


def test_a_tiaoxiu_saturday_runs_the_clock(tenant_a, make_staff):
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        row = customer_settings_for(tenant=tenant_a)
        row.business_days = [0, 1, 2, 3, 4]
        row.save()
        services.calendar_day_set(tenant=tenant_a, date=datetime.date(2026, 11, 28), kind=DayKind.OPEN)
        lead = leads.lead_create(
            tenant=tenant_a,
            name="周六客户",
            phone="13800002222",
            source_channel="wechat",
            received_at=datetime.datetime(2026, 11, 28, 12, 0, tzinfo=SH),
        )
    # without the 调休 entry this would be Monday 09:15
    assert lead.first_response_due_at == datetime.datetime(2026, 11, 28, 12, 15, tzinfo=SH)


def test_ticket_clock_pauses_on_closed_days(tenant_a):
    with tenant_context(tenant_a):
        project = HandedOverProjectFactory(tenant=tenant_a, handed_over_on=datetime.date(2025, 3, 15))
    today = timezone.localdate(timezone=SH)
    closed = [today + datetime.timedelta(days=1), today + datetime.timedelta(days=2)]
    _close(tenant_a, *closed)
    before = timezone.now()
    with tenant_context(tenant_a):
        urgent = tickets.ticket_create(
            tenant=tenant_a, project=project, category="electrical", description="跳闸", priority="urgent"
        )
    # urgent: 24 h to resolve; the two closed days in between add 48 h
    resolve = urgent.resolution_due_at - before
    assert datetime.timedelta(hours=72) <= resolve < datetime.timedelta(hours=72, minutes=1)
    first = urgent.first_response_due_at.astimezone(SH)
    assert first.date() not in closed


def test_reminder_lead_time_skips_a_holiday(tenant_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    now = timezone.localtime(timezone.now(), SH)
    start = (now + datetime.timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    holiday = (start - datetime.timedelta(days=1)).date()
    _close(tenant_a, holiday)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        appointment = sales_services.appointment_create(
            tenant=tenant_a,
            actor=rep,
            customer=customer,
            kind="measure",
            place="幸福小区 3-201",
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=1),
            staff=rep,
            remind_before=datetime.timedelta(days=1),
        )
    # one working day before: the holiday is skipped, so two calendar days before
    assert appointment.remind_at == start - datetime.timedelta(days=2)


def test_api_sets_lists_imports_and_deletes(tenant_a, manager_a, token_client):
    client = token_client(manager_a)
    created = client.post(
        "/api/v1/calendar-days/", {"date": "2027-10-01", "kind": "closed", "name": "国庆"}, format="json"
    )
    assert created.status_code == 201, created.json()
    # the same date again replaces the entry
    again = client.post("/api/v1/calendar-days/", {"date": "2027-10-01", "kind": "open"}, format="json")
    assert again.status_code == 201 and again.json()["kind"] == "open"
    imported = client.post(
        "/api/v1/calendar-days/import/",
        {
            "year": 2027,
            "days": [
                {"date": "2027-02-06", "kind": "closed", "name": "春节"},
                {"date": "2027-02-14", "kind": "open", "name": "春节调休"},
            ],
        },
        format="json",
    )
    assert imported.status_code == 200 and imported.json() == {"year": 2027, "written": 2}
    listed = client.get("/api/v1/calendar-days/?year=2027").json()["results"]
    assert [(row["date"], row["kind"]) for row in listed] == [
        ("2027-02-06", "closed"),
        ("2027-02-14", "open"),
    ]
    # a bad import (a date outside the year) writes nothing and keeps the old entries
    bad = client.post(
        "/api/v1/calendar-days/import/",
        {"year": 2027, "days": [{"date": "2028-01-01", "kind": "closed"}]},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["codes"]["days"] == ["outside_year"]
    with tenant_context(tenant_a):
        assert CalendarDay.objects.count() == 2
    gone = client.delete(f"/api/v1/calendar-days/{listed[0]['id']}/")
    assert gone.status_code == 204
    with tenant_context(tenant_a):
        assert list(CalendarDay.objects.values_list("name", flat=True)) == ["春节调休"]


def test_sales_read_but_do_not_write(tenant_a, make_staff):
    client = APIClient()
    client.force_login(make_staff(tenant_a, Role.SALES), backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/calendar-days/").status_code == 200
    refused = client.post("/api/v1/calendar-days/", {"date": "2027-10-01", "kind": "closed"}, format="json")
    assert refused.status_code == 403


def test_page_imports_a_year_and_shows_line_errors(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    text = "# 2027\n2027-10-01~2027-10-07,休,国庆节\n2027-10-09,班,国庆调休\n"
    response = client.post("/settings/calendar/", {"action": "import", "year": "2027", "text": text})
    assert response.status_code == 302
    page = client.get("/settings/calendar/?year=2027").content.decode()
    assert "2027-10-07" in page and "国庆调休" in page
    with tenant_context(tenant_a):
        assert CalendarDay.objects.filter(kind=DayKind.CLOSED).count() == 7
    bad = client.post(
        "/settings/calendar/",
        {"action": "import", "year": "2027", "text": "2027-10-01,休\n2027-13-01,休\nfoo"},
    )
    assert bad.status_code == 400
    body = bad.content.decode()
    assert "第 2 行" in body and "第 3 行" in body
    with tenant_context(tenant_a):
        assert CalendarDay.objects.count() == 8  # the bad import wrote nothing, removed nothing
    one = client.post(
        "/settings/calendar/", {"action": "set", "date": "2027-12-31", "kind": "closed", "name": "年会"}
    )
    assert one.status_code == 302
    with tenant_context(tenant_a):
        assert CalendarDay.objects.get(date=datetime.date(2027, 12, 31)).name == "年会"


def test_sales_page_is_read_only(tenant_a, make_staff, session_client):
    client = session_client(make_staff(tenant_a, Role.SALES))
    assert client.get("/settings/calendar/").status_code == 200
    response = client.post("/settings/calendar/", {"action": "set", "date": "2027-12-31", "kind": "closed"})
    assert response.status_code == 403
    with tenant_context(tenant_a):
        assert not CalendarDay.objects.exists()
