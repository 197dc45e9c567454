"""The projects widget on the managers' dashboard."""

from __future__ import annotations

from crm.tenancy import tenant_context
from tests.projects.factories import ChangeOrderFactory, ProjectFactory, RectificationFactory


def test_dashboard_counts_stages_rectifications_and_pending_change_orders(
    tenant_a, tenant_b, manager_a, session_client
):
    with tenant_context(tenant_a):
        ProjectFactory(tenant=tenant_a)
        RectificationFactory(tenant=tenant_a)
        ChangeOrderFactory(tenant=tenant_a, status="sent")
    with tenant_context(tenant_b):
        for _ in range(4):
            RectificationFactory(tenant=tenant_b)
    page = session_client(manager_a).get("/dashboard/").content.decode()
    assert "装修项目" in page
    assert "待客户确认变更单 1" in page
    assert '<strong class="crm-overdue">1</strong>' in page  # one open rectification, not tenant B's four
