"""Demo rows for sales: a few appointments and tasks for the demo sales rep (idempotent)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Tenant, User
from customers.models import Customer
from sales.models import Appointment, AppointmentKind, Task


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    if Appointment.objects.exists():
        return
    rep = staff["sales"]
    customers = list(Customer.objects.order_by("pk")[:3])
    if not customers:
        return
    today_ten = timezone.localtime().replace(hour=10, minute=0, second=0, microsecond=0)
    tomorrow = today_ten + datetime.timedelta(days=1)
    plans = [
        (AppointmentKind.MEASURE, "小区现场", 0, [staff["designer"]]),
        (AppointmentKind.STORE_VISIT, "门店二楼洽谈区", 1, []),
        (AppointmentKind.PRESENTATION, "门店设计中心", 2, [staff["designer"]]),
    ]
    for index, (kind, place, day, participants) in enumerate(plans):
        starts_at = tomorrow + datetime.timedelta(days=day, hours=index)
        appointment = Appointment.objects.create(
            tenant=tenant,
            customer=customers[index % len(customers)],
            kind=kind,
            place=place,
            starts_at=starts_at,
            ends_at=starts_at + datetime.timedelta(hours=1),
            staff=rep,
            remind_at=starts_at - datetime.timedelta(hours=1),
            created_by=rep,
        )
        appointment.participants.set(participants, through_defaults={"tenant": tenant})
    Task.objects.create(
        tenant=tenant,
        customer=customers[0],
        title="发送初步报价",
        due_at=timezone.now() - datetime.timedelta(hours=2),
        assignee=rep,
        created_by=rep,
    )
    Task.objects.create(
        tenant=tenant,
        customer=customers[-1],
        title="确认量房时间",
        due_at=timezone.now() + datetime.timedelta(days=2),
        assignee=rep,
        created_by=rep,
        remind_at=timezone.now() + datetime.timedelta(days=2),
    )
