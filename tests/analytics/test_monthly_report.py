"""The monthly management report: the real beat task on a real worker, once per tenant and month,
on the 1st of each tenant's own time zone; stored, announced to managers, downloadable."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from analytics import tasks
from analytics.models import MonthlyReport
from analytics.selectors import PANELS
from crm.models import Tenant
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from tests.analytics.conftest import build_month
from tests.celery_utils import real_worker

# 00:30 on April 1st in Shanghai is still March 31st (09:30) in Los Angeles.
APRIL_1_SHANGHAI = "2025-04-01T00:30:00+08:00"


def _wait_for(tenant, condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with tenant_context(tenant):
            if condition():
                return
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_beat_job_builds_march_once_per_tenant_in_its_time_zone(
    tenant_a, tenant_b, manager_a, make_staff, session_client
):
    build_month(tenant_a, make_staff)
    Tenant.objects.filter(pk=tenant_b.pk).update(timezone="America/Los_Angeles")
    with real_worker():
        queued = [tasks.monthly_reports_all.delay(now_iso=APRIL_1_SHANGHAI).get(timeout=30) for _ in range(2)]
        assert queued == [1, 1]  # tenant A only (twice: a duplicated beat), tenant B is still on March 31st
        _wait_for(tenant_a, lambda: MonthlyReport.objects.filter(notified_at__isnull=False).exists())
        time.sleep(1)  # let the duplicate finish too
    with tenant_context(tenant_a):
        report = MonthlyReport.objects.get()
        assert str(report.month) == "2025-03-01" and report.file
        assert Notification.objects.filter(kind="analytics_monthly_report", recipient=manager_a).count() == 1
        workbook = openpyxl.load_workbook(io.BytesIO(report.file.read()))
    assert set(PANELS) <= set(workbook.sheetnames)
    funnel = list(workbook["funnel"].iter_rows(values_only=True))
    inquiry = next(row for row in funnel if row[0] == "询盘" and isinstance(row[1], int))
    assert inquiry[1] == 4  # the same March as the dashboard's hand-worked funnel
    assert workbook["funnel"]._charts, "the report draws charts"
    with tenant_context(tenant_b):
        assert not MonthlyReport.objects.exists()

    client = session_client(manager_a)
    assert f"/dashboard/reports/{report.pk}/" in client.get("/dashboard/").content.decode()
    response = client.get(f"/dashboard/reports/{report.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"


@pytest.mark.django_db(transaction=True)
def test_report_of_another_tenant_is_404_and_sales_cannot_download(
    tenant_a, admin_b, make_staff, session_client
):
    import datetime

    from analytics.reports import monthly_report_generate

    sales = build_month(tenant_a, make_staff).s1
    with tenant_context(tenant_a):
        report = monthly_report_generate(tenant=tenant_a, month=datetime.date(2025, 3, 1))
        again = monthly_report_generate(tenant=tenant_a, month=datetime.date(2025, 3, 1))
        assert again.pk == report.pk and again.file.name == report.file.name
    assert session_client(admin_b).get(f"/dashboard/reports/{report.pk}/").status_code == 404
    assert session_client(sales).get(f"/dashboard/reports/{report.pk}/").status_code == 403
