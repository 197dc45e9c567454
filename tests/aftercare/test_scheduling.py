"""Handover → 1/3/5-year maintenance plans: date arithmetic, defaults, idempotency, the real event."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from aftercare import handlers
from aftercare.models import MaintenancePlan, PlanKind, Survey
from aftercare.services import dates
from aftercare.services import plans as plans_services
from crm import events
from crm.models import Role
from crm.tenancy import tenant_context
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (datetime.date(2024, 2, 29), 12, datetime.date(2025, 2, 28)),
        (datetime.date(2024, 2, 29), 36, datetime.date(2027, 2, 28)),
        (datetime.date(2024, 2, 29), 48, datetime.date(2028, 2, 29)),
        (datetime.date(2024, 2, 29), 60, datetime.date(2029, 2, 28)),
        (datetime.date(2025, 8, 31), 6, datetime.date(2026, 2, 28)),
        (datetime.date(2025, 3, 15), 12, datetime.date(2026, 3, 15)),
    ],
)
def test_add_months_clamps_missing_days(start, months, expected):
    assert dates.add_months(start, months) == expected


def test_handover_on_leap_day_creates_three_plans_with_default_checklists(tenant_a, handed_over):
    project = handed_over(on=datetime.date(2024, 2, 29))
    with tenant_context(tenant_a):
        plans = plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        by_code = {plan.kind.code: plan for plan in plans}
    assert set(by_code) == {"year_1", "year_3", "year_5"}
    assert by_code["year_1"].due_on == datetime.date(2025, 2, 28)
    assert by_code["year_3"].due_on == datetime.date(2027, 2, 28)
    assert by_code["year_5"].due_on == datetime.date(2029, 2, 28)
    assert any("墙面裂缝" in row["item"] for row in by_code["year_1"].checklist)
    assert any("翻新" in row["item"] for row in by_code["year_5"].checklist)
    assert all(plan.assigned_to == project.service_owner for plan in plans)
    assert all(plan.customer_id == project.customer_id for plan in plans)


def test_scheduling_twice_creates_no_duplicates_and_db_refuses_them(tenant_a, handed_over):
    project = handed_over()
    with tenant_context(tenant_a):
        plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        handlers.on_project_handed_over(
            tenant=tenant_a, project_id=project.pk, customer_id=project.customer_id
        )
        assert MaintenancePlan.objects.filter(project=project).count() == 3
        plan = MaintenancePlan.objects.filter(project=project).first()
        with pytest.raises(IntegrityError):
            MaintenancePlan.objects.create(
                tenant=tenant_a,
                project=project,
                customer=project.customer,
                kind=plan.kind,
                due_on=plan.due_on,
            )


def test_tenant_added_six_month_kind_and_edited_checklist_apply_to_new_handovers(tenant_a, handed_over):
    with tenant_context(tenant_a):
        plans_services.plan_kind_save(
            tenant=tenant_a, code="month_6", name="半年回访", months_after_handover=6, checklist=["检查门窗"]
        )
        plans_services.plan_kind_save(
            tenant=tenant_a, code="year_1", name="一年回访", months_after_handover=12, checklist=["只查水电"]
        )
        project = handed_over(on=datetime.date(2025, 8, 31))
        plans = {
            p.kind.code: p
            for p in plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        }
        assert plans["month_6"].due_on == datetime.date(2026, 2, 28)
        assert plans["year_1"].checklist == [{"item": "只查水电"}]
        assert PlanKind.objects.count() == 4
        with pytest.raises(ValidationError):
            plans_services.plan_kind_save(
                tenant=tenant_a, code="bad", name="x", months_after_handover=0, checklist=[]
            )


def test_not_handed_over_project_is_refused(tenant_a):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
        with pytest.raises(ValidationError):
            plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        assert MaintenancePlan.objects.count() == 0


def test_real_handover_event_schedules_plans_and_nps_survey_once(
    tenant_a, make_staff, django_capture_on_commit_callbacks
):
    """The event as projects.services.stages.project_handover publishes it (that service also gates on
    completion acceptance, which is the projects app's business), delivered twice."""
    service = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        project = ProjectFactory(
            tenant=tenant_a, service_owner=service, handed_over_on=datetime.date(2025, 5, 1)
        )
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
            events.publish(
                events.EventType.PROJECT_HANDED_OVER,
                tenant=tenant_a,
                project_id=project.pk,
                customer_id=project.customer_id,
            )
    with tenant_context(tenant_a):
        plans = MaintenancePlan.objects.filter(project=project)
        assert sorted(plans.values_list("due_on", flat=True)) == [
            datetime.date(2026, 5, 1),
            datetime.date(2028, 5, 1),
            datetime.date(2030, 5, 1),
        ]
        assert {p.assigned_to_id for p in plans} == {service.pk}
        assert Survey.objects.filter(project=project, kind="nps", trigger="handover").count() == 1


def test_plans_of_another_tenant_are_invisible(tenant_a, tenant_b, handed_over):
    project = handed_over()
    with tenant_context(tenant_a):
        plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
    with tenant_context(tenant_b):
        assert MaintenancePlan.objects.count() == 0


def test_set_based_catch_up_matches_the_service_rule(tenant_a, handed_over):
    leap = handed_over(on=datetime.date(2024, 2, 29))
    month_end = handed_over(on=datetime.date(2025, 8, 31))
    with tenant_context(tenant_a):
        plans_services.plan_kind_save(
            tenant=tenant_a, code="month_6", name="半年回访", months_after_handover=6, checklist=["检查门窗"]
        )
        plans_services.maintenance_plans_schedule(tenant=tenant_a, project=leap)  # one already scheduled
        inserted = plans_services.maintenance_plans_schedule_all(tenant=tenant_a, batch_size=1)
        assert inserted == 4  # month_end's four kinds; leap was already done
        assert plans_services.maintenance_plans_schedule_all(tenant=tenant_a) == 0
        rows = {
            (p.project_id, p.kind.code): p
            for p in MaintenancePlan.objects.select_related("kind").filter(project__in=[leap, month_end])
        }
        for (project_id, _code), plan in rows.items():
            project = leap if project_id == leap.pk else month_end
            assert plan.due_on == dates.add_months(project.handed_over_on, plan.kind.months_after_handover)
            assert plan.assigned_to_id == project.service_owner_id
        assert rows[(month_end.pk, "month_6")].due_on == datetime.date(2026, 2, 28)
        assert rows[(month_end.pk, "month_6")].checklist == [{"item": "检查门窗"}]
        assert rows[(month_end.pk, "year_5")].checklist == rows[(leap.pk, "year_5")].checklist
