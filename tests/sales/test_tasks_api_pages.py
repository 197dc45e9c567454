"""Tasks, the API's 400s, isolation between tenants and reps, and the pages (issue 14 §4)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from sales import services
from sales.models import Appointment, AppointmentChange, Task
from tests.customers.factories import CustomerFactory
from tests.sales.factories import in_hours, make_appointment, make_task


def test_overdue_task_is_on_the_workbench_until_done(tenant_a, make_staff, session_client):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        task = services.task_create(
            tenant=tenant_a,
            actor=rep,
            customer=customer,
            title="回电确认量房",
            due_at=in_hours(-3),
            assignee=rep,
        )
        make_task(tenant_a, customer=customer, assignee=rep, title="下周的事")
    client = session_client(rep)
    page = client.get("/").content.decode()
    assert "逾期待办" in page and "回电确认量房" in page and "下周的事" not in page
    with tenant_context(tenant_a):
        services.task_complete(tenant=tenant_a, actor=rep, task=task)
    assert "回电确认量房" not in client.get("/").content.decode()


def test_api_refuses_bad_appointments_with_field_and_code(tenant_a, make_staff, api_as):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
    client = api_as(rep)

    def post(starts_at, ends_at, **extra):
        payload = {
            "customer": customer.pk,
            "kind": "measure",
            "place": "门店",
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "staff": rep.pk,
            **extra,
        }
        return client.post("/api/v1/appointments/", payload, format="json")

    created = post(in_hours(24), in_hours(25), remind_before_minutes=30)
    assert created.status_code == 201, created.json()
    assert created.json()["remind_at"].startswith(timezone.localtime(in_hours(23.5)).isoformat()[:16])
    for response, field, message in [
        (post(in_hours(-2), in_hours(-1)), "starts_at", "不能早于现在"),
        (post(in_hours(30), in_hours(29)), "ends_at", "必须晚于开始时间"),
        (post(in_hours(24.5), in_hours(26)), "starts_at", "冲突"),
        (post(in_hours(40), in_hours(41), kind="party"), "kind", "party"),
    ]:
        assert response.status_code == 400, response.json()
        assert set(response.json()) == {"detail", "errors", "codes"}
        assert message in response.json()["errors"][field][0]
        assert response.json()["codes"][field]  # a stable code beside every message
    with tenant_context(tenant_a):
        assert Appointment.objects.count() == 1
    appointment_id = created.json()["id"]
    moved = client.post(
        f"/api/v1/appointments/{appointment_id}/reschedule/",
        {"starts_at": in_hours(50).isoformat(), "ends_at": in_hours(51).isoformat(), "reason": "改期"},
        format="json",
    )
    assert moved.status_code == 200 and len(moved.json()["changes"]) == 1
    early = client.post(f"/api/v1/appointments/{appointment_id}/no-show/", {}, format="json")
    assert early.status_code == 400 and "时间未到" in early.json()["errors"]["status"][0]
    bad_task = client.post(
        "/api/v1/tasks/",
        {"customer": customer.pk, "title": "x", "due_at": "soon", "assignee": rep.pk},
        format="json",
    )
    assert bad_task.status_code == 400 and "due_at" in bad_task.json()["errors"]


def test_another_reps_customer_cannot_be_booked_or_seen(tenant_a, make_staff, api_as):
    rep_a, rep_b = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep_a)
        appointment = make_appointment(tenant_a, customer=customer, staff=rep_a)
        task = make_task(tenant_a, customer=customer, assignee=rep_a)
    client_b = api_as(rep_b)
    payload = {
        "customer": customer.pk,
        "kind": "store_visit",
        "place": "门店",
        "starts_at": in_hours(70).isoformat(),
        "ends_at": in_hours(71).isoformat(),
        "staff": rep_b.pk,
    }
    refused = client_b.post("/api/v1/appointments/", payload, format="json")
    assert refused.status_code == 400 and "customer" in refused.json()["errors"]
    assert client_b.get(f"/api/v1/appointments/{appointment.pk}/").status_code == 404
    assert client_b.post(f"/api/v1/appointments/{appointment.pk}/cancel/", {}).status_code == 404
    assert client_b.post(f"/api/v1/tasks/{task.pk}/complete/").status_code == 404
    assert client_b.get("/api/v1/tasks/").json()["results"] == []


def test_staff_on_an_appointment_see_the_customer(tenant_a, make_staff, api_as):
    rep, designer = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        appointment = make_appointment(tenant_a, customer=customer, staff=rep)
    assert api_as(designer).get(f"/api/v1/appointments/{appointment.pk}/").status_code == 404
    with tenant_context(tenant_a):
        appointment.participants.add(designer, through_defaults={"tenant": tenant_a})
    assert api_as(designer).get(f"/api/v1/appointments/{appointment.pk}/").status_code == 200


def test_calendar_week_team_and_customer_panel(tenant_a, make_staff, session_client):
    lead = make_staff(tenant_a, Role.SALES, team="一组", is_team_lead=True)
    member = make_staff(tenant_a, Role.SALES, team="一组")
    outsider = make_staff(tenant_a, Role.SALES, team="二组")
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=member, name="张先生")
        starts_at = in_hours(24)
        make_appointment(tenant_a, customer=customer, staff=member, starts_at=starts_at, place="翠湖苑 5-1")
        other = CustomerFactory(tenant=tenant_a, owner=outsider, name="李女士")
        make_appointment(tenant_a, customer=other, staff=outsider, starts_at=starts_at)
    client = session_client(lead)
    day = timezone.localtime(starts_at).date().isoformat()
    team_week = client.get(f"/sales/calendar/?team=一组&date={day}").content.decode()
    assert "张先生" in team_week and "翠湖苑 5-1" in team_week and "李女士" not in team_week
    own_day = client.get(f"/sales/calendar/?view=day&date={day}").content.decode()
    assert "张先生" not in own_day  # the lead's own calendar is empty
    assert "张先生" in client.get(f"/sales/calendar/?view=day&date={day}&staff={member.pk}").content.decode()
    panel = session_client(member).get(f"/customers/{customer.pk}/").content.decode()
    assert "预约与待办" in panel and "翠湖苑 5-1" in panel
    assert 'href="/sales/calendar/"' in session_client(member).get("/").content.decode()


def test_appointment_rows_stay_in_their_tenant(tenant_a, tenant_b, make_staff):
    rep_b = make_staff(tenant_b, Role.SALES)
    with tenant_context(tenant_a):
        make_appointment(tenant_a)
        make_task(tenant_a)
    with tenant_context(tenant_b):
        assert Appointment.objects.count() == 0 and Task.objects.count() == 0
        assert AppointmentChange.objects.count() == 0
        assert (
            services.appointment_reminders_send_due(
                tenant=tenant_b, now=timezone.now() + datetime.timedelta(days=9)
            )
            == 0
        )
    assert rep_b.tenant_id == tenant_b.pk


def test_seed_demo_books_appointments_and_tasks_once(db):
    from django.core.management import call_command

    from crm.models import Tenant

    call_command("seed_demo")
    call_command("seed_demo")
    tenant = Tenant.objects.get(slug="anju")
    with tenant_context(tenant):
        # created_by: the sales demo's own tasks (the engagement demo's push adds system-created
        # "send this to the customer" tasks, actor None).
        assert Appointment.objects.count() == 3 and Task.objects.filter(created_by__isnull=False).count() == 2
