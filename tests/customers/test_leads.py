"""lead_create: phone rules, attaching by phone, SLA due time with business hours, round-robin, event."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from django.core.exceptions import ValidationError

from crm import events
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, Lead, Lifecycle
from customers.services import follow_ups, leads, settings
from tests.customers.factories import CustomerFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, day: int = 25) -> datetime.datetime:
    """A moment in Shanghai on Wednesday 2026-11-25 (in the past, so received_at is valid)."""
    return datetime.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def sales(tenant_a, make_staff):
    return [make_staff(tenant_a, Role.SALES) for _ in range(3)]


def test_lead_inside_business_hours_is_due_after_sla(tenant_a, sales):
    with tenant_context(tenant_a):
        lead = leads.lead_create(
            tenant=tenant_a,
            name="张先生",
            phone="138 1234 5678",
            source_channel="douyin",
            received_at=at(10, 0),
        )
    assert lead.first_response_due_at == at(10, 15)
    assert lead.received_outside_hours is False
    assert lead.customer.phone == "+8613812345678"
    assert lead.customer.source_channel == "douyin"
    assert lead.assignee in sales


def test_lead_after_closing_is_due_15_minutes_after_next_opening(tenant_a, sales):
    with tenant_context(tenant_a):
        late = leads.lead_create(
            tenant=tenant_a,
            name="李女士",
            phone="13900000001",
            source_channel="website",
            received_at=at(22, 30),
        )
        early = leads.lead_create(
            tenant=tenant_a,
            name="王女士",
            phone="13900000002",
            source_channel="website",
            received_at=at(7, 0),
        )
        closing = leads.lead_create(
            tenant=tenant_a,
            name="赵先生",
            phone="13900000003",
            source_channel="website",
            received_at=at(20, 55),
        )
    assert late.received_outside_hours and late.clock_started_at == at(9, 0, day=26)
    assert late.first_response_due_at == at(9, 15, day=26)
    assert early.first_response_due_at == at(9, 15)
    # 5 minutes before closing: 5 minutes today, the remaining 10 after the next opening.
    assert closing.first_response_due_at == at(9, 10, day=26)


def test_tenant_sla_and_business_days_are_respected(tenant_a, sales):
    tenant_a.lead_response_sla_minutes = 30
    tenant_a.save()
    with tenant_context(tenant_a):
        settings_row = settings.customer_settings_for(tenant=tenant_a)
        settings_row.business_days = [0, 1, 2, 3, 4]  # Mon–Fri
        settings_row.save()
        # Saturday 2026-11-28 12:00 -> Monday 09:30
        lead = leads.lead_create(
            tenant=tenant_a,
            name="周末客户",
            phone="13900000004",
            source_channel="wechat",
            received_at=at(12, 0, day=28),
        )
    assert lead.first_response_due_at == datetime.datetime(2026, 11, 30, 9, 30, tzinfo=SHANGHAI)


def test_duplicate_phone_attaches_to_existing_customer(tenant_a, sales):
    with tenant_context(tenant_a):
        existing = CustomerFactory(tenant=tenant_a, name="老客户", phone="+8613812345678", owner=sales[1])
        lead = leads.lead_create(
            tenant=tenant_a, name="另一个名字", phone="+86 13812345678", source_channel="website"
        )
        assert Customer.objects.count() == 1
    assert lead.customer_id == existing.pk
    assert lead.assignee == sales[1]  # the customer's own sales keeps them


def test_same_phone_in_other_tenant_is_a_different_customer(tenant_a, tenant_b, make_staff):
    with tenant_context(tenant_b):
        other = CustomerFactory(tenant=tenant_b, phone="+8613812345678")
    with tenant_context(tenant_a):
        lead = leads.lead_create(tenant=tenant_a, name="张", phone="13812345678", source_channel="website")
    assert lead.customer_id != other.pk


@pytest.mark.parametrize("phone", ["12345", "010-12345678", "+1 415 555 0100", "", "1381234567a"])
def test_invalid_phone_is_rejected_and_nothing_written(tenant_a, phone):
    with tenant_context(tenant_a):
        with pytest.raises(ValidationError) as error:
            leads.lead_create(tenant=tenant_a, name="张", phone=phone, source_channel="website")
        assert "phone" in error.value.message_dict
        assert Customer.objects.count() == 0 and Lead.objects.count() == 0


def test_unknown_channel_is_rejected(tenant_a):
    with tenant_context(tenant_a), pytest.raises(ValidationError) as error:
        leads.lead_create(tenant=tenant_a, name="张", phone="13812345678", source_channel="tv")
    assert "source_channel" in error.value.message_dict


def test_round_robin_over_on_duty_sales(tenant_a, make_staff):
    first, second, third = (make_staff(tenant_a, Role.SALES) for _ in range(3))
    third.is_on_duty = False
    third.save()
    make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        assignees = [
            leads.lead_create(
                tenant=tenant_a, name=f"客户{i}", phone=f"1390000010{i}", source_channel="website"
            ).assignee
            for i in range(4)
        ]
    assert assignees == [first, second, first, second]


def test_no_on_duty_sales_leaves_lead_unassigned(tenant_a):
    with tenant_context(tenant_a):
        lead = leads.lead_create(tenant=tenant_a, name="张", phone="13812345678", source_channel="website")
    assert lead.assignee is None


def test_lead_created_event_carries_referral_code(tenant_a, django_capture_on_commit_callbacks):
    received = []

    def handler(*, tenant, lead_id, customer_id, referral_code):
        received.append((tenant.pk, lead_id, customer_id, referral_code))

    events.subscribe(events.EventType.LEAD_CREATED, handler)
    try:
        with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
            lead = leads.lead_create(
                tenant=tenant_a,
                name="张",
                phone="13812345678",
                source_channel="referral",
                referral_code="R-42",
            )
    finally:
        events.unsubscribe(events.EventType.LEAD_CREATED, handler)
    assert received == [(tenant_a.pk, lead.pk, lead.customer_id, "R-42")]


def test_aftercare_lead_for_existing_customer(tenant_a, sales):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        lead = leads.lead_create(
            tenant=tenant_a,
            name="",
            phone="",
            source_channel="aftercare",
            customer=customer,
            note="五年回访：想翻新厨房",
        )
        assert lead.customer_id == customer.pk and lead.source_channel == "aftercare"
        assert Customer.objects.count() == 1
        customer.refresh_from_db()
    assert customer.lifecycle == Lifecycle.LEAD


def test_customer_of_other_tenant_is_refused(tenant_a, tenant_b):
    with tenant_context(tenant_b):
        foreign = CustomerFactory(tenant=tenant_b)
    with tenant_context(tenant_a), pytest.raises(ValidationError):
        leads.lead_create(tenant=tenant_a, name="", phone="", source_channel="aftercare", customer=foreign)


def test_back_dated_follow_up_does_not_answer_a_later_inquiry(tenant_a, sales):
    with tenant_context(tenant_a):
        lead = leads.lead_create(tenant=tenant_a, name="张", phone="13812345678", source_channel="website")
        follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=lead.customer,
            author=sales[0],
            kind="call",
            content="前几天聊过",
            occurred_at=lead.received_at - datetime.timedelta(days=3),
        )
        lead.refresh_from_db()
        assert lead.status == "open"
        follow_ups.follow_up_create(
            tenant=tenant_a, customer=lead.customer, author=sales[0], kind="call", content="回电"
        )
        lead.refresh_from_db()
    assert lead.status == "responded" and lead.first_responder == sales[0]
