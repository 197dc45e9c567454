"""Celery tasks of the outbox: thin and idempotent (the rows decide what is still due)."""

from __future__ import annotations

from celery import shared_task

from crm.events import dispatch
from crm.models import Tenant
from crm.tenancy import no_tenant


@shared_task(name="outbox.dispatch", acks_late=True)
def dispatch_task(*, tenant_id: int, event_id: int | None = None) -> int:
    """Deliver the tenant's due deliveries (of one event, or all). Several short transactions, so
    not a ``TenantTask`` (whose single transaction would hold ``sending`` uncommitted)."""
    with no_tenant():
        tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
        if tenant is None:
            return 0
        return dispatch.deliveries_dispatch(tenant=tenant, event_id=event_id)


@shared_task(name="outbox.sweep", acks_late=True)
def sweep() -> int:
    """Beat: re-queue tenants whose deliveries have been due too long (lost message, killed worker)."""
    tenant_ids = dispatch.tenants_with_overdue_deliveries()
    for tenant_id in tenant_ids:
        dispatch_task.delay(tenant_id=tenant_id)
    return len(tenant_ids)
