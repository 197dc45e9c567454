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


def test_workbench_shows_my_projects_only(tenant_a, make_staff, session_client):
    from crm.models import Role

    pm = make_staff(tenant_a, Role.PROJECT_MANAGER)
    other_pm = make_staff(tenant_a, Role.PROJECT_MANAGER)
    with tenant_context(tenant_a):
        ProjectFactory(tenant=tenant_a, name="我的工地", project_manager=pm)
        ProjectFactory(tenant=tenant_a, name="别人的工地", project_manager=other_pm)
    page = session_client(pm).get("/").content.decode()
    assert "我的项目" in page and "我的工地" in page and "别人的工地" not in page
