"""Visits: booking, completing (closes the plan), 400 on a closed plan, renovation leads."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from aftercare.models import MaintenancePlan, PlanStatus, Survey, Visit
from aftercare.services import visits
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Lead
from tests.aftercare.factories import MaintenancePlanFactory, PlanKindFactory

pytestmark = pytest.mark.django_db


def _plan(tenant, **fields):
    with tenant_context(tenant):
        return MaintenancePlanFactory(tenant=tenant, **fields)


def _five_year_plan(tenant):
    with tenant_context(tenant):
        kind = PlanKindFactory(
            tenant=tenant,
            code="year_5",
            name="五年回访",
            months_after_handover=60,
            creates_renovation_lead=True,
        )
        return MaintenancePlanFactory(tenant=tenant, kind=kind)


def _book_and_complete(tenant, plan, user, **results):
    with tenant_context(tenant):
        visit = visits.visit_create(
            tenant=tenant,
            plan=plan,
            scheduled_at=timezone.now() + datetime.timedelta(days=2),
            technician=user,
        )
        return visits.visit_complete(tenant=tenant, visit=visit, completed_by=user, **results)


def test_visit_prefills_checklist_and_completion_closes_plan(tenant_a, service_a):
    plan = _plan(tenant_a)
    visit = _book_and_complete(
        tenant_a,
        plan,
        service_a,
        checklist_results=[
            {"item": "检查电路", "ok": True},
            {"item": "检查水路", "ok": False, "note": "阀门滴水"},
        ],
        findings="卫生间角阀滴水，已更换",
        customer_confirmed=True,
        customer_signature="张先生",
        satisfaction=5,
    )
    with tenant_context(tenant_a):
        plan.refresh_from_db()
        assert plan.status == PlanStatus.COMPLETED and plan.completed_at is not None
        assert visit.checklist_results[1] == {"item": "检查水路", "ok": False, "note": "阀门滴水"}
        assert visit.customer_confirmed and visit.satisfaction == 5
        assert visit.renovation_lead_id is None
        assert Lead.objects.count() == 0
        assert Survey.objects.filter(visit=visit, kind="csat").count() == 1


def test_visit_for_a_closed_plan_is_refused_and_writes_nothing(tenant_a, service_a):
    plan = _plan(tenant_a, status=PlanStatus.COMPLETED)
    with tenant_context(tenant_a), pytest.raises(ValidationError) as error:
        visits.visit_create(tenant=tenant_a, plan=plan, scheduled_at=timezone.now(), technician=service_a)
    assert "plan" in error.value.message_dict
    with tenant_context(tenant_a):
        assert Visit.objects.count() == 0


def test_satisfaction_out_of_range_is_refused(tenant_a, service_a):
    plan = _plan(tenant_a)
    with pytest.raises(ValidationError) as error:
        _book_and_complete(tenant_a, plan, service_a, satisfaction=6)
    assert "satisfaction" in error.value.message_dict
    with tenant_context(tenant_a):
        assert MaintenancePlan.objects.get(pk=plan.pk).status == PlanStatus.SCHEDULED


def test_five_year_visit_creates_aftercare_lead_for_same_customer(tenant_a, service_a):
    plan = _five_year_plan(tenant_a)
    visit = _book_and_complete(tenant_a, plan, service_a, findings="厨房台面开裂，客户考虑翻新厨房")
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
        assert visit.renovation_lead_id == lead.pk
        assert lead.customer_id == plan.customer_id
        assert lead.source_channel == "aftercare"
        assert "五年回访" in lead.note


def test_renovation_interest_on_any_visit_creates_lead(tenant_a, service_a):
    plan = _plan(tenant_a)
    _book_and_complete(tenant_a, plan, service_a, renovation_interest=True)
    with tenant_context(tenant_a):
        assert Lead.objects.filter(customer_id=plan.customer_id, source_channel="aftercare").count() == 1


def test_completing_twice_is_refused_and_creates_one_lead(tenant_a, service_a):
    plan = _five_year_plan(tenant_a)
    visit = _book_and_complete(tenant_a, plan, service_a)
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        visits.visit_complete(tenant=tenant_a, visit=visit, completed_by=service_a)
    with tenant_context(tenant_a):
        assert Lead.objects.count() == 1


def test_technician_of_another_tenant_is_refused(tenant_a, tenant_b, make_staff):
    other = make_staff(tenant_b, Role.SERVICE)
    plan = _plan(tenant_a)
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        visits.visit_create(tenant=tenant_a, plan=plan, scheduled_at=timezone.now(), technician=other)
