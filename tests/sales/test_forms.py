"""Browser forms of appointments and tasks (issue 14 §4): book, move, close; add, complete, hand over."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from sales.models import Appointment, AppointmentChange, AppointmentStatus, Task
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory
from tests.sales.factories import in_hours, make_appointment, make_task


def _local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def _booking(customer, staff, starts_at, hours=1, **extra) -> dict:
    return {
        "customer": customer.pk,
        "kind": "measure",
        "place": "翠湖苑 5-1",
        "starts_at": _local(starts_at),
        "ends_at": _local(starts_at + datetime.timedelta(hours=hours)),
        "staff": staff.pk,
        "remind_before": 30,
        **extra,
    }


def test_book_from_the_customer_page_and_errors_on_the_form(tenant_a, make_staff, session_client):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep, name="张先生")
    client = session_client(rep)
    detail = client.get(f"/customers/{customer.pk}/").content.decode()
    assert f"/sales/appointments/new/?customer={customer.pk}" in detail
    url = f"/sales/appointments/new/?customer={customer.pk}&next=/customers/{customer.pk}/"
    page = client.get(url)
    assert page.status_code == 200 and "张先生" in page.content.decode()
    starts_at = in_hours(26)
    created = client.post(url, _booking(customer, rep, starts_at, next=f"/customers/{customer.pk}/"))
    assert created.status_code == 302 and created["Location"] == f"/customers/{customer.pk}/"
    with tenant_context(tenant_a):
        appointment = Appointment.objects.get(customer=customer)
        assert appointment.remind_at <= appointment.starts_at - datetime.timedelta(minutes=30)
        assert appointment.created_by == rep
    overlap = client.post(url, _booking(customer, rep, starts_at + datetime.timedelta(minutes=30)))
    assert overlap.status_code == 400 and "冲突" in overlap.content.decode()
    past = client.post(url, _booking(customer, rep, in_hours(-3)))
    assert past.status_code == 400 and "不能早于现在" in past.content.decode()
    with tenant_context(tenant_a):
        assert Appointment.objects.count() == 1
    assert "翠湖苑 5-1" in client.get(f"/customers/{customer.pk}/").content.decode()


def test_book_from_the_calendar_picks_only_visible_customers(tenant_a, make_staff, session_client):
    rep, other = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        mine = CustomerFactory(tenant=tenant_a, owner=rep, name="我的客户")
        theirs = CustomerFactory(tenant=tenant_a, owner=other, name="别人的客户")
    client = session_client(rep)
    day = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
    assert "/sales/appointments/new/?date=" in client.get(f"/sales/calendar/?date={day}").content.decode()
    page = client.get(f"/sales/appointments/new/?date={day}").content.decode()
    assert "我的客户" in page and "别人的客户" not in page
    refused = client.post("/sales/appointments/new/", _booking(theirs, rep, in_hours(30)))
    assert refused.status_code == 400
    assert client.get(f"/sales/appointments/new/?customer={theirs.pk}").status_code == 404
    ok = client.post("/sales/appointments/new/", _booking(mine, rep, in_hours(30)))
    assert ok.status_code == 302 and ok["Location"].startswith("/sales/calendar/?view=day")
    with tenant_context(tenant_a):
        assert list(Appointment.objects.values_list("customer_id", flat=True)) == [mine.pk]


def test_reschedule_done_no_show_and_cancel_through_the_page(tenant_a, make_staff, session_client):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        later = make_appointment(tenant_a, customer=customer, staff=rep, starts_at=in_hours(48))
        blocker = make_appointment(tenant_a, customer=customer, staff=rep, starts_at=in_hours(72))
        started = make_appointment(tenant_a, customer=customer, staff=rep, starts_at=in_hours(-2))
        missed = make_appointment(tenant_a, customer=customer, staff=rep, starts_at=in_hours(-5))
    client = session_client(rep)
    assert "改期" in client.get(f"/sales/appointments/{later.pk}/").content.decode()
    clash = client.post(
        f"/sales/appointments/{later.pk}/reschedule/",
        {"starts_at": _local(blocker.starts_at), "ends_at": _local(blocker.ends_at)},
    )
    assert clash.status_code == 400 and "冲突" in clash.content.decode()
    moved_to = in_hours(96).replace(second=0)
    moved = client.post(
        f"/sales/appointments/{later.pk}/reschedule/",
        {
            "starts_at": _local(moved_to),
            "ends_at": _local(moved_to + datetime.timedelta(hours=1)),
            "reason": "客户出差",
        },
    )
    assert moved.status_code == 302
    too_early = client.post(f"/sales/appointments/{later.pk}/close/", {"action": "done"})
    assert too_early.status_code == 400 and "时间未到" in too_early.content.decode()
    assert (
        client.post(
            f"/sales/appointments/{started.pk}/close/", {"action": "done", "outcome": "已量"}
        ).status_code
        == 302
    )
    assert client.post(f"/sales/appointments/{missed.pk}/close/", {"action": "no_show"}).status_code == 302
    assert client.post(f"/sales/appointments/{blocker.pk}/close/", {"action": "cancel"}).status_code == 302
    with tenant_context(tenant_a):
        later.refresh_from_db()
        assert later.starts_at == moved_to and AppointmentChange.objects.get().reason == "客户出差"
        statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert statuses[started.pk] == AppointmentStatus.DONE
    assert statuses[missed.pk] == AppointmentStatus.NO_SHOW
    assert statuses[blocker.pk] == AppointmentStatus.CANCELLED
    again = client.post(f"/sales/appointments/{blocker.pk}/close/", {"action": "done"})
    assert again.status_code == 400


def test_another_reps_appointment_and_task_pages_are_404(tenant_a, make_staff, session_client):
    rep, other = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        theirs = CustomerFactory(tenant=tenant_a, owner=other)
        appointment = make_appointment(tenant_a, customer=theirs, staff=other)
        task = make_task(tenant_a, customer=theirs, assignee=other)
    client = session_client(rep)
    assert client.get(f"/sales/appointments/{appointment.pk}/").status_code == 404
    for url in (
        f"/sales/appointments/{appointment.pk}/reschedule/",
        f"/sales/appointments/{appointment.pk}/close/",
        f"/sales/tasks/{task.pk}/complete/",
        f"/sales/tasks/{task.pk}/reassign/",
    ):
        assert client.post(url, {"action": "cancel", "assignee": rep.pk}).status_code == 404, url
    with tenant_context(tenant_a):
        task.refresh_from_db()
        assert task.done_at is None and task.assignee == other


def test_tasks_from_the_project_page_complete_and_reassign(tenant_a, make_staff, session_client):
    rep, colleague = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    manager = make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        project = ProjectFactory(tenant=tenant_a, customer=customer)
    client = session_client(manager)
    detail = client.get(f"/projects/{project.pk}/").content.decode()
    assert f"/sales/tasks/new/?customer={customer.pk}&project={project.pk}" in detail
    url = f"/sales/tasks/new/?customer={customer.pk}&project={project.pk}"
    due = in_hours(5)
    created = client.post(
        url,
        {
            "customer": customer.pk,
            "project": project.pk,
            "title": "确认水电方案",
            "due_at": _local(due),
            "assignee": rep.pk,
        },
    )
    assert created.status_code == 302
    blank = client.post(
        url, {"customer": customer.pk, "title": "", "due_at": _local(due), "assignee": rep.pk}
    )
    assert blank.status_code == 400
    with tenant_context(tenant_a):
        task = Task.objects.get()
        assert task.project == project and task.assignee == rep and task.created_by == manager
    assert "确认水电方案" in client.get(f"/projects/{project.pk}/").content.decode()
    assert client.post(f"/sales/tasks/{task.pk}/reassign/", {"assignee": colleague.pk}).status_code == 302
    listed = session_client(colleague).get("/sales/tasks/").content.decode()
    assert "确认水电方案" in listed
    assert client.post(f"/sales/tasks/{task.pk}/complete/").status_code == 302
    with tenant_context(tenant_a):
        task.refresh_from_db()
        assert task.assignee == colleague and task.done_at is not None
    client.post(f"/sales/tasks/{task.pk}/reassign/", {"assignee": rep.pk})
    with tenant_context(tenant_a):
        task.refresh_from_db()
        assert task.assignee == colleague  # a done task stays with who did it


def test_calendar_shows_tasks_due_and_links_appointments(tenant_a, make_staff, session_client):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        appointment = make_appointment(tenant_a, customer=customer, staff=rep, starts_at=in_hours(30))
        make_task(tenant_a, customer=customer, assignee=rep, title="寄样板", due_at=in_hours(30))
    day = timezone.localtime(in_hours(30)).date().isoformat()
    page = session_client(rep).get(f"/sales/calendar/?view=day&date={day}").content.decode()
    assert f"/sales/appointments/{appointment.pk}/" in page and "寄样板" in page
