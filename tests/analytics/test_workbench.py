"""Role workbenches on the hand-built month (now = 2025-04-10 12:00 Asia/Shanghai), and their cost.

Added here: s2 has a follow-up overdue since 04-09 (c4) and one due today 15:00 (c7), measured c4 on 04-08
(this week), signed c7's p4 on 04-02 (30 000) against an April target of 100 000; a team target
for April of 300 000 (10 000 a day); p3 has a change order sent to the customer; the service user
has plans B (overdue) and A (04-20) and tickets T1 (breached) and T2 (due within 24 h); one event
delivery is dead and one e-mail notification failed.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aftercare.models import MaintenancePlan, ServiceTicket
from analytics.models import SalesTarget
from analytics.workbench import workbench_sections
from crm.events.models import Event, EventDelivery
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp
from projects.models import ChangeOrder, Project, StageSetting
from tests.analytics.conftest import NOW, at
from tests.analytics.test_panels_more import build_more


@pytest.fixture
def bench(tenant_a, month_a, make_staff):
    m = build_more(tenant_a, month_a)
    m.service = make_staff(tenant_a, Role.SERVICE, display_name="客服甲")
    with tenant_context(tenant_a):
        for customer, when in ((m.c4, at(4, 9, 10)), (m.c7, at(4, 10, 15))):
            FollowUp.objects.create(
                tenant=tenant_a, customer=customer, author=m.s2, kind="call", content="再约",
                occurred_at=when - datetime.timedelta(days=2), next_follow_up_at=when,
            )  # fmt: skip
        Customer.objects.filter(pk=m.c4.pk).update(measured_at=at(4, 8))
        Project.objects.create(
            tenant=tenant_a, customer=m.c7, name="p4", stage="contract_signed", stage_entered_at=at(4, 2),
            signed_on=datetime.date(2025, 4, 2), contract_number="HT-4", contract_amount_fen=30_000,
        )  # fmt: skip
        SalesTarget.objects.create(
            tenant=tenant_a, user=m.s2, month=datetime.date(2025, 4, 1), contract_value_fen=100_000
        )
        SalesTarget.objects.create(
            tenant=tenant_a, user=None, month=datetime.date(2025, 4, 1), contract_value_fen=300_000
        )
        ChangeOrder.objects.create(
            tenant=tenant_a,
            project=m.p3,
            number=1,
            title="换地板",
            reason="业主要求",
            status="sent",
            amount_delta_fen=5_000,
        )
        MaintenancePlan.objects.filter(project__in=[m.p1, m.p2], kind__code="y1").update(
            assigned_to=m.service
        )
        ServiceTicket.objects.filter(status__in=["open", "in_progress"]).update(assigned_to=m.service)
        event = Event.objects.create(tenant=tenant_a, type="project.signed", aggregate_type="project")
        EventDelivery.objects.create(tenant=tenant_a, event=event, subscriber="x", status="dead")
    return m


def _section(user, role):
    with tenant_context(user.tenant):
        sections = workbench_sections(tenant=user.tenant, user=user, now=NOW)
    return next(section for section in sections if section["role"] == role)


def test_sales_workbench(bench):
    s2 = _section(bench.s2, "sales")
    assert (s2["leads_waiting"], s2["leads_late"]) == (1, 1)  # L4, past due since 03-15
    assert (s2["follow_ups_today"], s2["follow_ups_overdue"]) == (1, 1)
    assert s2["measured_count"] == 1 and s2["measured"][0]["name"] == "客户四"
    assert (s2["month_signed"], s2["month_value"], s2["month_target"], s2["month_attainment"]) == (
        1,
        30_000,
        100_000,
        0.3,
    )
    s1 = _section(bench.s1, "sales")
    assert (s1["leads_waiting"], s1["follow_ups_today"], s1["month_value"], s1["month_target"]) == (
        0,
        0,
        0,
        None,
    )


def test_delivery_workbench(bench):
    pm2 = _section(bench.pm2, "delivery")
    assert {item["stage"]: item["n"] for item in pm2["stages"]} == {"masonry": 1, "contract_signed": 1}
    assert (pm2["rectifications_open"], pm2["reinspections_due"]) == (1, 1)  # p2's, due 04-01
    assert pm2["change_orders_awaiting"] == 1
    pm1 = _section(bench.pm1, "delivery")
    assert pm1["rectifications_open"] == 0 and pm1["change_orders_awaiting"] == 0


def test_service_workbench(bench):
    service = _section(bench.service, "service")
    assert (service["plans_today"], service["plans_week"], service["plans_overdue"]) == (0, 0, 1)
    assert service["tickets"] == {"open": 2, "breached": 1, "due_soon": 1, "on_track": 0}
    assert service["surveys_waiting"] == 1


def test_manager_workbench(bench, manager_a):
    manager = _section(manager_a, "manager")
    assert manager["leads_open_late"] == 1 and manager["sla_breaches_today"] == 0
    assert manager["overdue_visits"] == 1  # plan B
    assert manager["failed_events"] == 1 and manager["failed_notifications"] == 0
    assert manager["yesterday"] == datetime.date(2025, 4, 9)
    assert manager["daily_target"]["contract_value_fen"] == 10_000  # 300 000 / 30 days
    with tenant_context(manager_a.tenant):
        from projects.selectors import overdue_projects

        assert manager["overdue_stages"] == overdue_projects(tenant=manager_a.tenant, now=NOW).count()


@pytest.mark.parametrize("role_user", ["s2", "pm2", "service", "manager"])
def test_query_count_does_not_grow_with_data(bench, manager_a, role_user, tenant_a):
    user = manager_a if role_user == "manager" else getattr(bench, role_user)

    def count() -> int:
        with tenant_context(tenant_a), CaptureQueriesContext(connection) as queries:
            workbench_sections(tenant=tenant_a, user=user, now=NOW)
        return len(queries)

    before = count()
    with tenant_context(tenant_a):
        for index in range(5):
            customer = Customer.objects.create(
                tenant=tenant_a, name=f"多{index}", phone=f"+8613900000{index:03d}", owner=bench.s2
            )
            project = Project.objects.create(
                tenant=tenant_a, customer=customer, name=f"多{index}", project_manager=bench.pm2,
                stage="masonry", stage_entered_at=at(3, 1),
            )  # fmt: skip
            ChangeOrder.objects.create(
                tenant=tenant_a,
                project=project,
                number=1,
                title="t",
                reason="r",
                status="sent",
                amount_delta_fen=1,
            )
    assert count() == before


def test_home_page_shows_each_roles_workbench(session_client, bench, manager_a):
    page = session_client(bench.s2).get("/").content.decode()
    assert 'data-workbench="sales"' in page and 'class="countdown" data-due=' in page
    assert 'data-workbench="manager"' not in page
    assert 'data-workbench="manager"' in session_client(manager_a).get("/").content.decode()
    assert 'data-workbench="delivery"' in session_client(bench.pm2).get("/").content.decode()
    assert 'data-workbench="service"' in session_client(bench.service).get("/").content.decode()


def test_each_to_do_shows_once_on_the_workbench(session_client, bench):
    """The sales section is 我的待办 (leads waiting, follow-ups due) and the delivery section lists my
    projects: the customers and projects apps' home widgets with the same lists are replaced."""
    page = session_client(bench.s2).get("/").content.decode()
    assert page.count("我的待办") == 1 and "我的待办：线索与跟进" not in page
    assert page.count('data-table="follow_ups"') == 1 and page.count("再约") == 2  # c4 and c7, once each
    pm_page = session_client(bench.pm2).get("/").content.decode()
    assert pm_page.count("<h3>我的项目</h3>") == 1
    assert "<header><strong>我的项目</strong></header>" not in pm_page
    projects = pm_page.split('data-table="projects"')[1].split("</table>")[0]
    assert ">p2<" in projects and ">p3<" in projects and "阶段超期" in projects


def test_delivery_stages_follow_the_pipeline_not_the_alphabet(bench, tenant_a):
    """量房 before 设计 before 木工 (alphabetically carpentry < design < measurement)."""
    with tenant_context(tenant_a):
        for index, stage in enumerate(["carpentry", "measurement", "design"]):
            customer = Customer.objects.create(
                tenant=tenant_a, name=f"序{index}", phone=f"+8613900001{index:03d}", owner=bench.s2
            )
            Project.objects.create(
                tenant=tenant_a, customer=customer, name=f"序{index}", project_manager=bench.pm2,
                stage=stage, stage_entered_at=at(3, 1),
            )  # fmt: skip
        StageSetting.objects.create(tenant=tenant_a, stage="carpentry", name="木作（定制）", planned_days=20)
    stages = _section(bench.pm2, "delivery")["stages"]
    pipeline = ["measurement", "design", "contract_signed", "masonry", "carpentry"]
    assert [item["stage"] for item in stages] == pipeline
    assert [item["label"] for item in stages] == ["量房", "设计", "签约", "泥瓦", "木作（定制）"]
