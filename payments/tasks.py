"""Payments background jobs: the overdue scan, fanned out per tenant (no ETA tasks)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 3, "acks_late": True}


@shared_task(name="payments.overdue_scan", acks_late=True)
def overdue_scan_all() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        overdue_scan.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="payments.overdue_scan_tenant", **RETRY)
def overdue_scan(*, tenant_id: int) -> int:  # noqa: ARG001 - TenantTask enters the tenant from it
    from payments.services import payments_overdue_scan

    return payments_overdue_scan(tenant=require_tenant())
