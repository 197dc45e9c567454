"""Platform tasks."""

from __future__ import annotations

from celery import shared_task
from django.db import connection

from crm.models import Tenant


@shared_task(name="crm.health_check")
def health_check() -> dict:
    """Proves the worker is alive and can reach the database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (value,) = cursor.fetchone()
    return {"status": "ok", "database": value == 1}


def active_tenant_ids() -> list[int]:
    """Periodic jobs iterate tenants explicitly and fan out one task per tenant."""
    return list(Tenant.objects.filter(is_active=True).values_list("id", flat=True))
