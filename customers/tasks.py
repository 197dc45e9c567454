"""Periodic jobs of the customers module. Thin and idempotent; the services hold the rules."""

from __future__ import annotations

from celery import shared_task

from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant
from customers.services import classification, leads, pool


@shared_task(name="customers.scan_all_tenants")
def scan_all_tenants() -> int:
    """Every minute (beat): fan out one scan per tenant. Duplicated beats are harmless."""
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        scan_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="customers.scan_tenant")
def scan_tenant(*, tenant_id: int) -> dict:
    tenant = require_tenant()
    return {
        "breaches": leads.lead_sla_scan(tenant=tenant),
        "pooled": pool.lead_pool_scan(tenant=tenant),
    }


@shared_task(name="customers.recompute_all_tenants")
def recompute_all_tenants() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        recompute_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="customers.recompute_tenant")
def recompute_tenant(*, tenant_id: int) -> int:
    """Nightly: only the customers whose time-based axes went stale (see customers_recompute_due)."""
    return classification.customers_recompute_due(tenant=require_tenant())
