"""Sales background jobs: the reminder scan, fanned out per tenant (no ETA tasks)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 3, "acks_late": True}


@shared_task(name="sales.appointment_reminders_scan_all", acks_late=True)
def appointment_reminders_scan_all() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        appointment_reminders_send.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="sales.appointment_reminders_send", **RETRY)
def appointment_reminders_send(*, tenant_id: int) -> int:
    from sales.services import appointment_reminders_send_due

    return appointment_reminders_send_due(tenant=require_tenant())


@shared_task(name="sales.task_reminders_scan_all", acks_late=True)
def task_reminders_scan_all() -> int:
    """Every minute (beat): task reminders, including the planned next follow-ups (one mechanism)."""
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        task_reminders_send.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="sales.task_reminders_send", **RETRY)
def task_reminders_send(*, tenant_id: int) -> int:
    from sales.services import task_reminders_send_due

    return task_reminders_send_due(tenant=require_tenant())
