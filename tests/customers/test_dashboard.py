"""The customers widget on the managers' dashboard counts this tenant's leads only."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.services import leads


def test_dashboard_shows_waiting_and_overdue_leads_of_own_tenant(
    tenant_a, tenant_b, manager_a, make_staff, session_client
):
    make_staff(tenant_a, Role.SALES)
    make_staff(tenant_b, Role.SALES)
    long_ago = timezone.now() - datetime.timedelta(days=2)
    with tenant_context(tenant_a):
        for index in range(3):
            leads.lead_create(
                tenant=tenant_a,
                name=f"客户{index}",
                phone=f"1380013800{index}",
                source_channel="douyin",
                received_at=long_ago,
            )
    with tenant_context(tenant_b):
        for index in range(5):
            leads.lead_create(
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


def test_workbench_lists_my_waiting_leads_and_due_follow_ups_only(tenant_a, make_staff, session_client):
    from customers.models import FollowUp

    me = make_staff(tenant_a, Role.SALES)
    colleague = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        mine = leads.lead_create(
            tenant=tenant_a,
            name="我的客户",
            phone="13800138001",
            source_channel="wechat",
        )
        theirs = leads.lead_create(
            tenant=tenant_a,
            name="同事客户",
            phone="13800138002",
            source_channel="wechat",
        )
        mine.assignee, theirs.assignee = me, colleague
        mine.save(update_fields=["assignee"])
        theirs.save(update_fields=["assignee"])
        FollowUp.objects.create(
            tenant=tenant_a,
            customer=theirs.customer,
            author=me,
            kind="call",
            content="约量房",
            occurred_at=timezone.now() - datetime.timedelta(days=1),
            next_follow_up_at=timezone.now(),
        )
    page = session_client(me).get("/").content.decode()
    assert "我的待办" in page
    assert "我的客户" in page  # my waiting lead
    assert "约量房" in page  # my follow-up due today (on a colleague's lead)
    other = session_client(colleague).get("/").content.decode()
    assert "约量房" not in other
