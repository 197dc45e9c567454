"""What the home page costs per role: the same number of SQL statements for a user with one of
each to-do as for a user with many (leads, follow-ups, measurements, projects, rectifications,
change orders, plans, visits, tickets) — no statement per row, whatever the tenant's size."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aftercare.models import MaintenancePlan, PlanKind, ServiceTicket, Visit
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp, Lead
from projects.models import ChangeOrder, Inspection, InspectionItem, Project, Rectification
from tests.customers.factories import CustomerFactory


def _statements(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return len(captured)


def _to_dos(tenant, *, sales, pm, service, index: int) -> None:
    """One of everything each role's workbench lists, for ``sales`` / ``pm`` / ``service``."""
    now = timezone.now()
    customer = CustomerFactory(tenant=tenant, name=f"客户{index}", owner=sales)
    Customer.objects.filter(pk=customer.pk).update(measured_at=now - datetime.timedelta(minutes=5))
    # A lead assigned to the rep on a customer nobody owns yet: whether the rep sees the full number
    # is asked for the whole list at once, not per card.
    unowned = CustomerFactory(tenant=tenant, name=f"新询盘{index}", owner=None)
    Lead.objects.create(
        tenant=tenant,
        customer=unowned,
        source_channel="douyin",
        received_at=now - datetime.timedelta(hours=1),
        clock_started_at=now - datetime.timedelta(hours=1),
        first_response_due_at=now - datetime.timedelta(minutes=45),
        pool_due_at=now + datetime.timedelta(hours=1),
        assignee=sales,
    )
    FollowUp.objects.create(
        tenant=tenant,
        customer=customer,
        author=sales,
        kind="call",
        content="再约",
        occurred_at=now - datetime.timedelta(days=2),
        next_follow_up_at=now - datetime.timedelta(hours=index + 1),
    )
    project = Project.objects.create(
        tenant=tenant,
        customer=customer,
        name=f"项目{index}",
        project_manager=pm,
        stage="masonry",
        stage_entered_at=now - datetime.timedelta(days=90),
        signed_on=timezone.localdate(now),
        contract_number=f"HT-{index}",
        contract_amount_fen=100_000,
    )
    inspection = Inspection.objects.create(
        tenant=tenant, project=project, inspected_on=timezone.localdate(now)
    )
    item = InspectionItem.objects.create(tenant=tenant, inspection=inspection, title="防水", passed=False)
    Rectification.objects.create(
        tenant=tenant, project=project, item=item, description="防水上翻", due_on=timezone.localdate(now)
    )
    ChangeOrder.objects.create(
        tenant=tenant,
        project=project,
        number=1,
        title="换地板",
        reason="业主要求",
        status="sent",
        amount_delta_fen=5_000,
    )
    kind, _created = PlanKind.objects.get_or_create(
        tenant=tenant, code="y1", defaults={"name": "一年回访", "months_after_handover": 12}
    )
    plan = MaintenancePlan.objects.create(
        tenant=tenant,
        project=project,
        customer=customer,
        kind=kind,
        assigned_to=service,
        due_on=timezone.localdate(now) - datetime.timedelta(days=index % 3),
    )
    Visit.objects.create(
        tenant=tenant,
        plan=plan,
        project=project,
        customer=customer,
        technician=service,
        scheduled_at=now + datetime.timedelta(hours=index + 1),
    )
    ServiceTicket.objects.create(
        tenant=tenant,
        project=project,
        customer=customer,
        category="plumbing",
        description="漏水",
        assigned_to=service,
        first_response_due_at=now - datetime.timedelta(hours=1),
        resolution_due_at=now + datetime.timedelta(hours=index),
    )


@pytest.mark.parametrize("role", ["sales", "pm", "service", "manager"])
def test_home_page_statements_do_not_grow_with_to_dos(role, tenant_a, make_staff, session_client):
    people = {
        "sales": make_staff(tenant_a, Role.SALES),
        "pm": make_staff(tenant_a, Role.PROJECT_MANAGER),
        "service": make_staff(tenant_a, Role.SERVICE),
        "manager": make_staff(tenant_a, Role.MANAGER),
    }
    client = session_client(people[role])
    with tenant_context(tenant_a):
        _to_dos(tenant_a, sales=people["sales"], pm=people["pm"], service=people["service"], index=0)
    client.get("/")  # the session's first request
    one = _statements(client)
    page = client.get("/").content.decode()
    assert f'data-workbench="{"delivery" if role == "pm" else role}"' in page
    with tenant_context(tenant_a):
        for index in range(1, 12):
            _to_dos(tenant_a, sales=people["sales"], pm=people["pm"], service=people["service"], index=index)
    assert _statements(client) == one


def test_delivery_overdue_expression_is_the_projects_apps_definition(tenant_a, make_staff):
    """The delivery workbench's one-expression overdue rule picks exactly the live projects that
    ``projects.selectors.overdue_q`` picks: every stage, either side of its deadline, a tenant's own
    planned days (and a stage planned at 0 days, which is never overdue)."""
    from analytics.workbench import live_overdue_expression
    from projects.models import DEFAULT_PLANNED_DAYS, Stage, StageSetting
    from projects.selectors import overdue_q

    pm = make_staff(tenant_a, Role.PROJECT_MANAGER)
    now = timezone.now()
    with tenant_context(tenant_a):
        StageSetting.objects.create(tenant=tenant_a, stage=Stage.DESIGN, name="方案", planned_days=30)
        StageSetting.objects.create(tenant=tenant_a, stage=Stage.PAINTING, name="油漆", planned_days=0)
        customer = CustomerFactory(tenant=tenant_a)
        planned = {**DEFAULT_PLANNED_DAYS, Stage.DESIGN: 30, Stage.PAINTING: 0}
        for index, (stage, days) in enumerate(planned.items()):
            for offset in (-1, 1):  # an hour inside / past the deadline
                Project.objects.create(
                    tenant=tenant_a,
                    customer=customer,
                    name=f"{stage}{offset}",
                    project_manager=pm,
                    stage=stage,
                    stage_entered_at=now - datetime.timedelta(days=days, hours=offset),
                    contract_number=f"HT-{index}{offset}",
                )
        live = Project.objects.filter(cancelled_at__isnull=True, handed_over_on__isnull=True)
        by_expression = set(
            live.filter(live_overdue_expression(tenant=tenant_a, now=now)).values_list("pk", flat=True)
        )
        by_selector = set(
            Project.objects.filter(overdue_q(tenant=tenant_a, now=now)).values_list("pk", flat=True)
        )
    assert by_expression == by_selector
    assert len(by_selector) == len([days for days in planned.values() if days > 0])  # one per planned stage


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_my_projects_overdue_first_is_the_first_eight_of_the_whole_ordering(tenant_a, make_staff, seed):
    """The delivery workbench's list (cut in SQL from the role columns' indexes) is exactly the
    first 8 of *all* my live projects ordered overdue first, then longest in their stage, then id:
    projects in every stage either side of its deadline, on any of my three role columns (one with
    two of my roles, listed once), other people's, cancelled and handed-over ones around them."""
    import random

    from django.db.models import Case, Q, Value, When

    from analytics.workbench import LIST_LIMIT, delivery_workbench, live_overdue_expression
    from projects.models import DEFAULT_PLANNED_DAYS, Stage, StageSetting

    rng = random.Random(seed)
    me = make_staff(tenant_a, Role.PROJECT_MANAGER, Role.DESIGNER)
    other = make_staff(tenant_a, Role.PROJECT_MANAGER)
    now = timezone.now()
    with tenant_context(tenant_a):
        StageSetting.objects.create(tenant=tenant_a, stage=Stage.PAINTING, name="油漆", planned_days=0)
        planned = {**DEFAULT_PLANNED_DAYS, Stage.PAINTING: 0}
        customer = CustomerFactory(tenant=tenant_a)
        for index in range(60):
            stage = rng.choice(list(planned))
            late = rng.random() < {1: 0.6, 2: 0.1, 3: 0.0}[seed]  # few or no overdue: the rest fill up
            hours = rng.choice([1, 3, 50] if late else [-30, -2])  # past / inside the stage's deadline
            entered = now - datetime.timedelta(days=planned[stage], hours=hours)
            roles = rng.choice(
                [
                    {"project_manager": me},
                    {"designer": me},
                    {"supervisor": me},
                    {"project_manager": me, "designer": me},
                    {"project_manager": other},
                ]
            )
            Project.objects.create(
                tenant=tenant_a,
                customer=customer,
                name=f"项目{index}",
                stage=stage,
                stage_entered_at=entered if index % 7 else entered.replace(microsecond=0),
                contract_number=f"HT-{seed}-{index}",
                cancelled_at=now if index % 11 == 0 else None,
                handed_over_on=now.date() if index % 13 == 0 else None,
                **roles,
            )
        listed = delivery_workbench(tenant=tenant_a, user=me, now=now)["projects"]
        mine = Q(designer=me) | Q(project_manager=me) | Q(supervisor=me)
        live = Q(cancelled_at__isnull=True, handed_over_on__isnull=True) & ~Q(stage=Stage.HANDOVER)
        overdue = Q(live_overdue_expression(tenant=tenant_a, now=now))
        everything = list(
            Project.objects.filter(mine, live)
            .annotate(is_overdue=Case(When(overdue, then=Value(True)), default=Value(False)))
            .order_by("-is_overdue", "stage_entered_at", "id")
        )
    late = sum(p.is_overdue for p in everything)
    assert len(everything) > LIST_LIMIT and (late > LIST_LIMIT if seed == 1 else late < LIST_LIMIT)
    expected = [(p.pk, p.is_overdue) for p in everything[:LIST_LIMIT]]
    assert [(p.pk, p.is_overdue) for p in listed] == expected
