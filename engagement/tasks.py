"""Engagement background jobs: thin, idempotent wrappers around services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 3, "acks_late": True}


@shared_task(name="engagement.lead_scoring_train_all", acks_late=True)
def lead_scoring_train_all() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        lead_scoring_train.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="engagement.lead_scoring_train", **RETRY)
def lead_scoring_train(*, tenant_id: int) -> str:
    """Nightly: retrain the tenant's model (replacing its one row) and rescore open leads."""
    from engagement.services.scoring import lead_scoring_train as train

    return train(tenant=require_tenant()).status


@shared_task(name="engagement.push_scan_all", acks_late=True)
def push_scan_all() -> int:
    """Beat: one scan per active tenant (due scheduled rules, then pushes held for quiet hours)."""
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        push_scan.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="engagement.push_scan", **RETRY)
def push_scan(*, tenant_id: int) -> dict:
    """Idempotent: a retried or duplicated scan finds the dispatch rows and sends nothing twice."""
    from engagement.services.pushes import push_pending_send_due, push_rules_run_due

    tenant = require_tenant()
    return {"rules": push_rules_run_due(tenant=tenant), "pending_sent": push_pending_send_due(tenant=tenant)}
