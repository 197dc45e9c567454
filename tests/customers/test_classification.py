"""Derived axes: budget tier from tenant thresholds, lifecycle, loyalty, value, activity, tags."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Activity, BudgetTier, Customer, Intent, Lifecycle, Loyalty, ValueTier
from customers.services import classification, customers, follow_ups, settings
from tests.customers.factories import CustomerFactory


def test_budget_tier_uses_tenant_thresholds(tenant_a, tenant_b):
    with tenant_context(tenant_a):
        low = customers.customer_create(tenant=tenant_a, name="甲", phone="13800000001", budget_fen=8_000_000)
        mid = customers.customer_create(
            tenant=tenant_a, name="乙", phone="13800000002", budget_fen=20_000_000
        )
        high = customers.customer_create(
            tenant=tenant_a, name="丙", phone="13800000003", budget_fen=30_000_000
        )
        none = customers.customer_create(tenant=tenant_a, name="丁", phone="13800000004")
    assert [low.budget_tier, mid.budget_tier, high.budget_tier, none.budget_tier] == [
        BudgetTier.LOW,
        BudgetTier.MID,
        BudgetTier.HIGH,
        BudgetTier.UNKNOWN,
    ]
    assert "预算敏感型" in low.system_tags
    with tenant_context(tenant_b):
        settings_row = settings.customer_settings_for(tenant=tenant_b)
        settings_row.budget_high_from_fen = 15_000_000
        settings_row.save()
        other = customers.customer_create(
            tenant=tenant_b, name="戊", phone="13800000002", budget_fen=20_000_000
        )
    assert other.budget_tier == BudgetTier.HIGH


def test_changing_budget_recomputes_tier(tenant_a):
    with tenant_context(tenant_a):
        customer = customers.customer_create(
            tenant=tenant_a, name="甲", phone="13800000001", budget_fen=5_000_000
        )
        customer = customers.customer_update(tenant=tenant_a, customer=customer, budget_fen=50_000_000)
        customer.refresh_from_db()
    assert customer.budget_tier == BudgetTier.HIGH


def test_project_facts_drive_lifecycle_loyalty_value(tenant_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        customer = customers.customer_apply_project_facts(
            tenant=tenant_a,
            customer=customer,
            signed_projects=1,
            contract_total_fen=18_000_000,
            lifecycle="signed",
        )
        assert (customer.lifecycle, customer.loyalty, customer.intent) == (
            Lifecycle.SIGNED,
            Loyalty.NEW,
            Intent.SIGNED,
        )
        assert customer.value_tier == ValueTier.MID and customer.value_fen == 18_000_000
        customer = customers.customer_apply_project_facts(
            tenant=tenant_a,
            customer=customer,
            signed_projects=1,
            contract_total_fen=18_000_000,
            lifecycle="handed_over",
        )
        assert customer.lifecycle == Lifecycle.HANDED_OVER
        customer = customers.customer_apply_project_facts(
            tenant=tenant_a,
            customer=customer,
            signed_projects=2,
            contract_total_fen=42_000_000,
            lifecycle="signed",
        )
        stored = Customer.objects.get(pk=customer.pk)
    assert (stored.lifecycle, stored.loyalty) == (Lifecycle.REPEAT, Loyalty.RETURNING)
    assert "老客户" in stored.system_tags


def test_project_facts_reject_unknown_lifecycle(tenant_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        with pytest.raises(ValidationError):
            customers.customer_apply_project_facts(
                tenant=tenant_a, customer=customer, signed_projects=1, contract_total_fen=1, lifecycle="moon"
            )


def test_referral_facts_raise_value(tenant_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        customer = customers.customer_apply_referral_facts(
            tenant=tenant_a,
            customer=customer,
            credited_referrals=1,
            referral_credit_total_fen=200_000,
            is_vip=False,
        )
        assert customer.value_tier == ValueTier.MID and customer.value_fen == 200_000  # exact fen
        customer = customers.customer_apply_referral_facts(
            tenant=tenant_a,
            customer=customer,
            credited_referrals=1,
            referral_credit_total_fen=200_000,
            is_vip=True,
        )
    assert customer.value_tier == ValueTier.HIGH and "VIP" in customer.system_tags


def test_pre_sale_lifecycle_follows_measuring_and_designer(tenant_a, make_staff):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = customers.customer_create(tenant=tenant_a, name="甲", phone="13800000001")
        assert customer.lifecycle == Lifecycle.LEAD
        follow_ups.follow_up_create(
            tenant=tenant_a, customer=customer, author=None, kind="measure", content="上门量房"
        )
        customer.refresh_from_db()
        assert customer.lifecycle == Lifecycle.MEASURED
        customer = customers.customer_update(tenant=tenant_a, customer=customer, designer=designer)
    assert customer.lifecycle == Lifecycle.DESIGNING


def test_nightly_recompute_marks_silent_customers(tenant_a):
    with tenant_context(tenant_a):
        customer = customers.customer_create(tenant=tenant_a, name="甲", phone="13800000001", has_pets=True)
        assert customer.activity == Activity.ACTIVE and "宠物家庭" in customer.system_tags
        Customer.objects.filter(pk=customer.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=45)
        )
        assert classification.customers_recompute_all(tenant=tenant_a) == 1
        assert classification.customers_recompute_all(tenant=tenant_a) == 0  # idempotent
        customer.refresh_from_db()
    assert customer.activity == Activity.SILENT


def test_bad_customer_input(tenant_a):
    with tenant_context(tenant_a):
        existing = customers.customer_create(tenant=tenant_a, name="老张", phone="13800000001")
        cases = [
            ({"phone": "13800000001"}, "phone", "老张"),
            ({"phone": "12345"}, "phone", ""),
            ({"budget_fen": -1}, "budget_fen", ""),
            ({"source_channel": "tv"}, "source_channel", ""),
            ({"style_preferences": ["baroque"]}, "style_preferences", "baroque"),
            ({"intent": "lost"}, "lost_reason", ""),
        ]
        for extra, field, text in cases:
            data = {"name": "新客户", "phone": "13800000002", **extra}
            with pytest.raises(ValidationError) as error:
                customers.customer_create(tenant=tenant_a, **data)
            assert field in error.value.message_dict, (extra, error.value.message_dict)
            assert text in " ".join(error.value.message_dict[field])
        assert list(Customer.objects.values_list("pk", flat=True)) == [existing.pk]


def test_every_bad_field_is_reported_at_once(tenant_a):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="老张", phone="+8613800000001")
        with pytest.raises(ValidationError) as error:
            customers.customer_create(
                tenant=tenant_a, name="", phone="13800000001", budget_fen=-1, style_preferences=["x"]
            )
    assert set(error.value.message_dict) == {"name", "phone", "budget_fen", "style_preferences"}
    assert "老张" in error.value.message_dict["phone"][0]
