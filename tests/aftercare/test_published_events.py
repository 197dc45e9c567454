"""aftercare.visit_completed, ticket.created, ticket.sla_breached: exactly one event per committed change."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from aftercare.services import tickets, visits
from crm.events.models import Event
from crm.tenancy import tenant_context
from tests.aftercare.factories import MaintenancePlanFactory

pytestmark = pytest.mark.django_db


def _events(tenant, event_type):
    with tenant_context(tenant):
        return list(Event.objects.filter(type=event_type).values_list("payload", flat=True))


def test_visit_completed_is_announced_once(tenant_a, service_a):
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
        visit = visits.visit_create(
            tenant=tenant_a,
            plan=plan,
            scheduled_at=timezone.now() + datetime.timedelta(days=1),
            technician=service_a,
        )
        assert not Event.objects.filter(type="aftercare.visit_completed").exists()
        visits.visit_complete(tenant=tenant_a, visit=visit, completed_by=service_a)
    assert _events(tenant_a, "aftercare.visit_completed") == [
        {"visit_id": visit.pk, "plan_id": plan.pk, "project_id": plan.project_id}
    ]


def test_ticket_created_and_each_sla_breach_are_announced_once(tenant_a, handed_over):
    project = handed_over()
    with tenant_context(tenant_a):
        ticket = tickets.ticket_create(
            tenant=tenant_a, project=project, category="plumbing", description="漏水", priority="urgent"
        )
    assert _events(tenant_a, "ticket.created") == [
        {"ticket_id": ticket.pk, "customer_id": project.customer_id}
    ]
    later = timezone.now() + datetime.timedelta(hours=3)
    with tenant_context(tenant_a):
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=later) == 1
        assert tickets.ticket_sla_alerts_send(tenant=tenant_a, now=later) == 0  # repeated scan
    assert _events(tenant_a, "ticket.sla_breached") == [
        {"ticket_id": ticket.pk, "customer_id": project.customer_id}
    ]


def test_rolled_back_ticket_announces_nothing(tenant_a, handed_over):
    project = handed_over()
    with pytest.raises(RuntimeError), tenant_context(tenant_a):
        tickets.ticket_create(tenant=tenant_a, project=project, category="plumbing", description="漏水")
        raise RuntimeError("the request failed after the service")
    assert _events(tenant_a, "ticket.created") == []
