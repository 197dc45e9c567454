"""Aftercare background jobs: thin, idempotent wrappers around services.

The daily beat job fans out one scan per tenant; exactly-once comes from the dispatch rows'
unique constraint, so duplicate beats, duplicated deliveries and retries are harmless.
"""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from aftercare.services import reminders, surveys, tickets
from crm.celery import TenantTask, app
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5, "acks_late": True}


@shared_task(name="aftercare.reminders_scan_all", acks_late=True)
def reminders_scan_all() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        reminders_scan.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="aftercare.reminders_scan", **RETRY)
def reminders_scan(*, tenant_id: int) -> int:
    """Decide today's reminders/escalations (the send task is queued after this commits) and send
    the handover-anniversary NPS surveys."""
    tenant = require_tenant()
    surveys.surveys_yearly_nps(tenant=tenant)
    return len(reminders.reminders_decide(tenant=tenant))


@app.task(base=TenantTask, name="aftercare.reminders_send", **RETRY)
def reminders_send(*, tenant_id: int) -> int:
    return reminders.reminders_send_pending(tenant=require_tenant())


@shared_task(name="aftercare.reminders_sweep", acks_late=True)
def reminders_sweep() -> int:
    """Beat, every minute: re-queue the send for tenants with dispatches left unsent too long."""
    tenant_ids = reminders.reminders_unsent_tenant_ids()
    for tenant_id in tenant_ids:
        reminders_send.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@shared_task(name="aftercare.ticket_sla_scan_all", acks_late=True)
def ticket_sla_scan_all() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        ticket_sla_scan.delay(tenant_id=tenant_id)
    return len(tenant_ids)


@app.task(base=TenantTask, name="aftercare.ticket_sla_scan", **RETRY)
def ticket_sla_scan(*, tenant_id: int) -> int:
    return tickets.ticket_sla_alerts_send(tenant=require_tenant())


@app.task(base=TenantTask, name="aftercare.survey_send", **RETRY)
def survey_send(*, tenant_id: int, survey_id: int) -> None:
    from aftercare.models import Survey

    survey = Survey.objects.select_related("customer").filter(pk=survey_id, answered_at=None).first()
    if survey is not None:
        surveys.survey_send_sms(tenant=require_tenant(), survey=survey)
