"""The managers' dashboard counts this tenant's leads only (the lead response figures are the
analytics SLA panel's, which replaced the customers widget), and the sales workbench."""

from __future__ import annotations

import datetime
import re

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
    day = timezone.localdate(long_ago, timezone=tenant_a.zoneinfo).isoformat()
    page = session_client(manager_a).get(f"/dashboard/?range=custom&start={day}&end={day}").content.decode()
    sla = page.split('id="panel-sla"')[1].split("</section>")[0]
    assert "线索与首次响应（近 30 天）" not in page  # replaced by the SLA panel, not shown twice
    # Tenant B's five overdue leads are not counted: 3 leads, 3 breached (unanswered past due).
    assert re.search(r'data-row="douyin">.*?data-column="leads"><a href="[^"]+">3</a>', sla, re.S)
    assert re.search(r'data-row="douyin">.*?data-column="breached"><a href="[^"]+">3</a>', sla, re.S)
    assert "抖音" in sla


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
