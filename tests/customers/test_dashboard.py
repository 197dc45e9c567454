"""The customers widget on the managers' dashboard counts this tenant's leads only."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers import services


def test_dashboard_shows_waiting_and_overdue_leads_of_own_tenant(
    tenant_a, tenant_b, manager_a, make_staff, session_client
):
    make_staff(tenant_a, Role.SALES)
    make_staff(tenant_b, Role.SALES)
    long_ago = timezone.now() - datetime.timedelta(days=2)
    with tenant_context(tenant_a):
        for index in range(3):
            services.lead_create(
                tenant=tenant_a,
                name=f"客户{index}",
                phone=f"1380013800{index}",
                source_channel="douyin",
                received_at=long_ago,
            )
    with tenant_context(tenant_b):
        for index in range(5):
            services.lead_create(
                tenant=tenant_b,
                name=f"别家{index}",
                phone=f"1390013900{index}",
                source_channel="douyin",
                received_at=long_ago,
            )
    page = session_client(manager_a).get("/dashboard/").content.decode()
    assert "线索与首次响应" in page
    assert "其中已超时 3" in page  # tenant B's five overdue leads are not counted
    assert "抖音" in page
