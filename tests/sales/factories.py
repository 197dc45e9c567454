"""Sales factories (also registered for the cross-tenant and cross-user probes)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from sales.models import Appointment, Task
from tests.customers.factories import CustomerFactory
from tests.factories import StaffFactory, probe_factory


def in_hours(hours: float) -> datetime.datetime:
    return (timezone.now() + datetime.timedelta(hours=hours)).replace(microsecond=0)


@probe_factory(Appointment)
def make_appointment(tenant, **extra) -> Appointment:
    starts_at = extra.pop("starts_at", in_hours(24))
    fields = {
        "customer": extra.pop("customer", None) or CustomerFactory(tenant=tenant),
        "staff": extra.pop("staff", None) or StaffFactory(tenant=tenant),
        "kind": "measure",
        "place": "幸福小区 3-201",
        "starts_at": starts_at,
        "ends_at": starts_at + datetime.timedelta(hours=1),
        "remind_at": starts_at - datetime.timedelta(hours=1),
    }
    fields.update(extra)
    return Appointment.objects.create(tenant=tenant, **fields)


@probe_factory(Task)
def make_task(tenant, **extra) -> Task:
    fields = {
        "customer": extra.pop("customer", None) or CustomerFactory(tenant=tenant),
        "assignee": extra.pop("assignee", None) or StaffFactory(tenant=tenant),
        "title": "发送报价单",
        "due_at": in_hours(24),
    }
    fields.update(extra)
    return Task.objects.create(tenant=tenant, **fields)
