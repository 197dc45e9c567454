"""Reads shared by the calendar, the customer panel, the workbench and the API."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from crm.models import Tenant, User
from customers.visibility import related_rows_visible_to
from sales.models import Appointment, AppointmentStatus, Task


def appointments_visible_to(user: User) -> QuerySet[Appointment]:
    """Appointments of customers ``user`` may see (another rep's customer's bookings are not there)."""
    return related_rows_visible_to(user, Appointment.objects.all())


def tasks_visible_to(user: User) -> QuerySet[Task]:
    return related_rows_visible_to(user, Task.objects.all())


def calendar_staff(*, tenant: Tenant, person: User | None = None, team: str = "") -> QuerySet[User]:
    """The people a calendar shows: one person, or the active members of a team of ``tenant``."""
    users = User.objects.filter(tenant=tenant, is_active=True)
    if team:
        return users.filter(team=team).order_by("display_name", "username")
    if person is None:
        return users.none()
    return users.filter(pk=person.pk)


def calendar_appointments(
    *, user: User, staff_ids: list[int], start: datetime.date, days: int
) -> list[Appointment]:
    """Appointments of ``staff_ids`` (leading or joining) in ``days`` days from ``start``, oldest first."""
    tz = timezone.get_current_timezone()
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    until = since + datetime.timedelta(days=days)
    return list(
        appointments_visible_to(user)
        .filter(starts_at__lt=until, ends_at__gt=since)
        .filter(Q(staff_id__in=staff_ids) | Q(participants__in=staff_ids))
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("customer", "staff")
        .prefetch_related("participants")
        .distinct()
        .order_by("starts_at", "id")
    )


def calendar_tasks(*, user: User, staff_ids: list[int], start: datetime.date, days: int) -> list[Task]:
    """Open tasks of ``staff_ids`` due in the calendar's days (shown under each day)."""
    tz = timezone.get_current_timezone()
    since = datetime.datetime.combine(start, datetime.time.min, tzinfo=tz)
    return list(
        tasks_visible_to(user)
        .filter(
            assignee_id__in=staff_ids,
            done_at__isnull=True,
            due_at__gte=since,
            due_at__lt=since + datetime.timedelta(days=days),
        )
        .select_related("customer")
        .order_by("due_at", "id")[:200]
    )


def upcoming_for_customer(
    *, user: User, customer_id: int, project_id: int | None = None, limit: int = 10
) -> list[Appointment]:
    appointments = appointments_visible_to(user)
    if project_id is not None:
        appointments = appointments.filter(project_id=project_id)
    return list(
        appointments.filter(
            customer_id=customer_id, status=AppointmentStatus.SCHEDULED, ends_at__gte=timezone.now()
        )
        .select_related("staff")
        .order_by("starts_at")[:limit]
    )


def open_tasks_for_customer(
    *, user: User, customer_id: int, project_id: int | None = None, limit: int = 10
) -> list[Task]:
    tasks = tasks_visible_to(user)
    if project_id is not None:
        tasks = tasks.filter(project_id=project_id)
    return list(
        tasks.filter(customer_id=customer_id, done_at__isnull=True)
        .select_related("assignee")
        .order_by("due_at")[:limit]
    )


def overdue_tasks_of(*, user: User, now: datetime.datetime | None = None, limit: int = 20) -> list[Task]:
    """``user``'s open tasks past their due time (workbench), most overdue first."""
    now = now or timezone.now()
    return list(
        Task.objects.filter(assignee=user, done_at__isnull=True, due_at__lt=now)
        .select_related("customer")
        .order_by("due_at")[:limit]
    )
