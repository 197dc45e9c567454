"""What sales adds to other apps' pages (through crm.extensions): customer panel, workbench, visibility."""

from __future__ import annotations

from types import SimpleNamespace

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, Panel, render_panel
from crm.page_data import PageQuery, label, person, person_of, queryset_rows, rows, when
from crm.permissions import has_permission
from sales import selectors
from sales.models import Appointment, AppointmentKind, AppointmentStatus, Task


def _schedule_html(*, request, customer_id: int, project_id: int | None) -> str:
    user = request.user
    return render_to_string(
        "sales/_customer_panel.html",
        {
            "customer_id": customer_id,
            "project_id": project_id,
            "appointments": selectors.upcoming_for_customer(
                user=user, customer_id=customer_id, project_id=project_id
            ),
            "tasks": selectors.open_tasks_for_customer(
                user=user, customer_id=customer_id, project_id=project_id
            ),
            "can_schedule": has_permission(user, "sales.schedule"),
            "now": timezone.now(),
        },
        request=request,
    )


# The customer page's panel, read in the page's single statement (crm.extensions.customer_page):
# the same rows as ``selectors.upcoming_for_customer`` / ``open_tasks_for_customer`` (same visibility),
# as values; the panel template (shared with the project page) is given the same names.


APPOINTMENTS_SQL = f"""
SELECT a.id, a.starts_at, a.kind, a.place, a.staff_id, {person("u")} AS staff_name
FROM sales_appointment a LEFT JOIN crm_user u ON u.id = a.staff_id
WHERE a.tenant_id = %s AND a.customer_id = %s AND a.status = %s AND a.ends_at >= %s
ORDER BY a.starts_at LIMIT 10"""
TASKS_SQL = f"""
SELECT t.id, t.due_at, t.title, {person("u")} AS assignee_name
FROM sales_task t LEFT JOIN crm_user u ON u.id = t.assignee_id
WHERE t.tenant_id = %s AND t.customer_id = %s AND t.done_at IS NULL ORDER BY t.due_at LIMIT 10"""


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    if not has_permission(getattr(request, "user", None), "sales.view"):
        return None
    now = timezone.now()
    if checked:  # the page has checked the customer: all of its rows are visible (written out)
        return {
            "appointments": rows(
                APPOINTMENTS_SQL, [tenant.pk, customer_id, AppointmentStatus.SCHEDULED.value, now]
            ),
            "tasks": rows(TASKS_SQL, [tenant.pk, customer_id]),
        }
    user = request.user
    appointments = (
        selectors.appointments_visible_to(user)
        .filter(customer_id=customer_id, status=AppointmentStatus.SCHEDULED, ends_at__gte=now)
        .order_by("starts_at")
        .values("id", "starts_at", "kind", "place", "staff_id", staff_name=person_of("staff"))[:10]
    )
    tasks = (
        selectors.tasks_visible_to(user)
        .filter(customer_id=customer_id, done_at__isnull=True)
        .order_by("due_at")
        .values("id", "due_at", "title", assignee_name=person_of("assignee"))[:10]
    )
    return {"appointments": queryset_rows(appointments), "tasks": queryset_rows(tasks)}


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:  # noqa: ARG001
    """Upcoming appointments and open tasks on the customer page, with links to book and add."""
    appointments = [
        SimpleNamespace(
            pk=row["id"],
            starts_at=when(row["starts_at"]),
            get_kind_display=label(AppointmentKind, row["kind"]),  # the shared template's name
            place=row["place"],
            staff=row["staff_name"] or "",
            staff_id=row["staff_id"],
        )
        for row in data["appointments"]
    ]
    tasks = [
        SimpleNamespace(
            pk=row["id"], due_at=when(row["due_at"]), title=row["title"], assignee=row["assignee_name"] or ""
        )
        for row in data["tasks"]
    ]
    html = render_panel(
        "sales/_customer_panel.html",
        {
            "customer_id": customer_id,
            "project_id": None,
            "appointments": appointments,
            "tasks": tasks,
            "can_schedule": has_permission(request.user, "sales.schedule"),
            "now": timezone.now(),
        },
        request=request,
    )
    return Panel(title=_("预约与待办"), html=html, order=30)


CUSTOMER_SECTION = CustomerSection(name="sales", panel_queries=_panel_queries, panel=_panel)


def project_schedule_panel(*, request, tenant, project) -> Panel | None:
    """The same on the project page: the project's appointments and tasks, booking linked to it."""
    if not has_permission(getattr(request, "user", None), "sales.view"):
        return None
    html = _schedule_html(request=request, customer_id=project.customer_id, project_id=project.pk)
    return Panel(title=_("预约与待办"), html=html, order=30)


def overdue_tasks_widget(*, request, tenant) -> Panel | None:
    """我的待办: the signed-in user's overdue tasks on the workbench."""
    user = getattr(request, "user", None)
    if not has_permission(user, "sales.view"):
        return None
    tasks = selectors.overdue_tasks_of(user=user)
    if not tasks:
        return None
    html = render_to_string("sales/_overdue_tasks.html", {"tasks": tasks}, request=request)
    return Panel(title=_("逾期待办"), html=html, order=15)


def customers_scheduled_with(*, user) -> Q:
    """Visibility provider: customers ``user`` has an appointment with or a task on."""
    booked = Appointment.objects.filter(Q(staff_id=user.pk) | Q(participants=user.pk)).values("customer_id")
    assigned = Task.objects.filter(assignee_id=user.pk).values("customer_id")
    return Q(pk__in=booked) | Q(pk__in=assigned)


def measure_appointment_done(*, tenant, project) -> bool:  # noqa: ARG001 - the check signature
    """Signing requirement "measurement" (projects): a completed 量房 appointment for the project
    (or for its customer when the appointment was booked before the project existed)."""
    return (
        Appointment.objects.filter(kind=AppointmentKind.MEASURE, status=AppointmentStatus.DONE)
        .filter(Q(project_id=project.pk) | Q(project__isnull=True, customer_id=project.customer_id))
        .exists()
    )


def merge_customer_rows(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): appointments and tasks follow the surviving customer. Of two open
    follow-up tasks the survivor keeps its own (one open follow-up task per customer); the other is
    closed, not lost."""
    from django.utils import timezone as tz

    from customers.services.merge import move_customer_rows, moved_key
    from sales.models import TaskKind

    open_follow_ups = Task.objects.filter(kind=TaskKind.FOLLOW_UP, done_at__isnull=True)
    if open_follow_ups.filter(customer=target).exists():
        open_follow_ups.filter(customer=source).update(done_at=tz.now())
    return {
        "moved": {
            moved_key(model, "customer"): move_customer_rows(model, "customer", source=source, target=target)
            for model in (Appointment, Task)
        }
    }
