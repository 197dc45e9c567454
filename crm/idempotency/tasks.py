"""Nightly pruning of expired idempotency keys; fanned out per tenant like every periodic job."""

from __future__ import annotations

from crm.celery import TenantTask, app
from crm.idempotency import services
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant


@app.task(base=TenantTask, name="idempotency.prune_for_tenant")
def prune_for_tenant(*, tenant_id: int) -> int:
    return services.idempotency_keys_prune(tenant=require_tenant())


@app.task(name="idempotency.prune")
def prune() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        prune_for_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)
