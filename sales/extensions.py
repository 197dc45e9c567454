"""What sales adds to other apps' pages (through crm.extensions): customer panel, workbench, visibility."""

from __future__ import annotations

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.extensions import Panel
from crm.permissions import has_permission
from sales import selectors
from sales.models import Appointment, AppointmentKind, AppointmentStatus, Task


def schedule_panel(*, request, tenant, customer_id: int) -> Panel | None:
    """Upcoming appointments and open tasks on the customer page, with links to book and add."""
    user = getattr(request, "user", None)
    if not has_permission(user, "sales.view"):
        return None
    html = render_to_string(
        "sales/_customer_panel.html",
        {
            "customer_id": customer_id,
            "appointments": selectors.upcoming_for_customer(user=user, customer_id=customer_id),
            "tasks": selectors.open_tasks_for_customer(user=user, customer_id=customer_id),
            "can_schedule": has_permission(user, "sales.schedule"),
            "now": timezone.now(),
        },
        request=request,
    )
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
