"""lead.assigned: announced once when a lead gets its owner (at intake, on SLA reassignment)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.events.models import Event
from crm.models import Role
from crm.tenancy import tenant_context
from customers.services import leads
from customers.services import settings as customer_settings
from tests.customers.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _assigned(tenant):
    with tenant_context(tenant):
        return list(
            Event.objects.filter(type="lead.assigned").order_by("id").values_list("payload", flat=True)
        )


def test_new_lead_assigned_by_round_robin_is_announced_once(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        lead = leads.lead_create(tenant=tenant_a, name="张先生", phone="13812345678", source_channel="douyin")
    assert lead.assignee == sales
    assert _assigned(tenant_a) == [
        {"lead_id": lead.pk, "customer_id": lead.customer_id, "assignee_id": sales.pk}
    ]


def test_unassigned_lead_announces_no_assignment(tenant_a):
    with tenant_context(tenant_a):
        lead = leads.lead_create(tenant=tenant_a, name="李女士", phone="13912345678", source_channel="douyin")
    assert lead.assignee is None
    assert _assigned(tenant_a) == []


def test_sla_reassignment_is_announced_once(tenant_a, make_staff):
    first, second = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        settings_row = customer_settings.customer_settings_for(tenant=tenant_a)
        settings_row.reassign_on_breach = True
        settings_row.save()
        received = timezone.now() - datetime.timedelta(minutes=20)
        lead = LeadFactory(
            tenant=tenant_a,
            assignee=first,
            received_at=received,
            first_response_due_at=received + datetime.timedelta(minutes=15),
        )
        leads.lead_sla_scan(tenant=tenant_a)
        leads.lead_sla_scan(tenant=tenant_a)  # repeated scan: decided already
    assert _assigned(tenant_a) == [
        {"lead_id": lead.pk, "customer_id": lead.customer_id, "assignee_id": second.pk}
    ]
