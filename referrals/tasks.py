"""Nightly proof that every referral account reconciles; managers hear about any mismatch."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant
from referrals.selectors import ledger_discrepancies

logger = logging.getLogger("referrals")


@shared_task(name="referrals.reconcile_all_tenants")
def reconcile_all_tenants() -> int:
    """Beat (nightly): one reconciliation per tenant. Read-only, so duplicates are harmless."""
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        reconcile_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="referrals.reconcile_tenant")
def reconcile_tenant(*, tenant_id: int) -> int:
    """Returns the number of mismatched accounts; notifies managers once per day if any."""
    tenant = require_tenant()
    checked, found = ledger_discrepancies(tenant=tenant)
    if not found:
        return 0
    for discrepancy in found:
        logger.error("referral ledger mismatch in tenant %s: %s", tenant.pk, discrepancy)
    from crm.notifications.services import notify
    from crm.permissions import RECEIVES_ESCALATIONS
    from crm.selectors import staff_of_tenant

    managers = staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
    notify(
        tenant=tenant,
        recipients=managers,
        kind="referral_ledger_mismatch",
        title=f"转介绍奖励金对账异常：{len(found)} 个账户",
        body="\n".join(str(discrepancy) for discrepancy in found[:20]),
        link="/referrals/",
        dedupe_key=f"referral-ledger-mismatch:{timezone.localdate().isoformat()}",
    )
    return len(found)
