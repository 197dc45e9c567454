"""Analytics background jobs: the monthly management report (beat, hourly; acts on the 1st of
each tenant's own time zone) and the dashboard warm-up (beat, every few minutes: the default views
of the tenants whose managers use the dashboard, so their first look is served from the cache).
Thin and idempotent: the report row is unique per tenant and month; a warm-up overwrites the same
cache entries with freshly computed numbers."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from analytics import cache as panel_cache
from analytics import reports
from crm.celery import TenantTask, app
from crm.models import Tenant
from crm.tenancy import require_tenant

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "max_retries": 5, "acks_late": True}


@shared_task(name="analytics.monthly_reports_all", acks_late=True)
def monthly_reports_all(now_iso: str | None = None) -> int:
    """Queue last month's report for every tenant for whom it is now the 1st (local time).

    ``now_iso`` lets an operator (or a test) run the job as of another instant."""
    now = datetime.datetime.fromisoformat(now_iso) if now_iso else timezone.now()
    queued = 0
    for tenant_id, zone in Tenant.objects.filter(is_active=True).values_list("id", "timezone"):
        local_day = now.astimezone(Tenant(timezone=zone).zoneinfo).date()
        if local_day.day != 1:
            continue
        monthly_report_build.delay(tenant_id=tenant_id, month=reports.previous_month(local_day).isoformat())
        queued += 1
    return queued


@app.task(base=TenantTask, name="analytics.monthly_report_build", **RETRY)
def monthly_report_build(*, tenant_id: int, month: str) -> int:
    day = datetime.date.fromisoformat(month)
    return reports.monthly_report_generate(tenant=require_tenant(), month=day).pk


@shared_task(name="analytics.dashboards_warm_all", acks_late=True)
def dashboards_warm_all() -> int:
    """Queue a warm-up of the default dashboard views for each active tenant with recent manager
    activity (``analytics.cache.note_manager_activity``); the number queued. Costs one cache round
    trip plus one task per tenant in use: idle tenants cost nothing."""
    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("id", flat=True))
    active = panel_cache.active_languages(tenant_ids)
    for tenant_id in sorted(active):
        # Not started before the next beat: that beat's warm-up supersedes it (no pile-up).
        dashboard_warm.apply_async(
            kwargs={"tenant_id": tenant_id, "languages": sorted(active[tenant_id])},
            expires=panel_cache.WARM_EVERY_SECONDS,
        )
    return len(active)


@app.task(base=TenantTask, name="analytics.dashboard_warm", **RETRY)
def dashboard_warm(*, tenant_id: int, languages: list[str]) -> int:
    """Recompute and cache this tenant's default dashboard views in ``languages``."""
    return panel_cache.warm_dashboards(require_tenant(), languages)
