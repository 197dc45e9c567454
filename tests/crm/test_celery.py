"""Celery through a real worker and real Redis (not eager mode)."""

from __future__ import annotations

import pytest

from crm.celery import TenantTask, app
from crm.tasks import health_check
from crm.tenancy import current_tenant
from tests.celery_utils import real_worker


@app.task(base=TenantTask, name="tests.report_tenant")
def report_tenant(*, tenant_id: int) -> dict:
    tenant = current_tenant()
    return {"tenant_id": tenant.pk if tenant else None, "asked": tenant_id}


@pytest.mark.django_db(transaction=True)
def test_health_task_runs_on_a_real_worker():
    assert app.conf.task_always_eager is False
    assert app.conf.broker_url.startswith("redis://")
    with real_worker():
        result = health_check.delay()
        assert result.get(timeout=20) == {"status": "ok", "database": True}


@pytest.mark.django_db(transaction=True)
def test_tenant_task_runs_inside_its_tenant_and_leaves_it(tenant_a, tenant_b):
    with real_worker():
        first = report_tenant.delay(tenant_id=tenant_a.id).get(timeout=20)
        second = report_tenant.delay(tenant_id=tenant_b.id).get(timeout=20)
    assert first == {"tenant_id": tenant_a.id, "asked": tenant_a.id}
    assert second == {"tenant_id": tenant_b.id, "asked": tenant_b.id}
    assert current_tenant() is None


def test_tenant_task_requires_tenant_id():
    with pytest.raises(TypeError):
        report_tenant()


def test_reliability_settings():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert "crm-health-check" in app.conf.beat_schedule


@pytest.mark.django_db
def test_tenant_task_for_a_deactivated_tenant_does_nothing(tenant_a):
    tenant_a.is_active = False
    tenant_a.save()
    assert report_tenant.apply(kwargs={"tenant_id": tenant_a.id}).get() is None
    assert report_tenant.apply(kwargs={"tenant_id": 987654}).get() is None
